# mypy: disable-error-code="no-untyped-call"
"""Fixtures of the content-check tests (tests/sip/test_content*.py).

PDFs made here with pyHanko — signed, tampered, updated after signing, partially covered,
PDF/A, encrypted — and the helpers that write a package into tmp_path and check it. Nothing is
trusted: signer certificates come from throwaway CAs made per test
(tests/signing/signing_pki.py). Each PDF helper returns the PDF's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import re
import socket
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import ExpandedName, XmpStructure, XmpValue
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter, copy_into_new_writer
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from policies.formats import FormatPolicy, load_format_policy
from preservation.findings import Finding, Report, Severity
from preservation.formats import FormatId, FormatIdentifier
from sip.content import ContentItem, ContentOptions, check_content
from sip.package import PackageTree
from sip.samples import minimal_pdf, pdf_from_objects
from tests.signing.signing_pki import ThrowawayCA, make_certificate

#: Text shown by the text pages; the tamper helper flips a byte inside it.
SHOWN_TEXT = b"Bien ban ban giao tai lieu"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def xmp_packet(part: str = "2", conformance: str = "B", *, as_attributes: bool = False) -> bytes:
    """An XMP packet claiming PDF/A-<part><conformance> (element or attribute form)."""
    if as_attributes:
        description = (f'<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"'
                       f' pdfaid:part="{part}" pdfaid:conformance="{conformance}"/>')
    else:
        description = ('<rdf:Description rdf:about="" '
                       'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
                       f"<pdfaid:part>{part}</pdfaid:part>"
                       f"<pdfaid:conformance>{conformance}</pdfaid:conformance>"
                       "</rdf:Description>")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{description}</rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def build_pdf(*, text: bool = True, pdfa: tuple[str, str] | None = None, pages: int = 1,
              text_in_form: bool = False) -> bytes:
    """A PDF written by pyHanko's writer.

    ``text=False``: pages that only paint (a scan without OCR); ``text_in_form``: the text sits
    in a Form XObject, as some OCR tools write it; ``pdfa=(part, conformance)``: an XMP
    /Metadata stream claiming PDF/A, serialised by pyHanko (which manages the XMP it writes).
    """
    writer = PdfFileWriter()
    if pdfa is not None:
        writer.document_meta.xmp_extra = [XmpStructure.of(
            (ExpandedName(PDFAID, "part"), XmpValue(pdfa[0])),
            (ExpandedName(PDFAID, "conformance"), XmpValue(pdfa[1])),
        )]
    font = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    }))
    fonts = generic.DictionaryObject({generic.pdf_name("/F1"): font})
    shown = b"BT /F1 12 Tf 72 720 Td (" + SHOWN_TEXT + b") Tj ET"
    painted = b"q 0.5 g 72 72 400 600 re f Q"
    for _ in range(pages):
        resources = generic.DictionaryObject()
        if text and text_in_form:
            form = generic.StreamObject({
                generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
                generic.pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]),
                generic.pdf_name("/Resources"): generic.DictionaryObject(
                    {generic.pdf_name("/Font"): fonts}),
            }, stream_data=shown)
            resources[generic.pdf_name("/XObject")] = generic.DictionaryObject(
                {generic.pdf_name("/Fm1"): writer.add_object(form)})
            content = painted + b" /Fm1 Do"
        elif text:
            resources[generic.pdf_name("/Font")] = fonts
            content = painted + b" " + shown
        else:
            content = painted
        stream = writer.add_object(generic.StreamObject(stream_data=content))
        writer.insert_page(PageObject(stream, (0, 0, 595, 842), resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class Signer:
    """A throwaway CA and one signer certificate it issued."""

    ca: ThrowawayCA
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, ca_name: str = "Test CA for PDF signatures") -> Signer:
        ca = ThrowawayCA.create(ca_name)
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(ca, key, ca.issue(key))

    @property
    def signer(self) -> signers.SimpleSigner:
        return signers.SimpleSigner(
            signing_cert=_asn1(self.certificate),
            signing_key=_asn1_key(self.key),
            cert_registry=SimpleCertificateStore.from_certs([_asn1(self.ca.certificate)]),
        )

    def sign(self, data: bytes, field: str = "Signature1", *,
             timestamper: DummyTimeStamper | None = None) -> bytes:
        """Sign ``data`` (a PDF) in a new signature field, as an incremental update."""
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        meta = signers.PdfSignatureMetadata(field_name=field)
        out = signers.PdfSigner(meta, self.signer, timestamper=timestamper).sign_pdf(writer)
        return bytes(out.getvalue())

    def sign_partially(self, data: bytes, uncovered: int = 30) -> bytes:
        """A signature whose /ByteRange leaves the last ``uncovered`` bytes of its revision out.

        The signature is recomputed over the shortened range, so it is intact and valid: only
        its coverage is wrong (a contiguous block from the start, not the whole revision).
        """
        signed = bytearray(self.sign(data))
        match = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\] *", signed)
        assert match is not None
        start1, length1, start2, length2 = (int(g) for g in match.groups())
        text = f"/ByteRange [{start1} {length1} {start2} {length2 - uncovered}]".encode()
        signed[match.start():match.end()] = text.ljust(match.end() - match.start())
        digest = hashlib.sha256(signed[start1:start1 + length1]
                                + signed[start2:start2 + length2 - uncovered]).digest()
        cms = asyncio.run(self.signer.async_sign(digest, "sha256")).dump()
        hex_digits = cms.hex().upper().encode()
        room = start2 - length1 - 2  # between "<" and ">"
        assert len(hex_digits) <= room
        signed[length1 + 1:start2 - 1] = hex_digits.ljust(room, b"0")
        return bytes(signed)


def tsa(ca: ThrowawayCA) -> DummyTimeStamper:
    """A time-stamping authority certified by ``ca`` (pyHanko's in-process test TSA, RSA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = make_certificate("Test TSA", key.public_key(), ca.certificate, ca.key)
    certificate = _with_timestamping_eku(certificate, key, ca)
    return DummyTimeStamper(tsa_cert=_asn1(certificate), tsa_key=_asn1_key(key))


def add_document_timestamp(data: bytes, authority: DummyTimeStamper) -> bytes:
    """``data`` with a document timestamp (/DocTimeStamp, as LTA processing adds) appended."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    return bytes(PdfTimeStamper(authority).timestamp_pdf(writer, "sha256").getvalue())


def _with_timestamping_eku(certificate: x509.Certificate, key: rsa.RSAPrivateKey,
                           ca: ThrowawayCA) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(certificate.subject).issuer_name(certificate.issuer)
               .public_key(key.public_key()).serial_number(certificate.serial_number)
               .not_valid_before(certificate.not_valid_before_utc)
               .not_valid_after(certificate.not_valid_after_utc))
    for extension in certificate.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    builder = builder.add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(ca.key, hashes.SHA256())


def _asn1_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _contents_span(signed: bytes) -> tuple[int, int]:
    """Start and end of the hex digits of the (first) signature's /Contents."""
    match = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", signed)
    assert match is not None
    return int(match.group(2)) + 1, int(match.group(3)) - 1


def corrupt_signature_value(signed: bytes) -> bytes:
    """Flip one bit of the signature value inside the CMS: the document digest still matches
    (intact) but the signature does not verify."""
    start, end = _contents_span(signed)
    padded = bytes.fromhex(signed[start:end].decode("ascii"))
    info = cms.ContentInfo.load(padded)  # not strict: the zero padding after it is ignored
    der = info.dump()
    value = info["content"]["signer_infos"][0]["signature"].native
    position = der.index(value) + 8  # inside the ECDSA signature's first integer
    bad = bytearray(der)
    bad[position] ^= 0x01
    digits = bytes(bad).hex().upper().encode()
    return signed[:start] + digits.ljust(end - start, b"0") + signed[end:]


def garble_signature(signed: bytes) -> bytes:
    """Replace the CMS in /Contents with bytes that are not CMS (outside the signed range)."""
    start, end = _contents_span(signed)
    return signed[:start] + b"0A0B0C0D".ljust(end - start, b"0") + signed[end:]


def rename_subfilter(signed: bytes, new: bytes = b"/Unknown.SubFilter") -> bytes:
    """Give the signature a /SubFilter pyHanko does not support (same length, offsets kept)."""
    match = re.search(rb"/SubFilter (/[A-Za-z0-9.]+)", signed)
    assert match is not None
    old = match.group(1)
    replacement = new[:len(old)].ljust(len(old), b"X")
    return signed[:match.start(1)] + replacement + signed[match.end(1):]


def with_empty_signature_field(data: bytes, name: str = "Unsigned") -> bytes:
    """``data`` with an empty signature field added (an incremental update)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    append_signature_field(writer, SigFieldSpec(sig_field_name=name))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def tamper(signed: bytes) -> bytes:
    """Flip one byte of the shown text: inside the signed byte range, still a readable PDF."""
    data = bytearray(signed)
    index = signed.index(SHOWN_TEXT if SHOWN_TEXT in signed else b"Demo")
    data[index] ^= 0x20  # upper/lower case: same length, same syntax
    return bytes(data)


def append_page_change(signed: bytes) -> bytes:
    """An incremental update after signing that replaces the first page's content."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Contents")] = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 20 Tf 72 600 Td (Changed) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypt(data: bytes, user_password: str = "secret", owner_password: str = "owner") -> bytes:
    """``data`` rewritten encrypted (AES-256) with pyHanko; empty user password: owner-only."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(data)))
    writer.encrypt(owner_password, user_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(*, metadata: bytes | None = None, extra_objects: tuple[bytes, ...] = (),
            padding: int = 0) -> bytes:
    """A one-page text PDF written byte by byte (like sip.samples.minimal_pdf), for what
    pyHanko's writer would rewrite: a hand-made XMP packet as /Metadata (object 6).

    ``padding``: that many bytes of comment in the page content and of an unused stream at the
    end, so that the metadata sits outside fido's head and tail windows (128 KiB each).
    """
    stream = b"BT /F1 14 Tf 72 720 Td (" + SHOWN_TEXT + b") Tj ET"
    if padding:
        stream = b"%" + b"p" * padding + b"\n" + stream
        extra_objects = (*extra_objects, b"<< /Length %d >>\nstream\n" % padding
                         + b"q" * padding + b"\nendstream")
    catalog = b"<< /Type /Catalog /Pages 2 0 R" + (b" /Metadata 6 0 R" if metadata else b"")
    objects = [
        catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if metadata:
        objects.append(b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n"
                       % len(metadata) + metadata + b"\nendstream")
    objects.extend(extra_objects)
    return pdf_from_objects(objects, version=b"1.7")


def sample_pdf() -> bytes:
    """The project's minimal sample PDF (a text page), for tests that need no options."""
    return minimal_pdf()


# --- Running the content checks on a package in tmp_path --------------------------------------

_IDENTIFIER: FormatIdentifier | None = None


def identifier() -> FormatIdentifier:
    """One identifier for the whole test session (loading fido's signatures takes ~0.2 s)."""
    global _IDENTIFIER
    if _IDENTIFIER is None:
        _IDENTIFIER = FormatIdentifier()
    return _IDENTIFIER


def make_package(root: Path, files: Mapping[str, bytes]) -> PackageTree:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return PackageTree(root)


def run(root: Path, files: Mapping[str, bytes], *, digitised: Iterable[str] = (),
        items: Iterable[str] | None = None, policy: FormatPolicy | None = None,
        trust_roots: tuple[x509.Certificate, ...] = (), clamd: str | None = None,
        ) -> tuple[Report, Mapping[str, FormatId]]:
    """Write ``files`` under ``root``, check them all (or ``items``), return report and formats."""
    tree = make_package(root, files)
    scans = set(digitised)
    content = [ContentItem(rel, digitised=rel in scans)
               for rel in (files if items is None else items)]
    report = Report(subject=root.name)
    options = ContentOptions(policy=policy or load_format_policy(None),
                             trust_roots=trust_roots, clamd=clamd)
    formats = check_content(tree, content, report, options, identifier=identifier())
    for finding in report.findings:  # every finding renders in both languages
        assert finding.message("en") and finding.message("vi"), finding
        assert "{" not in finding.message("en") + finding.message("vi"), finding
    return report, formats


def found(report: Report, code: str, path: str | None = None) -> list[Finding]:
    """The findings with ``code`` (at ``path`` when given)."""
    return [f for f in report.findings
            if f.code == code and (path is None or f.location.path == path)]


def codes(report: Report, path: str | None = None,
          severity: Severity | None = None) -> set[str]:
    return {f.code for f in report.findings
            if (path is None or f.location.path == path)
            and (severity is None or f.severity is severity)}


# --- A clamd protocol stand-in ------------------------------------------------------------

#: The EICAR anti-virus test string, assembled at run time (so this source file is not flagged).
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!" + b"$H+H*")


class ClamdStandIn:
    """A stand-in that speaks clamd's protocol — NOT an antivirus (ClamAV cannot get signatures
    offline here).

    Answers ``zPING`` with PONG, ``zVERSION`` with a version line and ``zINSTREAM`` with
    ``stream: Eicar-Test-Signature FOUND`` when the stream holds the EICAR string, ``stream: OK``
    otherwise. ``mode="error"`` answers every scan with an ERROR, as a clamd with an unusable
    database would; ``max_stream`` mimics clamd's StreamMaxLength (the "size limit exceeded"
    ERROR, then the connection is closed). Listens on a unix socket in ``folder`` or, with
    ``tcp=True``, on a free loopback port. ``chunks`` records the chunk sizes received.
    """

    def __init__(self, folder: Path, *, mode: str = "ok", max_stream: int | None = None,
                 tcp: bool = False) -> None:
        self.mode = mode
        self.max_stream = max_stream
        self.chunks: list[int] = []
        self.scans = 0
        if tcp:
            self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._server.bind(("127.0.0.1", 0))
            self.address = f"tcp://127.0.0.1:{self._server.getsockname()[1]}"
        else:
            path = folder / "clamd.ctl"
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(str(path))
            self.address = f"unix://{path}"
        self._server.listen(4)
        self._server.settimeout(0.05)  # lets the thread see close() promptly
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._server.close()

    def __enter__(self) -> ClamdStandIn:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(10)
            with connection, contextlib.suppress(OSError):
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        command = bytearray()
        while not command.endswith(b"\0"):
            block = connection.recv(1)
            if not block:
                return
            command += block
        if command == b"zPING\0":
            connection.sendall(b"PONG\0")
        elif command == b"zVERSION\0":
            connection.sendall(b"ClamAV 1.0.7/27000/Stand-in for tests\0")
        elif command == b"zINSTREAM\0":
            self._instream(connection)
        else:
            connection.sendall(b"UNKNOWN COMMAND\0")

    def _instream(self, connection: socket.socket) -> None:
        data = bytearray()
        while True:
            length = struct.unpack(">I", _receive(connection, 4))[0]
            if length == 0:
                break
            self.chunks.append(length)
            data += _receive(connection, length)
            if self.max_stream is not None and len(data) > self.max_stream:
                connection.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                return
        self.scans += 1
        if self.mode == "error":
            connection.sendall(b"stream: Can't open database: no signatures loaded ERROR\0")
        elif b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data:
            connection.sendall(b"stream: Eicar-Test-Signature FOUND\0")
        else:
            connection.sendall(b"stream: OK\0")


def _receive(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        block = connection.recv(size - len(data))
        if not block:
            raise OSError("connection closed")
        data += block
    return bytes(data)
