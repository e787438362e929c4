"""Read the producer's catalogue (CSV or XLSX) into the metadata of a TT05 SIP.

Layout (docs/sip-create.md): one table, first row the column headers, then one row for the dossier
(or, for SIP_tailieu, the batch) and one row per document. A ``level`` column ("Cấp") says which
row is which (``hoso`` / ``vanban``); without it the first data row is the dossier row. Headers are
the TT05 field names of :mod:`sip.tt05_model` or their Vietnamese labels (case-insensitive), plus
``file`` ("Tệp"): the document's file, relative to the source folder. A field shared by both
levels (language, mode, …) uses one column; a document's blank inherited field takes the dossier's
value. CSV: UTF-8 with or without BOM, separated by commas, semicolons or tabs. XLSX: the first
sheet (read by :mod:`sip.xlsx`).

Every problem becomes a ``CATALOGUE-*`` finding located at the catalogue with the row number
(``line``) and the header (``column`` parameter); reading never stops at the first one.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preservation.findings import Report
from sip.catalogue_values import Cell, Problem, cell_text, key, normalise, parse_date
from sip.tt05_model import (
    BORN_DIGITAL,
    DIGITISED,
    DOCUMENT_FIELDS,
    MIXED,
    FieldSpec,
    PackageKind,
    fields_by_name,
)
from sip.xlsx import XlsxError, read_sheet

log = logging.getLogger(__name__)

MAX_CSV_BYTES = 64 * 1024 * 1024
LEVEL, FILE = "level", "file"
SPECIAL_HEADERS = {LEVEL: ("level", "cấp"), FILE: ("file", "tệp", "tên tệp")}
PACKAGE_LEVELS = {"hoso", "hồ sơ", "dossier", "lo", "lô", "lô tài liệu", "batch", "package"}
DOCUMENT_LEVELS = {"vanban", "văn bản", "document", "tailieu", "tài liệu"}
#: document fields that take the dossier's value when left blank (SIP_hoso only)
INHERITED = ("maintenance", "language", "mode", "confidenceLevel", "format", "riskRecovery",
             "riskRecoveryStatus")
#: fields computed when blank, so their columns may be absent
DERIVED_PACKAGE = ("totalDoc",)
DERIVED_DOCUMENT = ("docId", "docCode")


@dataclass(frozen=True)
class CatalogueDocument:
    """One document row: its TT05 fields (derived values filled in) and its file."""

    row: int
    fields: dict[str, str]
    file: str  # as written in the catalogue (NFC, trimmed); "" when missing


@dataclass(frozen=True)
class CatalogueData:
    """What the catalogue says, normalised. ``report`` holds whatever was wrong with it."""

    kind: PackageKind
    name: str  # the catalogue's file name: the path of every finding
    package: dict[str, str] = field(default_factory=dict)
    package_row: int | None = None
    documents: tuple[CatalogueDocument, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)  # field → header as written

    def header(self, name: str) -> str:
        return self.columns.get(name, name)


Rows = list[tuple[int, list[Cell]]]


def _read_csv(path: Path) -> Rows:
    with path.open("rb") as f:
        data = f.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"it is not UTF-8 text (byte {e.start}); save it as “CSV UTF-8”") from e
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows: Rows = []
        for n, row in enumerate(reader, start=1):
            cells: list[Cell] = list(row)
            rows.append((n, cells))
        return rows
    except csv.Error as e:
        raise ValueError(f"malformed CSV: {e}") from e


def _read_rows(path: Path, report: Report, name: str) -> tuple[Rows, bool] | None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            sheet = read_sheet(path)
            return [(n, list(cells)) for n, cells in sheet.rows], sheet.date1904
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path), False
        report.add("CATALOGUE-UNREADABLE", name,
                   error=f"unsupported file type “{path.suffix}” (use .csv or .xlsx)")
    except XlsxError as e:
        report.add("CATALOGUE-UNREADABLE", name, error=e.message)
    except (OSError, ValueError) as e:
        report.add("CATALOGUE-UNREADABLE", name, error=getattr(e, "strerror", None) or str(e))
    return None


def _header_map(kind: PackageKind) -> dict[str, str]:
    """Normalised header text → field name (or ``level`` / ``file``)."""
    out: dict[str, str] = {}
    for special, names in SPECIAL_HEADERS.items():
        for name in names:
            out[key(name)] = special
    for spec in (*kind.package_fields, *DOCUMENT_FIELDS):
        out.setdefault(key(spec.name), spec.name)
        out.setdefault(key(spec.label_vi), spec.name)
    return out


class _Reader:
    """One pass over the rows, adding findings to ``report``."""

    def __init__(self, kind: PackageKind, name: str, report: Report, date1904: bool) -> None:
        self.kind = kind
        self.name = name
        self.report = report
        self.date1904 = date1904
        self.package_specs = fields_by_name(kind.package_fields)
        self.document_specs = fields_by_name(DOCUMENT_FIELDS)
        self.columns: dict[str, int] = {}  # field → column index
        self.headers: dict[str, str] = {}  # field → header as written
        self.invalid: set[tuple[int, str]] = set()  # (row, field) already reported as bad

    def add(self, code: str, row: int | None, column: str | None, **params: object) -> None:
        values: dict[str, Any] = {k: str(v) for k, v in params.items()}
        if column is not None:
            values["column"] = column
        self.report.add(code, self.name, line=row, **values)

    # --- headers ------------------------------------------------------------------------------
    def read_header(self, row: int, cells: Sequence[Cell]) -> None:
        known = _header_map(self.kind)
        for index, cell in enumerate(cells):
            text = str(cell).strip()
            if not text:
                continue
            name = known.get(key(text))
            if name is None:
                self.add("CATALOGUE-UNKNOWN-COLUMN", row, text)
            elif name in self.columns:
                self.add("CATALOGUE-DUPLICATE-COLUMN", row, text, field=name)
            else:
                self.columns[name] = index
                self.headers[name] = text
        for spec, derived in ((self.package_specs, DERIVED_PACKAGE),
                              (self.document_specs, self.derived_document())):
            for s in spec.values():
                if s.required and s.name not in derived and s.name not in self.columns \
                        and not self._inherited(s):
                    self.add("CATALOGUE-MISSING-COLUMN", row, None, field=s.name,
                             label=s.label_vi)
        if FILE not in self.columns:
            self.add("CATALOGUE-MISSING-COLUMN", row, None, field=FILE, label="Tệp")

    def derived_document(self) -> tuple[str, ...]:
        return DERIVED_DOCUMENT if self.kind is PackageKind.HOSO else ("docCode",)

    def _inherited(self, spec: FieldSpec) -> bool:
        return (self.kind is PackageKind.HOSO and spec.name in INHERITED
                and spec.name in self.package_specs and self.package_specs[spec.name].required)

    # --- values -------------------------------------------------------------------------------
    def raw(self, cells: Sequence[Cell], name: str) -> Cell:
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def values(self, row: int, cells: Sequence[Cell], specs: dict[str, FieldSpec]
               ) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, spec in specs.items():
            value = self.raw(cells, name)
            if str(value).strip() == "":
                continue
            result = normalise(spec, value, date1904=self.date1904)
            if isinstance(result, Problem):
                self.add(result.code, row, self.headers.get(name, name), **result.params)
                self.invalid.add((row, name))
            else:
                out[name] = result
        return out

    def level(self, row: int, cells: Sequence[Cell], first: bool) -> str | None:
        if LEVEL not in self.columns:
            return "package" if first else "document"
        text = key(str(self.raw(cells, LEVEL)))
        if text in PACKAGE_LEVELS:
            return "package"
        if text in DOCUMENT_LEVELS:
            return "document"
        self.add("CATALOGUE-BAD-LEVEL", row, self.headers[LEVEL], value=text)
        return None

    def require(self, row: int | None, values: dict[str, str], specs: dict[str, FieldSpec],
                skip: Sequence[str] = ()) -> None:
        for spec in specs.values():
            if (spec.required and spec.name not in skip and not values.get(spec.name)
                    and (row or 0, spec.name) not in self.invalid):
                self.add("CATALOGUE-MISSING-VALUE", row, self.headers.get(spec.name, spec.name),
                         field=spec.name)

    def require_when(self, row: int | None, values: dict[str, str], name: str,
                     condition: str, applies: Callable[[dict[str, str]], bool]) -> None:
        if applies(values) and not values.get(name) and (row or 0, name) not in self.invalid:
            self.add("CATALOGUE-REQUIRED-WHEN", row, self.headers.get(name, name), field=name,
                     condition=condition)


def _check_package(reader: _Reader, row: int | None, package: dict[str, str]) -> None:
    reader.require(row, package, reader.package_specs, skip=DERIVED_PACKAGE)
    if reader.kind is not PackageKind.HOSO:
        return
    reader.require_when(row, package, "paperFileCode", "confidenceLevel = 02 (digitised)",
                        lambda v: v.get("confidenceLevel") == DIGITISED)
    reader.require_when(row, package, "riskRecoveryStatus", "riskRecovery = 1",
                        lambda v: v.get("riskRecovery") == "1")
    start, end = package.get("startDate"), package.get("endDate")
    if start and end and parse_date(start) > parse_date(end):
        reader.add("CATALOGUE-DATE-ORDER", row, reader.headers.get("startDate"),
                   start=start, end=end)


def _derive(reader: _Reader, data_rows: list[tuple[int, dict[str, str], str]],
            package: dict[str, str]) -> list[CatalogueDocument]:
    """Fill docId / docCode / inherited fields; check each document; find duplicate ids."""
    file_code = package.get("fileCode", "")
    documents = []
    seen: dict[str, int] = {}
    for seq, (row, values, file) in enumerate(data_rows, start=1):
        if reader.kind is PackageKind.HOSO:
            for name in INHERITED:
                if not values.get(name) and package.get(name):
                    values[name] = package[name]
            if file_code and not values.get("docId"):
                values["docId"] = f"{file_code}.{seq}"
        if file_code and not values.get("docCode"):
            values["docCode"] = f"{file_code}{seq:07d}"
        for name in ("docId", "docCode"):
            limit = reader.document_specs[name].max_length or 0
            if len(values.get(name, "")) > limit:
                reader.add("CATALOGUE-TOO-LONG", row, reader.headers.get(name, name), field=name,
                           length=len(values[name]), limit=limit)
        skip = reader.derived_document() if not file_code else ()
        reader.require(row, values, reader.document_specs, skip=skip)
        reader.require_when(row, values, "riskRecoveryStatus", "riskRecovery = 1",
                            lambda v: v.get("riskRecovery") == "1")
        reader.require_when(row, values, "process", "confidenceLevel = 01 or 03",
                            lambda v: v.get("confidenceLevel") in (BORN_DIGITAL, MIXED))
        doc_id = values.get("docId", "")
        if doc_id in seen:
            reader.add("CATALOGUE-DUPLICATE-DOCID", row, reader.headers.get("docId", "docId"),
                       value=doc_id, other_row=seen[doc_id])
        elif doc_id:
            seen[doc_id] = row
        if not file:
            reader.add("CATALOGUE-MISSING-VALUE", row, reader.headers.get(FILE, FILE),
                       field=FILE)
        documents.append(CatalogueDocument(row, values, file))
    return documents


def _totals(reader: _Reader, row: int | None, package: dict[str, str],
            documents: list[CatalogueDocument]) -> None:
    count = len(documents)
    given = package.get("totalDoc")
    if given is None:
        package["totalDoc"] = str(count)
    elif given != str(count):
        reader.add("CATALOGUE-TOTAL-MISMATCH", row, reader.headers.get("totalDoc"),
                   given=given, count=count)
    if reader.kind is PackageKind.HOSO and not package.get("numberOfPage"):
        pages = [d.fields.get("numberOfPage") for d in documents]
        if pages and all(pages):
            package["numberOfPage"] = str(sum(int(p or 0) for p in pages))


def read_catalogue(path: Path, kind: PackageKind, report: Report) -> CatalogueData:
    """Read ``path`` (.csv or .xlsx) as the catalogue of a ``kind`` package.

    Always returns what could be read; ``report`` gets a finding for every problem, each at
    ``path.name`` with the row (``line``) and the column header.
    """
    name = path.name
    read = _read_rows(path, report, name)
    if read is None:
        return CatalogueData(kind, name)
    rows, date1904 = read
    rows = [(n, cells) for n, cells in rows if any(str(c).strip() for c in cells)]
    if len(rows) < 2:
        report.add("CATALOGUE-EMPTY", name)
        return CatalogueData(kind, name)
    reader = _Reader(kind, name, report, date1904)
    reader.read_header(*rows[0])
    package: dict[str, str] = {}
    package_row: int | None = None
    data_rows: list[tuple[int, dict[str, str], str]] = []
    for index, (row, cells) in enumerate(rows[1:]):
        level = reader.level(row, cells, index == 0)
        if level == "package":
            if package_row is not None:
                reader.add("CATALOGUE-PACKAGE-ROW-TWICE", row, reader.headers.get(LEVEL),
                           other_row=package_row)
                continue
            package_row = row
            package = reader.values(row, cells, reader.package_specs)
        elif level == "document":
            file = cell_text(reader.raw(cells, FILE))
            data_rows.append((row, reader.values(row, cells, reader.document_specs), file))
    if package_row is None:
        report.add("CATALOGUE-NO-PACKAGE-ROW", name)
    else:
        _check_package(reader, package_row, package)
    if not data_rows:
        report.add("CATALOGUE-NO-DOCUMENTS", name)
    documents = _derive(reader, data_rows, package)
    _totals(reader, package_row, package, documents)
    log.debug("catalogue %s: %d documents", name, len(documents))
    return CatalogueData(kind, name, package, package_row, tuple(documents), dict(reader.headers))
