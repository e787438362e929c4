"""A local RFC 3161 time-stamping authority for the tests: a real HTTP server on 127.0.0.1.

Tokens are made by pyHanko's DummyTimeStamper (RSA only) and signed by a throwaway TSA
certificate (critical extendedKeyUsage timeStamping) issued by the test CA. A ``mode`` makes the
server misbehave in one precise way, so that every failure of a TSA can be tested.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.signing.signing_pki import NOW, ThrowawayCA, key_usage

Mode = Literal[
    "ok",
    "rejection",
    "wrong-imprint",
    "wrong-nonce",
    "garbage",
    "http-error",
    "wrong-content-type",
]


def issue_tsa_certificate(
    ca: ThrowawayCA,
    key: rsa.RSAPrivateKey,
    *,
    eku: bool = True,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    """A TSA certificate from the test CA; ``eku=False`` leaves out the timeStamping purpose."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Throwaway Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Throwaway TSA" if eku else "Not a TSA"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(ca.key, hashes.SHA256())


def dummy_stamper(
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    ca: ThrowawayCA,
    fixed_time: datetime | None = None,
) -> DummyTimeStamper:
    """pyHanko's test TSA with our key and certificate (and the CA certificate embedded)."""
    der = serialization.Encoding.DER
    key_info = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    embedded = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    embedded.register(asn1_x509.Certificate.load(ca.certificate.public_bytes(der)))
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(der)),
        tsa_key=key_info,
        certs_to_embed=embedded,
        fixed_dt=fixed_time,
    )


def answer(stamper: DummyTimeStamper, mode: Mode, body: bytes) -> tuple[int, str, bytes]:
    """HTTP status, content type and body of the TSA's answer to a request body."""
    if mode == "http-error":
        return 500, "text/plain", b"internal error"
    if mode == "wrong-content-type":
        return 200, "text/html", b"<html>not a TSA</html>"
    if mode == "garbage":
        return 200, "application/timestamp-reply", b"\x30\x03\x02\x01"
    request = asn1_tsp.TimeStampReq.load(body)
    if mode == "rejection":
        status = asn1_tsp.PKIStatusInfo(
            {
                "status": "rejection",
                "status_string": ["unsupported policy"],
                "fail_info": asn1_tsp.PKIFailureInfo({"unaccepted_policy"}),
            }
        )
        # asn1crypto marks timeStampToken as required; RFC 3161 leaves it out when refusing
        response = asn1_core.Sequence(contents=status.dump())
        return 200, "application/timestamp-reply", response.dump()
    if mode == "wrong-imprint":
        request["message_imprint"]["hashed_message"] = hashlib.sha256(b"other").digest()
    if mode == "wrong-nonce":
        request["nonce"] = request["nonce"].native + 1
    response = stamper.request_tsa_response(request)
    return 200, "application/timestamp-reply", response.dump()


@contextmanager
def serve_tsa(stamper: DummyTimeStamper, mode: Mode = "ok") -> Iterator[str]:
    """Run a TSA on a free loopback port for the duration of the block; yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            status, content_type, payload = answer(stamper, mode, self.rfile.read(length))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-tsa", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def silent_tsa() -> Iterator[str]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"
    finally:
        listener.close()
