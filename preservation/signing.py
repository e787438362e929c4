"""Signing identities and detached CMS signatures (RFC 5652) over AIP tagmanifests.

An AIP carries a detached CMS SignedData over its BagIt tagmanifest, which covers every byte of the
package transitively. The format is chosen so that an archive decades from now can check it with
nothing but OpenSSL (``openssl cms -verify -binary -inform DER -content tagmanifest-sha256.txt``).

Signatures are made with cryptography's PKCS#7 builder and verified with pyHanko, because
cryptography has no CMS verification API. Nothing in this module touches the network: trust comes
only from the anchors the caller passes, and revocation is not checked (no CRLs or OCSP responses
are fetched). Trusted time (RFC 3161 timestamps on the signature) lives in
:mod:`preservation.timestamps`; :func:`verify_detached` checks the tokens it finds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.validation.generic_cms import (
    async_validate_detached_cms,
    extract_self_reported_ts,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from preservation.aio import run_sync
from preservation.errors import SigningError
from preservation.timestamps import TIMESTAMP_PROBLEMS, TimestampCheck, async_check_timestamps

logger = logging.getLogger(__name__)

__all__ = [
    "CERT_FILE_NAME",
    "KEY_FILE_NAME",
    "SIGNATURE_PROBLEMS",
    "TEST_IDENTITY_CN",
    "TEST_IDENTITY_OU",
    "SignatureCheck",
    "SigningIdentity",
    "SigningKey",
    "create_test_identity",
    "is_test_certificate",
    "load_pem_identity",
    "load_pkcs12",
    "sign_detached",
    "verify_detached",
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
# pyHanko by default demands nonRepudiation. An AIP signature is an integrity seal made by a
# system, for which RFC 5280 names digitalSignature; national CAs issue nonRepudiation for
# document signing. Either bit is enough.
_SIGNER_KEY_USAGE = KeyUsageConstraints(
    key_usage=frozenset({"digital_signature", "non_repudiation"}), match_all_key_usages=False
)
_WEAK_ALGORITHM = frozenset(
    {
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    }
)


SIGNATURE_PROBLEMS: dict[str, str] = {
    "SIG-MALFORMED": "the signature file is not a readable CMS SignedData",
    "SIG-DIGEST-MISMATCH": "the signed data has changed since it was signed",
    "SIG-SIGNATURE-INVALID": "the signature value does not verify with the signer's key",
    "SIG-TRUST-NOT-CHECKED": "the signer was not checked because the signature does not verify",
    "SIG-CERT-EXPIRED-AT-SIGNING": (
        "the signer's certificate was not valid at the time the signature claims"
    ),
    "SIG-CERT-EXPIRED-AT-TIMESTAMP": (
        "the signer's certificate was not valid at the time proven by the timestamp"
    ),
    "SIG-CERT-EXPIRED-NO-TIMESTAMP": (
        "the signer's certificate has expired and no valid timestamp proves the signature was"
        " made while it was valid (the signing time is only the signer's own claim)"
    ),
    "SIG-WEAK-ALGORITHM": "the signature uses an algorithm too weak to be trusted",
    "SIG-UNTRUSTED": "the signer's certificate does not chain to a trusted anchor",
    **TIMESTAMP_PROBLEMS,
}
"""English description of every problem code :func:`verify_detached` can report."""


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


@dataclass(frozen=True)
class SignatureCheck:
    """What :func:`verify_detached` found. Codes in ``problems`` are stable finding codes.

    ``intact``: the data's digest matches the signed one and the signature over the signed
    attributes verifies with the signer's key. ``trusted``: the signer's certificate chains to
    one of the trust anchors and was valid at ``validity_time`` — the genTime of a verified
    timestamp, else the signing time it claims, which counts only while the certificate is still
    valid now. It is evaluated only when the signature itself verifies (otherwise
    ``SIG-TRUST-NOT-CHECKED``). ``signing_time`` is the signer's own claim (the signingTime
    attribute), not a proof of time; ``timestamp`` holds the proof, if any.
    """

    intact: bool
    trusted: bool
    signer_subject: str
    signer_serial: str
    signing_time: datetime | None
    signer_certificate_sha256: str
    signer_is_test_identity: bool
    problems: tuple[str, ...]
    #: the RFC 3161 signature timestamp, None when the signature carries none
    timestamp: TimestampCheck | None = None
    #: the moment the signer's certificate was judged at, and why that moment: "timestamp"
    #: (a verified timestamp's genTime), "claimed signing time" or "verification time"
    validity_time: datetime | None = None
    validity_basis: str = ""

    @property
    def ok(self) -> bool:
        """Intact, made by a trusted signer, and any timestamp it carries verifies."""
        return self.intact and self.trusted and (self.timestamp is None or self.timestamp.ok)

    @property
    def timestamped(self) -> bool:
        """The signature carries a timestamp that verifies: its signing time is proven."""
        return self.timestamp is not None and self.timestamp.ok

    @property
    def problem_descriptions(self) -> tuple[str, ...]:
        """The problems in words (English), in the order of :attr:`problems`."""
        return tuple(SIGNATURE_PROBLEMS.get(code, code) for code in self.problems)


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
    start = _aware_now(now)
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
    return _checked_identity(key, certificate, chain, _aware_now(now))


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
    return _checked_identity(bundle.key, bundle.cert.certificate, chain, _aware_now(now))


def sign_detached(identity: SigningIdentity, data: bytes) -> bytes:
    """Return a DER detached CMS SignedData over ``data`` (SHA-256, binary, no MIME translation).

    The signed attributes (content type, signing time, message digest, S/MIME capabilities) are
    kept, and the signer's certificate and chain are embedded so a verifier needs only the
    root. The certificate is re-checked against the clock because a long-running process may
    outlive it.
    """
    _require_valid_at(identity.certificate, datetime.now(UTC), location=None)
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(identity.certificate, identity.private_key, hashes.SHA256())
    )
    for certificate in identity.chain:
        if certificate != identity.certificate:
            builder = builder.add_certificate(certificate)
    return builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )


def verify_detached(
    signature_der: bytes,
    data: bytes,
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
    tsa_trust_anchors: Sequence[x509.Certificate] | None = None,
) -> SignatureCheck:
    """Check a detached CMS signature over ``data`` against the given trust anchors only.

    Never raises on a hostile or garbled signature: it comes back with ``SIG-MALFORMED``.
    When the signature carries an RFC 3161 timestamp that verifies (imprint over this
    signature, the TSA's signature, a timeStamping certificate chaining to ``tsa_trust_anchors``
    — default: ``trust_anchors`` — valid at genTime and at ``now``), the signer's certificate is
    judged at the timestamp's genTime: an AIP signed while its certificate was valid stays
    verifiable after the certificate expires (``SIG-CERT-EXPIRED-AT-TIMESTAMP`` otherwise).
    Without one, it is judged at the signing time the signature claims (capped at ``now``;
    ``SIG-CERT-EXPIRED-AT-SIGNING``), and the claim is accepted only while the certificate is
    still valid at ``now`` (``SIG-CERT-EXPIRED-NO-TIMESTAMP``): after that, nothing but the
    signer's word dates the signature. No network access; revocation is not checked.
    """
    checked_at = _aware_now(now)
    anchors = [_asn1_certificate(a) for a in trust_anchors]
    tsa_anchors = (
        anchors if tsa_trust_anchors is None else [_asn1_certificate(a) for a in tsa_trust_anchors]
    )
    try:
        return _check_signature(signature_der, data, anchors, tsa_anchors, checked_at)
    except Exception as exc:  # hostile input can break any layer of the ASN.1 and CMS stack
        logger.info("unreadable CMS signature: %r", exc)
        return SignatureCheck(
            intact=False,
            trusted=False,
            signer_subject="",
            signer_serial="",
            signing_time=None,
            signer_certificate_sha256="",
            signer_is_test_identity=False,
            problems=("SIG-MALFORMED",),
        )


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


async def _validate(
    signed_data: Any, data: bytes, anchors: list[Any], tsa_anchors: list[Any], checked_at: datetime
) -> tuple[Any, TimestampCheck | None, datetime, str]:
    """pyHanko's status, the timestamp, and the moment (with its basis) validity was judged at."""
    signer_info = extract_signer_info(signed_data)
    timestamp = await async_check_timestamps(signer_info, tsa_anchors, checked_at)
    claimed = extract_self_reported_ts(signer_info)
    if timestamp is not None and timestamp.ok and timestamp.gen_time is not None:
        moment, basis = min(timestamp.gen_time, checked_at), "timestamp"
    elif claimed is not None:
        moment, basis = min(claimed, checked_at), "claimed signing time"
    else:
        moment, basis = checked_at, "verification time"
    context = ValidationContext(
        trust_roots=anchors, allow_fetching=False, revocation_mode="soft-fail", moment=moment
    )
    status = await async_validate_detached_cms(
        data,
        _without_unsigned_attributes(signed_data),
        signer_validation_context=context,
        key_usage_settings=_SIGNER_KEY_USAGE,
    )
    return status, timestamp, moment, basis


