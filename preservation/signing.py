"""Detached CMS signatures (RFC 5652) over AIP tagmanifests, and the signing API in one place.

An AIP carries a detached CMS SignedData over its BagIt tagmanifest, which covers every byte of the
package transitively. The format is chosen so that an archive decades from now can check it with
nothing but OpenSSL (``openssl cms -verify -binary -inform DER -content tagmanifest-sha256.txt``).

Signatures are made here with cryptography's PKCS#7 builder (:func:`sign_detached`). The key and
certificate they are made with come from :mod:`preservation.signing_identity` (loading and
checking identities, test identities); verification, with pyHanko because cryptography has no CMS
verification API, and the signer's trust are in :mod:`preservation.signature_verification`.
Both are re-exported here, so callers import everything from this module. Nothing touches the
network: trust comes only from the anchors the caller passes, and revocation is not checked.
Trusted time (RFC 3161 timestamps on the signature) lives in :mod:`preservation.timestamps`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from preservation.signature_verification import (
    SIGNATURE_PROBLEMS,
    SignatureCheck,
    verify_detached,
)
from preservation.signing_identity import (
    CERT_FILE_NAME,
    KEY_FILE_NAME,
    TEST_IDENTITY_CN,
    TEST_IDENTITY_OU,
    SigningIdentity,
    SigningKey,
    create_test_identity,
    is_test_certificate,
    load_pem_identity,
    load_pkcs12,
    require_valid_at,
)

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


def sign_detached(identity: SigningIdentity, data: bytes) -> bytes:
    """Return a DER detached CMS SignedData over ``data`` (SHA-256, binary, no MIME translation).

    The signed attributes (content type, signing time, message digest, S/MIME capabilities) are
    kept, and the signer's certificate and chain are embedded so a verifier needs only the
    root. The certificate is re-checked against the clock because a long-running process may
    outlive it.
    """
    require_valid_at(identity.certificate, datetime.now(UTC), location=None)
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
