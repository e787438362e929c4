"""Reading the ``sip create`` catalogue: CSV and XLSX, English and Vietnamese headers, findings
located by row and column.

The helpers (``catalogue_rows``, ``write_csv``, ``write_xlsx``) are shared with
tests/sip/test_sip_create.py.
"""

from __future__ import annotations

import json
import random
import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from preservation.cli import main
from preservation.findings import Report, Severity
from sip.catalogue import CatalogueData, read_catalogue
from sip.catalogue_values import normalise
from sip.tt05_model import DOCUMENT_FIELDS, LANGUAGE, PackageKind, fields_by_name
from sip.xlsx import XlsxError, read_sheet
from tests.sip.hostile_fixtures import FLAGS, METHOD, Record, patch, set_u16, zip64_archive

FILE_CODE = "000.00.00.H41.2025.05"
HEADER = ["level", "fileCode", "title", "maintenance", "mode", "language", "startDate",
          "endDate", "totalDoc", "confidenceLevel", "riskRecovery", "riskRecoveryStatus",
          "typeName", "codeNumber", "codeNotation", "issuedDate", "organName", "subject",
          "numberOfPage", "process", "file"]
VI_HEADER = {"level": "Cấp", "file": "Tệp"} | {
    s.name: s.label_vi for s in (*PackageKind.HOSO.package_fields, *DOCUMENT_FIELDS)}
VI_VALUES = {"01@maintenance": "Vĩnh viễn", "01@mode": "Công khai", "01@language": "Tiếng Việt",
             "01@confidenceLevel": "Gốc điện tử", "1@riskRecovery": "Có",
             "01@riskRecoveryStatus": "Đã thực hiện", "22@typeName": "Công văn",
             "1@process": "Có"}

Row = list[str | int | float]


def catalogue_rows(count: int = 2) -> list[Row]:
    """A valid SIP_hoso catalogue: header, the dossier row, ``count`` document rows."""
    dossier: Row = ["hoso", FILE_CODE, "Hồ sơ về công tác lưu trữ năm 2025", "01", "01", "01",
                    "02/01/2025", "30/12/2025", "", "01", "1", "01", *[""] * 9]
    rows: list[Row] = [list[str | int | float](HEADER), dossier]
    for n in range(1, count + 1):
        rows.append(["vanban", *[""] * 11,
            "22", str(n), f"{n:02d}/UBND-VP", "15/03/2025", "Ủy ban nhân dân tỉnh Nghệ An",
            f"Về việc chỉnh lý tài liệu, đợt {n}", "2", "1", f"vb{n}.pdf"])
    return rows


def vietnamese(rows: list[Row]) -> list[Row]:
    """The same catalogue with Vietnamese headers and code names instead of codes."""
    out: list[Row] = [[VI_HEADER[h] for h in rows[0]]]  # type: ignore[index]
    for row in rows[1:]:
        out.append([VI_VALUES.get(f"{v}@{h}", v) for h, v in zip(rows[0], row, strict=True)])
    return out


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, delimiter: str = ",",
              bom: bool = False) -> Path:
    def quote(v: object) -> str:
        text = str(v)
        return f'"{text}"' if delimiter in text or '"' in text else text
    text = "\r\n".join(delimiter.join(quote(v) for v in row) for row in rows) + "\r\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], *, inline: bool = False) -> Path:
    """A minimal valid workbook: one sheet, text as shared (or inline) strings, numbers as n."""
    strings: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_col(c)}{r}"
            if value == "":
                continue
            if isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif inline:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>')
            else:
                strings.append(str(value))
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/></Types>'),
        "_rels/.rels": (
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Danh mục" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{main}"><sheetData>{"".join(sheet_rows)}</sheetData>'
            '</worksheet>'),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{main}" count="{len(strings)}">'
            + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>"),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + text)
    return path


def read(path: Path, kind: PackageKind = PackageKind.HOSO) -> tuple[CatalogueData, Report]:
    report = Report(path.name)
    return read_catalogue(path, kind, report), report


def where(report: Report, code: str) -> list[tuple[int | None, str | None]]:
    """(row, column) of every finding with ``code``."""
    return [(f.location.line, f.params.get("column")) for f in report.findings if f.code == code]


def errors(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity is Severity.ERROR]


