"""Validate a TT05 SIP (Circular 05/2025/TT-BNV): SIP_hoso (Appendix III) or SIP_tailieu (App. IV).

:func:`looks_like_tt05` tells a TT05 package from any other E-ARK package and says which kind it
is; :func:`validate_tt05` adds every TT05 finding to the caller's report and returns what ingest
needs (:class:`Tt05Record`). The dispatcher (:mod:`sip.validate`) runs the E-ARK CSIP validator
first, which owns the generic METS rules (schema, references, SIZE and CHECKSUM against the bytes,
orphan files); the rules here are the ones TT05 adds, each with its own ``TT05-…`` code
(``preservation/messages/tt05.toml``), in five modules:

- :mod:`sip.tt05_layout` — files and folders, schemas/, PREMIS, folder name, ``.fetch.txt`` stubs;
- :mod:`sip.tt05_conventions` — OBJID, TYPE, PROFILE, header, IDs, timestamps, checksums, groups;
- :mod:`sip.tt05_links` — the ``MetadataLink/File`` tie of every data file and every EAD_DOC;
- :mod:`sip.tt05_records` — every ``<simpledc>`` field by its spec in :mod:`sip.tt05_model`;
- :mod:`sip.tt05_rules` — required-when rules, totals, docCode / docId, maintenance.

Nothing in the package is modified; every path is matched against the package listing.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from preservation.findings import Report
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.spooled import spooled
from sip.package import PackageTree
from sip.tt05_conventions import check_common, check_rep_mets, check_root_mets
from sip.tt05_layout import (
    EAD,
    REP_METS,
    ROOT_METS,
    check_ead_doc_schema,
    check_folder_name,
    check_layout,
    check_stubs,
)
from sip.tt05_links import RECORD_NAME, Tie, check_tie, record_paths
from sip.tt05_mets import MetsFile, index_mets, line_of, local
from sip.tt05_model import PackageKind
from sip.tt05_records import Record, read_record
from sip.tt05_rules import (
    DocumentTally,
    check_document_record,
    check_package_record,
    check_totals,
    check_unique,
)
from sip.xmlload import load_mets, load_xml, release_xml

__all__ = ["Tt05DocumentRecord", "Tt05Record", "looks_like_tt05", "validate_tt05"]

log = logging.getLogger(__name__)

#: fields only a dossier record has; ``source`` only a loose-documents batch has
_DOSSIER_ONLY = frozenset({"maintenance", "mode", "language", "startDate", "endDate",
                           "confidenceLevel", "riskRecovery", "paperFileCode"})
_DETECT_LIMIT = 1024 * 1024
#: document records kept in memory (the rest in a temporary file); a test may lower it here
KEEP = SPOOL_KEEP


@dataclass(frozen=True)
class Tt05DocumentRecord:
    """One document of the SIP, as ingest and the content checks need it."""

    doc_id: str | None
    ead_doc: str  # package path of its EAD_DOC_<docId>.xml
    data_files: tuple[str, ...]  # package paths of its content (``.fetch.txt`` stubs included)
    fields: Mapping[str, str]  # field name → value (stripped, NFC) as in the record
    confidence_level: str | None  # the document's own, else the dossier's (01/02/03)

    @property
    def digitised(self) -> bool:
        return self.confidence_level == "02"


@dataclass(frozen=True)
class Tt05Record:
    """What a TT05 SIP says, for ingest: identifiers, the package record and its documents."""

    kind: PackageKind
    objid: str | None
    fonds_code: str | None  # the root agent's IDENTIFICATIONCODE note (mã phông)
    file_code: str | None  # fileCode of EAD.xml
    fields: Mapping[str, str] = field(default_factory=dict)
    #: in the order of rep1's dmdSecs; past :data:`KEEP` in a temporary file (read-only)
    documents: Sequence[Tt05DocumentRecord] = ()


# --- detection ----------------------------------------------------------------------------------

def _first_element(tree: PackageTree, rel: str) -> etree._Element | None:
    """The root element of a package XML file, reading no more than needed (None if not XML)."""
    if not tree.is_file(rel):
        return None
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True,
                                 load_dtd=False)
    try:
        with tree.opened(rel) as stream:
            read = 0
            while read < _DETECT_LIMIT:
                chunk = stream.read(16384)
                if not chunk:
                    break
                read += len(chunk)
                parser.feed(chunk)
                for _event, element in parser.read_events():
                    return element if isinstance(element, etree._Element) else None
    except Exception:  # detection only: anything unreadable is simply not TT05 here
        return None
    return None


def _kind_from_record(tree: PackageTree) -> PackageKind | None:
    """hoso / tailieu from the fields EAD.xml holds, when it is a ``<simpledc>`` record."""
    scratch = Report(subject="tt05-detect")
    parsed = load_xml(tree, EAD, scratch) if tree.is_file(EAD) else None
    if parsed is None or local(parsed.getroot()) != "simpledc":
        return None
    names = {local(child) for child in parsed.getroot()}
    if names & _DOSSIER_ONLY:
        return PackageKind.HOSO
    if "source" in names:
        return PackageKind.TAILIEU
    return None


def looks_like_tt05(tree: PackageTree) -> PackageKind | None:
    """SIP_hoso, SIP_tailieu, or None when this is not a TT05 package.

    A TT05 package has a root METS.xml and a ``<simpledc>`` record as its EAD.xml or EAD_DOC
    records in rep1 (an E-ARK package's EAD.xml is a real EAD). The kind comes from the fields of
    EAD.xml (dossier fields → hoso, ``source`` → tailieu), else from the METS TYPE (Mixed /
    Collection); a dossier is the default. A wrong TYPE is then a finding, not a wrong kind.
    """
    root = _first_element(tree, ROOT_METS)
    if root is None or local(root) != "mets":
        return None
    ead = _first_element(tree, EAD)
    ead_is_simpledc = ead is not None and local(ead) == "simpledc"
    if not ead_is_simpledc and not record_paths(tree):
        return None
    kind = _kind_from_record(tree) if ead_is_simpledc else None
    if kind is not None:
        return kind
    mets_type = root.get("TYPE")
    for candidate in PackageKind:
        if mets_type == candidate.mets_type:
            return candidate
    return PackageKind.HOSO


# --- validation ---------------------------------------------------------------------------------

def _load_mets(tree: PackageTree, rel: str, report: Report) -> MetsFile | None:
    if not tree.is_file(rel):
        return None
    mets, _errors = load_mets(tree, rel, report)
    if mets is None:
        return None
    root = mets.root
    if local(root) != "mets":
        report.add("TT05-METS-ROOT", rel, line=line_of(root), found=local(root))
        return None
    return index_mets(tree, rel, root, mets)


def validate_tt05(tree: PackageTree, report: Report, *, historical_archive: bool = True,
                  package_name: str | None = None, kind: PackageKind | None = None
                  ) -> Tt05Record:
    """Add every TT05 finding about the package at ``tree`` to ``report``; return its record.

    ``historical_archive`` (the default) accepts only maintenance 01 (permanent);
    ``package_name`` is the package folder's name (or the ZIP's top folder), which must equal
    the OBJID (default: the name of ``tree.root``). Works on whatever is there: a missing or
    broken part is a finding and the other checks still run.

    ``kind``: what :func:`looks_like_tt05` said about ``tree`` when the caller asked it already
    (the dispatcher does), so the package is not detected twice; None: detected here (a
    package it does not recognise is checked as a SIP_hoso).

    Problems the E-ARK validator reports on the same package (run first by the dispatcher) are
    not reported again: a required file the METS files reference but that is missing, a data
    file or record no METS file lists, a link naming an ID the METS file does not have.
    """
    if kind is None:
        kind = looks_like_tt05(tree) or PackageKind.HOSO
    root = _load_mets(tree, ROOT_METS, report)
    rep = _load_mets(tree, REP_METS, report)
    try:
        tie, objid, fonds = _check_mets(tree, report, kind, root, rep, package_name)
    finally:
        for mets in (root, rep):
            if mets is not None:
                mets.close()
    # the last rules to read the METS files: they are freed before the document records are
    # read, so the two never take memory at the same time
    del root, rep, mets
    release_xml(tree, ROOT_METS, REP_METS)
    try:
        return _check_documents(tree, report, kind, tie, objid, fonds,
                                historical_archive=historical_archive)
    finally:
        tie.close()


def _check_mets(tree: PackageTree, report: Report, kind: PackageKind, root: MetsFile | None,
                rep: MetsFile | None, package_name: str | None
                ) -> tuple[Tie, str | None, str | None]:
    """The rules on the two METS files: layout, conventions, tie, stubs."""
    check_layout(tree, report, itertools.chain.from_iterable(
        mets.references for mets in (root, rep) if mets is not None))
    objid = fonds = None
    if root is not None:
        facts = check_root_mets(root, kind, report)
        objid, fonds = facts.objid, facts.fonds_code
        check_common(root, report, root_mets=True)
        if not any(d.path == EAD for d in root.dmd.values()) and tree.is_file(EAD):
            report.add("TT05-EAD-NOT-REFERENCED", ROOT_METS, file=EAD)
    check_folder_name(root, objid, tree.root.name if package_name is None else package_name,
                      report)
    tie = Tie(records=record_paths(tree))
    if rep is not None:
        check_rep_mets(rep, report)
        check_common(rep, report, root_mets=False)
        tie = check_tie(tree, rep, report)
    check_stubs(tree, rep, kind, report)
    return tie, objid, fonds


def _check_documents(tree: PackageTree, report: Report, kind: PackageKind, tie: Tie,
                     objid: str | None, fonds: str | None, *, historical_archive: bool
                     ) -> Tt05Record:
    """The package record and the document records: each read, checked, counted, spooled."""
    package = read_record(tree, EAD, report) if tree.is_file(EAD) else None
    if package is not None:
        check_package_record(package, kind, report, historical_archive=historical_archive)
    tally = DocumentTally(keep=KEEP)
    try:
        documents = spooled(
            (_document_record(doc, rel, tie, package)
             for doc, rel in _documents(tree, tie, package, kind, report, historical_archive,
                                        tally)),
            _document_fields, _document_from_fields, keep=KEEP, what="TT05 document")
        if package is not None:
            check_totals(package, kind, tally, len(tie.records), report)
        check_unique(tally, report)
        check_ead_doc_schema(tree, tally.doc_code, report)
    finally:
        tally.close()
    # the last validator to read them: no tree is needed for the content checks
    release_xml(tree, *list(tree.parsed_xml))
    return Tt05Record(
        kind=kind, objid=objid, fonds_code=fonds,
        file_code=(package.get("fileCode") or None) if package is not None else None,
        fields=_filled(package.values) if package is not None else {},
        documents=documents,
    )


def _documents(tree: PackageTree, tie: Tie, package: Record | None, kind: PackageKind,
               report: Report, historical_archive: bool, tally: DocumentTally
               ) -> Iterator[tuple[Record, str]]:
    """Read and check every EAD_DOC record of rep1 (photo and media records: not checked),
    one at a time: each is counted in ``tally`` and yielded, then dropped with its tree."""
    for rel in tie.records:
        if not tree.is_file(rel):
            continue  # a dangling dmdSec reference: the E-ARK validator's finding
        match = RECORD_NAME.fullmatch(rel.rsplit("/", 1)[-1])
        if match is None or match.group(1) != "DOC":
            report.add("TT05-RECORD-NOT-CHECKED", rel, file=rel)
            continue
        document = read_record(tree, rel, report)
        if document is None:
            continue
        check_document_record(document, package, kind, report,
                              historical_archive=historical_archive)
        tally.add(document)
        yield document, rel


def _document_record(document: Record, rel: str, tie: Tie,
                     package: Record | None) -> Tt05DocumentRecord:
    level = document.get("confidenceLevel") or (
        package.get("confidenceLevel") if package is not None else "")
    return Tt05DocumentRecord(
        doc_id=document.get("docId") or None, ead_doc=rel,
        data_files=tuple(tie.files_of.get(rel, ())), fields=_filled(document.values),
        confidence_level=level or None)


def _document_fields(doc: Tt05DocumentRecord) -> tuple[Any, ...]:
    return (doc.doc_id, doc.ead_doc, doc.data_files, dict(doc.fields), doc.confidence_level)


def _document_from_fields(values: tuple[Any, ...]) -> Tt05DocumentRecord:
    doc_id, ead_doc, data_files, fields, confidence_level = values
    return Tt05DocumentRecord(doc_id, ead_doc, tuple(data_files), fields, confidence_level)


def _filled(values: Mapping[str, str]) -> dict[str, str]:
    """The fields that have a value (an empty optional field is the same as an absent one)."""
    return {name: value for name, value in values.items() if value}
