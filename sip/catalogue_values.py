"""Turning one spreadsheet cell into a TT05 field value, the way an archivist typed it.

Accepts the code ("01") or the Vietnamese name ("Vĩnh viễn") of a code-list value, codes that a
spreadsheet turned into numbers (1 → "01"), several languages separated by commas (written as the
combined code where TT05 has one), dates as DD/MM/YYYY (also D/M/YYYY, ISO YYYY-MM-DD and
spreadsheet serial numbers), whole numbers (12 or 12.0). Returns the value as TT05 writes it, or
the finding code that says why it cannot.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sip.tt05_model import COMBINED_LANGUAGES, FieldSpec, FieldType

Cell = str | int | float

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_EXCEL_1900 = date(1899, 12, 30)  # serial 1 = 1900-01-01, ignoring Excel's 29/02/1900
_EXCEL_1904 = date(1904, 1, 1)


@dataclass(frozen=True)
class Problem:
    """Why a cell cannot be used: a CATALOGUE-* code and its parameters."""

    code: str
    params: dict[str, str]


def key(text: str) -> str:
    """How headers and code names are compared: NFC, case-folded, single spaces, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def cell_text(value: Cell) -> str:
    """A cell as text: whole numbers without ".0", text trimmed and in NFC."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | float):
        return str(value)
    return unicodedata.normalize("NFC", value).strip()


def _code(spec: FieldSpec, raw: str) -> str | None:
    codes = spec.codes or {}
    if raw in codes:
        return raw
    if raw.isdigit():
        width = len(next(iter(codes), raw))
        padded = raw.zfill(width)
        if padded in codes:
            return padded
    wanted = key(raw)
    for code, label in codes.items():
        if key(label) == wanted:
            return code
    return None


def _codes(spec: FieldSpec, raw: str) -> str | None:
    parts = [p for p in re.split(r"[,;]", raw) if p.strip()]
    found = []
    for part in parts:
        code = _code(spec, part.strip())
        if code is None:
            return None
        found.append(code)
    unique = frozenset(found)
    if len(unique) == 1:
        return found[0]
    combined = COMBINED_LANGUAGES.get(unique)
    return combined if combined else ",".join(sorted(unique))


def _date(value: Cell, date1904: bool) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 1 <= value < 2_958_466:  # Excel's range: 1900-01-01 … 9999-12-31
            return None
        base = _EXCEL_1904 if date1904 else _EXCEL_1900
        day = base + timedelta(days=int(value))
        return day.strftime("%d/%m/%Y")
    text = cell_text(value)
    match = _DMY.fullmatch(text)
    if match:
        d, m, y = (int(g) for g in match.groups())
    else:
        iso = _ISO.fullmatch(text)
        if not iso:
            return None
        y, m, d = (int(g) for g in iso.groups())
    try:
        return date(y, m, d).strftime("%d/%m/%Y")
    except ValueError:
        return None


def parse_date(text: str) -> date:
    """A DD/MM/YYYY value written by :func:`normalise` back to a date."""
    return datetime.strptime(text, "%d/%m/%Y").date()


def _number(value: Cell) -> str | None:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and value >= 0 else None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    text = cell_text(value)
    if re.fullmatch(r"\d+", text):
        return str(int(text))
    if re.fullmatch(r"\d+\.0+", text):
        return text.split(".")[0].lstrip("0") or "0"
    return None


def allowed(spec: FieldSpec) -> str:
    return ", ".join(f"{code} ({label})" for code, label in (spec.codes or {}).items())


def normalise(spec: FieldSpec, value: Cell, *, date1904: bool = False) -> str | Problem:
    """The TT05 value of one non-empty cell for ``spec``, or the :class:`Problem` with it."""
    text = cell_text(value)
    shown = {"field": spec.name, "value": text}
    if spec.kind is FieldType.STRING:
        if spec.max_length is not None and len(text) > spec.max_length:
            return Problem("CATALOGUE-TOO-LONG", {"field": spec.name, "length": str(len(text)),
                                                  "limit": str(spec.max_length)})
        return text
    if spec.kind is FieldType.DATE:
        written = _date(value, date1904)
        return written if written else Problem("CATALOGUE-BAD-DATE", shown)
    if spec.kind is FieldType.NUMBER:
        number = _number(value)
        return number if number is not None else Problem("CATALOGUE-BAD-NUMBER", shown)
    code = _codes(spec, text) if spec.kind is FieldType.CODES else _code(spec, text)
    if code is None:
        return Problem("CATALOGUE-NOT-IN-LIST", {**shown, "allowed": allowed(spec)})
    return code
