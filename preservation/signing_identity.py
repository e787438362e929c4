"""Signing identities: a private key with its certificate and chain, loaded and checked.

An identity comes from PEM files or from a PKCS#12 (.p12/.pfx) file, the form CAs usually hand
out, or is made on the spot as a clearly labelled, self-signed TEST identity for trying the
repository out. Every way in checks the same things up front (a key type that CMS verifiers
handle, a key that belongs to its certificate, a certificate valid now), so that problems show at
start-up, not in a signature nobody can verify. Failures are :class:`SigningError` with stable
``SIGN-…`` codes. :mod:`preservation.signing` re-exports the public names.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from preservation.errors import SigningError

logger = logging.getLogger(__name__)

__all__ = [
    "CERT_FILE_NAME",
    "KEY_FILE_NAME",
    "TEST_IDENTITY_CN",
    "TEST_IDENTITY_OU",
    "SigningIdentity",
    "SigningKey",
    "aware_now",
    "create_test_identity",
    "is_test_certificate",
    "load_pem_identity",
    "load_pkcs12",
    "require_valid_at",
]

TEST_IDENTITY_OU = "Test signing identity"
"""Organisational unit that marks a certificate made by :func:`create_test_identity`."""

TEST_IDENTITY_CN = "TEST IDENTITY - not for production"
"""Common name of a test identity: ASCII so every viewer shows it; the organisation goes in O
(CN is limited to 64 characters)."""

KEY_FILE_NAME = "signing-key.pem"
CERT_FILE_NAME = "signing-cert.pem"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""Key types we sign with: RSA of 2048 bits or more, EC on P-256, P-384 or P-521."""

_TEST_VALIDITY = timedelta(days=3653)  # ten years, leap days included
_CLOCK_SKEW = timedelta(minutes=5)  # back-date notBefore so a slightly slow verifier accepts it
_MIN_RSA_BITS = 2048
# The builder accepts any curve, but verifiers (OpenSSL, pyHanko, national CA tooling) reliably
# handle only the NIST curves; secp256k1 and friends would make signatures nobody can check.
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """A private key with its certificate and the chain up to (and possibly including) the root.

    Construction checks that the key is of a supported type and belongs to the certificate:
    cryptography's builder checks neither and would make signatures that never verify.
    """

    private_key: SigningKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        _require_signing_key(self.private_key)
        _require_key_matches(self.private_key, self.certificate)

    @property
    def is_test_identity(self) -> bool:
        """True if the certificate carries the label :func:`create_test_identity` puts on it."""
        return is_test_certificate(self.certificate)


def is_test_certificate(certificate: x509.Certificate) -> bool:
    """Whether a certificate is labelled as a test identity (by OU, or by the CN prefix)."""
    subject = certificate.subject
    units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(a.value == TEST_IDENTITY_OU for a in units) or any(
        isinstance(a.value, str) and a.value.startswith("TEST IDENTITY") for a in names
    )


