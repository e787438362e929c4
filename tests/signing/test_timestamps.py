"""Trusted time: RFC 3161 timestamps on AIP signatures, from a local TSA, and their verification."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from conftest import StartTsa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from preservation.config import parse_config
from preservation.errors import ConfigError, SigningError
from preservation.signing import (
    SIGNATURE_PROBLEMS,
    SignatureCheck,
    SigningIdentity,
    sign_detached,
    verify_detached,
)
from preservation.timestamps import SIGNATURE_TIMESTAMP_OID, TimestampError, timestamp_signature
from tests.signing.signing_pki import NOW, OpenSSL, ThrowawayCA, write_pem
from tests.signing.tsa import issue_tsa_certificate

DATA = b"sha256 0123456789abcdef  bagit.txt\nsha256 fedcba9876543210  manifest-sha256.txt\n"
LATER = NOW + timedelta(days=10)  # the short-lived signer below has expired, the TSA has not


@pytest.fixture
def short_lived(ca: ThrowawayCA) -> SigningIdentity:
    """A signer whose certificate expires a day from now."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key, not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(days=1))
    return SigningIdentity(key, cert, (ca.certificate,))


def _signer_info(der: bytes) -> Any:
    return cms.ContentInfo.load(der)["content"]["signer_infos"][0]


def _tokens(der: bytes) -> list[Any]:
    unsigned = _signer_info(der)["unsigned_attrs"]
    return [
        value
        for attribute in unsigned
        if attribute["type"].dotted == SIGNATURE_TIMESTAMP_OID
        for value in attribute["values"]
    ]


def _with_unsigned_attrs_of(target: bytes, source: bytes) -> bytes:
    """``target`` carrying the unsigned attributes (the timestamp) of ``source``."""
    info = cms.ContentInfo.load(target)
    info["content"]["signer_infos"][0]["unsigned_attrs"] = _signer_info(source)["unsigned_attrs"]
    der: bytes = info.dump()
    return der


# --- obtaining a timestamp -------------------------------------------------------------------


def test_timestamp_added_and_verified(
    identity: SigningIdentity, ca: ThrowawayCA, tsa_cert: x509.Certificate, tsa: str
) -> None:
    signature = sign_detached(identity, DATA)
    before = datetime.now(UTC)
    stamped = timestamp_signature(signature, tsa)
    after = datetime.now(UTC)

    assert len(_tokens(stamped)) == 1
    original, now_stamped = _signer_info(signature), _signer_info(stamped)
    assert now_stamped["signed_attrs"].dump() == original["signed_attrs"].dump()
    assert now_stamped["signature"].native == original["signature"].native

    check = verify_detached(stamped, DATA, [ca.certificate])
    assert check.ok and check.timestamped, check.problems
    assert check.problems == ()
    assert check.validity_basis == "timestamp"
    stamp = check.timestamp
    assert stamp is not None
    assert stamp.gen_time is not None
    # genTime has whole seconds: allow the second the request started in
    assert before - timedelta(seconds=1) <= stamp.gen_time <= after + timedelta(seconds=1)
    assert check.validity_time == stamp.gen_time
    assert stamp.tsa_name == tsa_cert.subject.rfc4514_string()
    assert stamp.tsa_certificate_subject == tsa_cert.subject.rfc4514_string()
    assert stamp.imprint_matches and stamp.signature_valid and stamp.trusted
    assert stamp.serial_number and stamp.policy


def test_a_second_timestamp_is_appended(
    identity: SigningIdentity, ca: ThrowawayCA, tsa: str
) -> None:
    twice = timestamp_signature(timestamp_signature(sign_detached(identity, DATA), tsa), tsa)
    assert len(_tokens(twice)) == 2
    assert verify_detached(twice, DATA, [ca.certificate]).timestamped


def test_openssl_accepts_the_timestamped_signature(
    openssl: OpenSSL, tmp_path: Path, identity: SigningIdentity, ca: ThrowawayCA, tsa: str
) -> None:
    stamped = timestamp_signature(sign_detached(identity, DATA), tsa)
    (tmp_path / "sig.p7s").write_bytes(stamped)
    anchor = write_pem(tmp_path / "ca.pem", ca.certificate)

    def verify(data: bytes) -> int:
        (tmp_path / "data").write_bytes(data)
        result = openssl(
            "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
            "-content", tmp_path / "data", "-CAfile", anchor, "-purpose", "any",
            "-out", "/dev/null",
        )  # fmt: skip
        return result.returncode

    assert verify(DATA) == 0
    assert verify(DATA + b"x") != 0


