"""Content checks of one PDF: encryption, digital signatures, the PDF/A claim and the text layer.

Read with pyHanko from the package file itself (never a copy in memory): pyHanko's reader seeks
and parses objects on demand and bounds how much any stream may inflate (its untrusted-input
:class:`~pyhanko.pdf_utils.decode_limits.DecodeLimits`); a signature's digest is computed by
streaming its byte range. The text-layer scan has its own budget of decoded content bytes.

Signatures are judged with ``status.bottom_line`` (integrity, trust, timestamps and the document
modification policy together), not ``status.valid``, which stays true for a PDF changed by an
incremental update after signing. Certificates are checked at the signing time the signature
claims (capped at now), as :func:`preservation.signing.verify_detached` does, offline: no
revocation fetching, no network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DecodePurpose, StreamDecodeLimits
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from preservation.aio import run_sync
from preservation.errors import XmlError
from preservation.findings import Severity
from preservation.xmlsafe import parse_bytes
from sip.content_findings import FindingSink
from sip.package import PackageTree

logger = logging.getLogger(__name__)


#: Largest decoded stream (content, object or XMP stream) read from a PDF.
MAX_STREAM = 64 * 1024 * 1024
#: Decoded content-stream bytes the text-layer scan may read per PDF before giving up.
TEXT_SCAN_BUDGET = 32 * 1024 * 1024
#: How deep Form XObjects are followed when looking for text.
_FORM_DEPTH = 4
#: Largest XMP packet read (pyHanko's own XMP limit is 32 MiB decoded).
_XMP_LIMIT = 4 * 1024 * 1024

_PDFAID = "http://www.aiim.org/pdfa/ns/id/"
# A text-showing operator (Tj or TJ) standing as a token in a content stream.
_SHOW_TEXT = re.compile(rb"(?<![A-Za-z0-9_#])T[jJ](?![A-Za-z0-9_#])")
# Signatures may name either key usage (government signing certificates set nonRepudiation).
# pyHanko's untrusted-input limits, with a lower ceiling per stream: nothing checked here needs
# a 256 MiB stream decoded (page images are never decoded)
_DECODE_LIMITS = DecodeLimits(per_stream=StreamDecodeLimits(max_output_size=MAX_STREAM))
_SUBFILTERS = frozenset(s.value for s in SigSeedSubFilter)
_KEY_USAGE = KeyUsageConstraints(
    key_usage=frozenset({"digital_signature", "non_repudiation"}), match_all_key_usages=False
)


@dataclass(frozen=True)
class PdfFacts:
    """What the PDF checks learned (the caller decides what the policy makes of it)."""

    readable: bool
    encrypted: bool = False
    #: (part, conformance) from the XMP ``pdfaid`` claim, e.g. ("2", "B"); None: no claim
    pdfa_claim: tuple[str, str] | None = None
    #: True: some page shows text; False: none does; None: not checked
    has_text: bool | None = None
    pages: int | None = None
    signatures: int = 0


def check_pdf(tree: PackageTree, rel: str, report: FindingSink, *, digitised: bool,
              trust_roots: Sequence[x509.Certificate] = (),
              no_text_layer: Severity = Severity.WARNING,
              now: datetime | None = None) -> PdfFacts:
    """Check the PDF at ``rel``; add PDF-* and SIG-PDF-* findings; return what was learned.

    ``report``: the package's report, or a :class:`~sip.content_findings.FindingRecorder` when
    this runs in a worker process.

    ``digitised``: also check the text layer (TT05 wants two-layer PDF/A for scans).
    ``trust_roots``: certificates signer chains must reach; none → trust is "not checked".
    """
    with tree.opened(rel) as stream:
        try:
            reader = PdfFileReader(stream, strict=False, decode_limits=_DECODE_LIMITS)
            encrypted = bool(reader.encrypted)
        except Exception as e:  # hostile input can break any layer of the parser
            report.add("PDF-MALFORMED", rel, error=_describe(e))
            return PdfFacts(readable=False)
        if encrypted:
            report.add("PDF-ENCRYPTED", rel, filter=_encryption_filter(reader))
            if not _opens_without_password(reader):
                report.add("PDF-NOT-CHECKED", rel)
                return PdfFacts(readable=True, encrypted=True)
        try:
            claim = _pdfa_claim(reader, rel, report)
            signatures = _check_signatures(reader, rel, report, trust_roots, now)
            has_text, pages = (_text_layer(reader, rel, report, no_text_layer) if digitised
                               else (None, None))
        except Exception as e:
            report.add("PDF-MALFORMED", rel, error=_describe(e))
            return PdfFacts(readable=False, encrypted=encrypted)
    if claim is not None:
        report.add("PDF-PDFA-CLAIM", rel, part=claim[0], conformance=claim[1])
    return PdfFacts(readable=True, encrypted=encrypted, pdfa_claim=claim, has_text=has_text,
                    pages=pages, signatures=signatures)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _encryption_filter(reader: PdfFileReader) -> str:
    try:
        encrypt = reader.trailer_view["/Encrypt"].get_object()
        return str(encrypt.get("/Filter", "unknown")).lstrip("/")
    except Exception:
        return "unknown"


def _opens_without_password(reader: PdfFileReader) -> bool:
    """True if the PDF has only an owner password (the empty user password opens it)."""
    try:
        return str(reader.decrypt(b"").status.name) != "FAILED"
    except Exception:
        return False


# --- PDF/A claim (XMP) ---------------------------------------------------------------------------

def _pdfa_claim(reader: PdfFileReader, rel: str, report: FindingSink) -> tuple[str, str] | None:
    """The ``pdfaid:part`` / ``pdfaid:conformance`` claim of the document's XMP, if any."""
    metadata = reader.root.get("/Metadata")
    if metadata is None:
        return None
    try:
        stream = metadata.get_object()
        if not isinstance(stream, generic.StreamObject):
            raise ValueError("/Metadata is not a stream")
        data = stream.read_data(DecodePurpose.XMP_METADATA)
        root = parse_bytes(bytes(data), max_bytes=_XMP_LIMIT, source=rel).getroot()
    except (XmlError, ValueError) as e:
        report.add("PDF-XMP-UNREADABLE", rel, error=_describe(e))
        return None
    except Exception as e:  # a stream pyHanko cannot decode
        report.add("PDF-XMP-UNREADABLE", rel, error=_describe(e))
        return None
    part = conformance = None
    for element in root.iter():
        for name, value in element.attrib.items():
            if name == f"{{{_PDFAID}}}part":
                part = part or str(value).strip()
            elif name == f"{{{_PDFAID}}}conformance":
                conformance = conformance or str(value).strip()
        if element.tag == f"{{{_PDFAID}}}part" and element.text:
            part = part or element.text.strip()
        elif element.tag == f"{{{_PDFAID}}}conformance" and element.text:
            conformance = conformance or element.text.strip()
    if not part:
        return None
    return part[:10], (conformance or "")[:10].upper()