def _without_unsigned_attributes(signed_data: Any) -> Any:
    """A copy of the SignedData without unsigned attributes (outside the signature anyway).

    The timestamp was checked on its own, against its own anchors; pyHanko would check it again
    against the signer's anchors and raise on a damaged token, hiding the signature's status.
    """
    if isinstance(extract_signer_info(signed_data)["unsigned_attrs"], asn1_core.Void):
        return signed_data
    copy = signed_data.copy()
    copy["signer_infos"][0]["unsigned_attrs"] = None
    return copy


def _check_signature(
    signature_der: bytes,
    data: bytes,
    anchors: list[Any],
    tsa_anchors: list[Any],
    checked_at: datetime,
) -> SignatureCheck:
    """The body of :func:`verify_detached`; any exception here means a malformed signature.

    Every field of the signer's certificate is read here too: cryptography and asn1crypto parse
    lazily, so a corrupted name or date surfaces only when it is first touched.
    """
    info = asn1_cms.ContentInfo.load(signature_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError(f"content type {info['content_type'].native}, not signed_data")
    signed_data = info["content"]
    signing_time = extract_self_reported_ts(extract_signer_info(signed_data))
    status, timestamp, moment, basis = run_sync(
        _validate(signed_data, data, anchors, tsa_anchors, checked_at)
    )
    signer_der = status.signing_cert.dump()
    signer = x509.load_der_x509_certificate(signer_der)

    problems: list[str] = []
    if not status.intact:
        problems.append("SIG-DIGEST-MISMATCH")
    trusted = False
    if not status.valid:
        # pyHanko does not build a path for a signature that does not verify.
        problems += ["SIG-SIGNATURE-INVALID", "SIG-TRUST-NOT-CHECKED"]
    elif not signer.not_valid_before_utc <= moment <= signer.not_valid_after_utc:
        # Checked here as well: pyHanko skips validity checks on a certificate that is itself
        # a trust anchor (a self-signed test identity), so it would accept it expired.
        proven = basis == "timestamp"
        problems.append(
            "SIG-CERT-EXPIRED-AT-TIMESTAMP" if proven else "SIG-CERT-EXPIRED-AT-SIGNING"
        )
    elif status.trust_problem_indic in _WEAK_ALGORITHM:
        problems.append("SIG-WEAK-ALGORITHM")
    elif status.trust_problem_indic is not None or status.validation_path is None:
        problems.append("SIG-UNTRUSTED")
    elif basis != "timestamp" and checked_at > signer.not_valid_after_utc:
        problems.append("SIG-CERT-EXPIRED-NO-TIMESTAMP")
    else:
        trusted = True
    if timestamp is not None:
        problems += timestamp.problems
    return SignatureCheck(
        intact=bool(status.intact and status.valid),
        trusted=trusted,
        signer_subject=signer.subject.rfc4514_string(),
        signer_serial=format(signer.serial_number, "x"),
        signing_time=signing_time,
        signer_certificate_sha256=hashlib.sha256(signer_der).hexdigest(),
        signer_is_test_identity=is_test_certificate(signer),
        problems=tuple(problems),
        timestamp=timestamp,
        validity_time=moment,
        validity_basis=basis,
    )


def _checked_identity(
    key: PrivateKeyTypes,
    certificate: x509.Certificate,
    chain: tuple[x509.Certificate, ...],
    now: datetime,
) -> SigningIdentity:
    """Build an identity from loaded parts, refusing a certificate not valid at ``now``."""
    identity = SigningIdentity(_require_signing_key(key), certificate, chain)
    _require_valid_at(certificate, now, location=certificate.subject.rfc4514_string())
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


def _require_valid_at(certificate: x509.Certificate, when: datetime, location: str | None) -> None:
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


def _aware_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now