# --- reading good catalogues -----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "csv-semicolon-bom", "xlsx", "xlsx-inline"])
@pytest.mark.parametrize("language", ["en", "vi"])
def test_good_catalogue_reads_cleanly(tmp_path: Path, fmt: str, language: str) -> None:
    rows = catalogue_rows()
    if language == "vi":
        rows = vietnamese(rows)
    if fmt == "csv":
        path = write_csv(tmp_path / "c.csv", rows)
    elif fmt == "csv-semicolon-bom":
        path = write_csv(tmp_path / "c.csv", rows, delimiter=";", bom=True)
    else:
        path = write_xlsx(tmp_path / "c.xlsx", rows, inline=fmt == "xlsx-inline")
    data, report = read(path)
    assert report.findings == []
    assert data.package_row == 2
    assert data.package["fileCode"] == FILE_CODE
    assert data.package["maintenance"] == "01"
    assert data.package["totalDoc"] == "2"  # counted
    assert data.package["numberOfPage"] == "4"  # summed from the documents
    assert [d.row for d in data.documents] == [3, 4]
    first = data.documents[0].fields
    assert first["docId"] == f"{FILE_CODE}.1"
    assert first["docCode"] == f"{FILE_CODE}0000001"
    assert first["typeName"] == "22"
    assert first["language"] == "01"  # inherited from the dossier
    assert first["riskRecoveryStatus"] == "01"
    assert [d.file for d in data.documents] == ["vb1.pdf", "vb2.pdf"]


def test_spreadsheet_numbers_and_serial_dates(tmp_path: Path) -> None:
    rows = catalogue_rows(1)
    col = {h: i for i, h in enumerate(HEADER)}
    rows[1][col["maintenance"]] = 1  # Excel dropped the leading zero
    rows[1][col["startDate"]] = 45659  # 02/01/2025 as a serial number
    rows[2][col["issuedDate"]] = 45731.0  # 15/03/2025
    rows[2][col["numberOfPage"]] = 7.0
    rows[2][col["codeNumber"]] = 12
    data, report = read(write_xlsx(tmp_path / "c.xlsx", rows))
    assert report.findings == []
    assert data.package["maintenance"] == "01"
    assert data.package["startDate"] == "02/01/2025"
    doc = data.documents[0].fields
    assert (doc["issuedDate"], doc["numberOfPage"], doc["codeNumber"]) == ("15/03/2025", "7", "12")


def test_without_level_column_the_first_row_is_the_dossier(tmp_path: Path) -> None:
    rows = [row[1:] for row in catalogue_rows()]
    data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert report.findings == []
    assert data.package_row == 2 and len(data.documents) == 2


def test_tailieu_batch(tmp_path: Path) -> None:
    rows: list[Row] = [
        ["level", "fileCode", "title", "source", "docId", "typeName", "issuedDate", "organName",
         "subject", "language", "numberOfPage", "mode", "confidenceLevel", "process", "file"],
        ["lo", "000.00.00.H41.2025.010000001", "Lô tài liệu", "Văn bản đi", *[""] * 11],
    ]
    for n in (1, 2):
        rows.append(["vanban", "", "", "", f"VB.{n}", "07", "01/02/2025", "Sở Nội vụ",
                     "Thông báo", "01", "1", "01", "01", "0", f"t{n}.pdf"])
    data, report = read(write_csv(tmp_path / "c.csv", rows), PackageKind.TAILIEU)
    assert report.findings == []
    assert data.package["source"] == "0"
    assert data.documents[1].fields["docCode"] == "000.00.00.H41.2025.0100000010000002"
    assert data.documents[1].fields["docId"] == "VB.2"


@pytest.mark.parametrize(("raw", "expected"), [
    ("01,02", "06"), ("Tiếng Việt, Tiếng Anh", "06"), ("01;03", "08"), ("02,03", "02,03"),
    ("1", "01"), ("tiếng việt", "01"),
])
def test_language_values(raw: str, expected: str) -> None:
    spec = fields_by_name(DOCUMENT_FIELDS)["language"]
    assert normalise(spec, raw) == expected
    assert set(expected.split(",")) <= set(LANGUAGE)


# --- every problem is a finding with its row and column ----------------------------------------

def _set(rows: list[Row], row: int, header: str, value: str | int) -> None:
    rows[row - 1][HEADER.index(header)] = value


