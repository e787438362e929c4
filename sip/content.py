"""Content checks of a submission's documents: formats, PDFs, empty files, viruses.

Called once per package by the dispatcher (:mod:`sip.validate`) after the structural checks,
with the package's content files (the documents, not its METS/EAD/schemas). For each file:

* an empty file is an error (CONTENT-EMPTY) and nothing else is checked on it;
* its format is identified once with fido (one :class:`~preservation.formats.FormatIdentifier`
  for the whole package, never a start-up per file) and judged against the accepted-formats
  policy (:mod:`policies.formats`): FMT-* findings;
* a PDF is opened once with pyHanko (:mod:`sip.content_pdf`): encryption, every digital
  signature, the PDF/A claim and, for digitised items, the text layer: PDF-* and SIG-PDF-*;
* a digitised item (TT05 confidenceLevel 02) that is not PDF/A gets FMT-DIGITISED-NOT-PDFA;
* it is streamed to clamd when one is configured (:mod:`sip.content_virus`); otherwise the
  package gets one VIRUS-NOT-CHECKED.

Everything but the virus scan runs in forked worker processes
(:func:`preservation.forking.fork_map`), one pass per file, whenever forking is safe
(:func:`~preservation.forking.can_fork`: no other thread) and either there are
:data:`PARALLEL_MIN` files or more to check with more than one CPU, or some file may be a PDF
(its name ends in ``.pdf`` or its first bytes hold ``%PDF``: pyHanko never parses a hostile PDF
in the validating process, even in a small package or on one CPU, where one worker is used).
The workers' findings (:mod:`sip.content_findings`) are added to the report in the same order
and with the same content as when the files are checked one by one here. A file whose checks
crash their worker or run past :data:`CPU_LIMIT` seconds of processor time gets
CONTENT-UNREADABLE. Checked here (a small package with no PDF, or another thread running)
there is no time limit and a crash would end the process.

The identification of every file is returned so that ingest records it instead of identifying
each file again.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from policies.formats import AcceptedFormat, FormatPolicy
from preservation.diskmap import DiskMap
from preservation.findings import Report
from preservation.forking import DEFAULT_CPU_LIMIT, Crashed, can_fork, fork_map
from preservation.formats import (
    FormatId,
    FormatIdentificationError,
    FormatIdentifier,
    format_fields,
    format_from_fields,
    shared_format,
)
from preservation.spooled import KEEP as SPOOL_KEEP
from sip.bagit_tree import ChangedError
from sip.content_findings import FindingRecorder, FindingSink, RecordedFinding, replay
from sip.content_paths import ContentItem, ContentPaths
from sip.content_pdf import PdfFacts, check_pdf
from sip.content_virus import VirusScan
from sip.package import PackageTree

__all__ = ["ContentItem", "ContentOptions", "check_content"]

logger = logging.getLogger(__name__)

_PDF_MIME = "application/pdf"
_PDF_MAGIC = b"%PDF"
#: bytes of a file looked at for a PDF header before it is examined here
_SNIFF = 256 * 1024
#: check in worker processes from this many content files on (below, forking costs more)
PARALLEL_MIN = 200
#: at most this many worker processes
MAX_PROCESSES = 8
#: files handed to a worker at a time
CHUNK = 16
#: processor seconds one file's checks may take in a worker (then: CONTENT-UNREADABLE)
CPU_LIMIT = DEFAULT_CPU_LIMIT
#: per-file records (the formats found, the paths seen, the files to examine) kept in memory;
#: past it they go to temporary files (:mod:`preservation.diskmap`, :mod:`preservation.spooled`)
#: so memory stays flat. Read at each call: a test may lower it.
KEEP = SPOOL_KEEP


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
    scan_also: Iterable[str] = (),
    identify: bool = True,
) -> DiskMap[FormatId]:
    """Check every item's content; add the findings to ``report``; return each identification.

    ``scan_also``: other files of the package (METS, metadata, documentation) that are not
    records but must still pass the virus scan; their format is not judged. Read once, after
    the items.

    ``identifier``: a loaded identifier to reuse (the caller keeps ownership); without one, one
    is loaded for this call and closed after it. ``progress(1)`` is called after each item.
    A path listed twice is checked once. ``identify=False``: the caller could not load an
    identifier and reported FMT-IDENTIFIER-UNAVAILABLE itself; formats are not identified (no
    second attempt, no second finding).

    Each file's checks (identification, format policy, PDF) run in forked worker processes
    when forking is safe and there are many files or some may be PDFs (see the module notes);
    their findings are added here, file by file, in the order and with the content the checks
    give one by one in this process. The virus scan always runs here, after each file's other
    checks.

    ``items`` is read twice (a sequence that reads a temporary file again is fine); the paths
    seen and the formats returned are :class:`~preservation.diskmap.DiskMap` s (past
    :data:`KEEP` files in a temporary database), equal formats one shared object.
    """
    owned = identifier is None and identify
    if owned:
        try:
            identifier = FormatIdentifier()
        except FormatIdentificationError as e:
            report.add("FMT-IDENTIFIER-UNAVAILABLE", None, error=e.message)
    virus = VirusScan(options.clamd, report, keep=KEEP)
    formats: DiskMap[FormatId] = DiskMap(encode=format_fields, decode=_shared_format_of,
                                         keep=KEEP, what="file format")
    paths: ContentPaths | None = None
    answers: _Answers | None = None
    try:
        paths = ContentPaths(items, lambda item: _checked(tree, item), keep=KEEP)
        answers = _examine_in_workers(tree, paths.work, options, identifier)
        virus.start()
        for item, first in paths.firsts(items):
            if first:
                rel = item.path
                fmt, readable = _check_item(tree, item, report, options, identifier, answers)
                if fmt is not None:
                    # one object per distinct identification, however many files share it
                    formats[rel] = shared_format(fmt)
                if readable:
                    virus.scan(tree, rel)
            if progress is not None:
                progress(1)
        done = paths.seen  # every item's path, and the other files scanned
        for rel in scan_also:
            if rel not in done and tree.is_file(rel) and tree.size(rel):
                done[rel] = None
                virus.scan(tree, rel)
    finally:
        if answers is not None:
            answers.close()  # stops the workers if this ends early
        if paths is not None:
            paths.close()
        virus.finish()
        if owned and identifier is not None:
            identifier.close()
    return formats


def _shared_format_of(values: Any) -> FormatId:
    """The shared :class:`FormatId` of :func:`~preservation.formats.format_fields`."""
    fmt = format_from_fields(values)
    assert fmt is not None  # a map of formats holds no None
    return fmt


@dataclass(frozen=True, slots=True)
class _Examined:
    """A worker's answer for one file: its path, what :func:`_examine` returned, and its
    findings."""

    path: str
    fmt: FormatId | None
    readable: bool
    findings: tuple[RecordedFinding, ...]


_Answers = Generator["_Examined | Crashed[ContentItem]", None, None]


def _checked(tree: PackageTree, item: ContentItem) -> bool:
    """True if the item's content is examined (listed and not empty)."""
    return tree.is_file(item.path) and bool(tree.size(item.path))


