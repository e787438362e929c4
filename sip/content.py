"""Content checks of a submission's documents: formats, PDFs, empty files, viruses.

Called once per package by the dispatcher (:mod:`sip.validate`) after the structural checks,
with the package's content files (the documents, not its METS/EAD/schemas). For each file:

* an empty file is an error (CONTENT-EMPTY) and nothing else is checked on it;
* its format is identified once with fido (one :class:`~preservation.formats.FormatIdentifier`
  for the whole package, never a start-up per file; from :data:`PARALLEL_MIN` files on, all of
  them at once in forked worker processes, with the same answers) and judged against the
  accepted-formats policy (:mod:`policies.formats`): FMT-* findings;
* a PDF is opened once with pyHanko (:mod:`sip.content_pdf`): encryption, every digital
  signature, the PDF/A claim and, for digitised items, the text layer: PDF-* and SIG-PDF-*;
* a digitised item (TT05 confidenceLevel 02) that is not PDF/A gets FMT-DIGITISED-NOT-PDFA;
* it is streamed to clamd when one is configured (:mod:`sip.content_virus`); otherwise the
  package gets one VIRUS-NOT-CHECKED.

The identification of every file is returned so that ingest records it instead of identifying
each file again.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509

from policies.formats import AcceptedFormat, FormatPolicy
from preservation.findings import Report
from preservation.formats import (
    FormatId,
    FormatIdentificationError,
    FormatIdentifier,
    can_fork,
)
from sip.bagit_tree import ChangedError
from sip.content_pdf import PdfFacts, check_pdf
from sip.content_virus import VirusScan
from sip.package import PackageTree

__all__ = ["ContentItem", "ContentOptions", "check_content"]

logger = logging.getLogger(__name__)

_PDF_MIME = "application/pdf"
#: identify in worker processes from this many content files on (below, forking costs more)
PARALLEL_MIN = 200
#: at most this many worker processes
MAX_PROCESSES = 8


@dataclass(frozen=True)
class ContentItem:
    """A content file to check: its package-relative path, and whether it is a scan."""

    path: str
    #: TT05 confidenceLevel 02: a digitised paper record (must be two-layer PDF/A)
    digitised: bool = False


@dataclass(frozen=True)
class ContentOptions:
    """The archive's settings for content checks (``[validation]`` in the configuration)."""

    policy: FormatPolicy
    #: certificates PDF signatures must chain to; empty: trust is reported "not checked"
    trust_roots: tuple[x509.Certificate, ...] = ()
    #: clamd address, "unix:///run/clamav/clamd.ctl" or "tcp://127.0.0.1:3310"; None: no scan
    clamd: str | None = None


def check_content(
    tree: PackageTree,
    items: Sequence[ContentItem],
    report: Report,
    options: ContentOptions,
    *,
    identifier: FormatIdentifier | None = None,
    progress: Callable[[int], None] | None = None,
    scan_also: Sequence[str] = (),
    identify: bool = True,
) -> dict[str, FormatId]:
    """Check every item's content; add the findings to ``report``; return each identification.

    ``scan_also``: other files of the package (METS, metadata, documentation) that are not
    records but must still pass the virus scan; their format is not judged.

    ``identifier``: a loaded identifier to reuse (the caller keeps ownership); without one, one
    is loaded for this call and closed after it. ``progress(1)`` is called after each item.
    A path listed twice is checked once. ``identify=False``: the caller could not load an
    identifier and reported FMT-IDENTIFIER-UNAVAILABLE itself; formats are not identified (no
    second attempt, no second finding).
    """
    owned = identifier is None and identify
    if owned:
        try:
            identifier = FormatIdentifier()
        except FormatIdentificationError as e:
            report.add("FMT-IDENTIFIER-UNAVAILABLE", None, error=e.message)
    # identified all at once in worker processes when it pays; they are forked, so before the
    # virus-scan thread starts
    identified = _identify_all(tree, items, identifier) if identifier is not None else {}
    virus = VirusScan(options.clamd, report)
    virus.start()
    formats: dict[str, FormatId] = {}
    done: set[str] = set()
    try:
        for item in items:
            if item.path not in done:
                done.add(item.path)
                _check_item(tree, item, report, options, identifier, virus, formats,
                            identified.pop(item.path, None))
            if progress is not None:
                progress(1)
        for rel in scan_also:
            if rel not in done and tree.is_file(rel) and tree.size(rel):
                done.add(rel)
                virus.scan(tree, rel)
    finally:
        virus.finish()
        if owned and identifier is not None:
            identifier.close()
    return formats


def _identify_all(tree: PackageTree, items: Sequence[ContentItem], identifier: FormatIdentifier
                  ) -> dict[str, FormatId | OSError]:
    """Identify every item :func:`_check_item` will identify, in forked worker processes, when
    there are at least :data:`PARALLEL_MIN` of them, more than one CPU and no other thread (see
    :func:`preservation.formats.can_fork`); else nothing (``{}``: each is identified in turn).

    The answers are :meth:`FormatIdentifier.identify`'s. Each worker first makes sure the file is
    still the listed regular file (as :func:`_check_item` does) before fido opens it by name.
    """
    rels = list(dict.fromkeys(item.path for item in items if tree.size(item.path)))
    processes = min(_cpus(), MAX_PROCESSES)
    if len(rels) < PARALLEL_MIN or processes < 2 or not can_fork():
        return {}
    by_name = {os.path.join(tree.root, rel): rel for rel in rels}

    def still_listed(name: str) -> None:
        try:
            with tree.opened(by_name[name]):
                pass
        except ChangedError as e:
            raise _Replaced(by_name[name]) from e

    answers = identifier.identify_parallel(list(by_name), processes=processes,
                                           check=still_listed)
    return {by_name[name]: answer for name, answer in answers}