# --- trusted time: the signer's certificate judged at genTime ----------------------------------


def test_expired_signer_valid_with_timestamp_not_without(
    short_lived: SigningIdentity, ca: ThrowawayCA, tsa: str
) -> None:
    signature = sign_detached(short_lived, DATA)
    stamped = timestamp_signature(signature, tsa)

    with_timestamp = verify_detached(stamped, DATA, [ca.certificate], now=LATER)
    assert with_timestamp.ok, with_timestamp.problems
    assert with_timestamp.validity_basis == "timestamp"

    without = verify_detached(signature, DATA, [ca.certificate], now=LATER)
    assert without.intact
    assert not without.trusted
    assert without.problems == ("SIG-CERT-EXPIRED-NO-TIMESTAMP",)
    assert without.timestamp is None


def test_timestamp_after_the_signer_expired(
    short_lived: SigningIdentity, ca: ThrowawayCA, start_tsa: StartTsa
) -> None:
    """A token made after the certificate expired proves nothing for the signature."""
    tsa = start_tsa(fixed_time=NOW + timedelta(days=2))
    stamped = timestamp_signature(sign_detached(short_lived, DATA), tsa)

    check = verify_detached(stamped, DATA, [ca.certificate], now=LATER)
    assert check.timestamped
    assert not check.trusted
    assert check.problems == ("SIG-CERT-EXPIRED-AT-TIMESTAMP",)


def test_expired_tsa_certificate(short_lived: SigningIdentity, ca: ThrowawayCA, tsa: str) -> None:
    """Once the TSA certificate has expired too, the token no longer proves the time."""
    stamped = timestamp_signature(sign_detached(short_lived, DATA), tsa)
    check = verify_detached(stamped, DATA, [ca.certificate], now=NOW + timedelta(days=400))
    assert check.intact
    assert not check.ok
    assert check.problems == ("SIG-CERT-EXPIRED-NO-TIMESTAMP", "SIG-TIMESTAMP-TSA-CERT-EXPIRED")


def test_timestamp_from_an_untrusted_tsa(
    identity: SigningIdentity, ca: ThrowawayCA, other_ca: ThrowawayCA, tsa: str
) -> None:
    stamped = timestamp_signature(sign_detached(identity, DATA), tsa)
    check = verify_detached(
        stamped, DATA, [ca.certificate], tsa_trust_anchors=[other_ca.certificate]
    )
    assert check.intact and check.trusted  # the signer is still valid today
    assert not check.ok
    assert check.problems == ("SIG-TIMESTAMP-UNTRUSTED",)
    assert check.validity_basis == "claimed signing time"


