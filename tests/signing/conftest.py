"""Fixtures for the signing tests: a throwaway CA, a signer, its PKCS#12 export, openssl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from preservation.signing import SigningIdentity
from tests.signing.signing_pki import P12_PASSPHRASE, OpenSSL, ThrowawayCA
from tests.signing.tsa import Mode, dummy_stamper, issue_tsa_certificate, serve_tsa, silent_tsa


@pytest.fixture(scope="session")
def ca() -> ThrowawayCA:
    return ThrowawayCA.create("Throwaway Root CA")


@pytest.fixture(scope="session")
def other_ca() -> ThrowawayCA:
    return ThrowawayCA.create("Unrelated Root CA")


@pytest.fixture(scope="session")
def leaf_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def leaf_cert(ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The signer: digitalSignature only, as a system seal certificate would be."""
    return ca.issue(leaf_key)


@pytest.fixture(scope="session")
def identity(
    ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey, leaf_cert: x509.Certificate
) -> SigningIdentity:
    return SigningIdentity(leaf_key, leaf_cert, (ca.certificate,))


@pytest.fixture
def p12_path(
    tmp_path: Path, ca: ThrowawayCA, leaf_key: rsa.RSAPrivateKey, leaf_cert: x509.Certificate
) -> Path:
    """The leaf, its key and the root exported as PKCS#12 with a passphrase."""
    path = tmp_path / "signer.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"AIP signer",
            leaf_key,
            leaf_cert,
            [ca.certificate],
            serialization.BestAvailableEncryption(P12_PASSPHRASE),
        )
    )
    return path


@pytest.fixture
def openssl() -> OpenSSL:
    """Run the openssl CLI (skipping the test when it is not installed)."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("the openssl command is not installed")

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
        )

    return run


# --- a local RFC 3161 time-stamping authority (tsa.py) -----------------------------------------

StartTsa = Callable[..., str]
"""start_tsa(mode="ok", *, fixed_time=None, key=None, certificate=None) -> URL"""


@pytest.fixture(scope="session")
def tsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def tsa_cert(ca: ThrowawayCA, tsa_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The TSA's certificate from the test CA: critical extendedKeyUsage timeStamping."""
    return issue_tsa_certificate(ca, tsa_key)


@pytest.fixture
def start_tsa(
    ca: ThrowawayCA, tsa_key: rsa.RSAPrivateKey, tsa_cert: x509.Certificate
) -> Iterator[StartTsa]:
    """Start local TSAs (stopped at the end of the test); each call returns a new URL."""
    with ExitStack() as stack:

        def start(
            mode: Mode = "ok",
            *,
            fixed_time: datetime | None = None,
            key: rsa.RSAPrivateKey | None = None,
            certificate: x509.Certificate | None = None,
        ) -> str:
            stamper = dummy_stamper(key or tsa_key, certificate or tsa_cert, ca, fixed_time)
            return stack.enter_context(serve_tsa(stamper, mode))

        yield start


@pytest.fixture
def tsa(start_tsa: StartTsa) -> str:
    """The URL of a well-behaved local TSA."""
    return start_tsa()


@pytest.fixture
def silent_tsa_url() -> Iterator[str]:
    """The URL of a TSA that accepts the connection and never answers."""
    with silent_tsa() as url:
        yield url
