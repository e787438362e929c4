"""A minimal, defensive reader of one worksheet of an .xlsx workbook (Office Open XML).

Enough for a catalogue typed in Excel or LibreOffice: shared strings, inline strings, formula
results, numbers and booleans. Dates stay what the file stores (a serial number, or ISO text for
``t="d"`` cells) together with the workbook's date system, so the caller decides which columns are
dates. Only the standard library's :mod:`zipfile` and :func:`preservation.xmlsafe.parse_bytes` are
used: the workbook is untrusted input, so entry counts and sizes are capped before anything is
decompressed, and every XML part goes through the hardened parser (no DTD, no entities).

Every way a damaged or hostile workbook can fail — not a ZIP, damaged compressed data (``zlib``,
``bz2``, ``lzma`` errors), a truncated entry, an encrypted part, an unsupported compression method,
offsets no file can have — is an :class:`XlsxError`, never another exception.
"""

from __future__ import annotations

import lzma
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from preservation.errors import PreservationError, XmlError
from preservation.xmlsafe import parse_bytes

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

MAX_ENTRIES = 2000
MAX_PART_BYTES = 64 * 1024 * 1024  # one uncompressed XML part
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # all the parts we read
MAX_RATIO = 200  # uncompressed / compressed, above which a part is treated as a zip bomb
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000

Cell = str | int | float

#: What :mod:`zipfile` lets through from a damaged or hostile archive: its own errors, the
#: decompressors' (bz2 raises OSError), truncation, bad headers, names that do not decode, and
#: offsets too large for ``seek``.
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError,
            struct.error, ValueError, OverflowError)
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")


class XlsxError(PreservationError):
    """The workbook cannot be read safely (not a workbook, damaged, too large)."""

    code = "CATALOGUE-UNREADABLE"


@dataclass(frozen=True)
class Sheet:
    """The rows of one worksheet; cells are text, or numbers as stored."""

    name: str
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]  # (1-based row number, cells from column A)
    date1904: bool = False


def _q(name: str) -> str:
    return f"{{{MAIN_NS}}}{name}"


def _column_index(ref: str) -> int | None:
    match = _CELL_REF.fullmatch(ref)
    if not match:
        return None
    index = 0
    for ch in match.group(1):
        index = index * 26 + (ord(ch) - 64)
    return index - 1


class _Workbook:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.read_total = 0
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise XlsxError(f"the workbook has {len(infos)} parts (limit {MAX_ENTRIES})")
        self.infos = {info.filename: info for info in infos}

    def xml(self, name: str) -> etree._Element:
        info = self.infos.get(name)
        if info is None:
            raise XlsxError(f"the workbook has no part {name}")
        if info.file_size > MAX_PART_BYTES:
            raise XlsxError(f"part {name} is {info.file_size} bytes (limit {MAX_PART_BYTES})")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise XlsxError(f"part {name} expands {info.file_size // info.compress_size}-fold")
        self.read_total += info.file_size
        if self.read_total > MAX_TOTAL_BYTES:
            raise XlsxError(f"the workbook's parts exceed {MAX_TOTAL_BYTES} bytes")
        try:
            with self.archive.open(info) as f:
                data = f.read(MAX_PART_BYTES + 1)  # the header's size may lie: never trust it
        except (RuntimeError, NotImplementedError) as e:  # encrypted, unsupported compression
            raise XlsxError(f"part {name} cannot be read ({e})") from e
        except (*_DAMAGED, OSError) as e:
            raise XlsxError(f"part {name} is damaged ({e})") from e
        try:
            return parse_bytes(data, max_bytes=MAX_PART_BYTES, source=name).getroot()
        except XmlError as e:
            raise XlsxError(f"part {name}: {e.message}") from e

    def has(self, name: str) -> bool:
        return name in self.infos


def _text(element: etree._Element) -> str:
    """The text of a string item: every ``t`` run except phonetic hints (``rPh``)."""
    return "".join(t.text or "" for t in element.iter(_q("t"))
                   if t.getparent() is not None and t.getparent().tag != _q("rPh"))  # type: ignore[union-attr]


