"""Signing identities: the labelled test identity, PEM and PKCS#12 loading, and what is refused."""

from __future__ import annotations

import stat
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from preservation.errors import SigningError
from preservation.signing import (
    CERT_FILE_NAME,
    KEY_FILE_NAME,
    TEST_IDENTITY_OU,
    SigningIdentity,
    create_test_identity,
    load_pem_identity,
    load_pkcs12,
)
from tests.signing.signing_pki import NOW, P12_PASSPHRASE, ThrowawayCA, write_pem

ORG = "Trung tâm Lưu trữ quốc gia I"


def _key_pem(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    encryption: serialization.KeySerializationEncryption | None = None,
) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    )


def _code(excinfo: pytest.ExceptionInfo[SigningError]) -> str:
    return excinfo.value.code


# --- create_test_identity -------------------------------------------------------------------


def test_test_identity_is_labelled_and_loadable(tmp_path: Path) -> None:
    key_path, cert_path = create_test_identity(tmp_path / "keys", ORG)

    assert key_path == tmp_path / "keys" / KEY_FILE_NAME
    assert cert_path == tmp_path / "keys" / CERT_FILE_NAME
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"-----BEGIN PRIVATE KEY-----" in key_path.read_bytes()  # PKCS#8, unencrypted

    identity = load_pem_identity(key_path, cert_path)
    cert = identity.certificate
    assert identity.is_test_identity
    assert cert.subject == cert.issuer
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        TEST_IDENTITY_OU
    )
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str)
    assert common_name.startswith("TEST IDENTITY")
    assert "not for production" in common_name
    assert isinstance(identity.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(identity.private_key.curve, ec.SECP256R1)

    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=3650) <= lifetime <= timedelta(days=3660)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert not usage.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_test_identity_normalises_organisation_to_nfc(tmp_path: Path) -> None:
    _, cert_path = create_test_identity(tmp_path, unicodedata.normalize("NFD", ORG))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG


def test_test_identity_refuses_to_overwrite(tmp_path: Path) -> None:
    key_path, cert_path = create_test_identity(tmp_path, ORG)
    before = key_path.read_bytes(), cert_path.read_bytes()

    with pytest.raises(SigningError) as excinfo:
        create_test_identity(tmp_path, ORG)

    assert _code(excinfo) == "SIGN-EXISTS"
    assert (key_path.read_bytes(), cert_path.read_bytes()) == before


def test_test_identity_refuses_when_only_the_certificate_exists(tmp_path: Path) -> None:
    (tmp_path / CERT_FILE_NAME).write_text("someone else's certificate")

    with pytest.raises(SigningError) as excinfo:
        create_test_identity(tmp_path, ORG)

    assert _code(excinfo) == "SIGN-EXISTS"
    assert not (tmp_path / KEY_FILE_NAME).exists()


@pytest.mark.parametrize("organisation", ["", "   ", "x" * 65])
def test_test_identity_rejects_bad_organisation(tmp_path: Path, organisation: str) -> None:
    with pytest.raises(SigningError) as excinfo:
        create_test_identity(tmp_path, organisation)
    assert _code(excinfo) == "SIGN-ORGANISATION-INVALID"
    assert not any(tmp_path.iterdir())


# --- load_pkcs12 ----------------------------------------------------------------------------


def test_load_pkcs12(p12_path: Path, ca: ThrowawayCA, leaf_cert: x509.Certificate) -> None:
    identity = load_pkcs12(p12_path, P12_PASSPHRASE)

    assert identity.certificate == leaf_cert
    assert identity.chain == (ca.certificate,)
    assert isinstance(identity.private_key, rsa.RSAPrivateKey)
    assert not identity.is_test_identity


@pytest.mark.parametrize("passphrase", [b"wrong", None])
def test_load_pkcs12_wrong_passphrase(p12_path: Path, passphrase: bytes | None) -> None:
    with pytest.raises(SigningError) as excinfo:
        load_pkcs12(p12_path, passphrase)
    assert _code(excinfo) == "SIGN-P12-PASSPHRASE"


@pytest.mark.parametrize("content", [b"", b"not pkcs12 at all", b"\x30\x82\x01"])
def test_load_pkcs12_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.p12"
    path.write_bytes(content)
    with pytest.raises(SigningError) as excinfo:
        load_pkcs12(path, P12_PASSPHRASE)
    assert _code(excinfo) == "SIGN-P12-INVALID"


