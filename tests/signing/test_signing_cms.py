"""Detached CMS signatures: what we make, what we accept, and that OpenSSL agrees."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from preservation.errors import SigningError
from preservation.signing import (
    SignatureCheck,
    SigningIdentity,
    create_test_identity,
    load_pem_identity,
    sign_detached,
    verify_detached,
)
from tests.signing.signing_pki import NOW, OpenSSL, ThrowawayCA, key_usage, write_pem

DATA = b"sha256 0123456789abcdef  bagit.txt\nsha256 fedcba9876543210  manifest-sha256.txt\n"


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _raw_signature(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, cert: x509.Certificate, data: bytes = DATA
) -> bytes:
    """Sign with cryptography directly, bypassing the guards of sign_detached."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


# --- the signature we make -------------------------------------------------------------------


def test_signature_is_detached_der_signed_data(identity: SigningIdentity) -> None:
    info = cms.ContentInfo.load(sign_detached(identity, DATA), strict=True)
    assert info["content_type"].native == "signed_data"
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    (signer,) = signed_data["signer_infos"]
    assert signer["digest_algorithm"]["algorithm"].native == "sha256"
    attributes = {a["type"].native for a in signer["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_time"} <= attributes
    embedded = {c.chosen.dump() for c in signed_data["certificates"]}
    der = serialization.Encoding.DER
    assert embedded == {identity.certificate.public_bytes(der), identity.chain[0].public_bytes(der)}


def test_sign_refuses_expired_certificate(ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey) -> None:
    expired = ca.issue(leaf_key, not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(1))
    with pytest.raises(SigningError) as excinfo:
        sign_detached(SigningIdentity(leaf_key, expired), DATA)
    assert excinfo.value.code == "SIGN-CERT-EXPIRED"


# --- verification ----------------------------------------------------------------------------


def test_verify_ok_with_ca_as_anchor(identity: SigningIdentity, ca: ThrowawayCA) -> None:
    check = verify_detached(sign_detached(identity, DATA), DATA, [ca.certificate])

    cert = identity.certificate
    assert check.ok and check.intact and check.trusted
    assert check.problems == ()
    assert check.signer_subject == cert.subject.rfc4514_string()
    assert int(check.signer_serial, 16) == cert.serial_number
    assert check.signer_certificate_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert check.signing_time is not None
    assert abs(check.signing_time - NOW) < timedelta(hours=1)
    assert not check.signer_is_test_identity


def test_verify_one_changed_byte_of_data(identity: SigningIdentity, ca: ThrowawayCA) -> None:
    check = verify_detached(sign_detached(identity, DATA), _flip(DATA, 10), [ca.certificate])
    assert not check.intact
    assert not check.ok
    assert "SIG-DIGEST-MISMATCH" in check.problems


def test_verify_untrusted_anchor(identity: SigningIdentity, other_ca: ThrowawayCA) -> None:
    signature = sign_detached(identity, DATA)
    for anchors in ([other_ca.certificate], []):
        check = verify_detached(signature, DATA, anchors)
        assert check.intact
        assert not check.trusted
        assert check.problems == ("SIG-UNTRUSTED",)


def test_verify_tampered_signed_attributes(identity: SigningIdentity, ca: ThrowawayCA) -> None:
    """Changing the signing time breaks the signature itself, not the data digest."""
    info = cms.ContentInfo.load(sign_detached(identity, DATA))
    attributes = info["content"]["signer_infos"][0]["signed_attrs"]
    for attribute in attributes:
        if attribute["type"].native == "signing_time":
            attribute["values"] = [cms.Time({"utc_time": NOW - timedelta(days=3)})]
    check = verify_detached(info.dump(force=True), DATA, [ca.certificate])
    assert not check.intact
    assert not check.trusted
    assert check.problems == ("SIG-SIGNATURE-INVALID", "SIG-TRUST-NOT-CHECKED")


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"garbage",
        b"\x30\x80\x00\x00",
        b"\x30\x82\xff\xff" + b"\x00" * 10,
        bytes(random.Random(5652).randbytes(4096)),
    ],
)
def test_verify_garbage_is_malformed(garbage: bytes, ca: ThrowawayCA) -> None:
    check = verify_detached(garbage, DATA, [ca.certificate])
    assert check == SignatureCheck(
        intact=False,
        trusted=False,
        signer_subject="",
        signer_serial="",
        signing_time=None,
        signer_certificate_sha256="",
        signer_is_test_identity=False,
        problems=("SIG-MALFORMED",),
    )


def test_verify_structurally_wrong_cms_is_malformed(
    identity: SigningIdentity, ca: ThrowawayCA
) -> None:
    signature = sign_detached(identity, DATA)
    truncated = signature[: len(signature) // 2]
    trailing = signature + b"\x00"
    a_certificate = ca.certificate.public_bytes(serialization.Encoding.DER)
    for bad in (truncated, trailing, a_certificate):
        assert verify_detached(bad, DATA, [ca.certificate]).problems == ("SIG-MALFORMED",)


def test_verify_never_raises_on_corrupted_signatures(
    identity: SigningIdentity, ca: ThrowawayCA
) -> None:
    """Flip a byte at many places: whatever breaks, the answer is a SignatureCheck."""
    signature = sign_detached(identity, DATA)
    for index in range(len(signature)):
        check = verify_detached(_flip(signature, index), DATA, [ca.certificate])
        if "SIG-MALFORMED" in check.problems:
            assert not check.ok


def test_verify_inside_a_running_event_loop(identity: SigningIdentity, ca: ThrowawayCA) -> None:
    signature = sign_detached(identity, DATA)

    async def from_async_code() -> SignatureCheck:
        return verify_detached(signature, DATA, [ca.certificate])

    assert asyncio.run(from_async_code()).ok


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=lambda c: c.name)
def test_ec_keys_work(ca: ThrowawayCA, curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    identity = SigningIdentity(key, ca.issue(key), (ca.certificate,))
    check = verify_detached(sign_detached(identity, DATA), DATA, [ca.certificate])
    assert check.ok, check.problems


@pytest.mark.parametrize(
    ("usage", "trusted"),
    [
        (key_usage(digital_signature=True), True),
        (key_usage(content_commitment=True), True),
        (key_usage(key_encipherment=True), False),
    ],
    ids=["digitalSignature", "nonRepudiation", "keyEncipherment"],
)
def test_signer_key_usage(ca: ThrowawayCA, usage: x509.KeyUsage, trusted: bool) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key, usage=usage)
    check = verify_detached(_raw_signature(key, cert), DATA, [ca.certificate])
    assert check.intact
    assert check.trusted is trusted