def _shared_strings(book: _Workbook) -> list[str]:
    if not book.has("xl/sharedStrings.xml"):
        return []
    return [_text(si) for si in book.xml("xl/sharedStrings.xml").iter(_q("si"))]


def _sheet_target(book: _Workbook, wanted: str | None) -> tuple[str, str, bool]:
    """(sheet name, part name, date1904) of the named sheet, or the first one."""
    workbook = book.xml("xl/workbook.xml")
    pr = workbook.find(_q("workbookPr"))
    date1904 = pr is not None and (pr.get("date1904") or "").lower() in ("1", "true")
    sheets = [s for s in workbook.iter(_q("sheet"))]
    if not sheets:
        raise XlsxError("the workbook has no sheet")
    chosen = sheets[0]
    if wanted is not None:
        named = [s for s in sheets if (s.get("name") or "").casefold() == wanted.casefold()]
        if not named:
            raise XlsxError(f"the workbook has no sheet named {wanted!r}")
        chosen = named[0]
    rel_id = chosen.get(f"{{{REL_NS}}}id")
    rels = book.xml("xl/_rels/workbook.xml.rels")
    target = next((r.get("Target") for r in rels.iter(f"{{{PKG_REL_NS}}}Relationship")
                   if r.get("Id") == rel_id), None)
    if not target:
        raise XlsxError(f"sheet {chosen.get('name')!r} has no worksheet part")
    part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
        posixpath.join("xl", target))
    return chosen.get("name") or "", part, date1904


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _cell_value(cell: etree._Element, strings: list[str]) -> Cell:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(_q("is"))
        return "" if inline is None else _text(inline)
    v = cell.find(_q("v"))
    raw = "" if v is None or v.text is None else v.text
    if kind == "s":
        try:
            return strings[int(raw)]
        except (ValueError, IndexError) as e:
            raise XlsxError(f"cell {cell.get('r')} names a missing shared string") from e
    if kind in ("str", "e", "d"):
        return raw
    if kind == "b":
        return "1" if raw.strip() in ("1", "true") else "0"
    if raw.strip() == "":
        return ""
    try:
        return _number(raw)
    except ValueError:
        return raw


def _rows(sheet: etree._Element, strings: list[str]) -> list[tuple[int, tuple[Cell, ...]]]:
    out: list[tuple[int, tuple[Cell, ...]]] = []
    data = sheet.find(_q("sheetData"))
    if data is None:
        return out
    previous = 0
    for row in data.iter(_q("row")):
        try:
            number = int(row.get("r") or previous + 1)
        except ValueError:
            number = previous + 1
        previous = number
        if len(out) >= MAX_ROWS:
            raise XlsxError(f"the sheet has more than {MAX_ROWS} rows")
        cells: dict[int, Cell] = {}
        position = -1
        for cell in row.iter(_q("c")):
            index = _column_index(cell.get("r") or "")
            position = index if index is not None else position + 1
            if position >= MAX_COLUMNS:
                raise XlsxError(f"row {number} has more than {MAX_COLUMNS} columns")
            cells[position] = _cell_value(cell, strings)
        width = max(cells) + 1 if cells else 0
        out.append((number, tuple(cells.get(i, "") for i in range(width))))
    return out


def read_sheet(path: Path, sheet: str | None = None) -> Sheet:
    """The rows of ``sheet`` (by name, case-insensitive) or of the first sheet of ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            book = _Workbook(archive)
            strings = _shared_strings(book)
            name, part, date1904 = _sheet_target(book, sheet)
            rows = _rows(book.xml(part), strings)
    except XlsxError:
        raise
    except _DAMAGED as e:
        raise XlsxError(f"not a readable .xlsx workbook ({e})") from e
    except OSError as e:
        raise XlsxError(f"cannot read the workbook: {e.strerror or e}") from e
    except (RuntimeError, NotImplementedError) as e:  # encrypted or unsupported compression
        raise XlsxError(f"the workbook cannot be read ({e})") from e
    return Sheet(name, tuple(rows), date1904)