# --- Text layer ----------------------------------------------------------------------------------

class _BudgetExceeded(Exception):
    pass


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def data(self, stream: Any) -> bytes:
        if not isinstance(stream, generic.StreamObject):
            return b""
        try:
            data = bytes(stream.data)
        except PdfDecodeLimitError as e:
            raise _BudgetExceeded from e
        self.left -= len(data)
        if self.left < 0:
            raise _BudgetExceeded
        return data


def _text_layer(reader: PdfFileReader, rel: str, report: FindingSink, severity: Severity
                ) -> tuple[bool | None, int | None]:
    """Whether any page shows text (fonts in its resources and Tj/TJ in its content)."""
    budget = _Budget(TEXT_SCAN_BUDGET)
    pages = 0
    try:
        for page, resources in _pages(reader.root["/Pages"]):
            pages += 1
            if _shows_text(page.get("/Contents"), resources, budget, _FORM_DEPTH):
                return True, None
    except _BudgetExceeded:
        report.add("PDF-TEXT-LAYER-NOT-CHECKED", rel, limit=TEXT_SCAN_BUDGET, pages=pages)
        return None, pages
    report.add("PDF-NO-TEXT-LAYER", rel, severity=severity, pages=pages)
    return False, pages


def _pages(root: Any) -> Iterator[tuple[Any, Any]]:
    """Every page with its (inherited) resources, depth first; loops in the tree are cut."""
    root = root.get_object()
    seen: set[int] = set()
    stack: list[tuple[Any, Any]] = [(root, root.get("/Resources"))]
    while stack:
        node, inherited = stack.pop()
        node = _deref(node)
        if not isinstance(node, generic.DictionaryObject) or id(node) in seen:
            continue
        seen.add(id(node))
        resources = node.get("/Resources", inherited)
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            kids = _deref(node.get("/Kids"))
            if isinstance(kids, generic.ArrayObject):
                stack.extend((kid, resources) for kid in reversed(list(kids)))
        else:
            yield node, resources


def _deref(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _shows_text(contents: Any, resources: Any, budget: _Budget, depth: int) -> bool:
    resources = _deref(resources)
    if not isinstance(resources, generic.DictionaryObject):
        resources = {}
    contents = _deref(contents)
    parts = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    fonts = _deref(resources.get("/Font"))
    if isinstance(fonts, generic.DictionaryObject) and len(fonts) > 0:
        data = b"\n".join(budget.data(_deref(p)) for p in parts)
        if _SHOW_TEXT.search(data):
            return True
    xobjects = _deref(resources.get("/XObject"))
    if depth == 0 or not isinstance(xobjects, generic.DictionaryObject):
        return False
    for ref in xobjects.values():
        form = _deref(ref)
        if isinstance(form, generic.StreamObject) and form.get("/Subtype") == "/Form" and \
                _shows_text(form, form.get("/Resources", resources), budget, depth - 1):
            return True
    return False


# --- Signatures ----------------------------------------------------------------------------------

def _asn1(certificates: Sequence[x509.Certificate]) -> list[asn1_x509.Certificate]:
    return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in certificates]