class _Replaced(OSError):
    """In a worker: the file is no longer the one listed (a :class:`ChangedError` there)."""


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _check_item(tree: PackageTree, item: ContentItem, report: Report, options: ContentOptions,
                identifier: FormatIdentifier | None, virus: VirusScan,
                formats: dict[str, FormatId], known: FormatId | OSError | None = None) -> None:
    """Check one item; ``known``: its identification made beforehand (:func:`_identify_all`)."""
    rel = item.path
    if not tree.is_file(rel):
        report.add("CONTENT-MISSING", rel)
        return
    if tree.size(rel) == 0:
        report.add("CONTENT-EMPTY", rel)
        return
    policy = options.policy
    fmt: FormatId | None = None
    accepted: AcceptedFormat | None = None
    try:
        if identifier is not None:
            # fido opens the file by name: first make sure it is still the listed regular
            # file, not a link swapped in since the listing
            with tree.opened(rel):
                if isinstance(known, _Replaced):
                    raise ChangedError(rel)
                if isinstance(known, OSError):
                    raise known
                fmt = known if known is not None else \
                    identifier.identify(os.path.join(tree.root, rel))
            formats[rel] = fmt
            accepted = _check_format(fmt, rel, report, policy)
        facts = None
        if _is_pdf(rel, fmt):
            facts = check_pdf(tree, rel, report, digitised=item.digitised,
                              trust_roots=options.trust_roots,
                              no_text_layer=policy.digitised_no_text_layer)
    except (OSError, ChangedError) as e:
        report.add("CONTENT-UNREADABLE", rel, error=_describe(e))
        return
    if fmt is not None and accepted is not None:
        _check_pdfa(item, fmt, accepted, facts, report, policy)
    virus.scan(tree, rel)


def _describe(error: BaseException) -> str:
    if isinstance(error, ChangedError):
        return "the file was replaced or turned into a link after the package was listed"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"


def _is_pdf(rel: str, fmt: FormatId | None) -> bool:
    if fmt is not None and fmt.puid is not None:
        return fmt.mime == _PDF_MIME
    return rel.lower().endswith(".pdf")


def _format_name(fmt: FormatId) -> str:
    name = fmt.name or fmt.puid or "?"
    return f"{name} {fmt.version}" if fmt.version and fmt.version not in name else name


def _check_format(fmt: FormatId, rel: str, report: Report, policy: FormatPolicy
                  ) -> AcceptedFormat | None:
    """Judge one identification against the policy; the accepted entry, or None."""
    extension = posixpath.splitext(rel)[1].lstrip(".").lower()
    if fmt.puid is None:
        group = policy.accepted_extension(extension) if extension else None
        if group is not None:
            report.add("FMT-ACCEPTED-BY-EXTENSION", rel, extension=extension, group=group,
                       policy=policy.label)
        else:
            report.add("FMT-UNIDENTIFIED", rel, severity=policy.unidentified,
                       registry=fmt.registry_version or "?", policy=policy.label)
        return None
    accepted = next((a for a in map(policy.accepted, (fmt.puid, *fmt.alternatives)) if a),
                    None)
    if fmt.basis == "extension":
        shown = accepted.puid if accepted else fmt.puid
        report.add("FMT-EXTENSION-ONLY", rel, puid=shown, extension=extension,
                   format_name=accepted.name if accepted else _format_name(fmt))
    if accepted is None:
        report.add("FMT-NOT-ACCEPTED", rel, severity=policy.not_accepted, puid=fmt.puid,
                   format_name=_format_name(fmt), policy=policy.label)
    return accepted


def _check_pdfa(item: ContentItem, fmt: FormatId, accepted: AcceptedFormat,
                facts: PdfFacts | None, report: Report, policy: FormatPolicy) -> None:
    """Digitised items must be PDF/A; plain PDF is accepted for born-digital ones (info)."""
    if facts is not None and not facts.readable:
        return  # PDF-MALFORMED says it all
    # an extension match says nothing about a PDF/A claim (fido reads it from the content)
    is_pdfa = (accepted.pdfa and fmt.basis != "extension") or \
        (facts is not None and facts.pdfa_claim is not None)
    if is_pdfa:
        return
    if item.digitised and (facts is not None or accepted.born_digital_only):
        report.add("FMT-DIGITISED-NOT-PDFA", item.path, severity=policy.digitised_not_pdfa,
                   puid=accepted.puid, format_name=accepted.name)
    elif not item.digitised and accepted.born_digital_only:
        report.add("FMT-BORN-DIGITAL-ONLY", item.path, puid=accepted.puid,
                   format_name=accepted.name)