@pytest.mark.parametrize(("header", "row", "value", "code"), [
    ("subject", 3, "", "CATALOGUE-MISSING-VALUE"),
    ("title", 2, "", "CATALOGUE-MISSING-VALUE"),
    ("codeNotation", 4, "X" * 31, "CATALOGUE-TOO-LONG"),
    ("typeName", 4, "99", "CATALOGUE-NOT-IN-LIST"),
    ("maintenance", 2, "Mãi mãi", "CATALOGUE-NOT-IN-LIST"),
    ("issuedDate", 3, "31/02/2025", "CATALOGUE-BAD-DATE"),
    ("startDate", 2, "2025", "CATALOGUE-BAD-DATE"),
    ("numberOfPage", 3, "hai", "CATALOGUE-BAD-NUMBER"),
    ("totalDoc", 2, "-1", "CATALOGUE-BAD-NUMBER"),
    ("startDate", 2, "31/12/2025", "CATALOGUE-DATE-ORDER"),
    ("totalDoc", 2, "5", "CATALOGUE-TOTAL-MISMATCH"),
    ("process", 3, "", "CATALOGUE-REQUIRED-WHEN"),
    ("level", 4, "trang", "CATALOGUE-BAD-LEVEL"),
    ("level", 3, "hoso", "CATALOGUE-PACKAGE-ROW-TWICE"),
    ("file", 4, "", "CATALOGUE-MISSING-VALUE"),
])
def test_cell_problems_are_located(tmp_path: Path, header: str, row: int, value: str,
                                   code: str) -> None:
    rows = catalogue_rows()
    _set(rows, row, header, value)
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert (row, header) in where(report, code), report.findings
    assert all(f.location.path == "c.csv" for f in report.findings)


def test_required_when_digitised_and_backup(tmp_path: Path) -> None:
    rows = catalogue_rows()
    _set(rows, 2, "confidenceLevel", "Số hóa")
    _set(rows, 2, "riskRecoveryStatus", "")
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    found = {(f.location.line, f.params["field"]) for f in report.findings
             if f.code == "CATALOGUE-REQUIRED-WHEN"}
    assert {(2, "paperFileCode"), (2, "riskRecoveryStatus"), (3, "riskRecoveryStatus"),
            (4, "riskRecoveryStatus")} <= found


def test_vietnamese_headers_locate_with_their_own_text(tmp_path: Path) -> None:
    rows = vietnamese(catalogue_rows())
    rows[2][HEADER.index("typeName")] = "Sắc lệnh"
    _data, report = read(write_xlsx(tmp_path / "c.xlsx", rows))
    assert where(report, "CATALOGUE-NOT-IN-LIST") == [(3, "Tên loại văn bản")]


def test_header_problems(tmp_path: Path) -> None:
    rows = catalogue_rows()
    for row in rows:
        del row[HEADER.index("organName")]
    rows[0].append("STT")
    rows[0].append("Tiêu đề hồ sơ")  # a second column for title
    for row in rows[1:]:
        row.extend(["1", ""])
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert where(report, "CATALOGUE-UNKNOWN-COLUMN") == [(1, "STT")]
    assert where(report, "CATALOGUE-DUPLICATE-COLUMN") == [(1, "Tiêu đề hồ sơ")]
    missing = [f.params["field"] for f in report.findings if f.code == "CATALOGUE-MISSING-COLUMN"]
    assert missing == ["organName"]
    severities = {f.code: f.severity for f in report.findings}
    assert severities["CATALOGUE-UNKNOWN-COLUMN"] is Severity.WARNING


def test_missing_file_column(tmp_path: Path) -> None:
    rows = [row[:-1] for row in catalogue_rows()]
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert [f.params["field"] for f in report.findings
            if f.code == "CATALOGUE-MISSING-COLUMN"] == ["file"]


def test_duplicate_doc_id(tmp_path: Path) -> None:
    rows = catalogue_rows(3)
    rows[0].append("docId")
    rows[1].append("")
    for row, doc_id in zip(rows[2:], ("A.1", "A.2", "A.1"), strict=True):
        row.append(doc_id)
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    dup = [f for f in report.findings if f.code == "CATALOGUE-DUPLICATE-DOCID"]
    assert [(f.location.line, f.params["column"], f.params["other_row"]) for f in dup] == [
        (5, "docId", "3")]