def create_test_identity(
    directory: Path, organisation: str, *, now: datetime | None = None
) -> tuple[Path, Path]:
    """Make a self-signed, clearly labelled TEST identity; return (key path, certificate path).

    For trying the repository out before the archive has a real certificate. The key is EC P-256:
    128-bit security like RSA-3072, generated instantly, and verifiable by every CMS
    implementation we target. The key is written unencrypted (PKCS#8, mode 0600) because a test
    identity protects nothing. Existing files are never overwritten (``SIGN-EXISTS``).
    """
    org = unicodedata.normalize("NFC", organisation.strip())
    if not 1 <= len(org) <= 64:  # ub-organization-name, RFC 5280
        raise SigningError(
            "the organisation name must have 1 to 64 characters",
            code="SIGN-ORGANISATION-INVALID",
        )
    key_path = directory / KEY_FILE_NAME
    cert_path = directory / CERT_FILE_NAME
    for path in (key_path, cert_path):
        if path.exists():
            raise SigningError(
                "refusing to overwrite an existing signing file",
                code="SIGN-EXISTS",
                location=str(path),
            )
    start = aware_now(now)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_IDENTITY_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, TEST_IDENTITY_CN),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _CLOCK_SKEW)
        .not_valid_after(start + _TEST_VALIDITY)
        # CA:FALSE: the certificate signs AIPs, never other certificates. OpenSSL still accepts
        # it as its own trust anchor (-CAfile signing-cert.pem), which the tests check.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(key_path, key_pem, 0o600)
    try:
        _write_new(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    except BaseException:
        key_path.unlink()  # no half identity: a key without its certificate is useless
        raise
    logger.info("created test signing identity %s for %r", cert_path, org)
    return key_path, cert_path


def load_pem_identity(
    key_path: Path,
    cert_path: Path,
    chain_paths: Iterable[Path] = (),
    *,
    passphrase: bytes | None = None,
    now: datetime | None = None,
) -> SigningIdentity:
    """Load an identity from PEM files: a private key, its certificate and chain bundles.

    Refuses a certificate that is not valid at ``now`` (default: the current time) and a key
    that is not the certificate's, so problems show at start-up, not in a signature nobody can
    verify.
    """
    try:
        key = serialization.load_pem_private_key(_read(key_path), passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningError(
            f"cannot read the private key (wrong passphrase or not a PEM key): {exc}",
            code="SIGN-KEY-INVALID",
            location=str(key_path),
        ) from exc
    certificate = _load_pem_certificates(cert_path)[0]
    chain = tuple(c for path in chain_paths for c in _load_pem_certificates(path))
    return _checked_identity(key, certificate, chain, aware_now(now))


def load_pkcs12(
    path: Path, passphrase: bytes | None, *, now: datetime | None = None
) -> SigningIdentity:
    """Load an identity from a PKCS#12 (.p12/.pfx) file, the form CAs usually hand out.

    The same checks as :func:`load_pem_identity` apply. A wrong passphrase is
    ``SIGN-P12-PASSPHRASE``; a file that is not PKCS#12 or lacks the key or the certificate is
    ``SIGN-P12-INVALID``.
    """
    raw = _read(path)
    try:
        bundle = pkcs12.load_pkcs12(raw, passphrase)
    except ValueError as exc:
        # cryptography raises the same ValueError for a wrong passphrase and for damaged data;
        # a well-formed PFX structure means the passphrase (MAC check) is what failed.
        if _is_pfx_structure(raw):
            raise SigningError(
                "wrong passphrase for the PKCS#12 file (or its protected content is damaged)",
                code="SIGN-P12-PASSPHRASE",
                location=str(path),
            ) from exc
        raise SigningError(
            f"not a readable PKCS#12 file: {exc}", code="SIGN-P12-INVALID", location=str(path)
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise SigningError(
            f"the PKCS#12 file uses an unsupported algorithm: {exc}",
            code="SIGN-P12-INVALID",
            location=str(path),
        ) from exc
    if bundle.key is None or bundle.cert is None:
        raise SigningError(
            "the PKCS#12 file must hold both a private key and its certificate",
            code="SIGN-P12-INVALID",
            location=str(path),
        )
    chain = tuple(c.certificate for c in bundle.additional_certs)
    return _checked_identity(bundle.key, bundle.cert.certificate, chain, aware_now(now))


def _checked_identity(
    key: PrivateKeyTypes,
    certificate: x509.Certificate,
    chain: tuple[x509.Certificate, ...],
    now: datetime,
) -> SigningIdentity:
    """Build an identity from loaded parts, refusing a certificate not valid at ``now``."""
    identity = SigningIdentity(_require_signing_key(key), certificate, chain)
    require_valid_at(certificate, now, location=certificate.subject.rfc4514_string())
    return identity


def _require_signing_key(key: PrivateKeyTypes) -> SigningKey:
    """Return the key if CMS signing supports it, else raise ``SIGN-KEY-TYPE``/``SIGN-KEY-WEAK``."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise SigningError(
                f"RSA key of {key.key_size} bits; at least {_MIN_RSA_BITS} are required",
                code="SIGN-KEY-WEAK",
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, _CURVES):
            return key
        raise SigningError(
            f"EC curve {key.curve.name} is not supported; use P-256, P-384 or P-521",
            code="SIGN-KEY-TYPE",
        )
    raise SigningError(
        f"{type(key).__name__} keys cannot sign CMS here; use RSA or EC P-256/P-384/P-521",
        code="SIGN-KEY-TYPE",
    )


def _require_key_matches(key: SigningKey, certificate: x509.Certificate) -> None:
    """Raise ``SIGN-KEY-MISMATCH`` unless the key is the certificate's."""
    if key.public_key() != certificate.public_key():
        raise SigningError(
            "the private key does not belong to the certificate",
            code="SIGN-KEY-MISMATCH",
            location=certificate.subject.rfc4514_string(),
        )


def require_valid_at(certificate: x509.Certificate, when: datetime, location: str | None) -> None:
    """Raise ``SIGN-CERT-EXPIRED`` if the certificate is not (or not yet) valid at ``when``."""
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not start <= when <= end:
        raise SigningError(
            f"the signing certificate is valid from {start.isoformat()} to {end.isoformat()},"
            f" not at {when.isoformat()}",
            code="SIGN-CERT-EXPIRED",
            location=location,
        )


def _load_pem_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file; at least one, else ``SIGN-CERT-INVALID``."""
    try:
        certificates = x509.load_pem_x509_certificates(_read(path))
    except ValueError as exc:
        raise SigningError(
            f"not a PEM certificate file: {exc}", code="SIGN-CERT-INVALID", location=str(path)
        ) from exc
    return certificates


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(
            f"cannot read the file: {exc.strerror}",
            code="SIGN-FILE-UNREADABLE",
            location=str(path),
        ) from exc


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``, failing with ``SIGN-EXISTS`` if it appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise SigningError(
            "refusing to overwrite an existing signing file",
            code="SIGN-EXISTS",
            location=str(path),
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _is_pfx_structure(raw: bytes) -> bool:
    """Whether ``raw`` parses as a PKCS#12 PFX with a MAC (contents still encrypted)."""
    try:
        pfx = asn1_pkcs12.Pfx.load(raw, strict=True)
        pfx["auth_safe"]["content_type"].native  # noqa: B018 - forces asn1crypto to parse
        return pfx["mac_data"].native is not None
    except Exception:  # hostile bytes can fail anywhere in the lazy ASN.1 parser
        return False


def aware_now(now: datetime | None) -> datetime:
    """``now``, or the current time if None; a naive datetime is refused (``ValueError``)."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
