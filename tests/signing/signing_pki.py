"""A throwaway PKI for the signing tests, made with cryptography: nothing here is ever trusted.

A uniquely named module (not conftest) so that test modules can import it unambiguously.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

P12_PASSPHRASE = b"correct horse battery staple"
NOW = datetime.now(UTC)


def key_usage(**set_bits: bool) -> x509.KeyUsage:
    """A KeyUsage extension with only the named bits set."""
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


def make_certificate(
    subject: str,
    public_key: CertificatePublicKeyTypes,
    issuer: x509.Certificate | None,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    *,
    ca: bool = False,
    usage: x509.KeyUsage | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    """Issue a certificate; ``issuer=None`` makes it self-signed."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Throwaway Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    if usage is None:
        usage = (
            key_usage(key_cert_sign=True, crl_sign=True)
            if ca
            else key_usage(digital_signature=True)
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class ThrowawayCA:
    """A root CA that issues signer certificates on demand."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str) -> ThrowawayCA:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(key, make_certificate(name, key.public_key(), None, key, ca=True))

    def issue(
        self,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        *,
        usage: x509.KeyUsage | None = None,
        not_before: datetime = NOW - timedelta(days=1),
        not_after: datetime = NOW + timedelta(days=365),
    ) -> x509.Certificate:
        """A signer certificate (digitalSignature unless ``usage`` says otherwise)."""
        return make_certificate(
            "AIP signer",
            key.public_key(),
            self.certificate,
            self.key,
            usage=usage,
            not_before=not_before,
            not_after=not_after,
        )


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


OpenSSL = Callable[..., subprocess.CompletedProcess[str]]