def _examine_in_workers(tree: PackageTree, work: Sequence[ContentItem],
                        options: ContentOptions, identifier: FormatIdentifier | None
                        ) -> _Answers | None:
    """The answers of :func:`_examine` for every item of ``work`` (those :func:`_check_item`
    will examine, each path once, in order), from forked worker processes; or None (each is
    examined here in turn). Workers are used when forking is safe
    (:func:`~preservation.forking.can_fork`) and either there are at least
    :data:`PARALLEL_MIN` such items and more than one CPU, or one of them may be a PDF (then
    with one worker if need be: a PDF is never parsed here).

    Forking shares everything loaded here: fido's signatures, the listing, policy and trust
    roots, ``work`` itself (a worker reads its chunks of it). The workers are forked when the
    answers are first asked for.
    """
    if not work or not can_fork():
        return None
    processes = min(_cpus(), MAX_PROCESSES)
    if len(work) < PARALLEL_MIN or processes < 2:
        if not any(_may_be_pdf(tree, item.path) for item in work):
            return None
        processes = max(1, min(processes, -(-len(work) // CHUNK)))

    def examine(item: ContentItem) -> _Examined:
        recorder = FindingRecorder()
        fmt, readable = _examine(tree, item, recorder, options, identifier)
        return _Examined(item.path, fmt, readable, tuple(recorder.findings))

    return fork_map(examine, work, processes=processes, chunksize=CHUNK, cpu_limit=CPU_LIMIT)


def _may_be_pdf(tree: PackageTree, rel: str) -> bool:
    """True unless the file surely is no PDF: :func:`_is_pdf` can only say yes for a ``.pdf``
    name (no identification) or for fido's PDF signatures, which need ``%PDF`` at the start of
    the bytes fido reads (:data:`_SNIFF` of them are looked at: more than fido's buffer)."""
    if rel.lower().endswith(".pdf"):
        return True
    try:
        with tree.opened(rel) as stream:
            return _PDF_MAGIC in stream.read(_SNIFF)
    except (OSError, ChangedError):
        return True  # let the worker find out and say so


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _check_item(tree: PackageTree, item: ContentItem, report: Report, options: ContentOptions,
                identifier: FormatIdentifier | None, answers: _Answers | None
                ) -> tuple[FormatId | None, bool]:
    """Check one item; ``answers``: the workers' answers (the next one is this item's).

    Returns its identification (or None) and whether it could be read (then it is scanned).
    """
    rel = item.path
    if not tree.is_file(rel):
        report.add("CONTENT-MISSING", rel)
        return None, False
    if tree.size(rel) == 0:
        report.add("CONTENT-EMPTY", rel)
        return None, False
    if answers is None:
        return _examine(tree, item, report, options, identifier)
    answer = next(answers)
    answered = answer.item.path if isinstance(answer, Crashed) else answer.path
    if answered != rel:
        raise RuntimeError(f"content checks out of step: the answer for {answered!r} came "
                           f"for {rel!r}")
    if isinstance(answer, Crashed):
        report.add("CONTENT-UNREADABLE", rel, error=answer.reason)
        return None, False
    replay(answer.findings, report)
    fmt = answer.fmt
    return (identifier.shared(fmt) if fmt is not None and identifier is not None else fmt,
            answer.readable)


def _examine(tree: PackageTree, item: ContentItem, report: FindingSink, options: ContentOptions,
             identifier: FormatIdentifier | None) -> tuple[FormatId | None, bool]:
    """Identify a listed, non-empty file, judge its format, check it if it is a PDF.

    Runs here or in a worker process (then ``report`` is a recorder). Returns its
    identification (or None) and whether it could be read.
    """
    rel = item.path
    policy = options.policy
    fmt: FormatId | None = None
    accepted: AcceptedFormat | None = None
    try:
        if identifier is not None:
            # fido opens the file by name: first make sure it is still the listed regular
            # file, not a link swapped in since the listing
            with tree.opened(rel):
                fmt = identifier.identify(os.path.join(tree.root, rel))
            accepted = _check_format(fmt, rel, report, policy)
        facts = None
        if _is_pdf(rel, fmt):
            facts = check_pdf(tree, rel, report, digitised=item.digitised,
                              trust_roots=options.trust_roots,
                              no_text_layer=policy.digitised_no_text_layer)
    except (OSError, ChangedError) as e:
        report.add("CONTENT-UNREADABLE", rel, error=_describe(e))
        return fmt, False
    if fmt is not None and accepted is not None:
        _check_pdfa(item, fmt, accepted, facts, report, policy)
    return fmt, True


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


def _check_format(fmt: FormatId, rel: str, report: FindingSink, policy: FormatPolicy
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
                facts: PdfFacts | None, report: FindingSink, policy: FormatPolicy) -> None:
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