# --- time ------------------------------------------------------------------------------------


def test_certificate_expired_since_signing_needs_a_timestamp(ca: ThrowawayCA) -> None:
    """The claimed signing time counts while the certificate is valid; after it, only a
    timestamp proves when the signature was made (see test_timestamps.py)."""
    key = ec.generate_private_key(ec.SECP256R1())
    short_lived = ca.issue(key, not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(1))
    signature = sign_detached(SigningIdentity(key, short_lived), DATA)

    while_valid = verify_detached(signature, DATA, [ca.certificate], now=NOW + timedelta(hours=1))
    assert while_valid.ok, while_valid.problems
    assert while_valid.validity_basis == "claimed signing time"
    assert while_valid.timestamp is None

    expired = verify_detached(signature, DATA, [ca.certificate], now=NOW + timedelta(days=3650))
    assert expired.intact
    assert not expired.trusted
    assert expired.problems == ("SIG-CERT-EXPIRED-NO-TIMESTAMP",)


def test_certificate_expired_at_signing(ca: ThrowawayCA) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    expired = ca.issue(key, not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(1))
    check = verify_detached(_raw_signature(key, expired), DATA, [ca.certificate])
    assert check.intact
    assert not check.trusted
    assert check.problems == ("SIG-CERT-EXPIRED-AT-SIGNING",)


def test_expired_self_signed_anchor_is_caught(tmp_path: Path) -> None:
    """pyHanko does not check the validity of a signer that is itself the trust anchor; we do."""
    key_path, cert_path = create_test_identity(tmp_path, "Archive", now=NOW - timedelta(days=4000))
    identity = load_pem_identity(key_path, cert_path, now=NOW - timedelta(days=3000))
    signature = _raw_signature(identity.private_key, identity.certificate)

    check = verify_detached(signature, DATA, [identity.certificate])
    assert check.intact
    assert check.problems == ("SIG-CERT-EXPIRED-AT-SIGNING",)


# --- the self-signed test identity -------------------------------------------------------------


def test_test_identity_verifies_against_itself(tmp_path: Path) -> None:
    identity = load_pem_identity(*create_test_identity(tmp_path, "Archive"))
    check = verify_detached(sign_detached(identity, DATA), DATA, [identity.certificate])
    assert check.ok, check.problems
    assert check.signer_is_test_identity


# --- OpenSSL agrees --------------------------------------------------------------------------


def _openssl_verify(
    openssl: OpenSSL, tmp_path: Path, signature: bytes, data: bytes, anchor: Path
) -> int:
    (tmp_path / "sig.p7s").write_bytes(signature)
    (tmp_path / "data").write_bytes(data)
    result = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "sig.p7s",
        "-content",
        tmp_path / "data",
        "-CAfile",
        anchor,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    )
    return result.returncode


def test_openssl_accepts_our_signature(
    openssl: OpenSSL, tmp_path: Path, identity: SigningIdentity, ca: ThrowawayCA
) -> None:
    signature = sign_detached(identity, DATA)
    anchor = write_pem(tmp_path / "ca.pem", ca.certificate)

    assert _openssl_verify(openssl, tmp_path, signature, DATA, anchor) == 0
    assert _openssl_verify(openssl, tmp_path, signature, _flip(DATA, 0), anchor) != 0


def test_openssl_accepts_test_identity_as_its_own_anchor(openssl: OpenSSL, tmp_path: Path) -> None:
    key_path, cert_path = create_test_identity(tmp_path / "id", "Archive")
    signature = sign_detached(load_pem_identity(key_path, cert_path), DATA)

    assert _openssl_verify(openssl, tmp_path, signature, DATA, cert_path) == 0
    assert _openssl_verify(openssl, tmp_path, signature, _flip(DATA, 3), cert_path) != 0


def test_we_verify_openssl_signatures(openssl: OpenSSL, tmp_path: Path, ca: ThrowawayCA) -> None:
    """The other direction: a signature made by OpenSSL passes, a SHA-1 one is called weak."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert_path = write_pem(tmp_path / "cert.pem", ca.issue(key))
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "data").write_bytes(DATA)
    for digest, expected in (("sha256", ()), ("sha1", ("SIG-WEAK-ALGORITHM",))):
        out = tmp_path / f"{digest}.p7s"
        result = openssl(
            "cms",
            "-sign",
            "-binary",
            "-md",
            digest,
            "-in",
            tmp_path / "data",
            "-signer",
            cert_path,
            "-inkey",
            key_path,
            "-outform",
            "DER",
            "-out",
            out,
        )
        assert result.returncode == 0, result.stderr
        check = verify_detached(out.read_bytes(), DATA, [ca.certificate])
        assert check.intact
        assert check.problems == expected