def test_load_pkcs12_without_key(tmp_path: Path, leaf_cert: x509.Certificate) -> None:
    path = tmp_path / "cert-only.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"cert only",
            None,
            leaf_cert,
            None,
            serialization.BestAvailableEncryption(P12_PASSPHRASE),
        )
    )
    with pytest.raises(SigningError) as excinfo:
        load_pkcs12(path, P12_PASSPHRASE)
    assert _code(excinfo) == "SIGN-P12-INVALID"


def test_load_pkcs12_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SigningError) as excinfo:
        load_pkcs12(tmp_path / "absent.p12", P12_PASSPHRASE)
    assert _code(excinfo) == "SIGN-FILE-UNREADABLE"


@pytest.mark.parametrize("offset", [timedelta(days=400), -timedelta(days=2)])
def test_load_pkcs12_refuses_certificate_outside_validity(
    p12_path: Path, offset: timedelta
) -> None:
    with pytest.raises(SigningError) as excinfo:
        load_pkcs12(p12_path, P12_PASSPHRASE, now=NOW + offset)
    assert _code(excinfo) == "SIGN-CERT-EXPIRED"


# --- load_pem_identity ----------------------------------------------------------------------


def test_load_pem_identity_with_chain_and_passphrase(
    tmp_path: Path, ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey, leaf_cert: x509.Certificate
) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(_key_pem(leaf_key, serialization.BestAvailableEncryption(b"secret")))
    cert_path = write_pem(tmp_path / "cert.pem", leaf_cert)
    chain_path = write_pem(tmp_path / "chain.pem", ca.certificate)

    identity = load_pem_identity(key_path, cert_path, [chain_path], passphrase=b"secret")
    assert identity.chain == (ca.certificate,)

    with pytest.raises(SigningError) as excinfo:
        load_pem_identity(key_path, cert_path, passphrase=b"wrong")
    assert _code(excinfo) == "SIGN-KEY-INVALID"


def test_load_pem_identity_key_mismatch(tmp_path: Path, leaf_cert: x509.Certificate) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(_key_pem(rsa.generate_private_key(65537, 2048)))
    with pytest.raises(SigningError) as excinfo:
        load_pem_identity(key_path, write_pem(tmp_path / "cert.pem", leaf_cert))
    assert _code(excinfo) == "SIGN-KEY-MISMATCH"


def test_load_pem_identity_expired(
    tmp_path: Path, ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey
) -> None:
    expired = ca.issue(leaf_key, not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(1))
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(_key_pem(leaf_key))
    with pytest.raises(SigningError) as excinfo:
        load_pem_identity(key_path, write_pem(tmp_path / "cert.pem", expired))
    assert _code(excinfo) == "SIGN-CERT-EXPIRED"


def test_load_pem_identity_not_a_certificate(tmp_path: Path, leaf_key: rsa.RSAPrivateKey) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(_key_pem(leaf_key))
    cert_path = tmp_path / "cert.pem"
    cert_path.write_text("no certificate here\n")
    with pytest.raises(SigningError) as excinfo:
        load_pem_identity(key_path, cert_path)
    assert _code(excinfo) == "SIGN-CERT-INVALID"


# --- key types --------------------------------------------------------------------------------


def test_ed25519_is_rejected(tmp_path: Path, ca: ThrowawayCA) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = ca.issue(ec.generate_private_key(ec.SECP256R1()))  # any certificate will do
    with pytest.raises(SigningError) as excinfo:
        SigningIdentity(key, cert)  # type: ignore[arg-type]
    assert _code(excinfo) == "SIGN-KEY-TYPE"

    key_path = tmp_path / "key.pem"
    key_path.write_bytes(_key_pem(key))
    with pytest.raises(SigningError) as excinfo:
        load_pem_identity(key_path, write_pem(tmp_path / "cert.pem", cert))
    assert _code(excinfo) == "SIGN-KEY-TYPE"


def test_non_nist_curve_is_rejected(ca: ThrowawayCA) -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(SigningError) as excinfo:
        SigningIdentity(key, ca.issue(key))
    assert _code(excinfo) == "SIGN-KEY-TYPE"


def test_short_rsa_key_is_rejected(ca: ThrowawayCA) -> None:
    key = rsa.generate_private_key(65537, 1024)
    with pytest.raises(SigningError) as excinfo:
        SigningIdentity(key, ca.issue(key))
    assert _code(excinfo) == "SIGN-KEY-WEAK"


def test_identity_key_must_match_certificate(ca: ThrowawayCA, leaf_cert: x509.Certificate) -> None:
    with pytest.raises(SigningError) as excinfo:
        SigningIdentity(ec.generate_private_key(ec.SECP256R1()), leaf_cert)
    assert _code(excinfo) == "SIGN-KEY-MISMATCH"