def _check_signatures(reader: PdfFileReader, rel: str, report: FindingSink,
                      trust_roots: Sequence[x509.Certificate], now: datetime | None) -> int:
    """Validate every signature; report empty, unsupported and unreadable ones. Returns count.

    Fields are taken one by one (not ``reader.embedded_signatures``, which skips unsupported
    kinds with only a log line and fails as a whole on one garbled signature).
    """
    roots = _asn1(trust_roots)
    checked_at = now or datetime.now(UTC)
    count = 0
    for name, value, field_ref in enumerate_sig_fields(reader):
        field = str(name)
        if value is None:
            report.add("SIG-PDF-EMPTY-FIELD", rel, field=field)
            continue
        count += 1
        subfilter = value.get_object().get("/SubFilter")
        if subfilter not in _SUBFILTERS:
            report.add("SIG-PDF-UNSUPPORTED", rel, field=field, subfilter=str(subfilter))
            continue
        try:
            sig = EmbeddedPdfSignature(reader, field_ref, field)
        except Exception as e:
            report.add("SIG-PDF-UNREADABLE", rel, field=field, error=_describe(e))
            continue
        _check_signature(sig, rel, report, roots, checked_at)
    return count


def _check_signature(sig: Any, rel: str, report: FindingSink, roots: list[asn1_x509.Certificate],
                     checked_at: datetime) -> None:
    field = str(sig.field_name)
    try:
        claimed = sig.self_reported_timestamp
        moment = checked_at if claimed is None else min(claimed, checked_at)
        context = ValidationContext(trust_roots=roots, allow_fetching=False,
                                    revocation_mode="soft-fail", moment=moment)
        if sig.sig_object_type == "/DocTimeStamp":
            status: Any = run_sync(async_validate_pdf_timestamp(sig, validation_context=context))
            when = status.timestamp
        else:
            status = run_sync(async_validate_pdf_signature(
                sig, signer_validation_context=context, key_usage_settings=_KEY_USAGE))
            ts = status.timestamp_validity
            when = ts.timestamp if ts is not None else status.signer_reported_dt
        signer = status.signing_cert.subject.human_friendly
    except Exception as e:
        logger.info("signature %s in %s could not be validated: %r", field, rel, e)
        report.add("SIG-PDF-UNREADABLE", rel, field=field, error=_describe(e))
        return
    try:
        _judge(status, rel, report, field, signer, when, bool(roots))
    except Exception as e:  # an odd status must not hide the rest of the PDF's checks
        logger.info("signature %s in %s could not be judged: %r", field, rel, e)
        report.add("SIG-PDF-UNREADABLE", rel, field=field, error=_describe(e))


def _judge(status: Any, rel: str, report: FindingSink, field: str, signer: str,
           when: datetime | None, roots: bool) -> None:
    """Turn pyHanko's status of one signature into findings."""
    signing_time = when.isoformat() if when is not None else "?"
    who: dict[str, Any] = {"field": field, "signer": signer}
    if not status.intact:
        report.add("SIG-PDF-TAMPERED", rel, **who)
        return
    if not status.valid:
        report.add("SIG-PDF-INVALID", rel, **who)
        return
    coverage = status.coverage
    cover = coverage.name if coverage is not None else "UNCLEAR"
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        report.add("SIG-PDF-PARTIAL-COVERAGE", rel, coverage=cover, **who)
    elif coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        level = status.modification_level
        level_name = level.name if level is not None else "UNKNOWN"
        if getattr(status, "docmdp_ok", True) is False or level is None or \
                level > ModificationLevel.FORM_FILLING:
            report.add("SIG-PDF-MODIFIED", rel, level=level_name,
                       detail=_describe(status.diff_result)
                       if isinstance(status.diff_result, Exception) else "", **who)
        else:
            report.add("SIG-PDF-LATER-UPDATES", rel, field=field, level=level_name)
    if not roots:
        report.add("SIG-PDF-TRUST-NOT-CHECKED", rel, signing_time=signing_time, **who)
    elif not status.trusted:
        indication = status.trust_problem_indic
        report.add("SIG-PDF-UNTRUSTED", rel, signing_time=signing_time,
                   reason=indication.name if indication is not None else "UNTRUSTED", **who)
    ts = getattr(status, "timestamp_validity", None)
    if ts is not None and not (ts.intact and ts.valid and (ts.trusted or not roots)):
        report.add("SIG-PDF-TIMESTAMP-INVALID", rel, field=field, signing_time=signing_time)
    # a document timestamp's status has no bottom_line: integrity and trust are its judgement
    bottom_line = getattr(status, "bottom_line", None)
    if bottom_line is None:
        bottom_line = status.intact and status.valid and status.trusted
    if roots and bottom_line:
        report.add("SIG-PDF-VALID", rel, signing_time=signing_time, coverage=cover, **who)