def test_every_problem_is_collected(tmp_path: Path) -> None:
    rows = catalogue_rows(3)
    _set(rows, 3, "subject", "")
    _set(rows, 4, "issuedDate", "hôm qua")
    _set(rows, 5, "typeName", "99")
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert sorted(errors(report)) == ["CATALOGUE-BAD-DATE", "CATALOGUE-MISSING-VALUE",
                                      "CATALOGUE-NOT-IN-LIST"]


@pytest.mark.parametrize(("rows", "code"), [
    ([HEADER], "CATALOGUE-EMPTY"),
    ([HEADER, ["vanban"] + [""] * 20], "CATALOGUE-NO-PACKAGE-ROW"),
    ([HEADER, ["hoso", FILE_CODE, "T", "01", "01", "01", "01/01/2025", "02/01/2025", "",
               "01", "0", "", "", "", "", "", "", "", "", "", ""]], "CATALOGUE-NO-DOCUMENTS"),
])
def test_structure_problems(tmp_path: Path, rows: list[Row], code: str) -> None:
    _data, report = read(write_csv(tmp_path / "c.csv", rows))
    assert code in errors(report)


def test_not_utf8_csv_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("Ghi chú\r\nđ\r\n".encode("cp1258", errors="replace"))
    data, report = read(path)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]
    assert data.documents == ()


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x03\x04broken"])
def test_broken_xlsx_is_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.xlsx"
    path.write_bytes(content)
    _data, report = read(path)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]


def test_hostile_xlsx_is_unreadable(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "c.xlsx", catalogue_rows())
    evil = tmp_path / "evil.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x "boom">]>'
                        + data.split(b"?>", 1)[1])
            dst.writestr(info.filename, data)
    _data, report = read(evil)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]


def test_xlsx_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "c.xlsx", catalogue_rows())
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(b"</sst>", b" " * 5_000_000 + b"</sst>")
            dst.writestr(info.filename, data)
    _data, report = read(bomb)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]


SHEET = "xl/worksheets/sheet1.xml"


def patch_part(path: Path, part: str, change: Callable[[bytearray, Record], None]) -> Path:
    """Apply ``change`` to the headers (or data) of one part of a workbook."""
    def apply(data: bytearray, recs: list[Record]) -> None:
        [record] = [r for r in recs
                    if data[r.central + 46:r.central + 46 + r.name_length] == part.encode()]
        change(data, record)
    return patch(path, apply)


def part_data_start(data: bytearray, record: Record) -> int:
    name_length: int
    extra_length: int
    name_length, extra_length = struct.unpack_from("<HH", data, record.local + 26)
    return record.local + 30 + name_length + extra_length


def overwrite_data(data: bytearray, record: Record) -> None:
    """The reviewer's reproduction: 40 bytes of the part's deflate data set to 0xFF."""
    start = part_data_start(data, record)
    data[start:start + 40] = b"\xff" * 40


def set_method(method: int) -> Callable[[bytearray, Record], None]:
    return lambda data, record: set_u16(data, record, *METHOD, method)


def set_offset(offset: int) -> Callable[[bytearray, Record], None]:
    return lambda data, record: struct.pack_into("<I", data, record.central + 42, offset)


def truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:-30])  # the end of the central directory is lost
    return path


def write_zip64_xlsx(path: Path, **overrides: int) -> Path:
    """The workbook as a ZIP64 archive; ``overrides`` are ZIP64 values of the worksheet part."""
    with zipfile.ZipFile(write_xlsx(path, catalogue_rows())) as archive:
        parts = {SHEET: archive.read(SHEET)}
        parts |= {n: archive.read(n) for n in archive.namelist() if n != SHEET}
    path.write_bytes(zip64_archive(parts, overrides=overrides).data)
    return path


