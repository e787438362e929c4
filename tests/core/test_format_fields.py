"""FormatId as plain values for spooled records, and shared objects for equal identifications."""

from __future__ import annotations

import marshal

from preservation.formats import FormatId, format_fields, format_from_fields, shared_format

PDF = FormatId("fmt/276", "Acrobat PDF 1.7", "1.7", "application/pdf", "signature", "PRONOM",
               "v109", ("fmt/276", "fmt/19"))


def test_a_format_survives_marshal_and_comes_back_equal() -> None:
    values = marshal.loads(marshal.dumps(format_fields(PDF)))  # type: ignore[arg-type]
    back = format_from_fields(values)
    assert back == PDF and isinstance(back, FormatId)
    assert back.alternatives == ("fmt/276", "fmt/19")


def test_none_stays_none() -> None:
    assert format_fields(None) is None and format_from_fields(None) is None


def test_equal_identifications_share_one_object() -> None:
    a = shared_format(FormatId(*format_fields(PDF)))  # type: ignore[misc]
    b = format_from_fields(list(format_fields(PDF) or ()))
    assert a == PDF and a is b
    other = shared_format(FormatId(None, basis="none"))
    assert other == FormatId(None) and other is not a
