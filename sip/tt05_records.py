"""TT05 ``<simpledc>`` records (EAD.xml, EAD_DOC_*.xml): read them, check every field by its spec.

A record is a flat ``<simpledc>`` element, read with or without a namespace, in any element order
(TT05.md, "Validation decisions"). Each field is checked by its :class:`~sip.tt05_model.FieldSpec`
— required, String length in characters, code list, DD/MM/YYYY date, number, flag — by one
generic function, so a field added to :mod:`sip.tt05_model` is checked without new code. The
rules that tie fields together (required-when, totals, codes built from other codes) are in
:mod:`sip.tt05_rules`.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import TypedDict

from lxml import etree

from preservation.findings import Report
from sip.package import PackageTree
from sip.tt05_mets import line_of, local, xpath_of
from sip.tt05_model import FieldSpec, FieldType
from sip.xmlload import load_xml

_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_NUMBER = re.compile(r"\d+")
#: values up to this length (codes, dates, flags) are shared between records (sys.intern)
_SHARED_LENGTH = 16


class Where(TypedDict):
    """The location keywords of :meth:`preservation.findings.Report.add`."""

    line: int | None
    xpath: str


@dataclass
class Record:
    """One ``<simpledc>`` record: its path, its values (stripped, NFC) and where each field is."""

    rel: str
    values: dict[str, str] = field(default_factory=dict)
    elements: dict[str, etree._Element] = field(default_factory=dict)

    def get(self, name: str) -> str:
        """The value of a field; "" when empty or absent."""
        return self.values.get(name, "")

    def has(self, name: str) -> bool:
        return bool(self.values.get(name))

    def present(self, name: str) -> bool:
        """The element exists (perhaps empty)."""
        return name in self.elements

    def where(self, name: str | None = None) -> Where:
        """``line`` and ``xpath`` of a field (or of the record when absent / None)."""
        element = self.elements.get(name) if name else None
        if element is not None:
            return Where(line=line_of(element), xpath=xpath_of(element))
        return Where(line=None, xpath="/simpledc")


def read_record(tree: PackageTree, rel: str, report: Report) -> Record | None:
    """Parse a record; malformed XML is an XML-* finding, another root TT05-RECORD-ROOT."""
    parsed = load_xml(tree, rel, report)
    if parsed is None:
        return None
    root = parsed.getroot()
    if local(root) != "simpledc":
        report.add("TT05-RECORD-ROOT", rel, line=line_of(root), xpath=xpath_of(root),
                   found=local(root))
        return None
    record = Record(rel)
    for element in root:
        # field names, and short values such as codes, are the same in every record: one shared
        # string each, not one per document (the documents are kept; interned strings are freed
        # with their last use)
        name = sys.intern(local(element))
        if not name:
            continue
        if name in record.elements:
            report.add("TT05-FIELD-REPEATED", rel, line=line_of(element),
                       xpath=xpath_of(element), field=name)
            continue
        text = "".join(str(t) for t in element.itertext())
        record.elements[name] = element
        value = unicodedata.normalize("NFC", text.strip())
        record.values[name] = sys.intern(value) if len(value) <= _SHARED_LENGTH else value
    return record


def parse_date(value: str) -> date | None:
    """A DD/MM/YYYY date, or None when the text is not one (30/02/2024 is not)."""
    match = _DATE.fullmatch(value)
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def check_fields(record: Record, specs: tuple[FieldSpec, ...], report: Report, *,
                 record_kind: str) -> None:
    """Every field of ``record`` against ``specs``: required, type, length, code list, unknown."""
    known = {spec.name for spec in specs}
    for spec in specs:
        value = record.get(spec.name)
        if not value:
            if spec.required:
                report.add("TT05-FIELD-MISSING", record.rel, **record.where(spec.name),
                           field=spec.name, label=spec.label_vi, record=record_kind)
            continue
        _check_value(record, spec, value, report)
    for name, element in record.elements.items():
        if name not in known:
            report.add("TT05-FIELD-UNKNOWN", record.rel, line=line_of(element),
                       xpath=xpath_of(element), field=name, record=record_kind)


def _check_value(record: Record, spec: FieldSpec, value: str, report: Report) -> None:
    where = record.where(spec.name)
    rel, name, label = record.rel, spec.name, spec.label_vi
    if spec.kind is FieldType.STRING:
        if spec.max_length is not None and len(value) > spec.max_length:
            report.add("TT05-FIELD-TOO-LONG", rel, **where, field=name, label=label,
                       value=value, length=len(value), limit=spec.max_length)
    elif spec.kind in (FieldType.CODE, FieldType.FLAG, FieldType.CODES):
        parts = [p.strip() for p in value.split(",")] if spec.kind is FieldType.CODES \
            else [value]
        codes = spec.codes or {}
        if not all(p in codes for p in parts):
            report.add("TT05-FIELD-CODE", rel, **where, field=name, label=label, value=value,
                       allowed=", ".join(codes))
    elif spec.kind is FieldType.DATE:
        if parse_date(value) is None:
            report.add("TT05-FIELD-DATE", rel, **where, field=name, label=label, value=value)
    elif spec.kind is FieldType.NUMBER and not _NUMBER.fullmatch(value):
        report.add("TT05-FIELD-NUMBER", rel, **where, field=name, label=label, value=value)


def number(record: Record, name: str) -> int | None:
    """A NUMBER field as int, or None when empty or not a number (already a finding)."""
    value = record.get(name)
    return int(value) if _NUMBER.fullmatch(value) else None
