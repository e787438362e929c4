"""Reports as JSON, written finding by finding.

``json.dumps(report.to_dict())`` holds every finding twice (as dicts, then as one string): for a
100,000-file package that was hundreds of MiB. :func:`write_json` writes the same text as
``json.dumps(data, ensure_ascii=False, indent=2, default=str)``, except that a
:class:`JsonArray` inside ``data`` is written item by item from its source and never built as a
list. :func:`report_document` is a report's ``to_dict`` with its findings as such an array, and
:func:`write_report_file` writes the report ingest keeps under ``<home>/reports``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, Protocol

from preservation.findings import Finding, Report

_FLUSH_AT = 64 * 1024


class Writable(Protocol):
    """A text stream (it has an ``encoding``: ``str`` is written) or a binary one (UTF-8)."""

    def write(self, data: Any, /) -> object: ...


class JsonArray:
    """A JSON array that :func:`write_json` writes one item at a time.

    ``source`` is called each time the array is iterated (so it can be written more than once);
    its items must be plain JSON data (no nested :class:`JsonArray`).
    """

    __slots__ = ("_source",)

    def __init__(self, source: Callable[[], Iterable[Any]]) -> None:
        self._source = source

    def __iter__(self) -> Iterator[Any]:
        return iter(self._source())

    def __repr__(self) -> str:
        return "JsonArray(…)"


def finding_dict(finding: Finding, lang: str = "en", *, with_fix: bool = False) -> dict[str, Any]:
    """``finding.to_dict(lang)``, plus ``fix`` (how to put it right) when asked and not empty."""
    out = finding.to_dict(lang)
    if with_fix:
        fix = finding.fix(lang)
        if fix:
            out["fix"] = fix
    return out


def report_document(report: Report, lang: str = "en", *, head: Mapping[str, Any] | None = None,
                    tail: Mapping[str, Any] | None = None,
                    with_fix: bool = False) -> dict[str, Any]:
    """``{**head, **report.to_dict(lang), **tail}`` with ``findings`` as a :class:`JsonArray`
    (each finding with its ``fix`` when ``with_fix``). Keys of ``head`` that the report also has
    keep their place and take the report's value, as with ``{**head, **report.to_dict()}``."""
    return {**(head or {}), **report.summary(),
            "findings": findings_array(report, lang, with_fix=with_fix), **(tail or {})}


def findings_array(report: Report, lang: str = "en", *, with_fix: bool = False) -> JsonArray:
    """The report's findings (``Finding.to_dict(lang)`` each, with its ``fix`` when
    ``with_fix``) as a :class:`JsonArray`."""
    return JsonArray(lambda: (finding_dict(f, lang, with_fix=with_fix) for f in report.findings))


def messages_array(report: Report, lang: str) -> JsonArray:
    """Each finding's message in ``lang``, as a :class:`JsonArray` of strings."""
    return JsonArray(lambda: (f.message(lang) for f in report.findings))


def write_json(out: Writable, data: Any, *, indent: int = 2) -> None:
    """Write ``data`` to ``out`` (text, or binary: UTF-8) exactly as
    ``json.dumps(data, ensure_ascii=False, indent=indent, default=str)`` would, streaming every
    :class:`JsonArray` item by item. No newline is added at the end."""
    text = hasattr(out, "encoding")
    pending: list[str] = []
    size = 0
    for chunk in iter_json(data, indent=indent):
        pending.append(chunk)
        size += len(chunk)
        if size >= _FLUSH_AT:
            _write(out, "".join(pending), text)
            pending, size = [], 0
    if pending:
        _write(out, "".join(pending), text)


def _write(out: Writable, chunk: str, text: bool) -> None:
    out.write(chunk if text else chunk.encode("utf-8"))


def iter_json(data: Any, *, indent: int = 2) -> Iterator[str]:
    """The pieces of :func:`write_json`'s text, in order."""
    return _pieces(data, "\n", " " * indent)


class _HasStream(Exception):
    """Raised by :func:`_text` on meeting a :class:`JsonArray`: write that value in pieces."""


def _pieces(value: Any, pad: str, step: str) -> Iterator[str]:
    """``value`` as text whose lines after the first start with ``pad`` (a newline and the
    current indentation); nested values in one piece each unless they hold a JsonArray."""
    if isinstance(value, JsonArray):
        items: Iterable[Any] = value
    elif isinstance(value, dict):
        if not value:
            yield "{}"
            return
        inner = pad + step
        first = True
        for key, item in value.items():
            yield ("{" if first else ",") + inner + encode_basestring(_key(key)) + ": "
            first = False
            yield from _value(item, inner, step)
        yield pad + "}"
        return
    elif isinstance(value, list | tuple):
        items = value
    else:
        yield _text(value, pad, step)
        return
    inner = pad + step
    first = True
    for item in items:
        yield ("[" if first else ",") + inner
        first = False
        yield from _value(item, inner, step)
    yield "[]" if first else pad + "]"


def _value(value: Any, pad: str, step: str) -> Iterator[str]:
    try:
        yield _text(value, pad, step)
    except _HasStream:
        yield from _pieces(value, pad, step)


def _text(value: Any, pad: str, step: str) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=len(step), default=str)`` with every line
    after the first starting with ``pad`` (json's own indented encoder is pure Python and
    slower than this)."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = pad + step
        parts = []
        for key, item in value.items():
            head = inner + encode_basestring(key if type(key) is str else _key(key)) + ": "
            parts.append(head + (encode_basestring(item) if type(item) is str
                                 else _text(item, inner, step)))
        return "{" + ",".join(parts) + pad + "}"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, dict):
        return _text(dict(value), pad, step)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = pad + step
        return "[" + ",".join([inner + _text(v, inner, step) for v in value]) + pad + "]"
    if isinstance(value, JsonArray):
        raise _HasStream
    return json.dumps(value, ensure_ascii=False, default=str)


def _key(key: object) -> str:
    """A dict key as ``json`` turns it into a string."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def write_report_file(path: Path, report: Report, *, source: str | Path,
                      checked_at: str) -> None:
    """Write the validation report ingest keeps: ``source``, ``checked_at``, the keys of
    ``report.to_dict("en")`` and ``findings_vi`` (each message in Vietnamese), UTF-8 JSON
    indented by 2 — the text ``json.dumps`` of that dict gives, written finding by finding,
    into ``<name>.part`` first and renamed when complete (an interrupted write leaves no
    truncated report)."""
    document = report_document(report, "en", head={"source": str(source),
                                                   "checked_at": checked_at},
                               tail={"findings_vi": messages_array(report, "vi")})
    part = path.with_name(path.name + ".part")
    try:
        with part.open("w", encoding="utf-8") as out:
            write_json(out, document)
        os.replace(part, path)  # never a truncated report under the final name
    except BaseException:
        part.unlink(missing_ok=True)
        raise
