"""TT05 rules that tie fields together: required-when rules, totals, codes built from codes.

TT05.md ("Validation decisions"): paperFileCode is required when the dossier is digitised (a
warning when mixed); riskRecoveryStatus when riskRecovery = 1; process for born-digital and mixed
items; totalDoc equals the number of documents; startDate ≤ endDate; docCode = fileCode + a
7-digit sequence; docId = fileCode + "." + sequence in a dossier (only ≤ 25 characters and unique
in a loose-documents batch); maintenance 01 when the repository is a historical archive;
numberOfPage should be the sum of the documents' pages. Two known defects of the official sample
(docCode's year differing from fileCode's, paperFileCode left empty in a digitised dossier) get
codes of their own so an archivist recognises them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from preservation.diskmap import DiskMap
from preservation.findings import Report
from preservation.spooled import KEEP as SPOOL_KEEP
from sip.tt05_model import (
    BORN_DIGITAL,
    DIGITISED,
    DOCUMENT_FIELDS,
    MAINTENANCE,
    MIXED,
    PERMANENT,
    PackageKind,
)
from sip.tt05_records import Record, check_fields, number, parse_date

TAILIEU_DOC_ID_LIMIT = 25
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2\d\d\d)(?!\d)")
_DOC_CODE = re.compile(r"(.*?)\.?(\d{7})")
#: the fields unique across documents, in the order their duplicates are reported
_UNIQUE = (("docId", "TT05-DOCID-DUPLICATE"), ("docCode", "TT05-DOCCODE-DUPLICATE"))


def check_package_record(record: Record, kind: PackageKind, report: Report, *,
                         historical_archive: bool) -> None:
    """EAD.xml: every field, then the dossier's required-when and date-order rules."""
    check_fields(record, kind.package_fields, report, record_kind="EAD.xml")
    if kind is not PackageKind.HOSO:
        return
    confidence = record.get("confidenceLevel")
    if confidence == DIGITISED and not record.has("paperFileCode"):
        code = ("TT05-PAPERFILECODE-EMPTY" if record.present("paperFileCode")
                else "TT05-PAPERFILECODE-MISSING")
        report.add(code, record.rel, **record.where("paperFileCode"))
    elif confidence == MIXED and not record.has("paperFileCode"):
        report.add("TT05-PAPERFILECODE-MIXED", record.rel, **record.where("paperFileCode"))
    _risk_recovery(record, report)
    _maintenance(record, report, historical_archive)
    start, end = parse_date(record.get("startDate")), parse_date(record.get("endDate"))
    if start is not None and end is not None and start > end:
        report.add("TT05-DATE-ORDER", record.rel, **record.where("endDate"),
                   start=record.get("startDate"), end=record.get("endDate"))


def check_document_record(document: Record, package: Record | None, kind: PackageKind,
                          report: Report, *, historical_archive: bool) -> None:
    """One EAD_DOC: every field, its required-when rules, docCode and docId against fileCode."""
    check_fields(document, DOCUMENT_FIELDS, report, record_kind="EAD_DOC")
    _risk_recovery(document, report)
    _maintenance(document, report, historical_archive)
    confidence = document.get("confidenceLevel") or (
        package.get("confidenceLevel") if package is not None else "")
    if confidence in (BORN_DIGITAL, MIXED) and not document.has("process"):
        report.add("TT05-PROCESS-MISSING", document.rel, **document.where("process"),
                   level=confidence)
    doc_id = document.get("docId")
    if doc_id:
        expected = f"EAD_DOC_{doc_id}.xml"
        if posixpath.basename(document.rel) != expected:
            report.add("TT05-RECORD-NAME", document.rel, **document.where("docId"),
                       doc_id=doc_id, expected=expected)
    file_code = package.get("fileCode") if package is not None else ""
    if not file_code:
        return
    _doc_code(document, file_code, report)
    if kind is PackageKind.HOSO and doc_id and not re.fullmatch(
            re.escape(file_code) + r"\.\d+", doc_id):
        report.add("TT05-DOCID-FORMAT", document.rel, **document.where("docId"),
                   doc_id=doc_id, file_code=file_code)
    if kind is PackageKind.TAILIEU and len(doc_id) > TAILIEU_DOC_ID_LIMIT:
        report.add("TT05-DOCID-TOO-LONG", document.rel, **document.where("docId"),
                   doc_id=doc_id, length=len(doc_id), limit=TAILIEU_DOC_ID_LIMIT)


def _doc_code(document: Record, file_code: str, report: Report) -> None:
    doc_code = document.get("docCode")
    if not doc_code or re.fullmatch(re.escape(file_code) + r"\.?\d{7}", doc_code):
        return
    match = _DOC_CODE.fullmatch(doc_code)
    if match and _only_years_differ(match.group(1), file_code):
        report.add("TT05-DOCCODE-YEAR", document.rel, **document.where("docCode"),
                   doc_code=doc_code, file_code=file_code,
                   doc_year=",".join(_YEAR.findall(match.group(1))),
                   file_year=",".join(_YEAR.findall(file_code)))
    else:
        report.add("TT05-DOCCODE-FORMAT", document.rel, **document.where("docCode"),
                   doc_code=doc_code, file_code=file_code)