def test_tsa_anchor_separate_from_signer_anchor(
    identity: SigningIdentity, ca: ThrowawayCA, other_ca: ThrowawayCA, start_tsa: StartTsa
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = start_tsa(key=key, certificate=issue_tsa_certificate(other_ca, key))
    stamped = timestamp_signature(sign_detached(identity, DATA), tsa)

    anchors = [other_ca.certificate]
    check = verify_detached(stamped, DATA, [ca.certificate], tsa_trust_anchors=anchors)
    assert check.ok, check.problems
    assert verify_detached(stamped, DATA, [ca.certificate]).problems == ("SIG-TIMESTAMP-UNTRUSTED",)


# --- damaged tokens ----------------------------------------------------------------------------


def test_tampered_token(identity: SigningIdentity, ca: ThrowawayCA, tsa: str) -> None:
    stamped = timestamp_signature(sign_detached(identity, DATA), tsa)
    tst_info = _tokens(stamped)[0]["content"]["encap_content_info"]["content"].contents
    at = stamped.find(tst_info) + len(tst_info) - 1  # last byte: inside the TSA's name
    tampered = stamped[:at] + bytes([stamped[at] ^ 0x01]) + stamped[at + 1 :]

    check = verify_detached(tampered, DATA, [ca.certificate])
    assert check.intact and check.trusted  # the timestamp is outside the signature
    assert not check.ok
    assert check.problems == ("SIG-TIMESTAMP-SIGNATURE-INVALID",)
    assert check.problem_descriptions == (SIGNATURE_PROBLEMS["SIG-TIMESTAMP-SIGNATURE-INVALID"],)


def test_token_of_another_signature(identity: SigningIdentity, ca: ThrowawayCA, tsa: str) -> None:
    other = timestamp_signature(sign_detached(identity, b"other data"), tsa)
    grafted = _with_unsigned_attrs_of(sign_detached(identity, DATA), other)

    check = verify_detached(grafted, DATA, [ca.certificate])
    assert check.intact and check.trusted
    assert check.timestamp is not None and not check.timestamp.imprint_matches
    assert check.problems == ("SIG-TIMESTAMP-IMPRINT-MISMATCH",)


def test_garbage_token_is_malformed(identity: SigningIdentity, ca: ThrowawayCA) -> None:
    info = cms.ContentInfo.load(sign_detached(identity, DATA))
    info["content"]["signer_infos"][0]["unsigned_attrs"] = cms.CMSAttributes(
        [
            {
                "type": SIGNATURE_TIMESTAMP_OID,
                "values": [cms.ContentInfo({"content_type": "data", "content": b"junk"})],
            }
        ]
    )
    check = verify_detached(info.dump(), DATA, [ca.certificate])
    assert check.intact and check.trusted
    assert check.problems == ("SIG-TIMESTAMP-MALFORMED",)


def test_verify_never_raises_on_corrupted_timestamped_signatures(
    identity: SigningIdentity, ca: ThrowawayCA, tsa: str
) -> None:
    stamped = timestamp_signature(sign_detached(identity, DATA), tsa)
    rng = random.Random(3161)
    for index in sorted(rng.sample(range(len(stamped)), 300)):
        damaged = stamped[:index] + bytes([stamped[index] ^ 0x01]) + stamped[index + 1 :]
        check = verify_detached(damaged, DATA, [ca.certificate])
        assert isinstance(check, SignatureCheck)
        if check.problems:
            assert not check.ok


# --- a TSA that fails ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("rejection", "SIG-TSA-REFUSED"),
        ("http-error", "SIG-TSA-REFUSED"),
        ("wrong-imprint", "SIG-TSA-BAD-RESPONSE"),
        ("wrong-nonce", "SIG-TSA-BAD-RESPONSE"),
        ("garbage", "SIG-TSA-BAD-RESPONSE"),
        ("wrong-content-type", "SIG-TSA-BAD-RESPONSE"),
    ],
)
def test_tsa_failures(identity: SigningIdentity, start_tsa: StartTsa, mode: str, code: str) -> None:
    url = start_tsa(mode)
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(sign_detached(identity, DATA), url)
    assert excinfo.value.code == code
    assert excinfo.value.location == url
    assert isinstance(excinfo.value, SigningError)


def test_token_signed_without_timestamping_purpose(
    identity: SigningIdentity, ca: ThrowawayCA, tsa_key: rsa.RSAPrivateKey, start_tsa: StartTsa
) -> None:
    url = start_tsa(certificate=issue_tsa_certificate(ca, tsa_key, eku=False))
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(sign_detached(identity, DATA), url)
    assert excinfo.value.code == "SIG-TSA-BAD-RESPONSE"


def test_tsa_that_never_answers(identity: SigningIdentity, silent_tsa_url: str) -> None:
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(sign_detached(identity, DATA), silent_tsa_url, timeout=0.5)
    assert excinfo.value.code == "SIG-TSA-TIMEOUT"
    assert excinfo.value.location == silent_tsa_url


def test_tsa_unreachable(identity: SigningIdentity) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tsa"
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(sign_detached(identity, DATA), url, timeout=5)
    assert excinfo.value.code == "SIG-TSA-UNREACHABLE"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://tsa.example/", "tsa.example"])
def test_tsa_url_must_be_http(identity: SigningIdentity, url: str) -> None:
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(sign_detached(identity, DATA), url)
    assert excinfo.value.code == "SIG-TSA-URL-INVALID"


def test_input_must_be_a_cms_signature(ca: ThrowawayCA, tsa: str) -> None:
    with pytest.raises(TimestampError) as excinfo:
        timestamp_signature(b"not a signature", tsa)
    assert excinfo.value.code == "SIG-TSA-INPUT-INVALID"


# --- configuration -------------------------------------------------------------------------------


def _config(**signing: Any) -> dict[str, Any]:
    return {
        "repository": {"name": "Archive", "min_copies": 1},
        "catalog": {"url": "sqlite:///catalog.sqlite"},
        "signing": {"certificate": "c.pem", "key": "k.pem", **signing},
        "storage": [{"name": "a", "url": "file:///srv/a"}],
    }


def test_config_tsa_url(tmp_path: Path) -> None:
    assert parse_config(_config(), tmp_path).signing.tsa_url == ""
    url = "http://tsa.example/rfc3161"
    assert parse_config(_config(tsa_url=url), tmp_path).signing.tsa_url == url
    with pytest.raises(ConfigError) as excinfo:
        parse_config(_config(tsa_url="tsa.example"), tmp_path)
    assert "signing.tsa_url" in str(excinfo.value)