DAMAGED_XLSX: dict[str, Callable[[Path], Path]] = {
    "deflate-data": lambda p: patch_part(p, SHEET, overwrite_data),
    "encrypted": lambda p: patch_part(p, SHEET, lambda d, r: set_u16(d, r, *FLAGS, 0x0001)),
    "deflate64": lambda p: patch_part(p, SHEET, set_method(9)),
    "unknown-method": lambda p: patch_part(p, SHEET, set_method(77)),
    "bzip2-garbage": lambda p: patch_part(p, SHEET, set_method(12)),
    "lzma-garbage": lambda p: patch_part(p, SHEET, set_method(14)),
    "offset-beyond": lambda p: patch_part(p, SHEET, set_offset(0xFFFFFFF0)),
    "zip64-offset-huge": lambda p: write_zip64_xlsx(p, offset=2**64 - 16),
    "zip64-offset-2-63": lambda p: write_zip64_xlsx(p, offset=2**63 - 16),
    "zip64-size-huge": lambda p: write_zip64_xlsx(p, size=2**64 - 1),
    "truncated": truncate,
}


@pytest.mark.parametrize("damage", sorted(DAMAGED_XLSX))
def test_damaged_xlsx_is_unreadable(tmp_path: Path, damage: str) -> None:
    """Damaged data, encryption, unknown compression, impossible offsets: one finding at the
    catalogue file, never an exception."""
    path = write_xlsx(tmp_path / "c.xlsx", catalogue_rows())
    DAMAGED_XLSX[damage](path)
    with pytest.raises(XlsxError):
        read_sheet(path)
    data, report = read(path)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]
    assert report.findings[0].location.path == "c.xlsx"
    assert data.documents == ()


@pytest.mark.parametrize("overrides", [{}, {"compressed": 2**64 - 1}])
def test_a_zip64_workbook_reads(tmp_path: Path, overrides: dict[str, int]) -> None:
    """The ZIP64 workbook the damaged cases start from is itself readable; a stored part whose
    compressed size is absurd is still read by its real size (zipfile stops there)."""
    path = write_zip64_xlsx(tmp_path / "c.xlsx", **overrides)
    data, report = read(path)
    assert report.findings == []
    assert len(data.documents) == 2


def test_sip_create_reports_a_damaged_xlsx(tmp_path: Path) -> None:
    """The reviewer's reproduction through the CLI: exit 1 with the finding, nothing written."""
    src = tmp_path / "src"
    src.mkdir()
    for n in (1, 2):
        (src / f"vb{n}.pdf").write_bytes(b"%PDF-1.7\n% document\n")
    catalogue = patch_part(write_xlsx(tmp_path / "bad.xlsx", catalogue_rows()), SHEET,
                           overwrite_data)
    out = tmp_path / "out.zip"
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "sip", "create",
                                       str(src), "--catalogue", str(catalogue), "--kind", "hoso",
                                       "-o", str(out), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    findings = json.loads(result.output)["report"]["findings"]
    assert ("CATALOGUE-UNREADABLE", "bad.xlsx") in [(f["code"], f["location"]["path"])
                                                    for f in findings]
    assert not out.exists()


def test_randomly_damaged_xlsx_never_raises(tmp_path: Path) -> None:
    """Seeded byte flips, cuts, insertions and 0xFF runs: a clean read or CATALOGUE-* findings."""
    rng = random.Random(20250315)
    source = write_xlsx(tmp_path / "source.xlsx", catalogue_rows()).read_bytes()
    target = tmp_path / "c.xlsx"
    unreadable = clean = 0
    for _ in range(300):
        data = bytearray(source)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            action = rng.random()
            if action < 0.6:
                data[position] = rng.randrange(256)
            elif action < 0.75:
                del data[position:position + rng.randint(1, 16)]
            elif action < 0.9:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
            else:
                data[position:position + 40] = b"\xff" * 40
        target.write_bytes(bytes(data))
        _data, report = read(target)
        assert all(f.code.startswith("CATALOGUE-") for f in report.findings), report.to_dict()
        if "CATALOGUE-UNREADABLE" in report.codes():
            unreadable += 1
            assert report.findings[0].location.path == "c.xlsx"
        elif not report.findings:
            clean += 1
    assert unreadable and clean  # both outcomes were exercised


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "c.ods"
    path.write_bytes(b"whatever")
    _data, report = read(path)
    assert errors(report) == ["CATALOGUE-UNREADABLE"]


def test_xlsx_reader_reads_rows_with_gaps(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "c.xlsx", [["a", "", "c"], [1, 2.5, "x & y"]])
    sheet = read_sheet(path)
    assert sheet.name == "Danh mục"
    assert sheet.rows == ((1, ("a", "", "c")), (2, (1, 2.5, "x & y")))