def _only_years_differ(prefix: str, file_code: str) -> bool:
    """``prefix`` equals ``file_code`` once every 4-digit year in both is masked."""
    return (prefix != file_code and bool(_YEAR.search(file_code))
            and _YEAR.sub("YYYY", prefix) == _YEAR.sub("YYYY", file_code))


def _risk_recovery(record: Record, report: Report) -> None:
    if record.get("riskRecovery") == "1" and not record.has("riskRecoveryStatus"):
        report.add("TT05-RISKRECOVERYSTATUS-MISSING", record.rel,
                   **record.where("riskRecoveryStatus"))


def _maintenance(record: Record, report: Report, historical_archive: bool) -> None:
    value = record.get("maintenance")
    if historical_archive and value in MAINTENANCE and value != PERMANENT:
        report.add("TT05-MAINTENANCE-NOT-PERMANENT", record.rel,
                   **record.where("maintenance"), value=value, label=MAINTENANCE[value])


class DocumentTally:
    """What the rules across documents need from each document record, taken as it is read.

    The records themselves (and their XML trees) are not kept, so a dossier of 100,000 documents
    is checked in flat memory: the totals are running sums, and the docId / docCode values seen
    are in :class:`~preservation.diskmap.DiskMap` s (a dict up to ``keep`` values), as are the
    duplicates to report (rare; sorted as :func:`check_unique` reports them). :meth:`close`
    removes their temporary files.
    """

    def __init__(self, *, keep: int = SPOOL_KEEP) -> None:
        self.count = 0  # document records read
        self.pages = 0  # the sum of their numberOfPage
        self.pages_complete = True  # every one has a numberOfPage number
        self.doc_code = False  # some record has a docCode element
        #: per field of _UNIQUE: value → (index of the first record holding it, its path)
        self._first: list[DiskMap[tuple[int, str]]] = [
            DiskMap(keep=keep, what="document identifier") for _ in _UNIQUE]
        #: "<field>:<first index>:<number>" → (path, line, xpath, value, first holder's path)
        self._duplicates: DiskMap[tuple[str, int | None, str, str, str]] = DiskMap(
            keep=keep, order="key", what="duplicate identifier")

    def add(self, document: Record) -> None:
        """Count one document record (once its own checks are done)."""
        index = self.count
        self.count += 1
        pages = number(document, "numberOfPage")
        if pages is None:
            self.pages_complete = False
        else:
            self.pages += pages
        self.doc_code = self.doc_code or document.present("docCode")
        for slot, (name, _code) in enumerate(_UNIQUE):
            if not document.has(name):
                continue
            value = document.get(name)
            first = self._first[slot].get(value)
            if first is None:
                self._first[slot][value] = (index, document.rel)
                continue
            where = document.where(name)
            key = f"{slot}:{first[0]:012d}:{len(self._duplicates):012d}"
            self._duplicates[key] = (document.rel, where["line"], where["xpath"], value,
                                     first[1])

    def duplicates(self) -> Iterator[tuple[str, str, int | None, str, str, str]]:
        """(code, path, line, xpath, value, first holder's path) in the order of check_unique."""
        for key, (rel, line, xpath, value, other) in self._duplicates.items():
            yield _UNIQUE[int(key.split(":", 1)[0])][1], rel, line, xpath, value, other

    def close(self) -> None:
        for first in self._first:
            first.close()
        self._duplicates.close()


def check_totals(package: Record, kind: PackageKind, documents: DocumentTally,
                 record_count: int, report: Report) -> None:
    """totalDoc = number of documents; numberOfPage = sum of the documents' pages (warning)."""
    total = number(package, "totalDoc")
    if total is not None and total != record_count:
        report.add("TT05-TOTALDOC-MISMATCH", package.rel, **package.where("totalDoc"),
                   declared=total, found=record_count)
    if kind is not PackageKind.HOSO:
        return
    pages = number(package, "numberOfPage")
    # compared only when every document record was read (photo and media records are not)
    complete = documents.count == record_count
    if (pages is not None and documents.count and complete and documents.pages_complete
            and documents.pages != pages):
        report.add("TT05-NUMBEROFPAGE-MISMATCH", package.rel, **package.where("numberOfPage"),
                   declared=pages, found=documents.pages)


def check_unique(documents: DocumentTally, report: Report) -> None:
    """docId and docCode are unique across the package's documents: every record holding a
    value an earlier one holds, by field, then by the value's first holder, then in order."""
    for code, rel, line, xpath, value, other in documents.duplicates():
        report.add(code, rel, line=line, xpath=xpath, value=value, other=other)
