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
from collections import defaultdict
from collections.abc import Sequence

from preservation.findings import Report
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


def check_totals(package: Record, kind: PackageKind, documents: Sequence[Record],
                 record_count: int, report: Report) -> None:
    """totalDoc = number of documents; numberOfPage = sum of the documents' pages (warning)."""
    total = number(package, "totalDoc")
    if total is not None and total != record_count:
        report.add("TT05-TOTALDOC-MISMATCH", package.rel, **package.where("totalDoc"),
                   declared=total, found=record_count)
    if kind is not PackageKind.HOSO:
        return
    pages = number(package, "numberOfPage")
    counts = [number(d, "numberOfPage") for d in documents]
    # compared only when every document record was read (photo and media records are not)
    complete = len(counts) == record_count
    if pages is not None and counts and complete and all(c is not None for c in counts):
        summed = sum(c for c in counts if c is not None)
        if summed != pages:
            report.add("TT05-NUMBEROFPAGE-MISMATCH", package.rel,
                       **package.where("numberOfPage"), declared=pages, found=summed)


def check_unique(documents: Sequence[Record], report: Report) -> None:
    """docId and docCode are unique across the package's documents."""
    for name, code in (("docId", "TT05-DOCID-DUPLICATE"), ("docCode", "TT05-DOCCODE-DUPLICATE")):
        seen: dict[str, list[Record]] = defaultdict(list)
        for document in documents:
            if document.has(name):
                seen[document.get(name)].append(document)
        for value, holders in seen.items():
            for document in holders[1:]:
                report.add(code, document.rel, **document.where(name), value=value,
                           other=holders[0].rel)
