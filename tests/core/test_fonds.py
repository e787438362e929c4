"""The fonds registry: records checked with every problem at once, stored write-once on every
location, read back newest-first, and registered in the catalog only when published."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from preservation.catalog import Catalog
from preservation.errors import NotFoundError, ObjectExistsError, StorageError, UsageError
from preservation.findings import Report
from preservation.fonds import (
    COMBINED_LANGUAGES,
    LANGUAGES,
    FondsError,
    FondsInvalidError,
    FondsNotFoundError,
    FondsPublishError,
    FondsRecord,
    changed_fonds,
    code_is_valid,
    fonds_document,
    fonds_key,
    make_fonds,
    normalise_language,
    parse_fonds_document,
    publish_fonds,
    read_fonds,
    record_fonds_change,
    register_fonds,
    validate_fonds,
)
from preservation.storage import ObjectInfo, Retention, StorageBackend, open_location

NAME = "Ủy ban nhân dân tỉnh Nghệ An"
T0 = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=7)))
KEY = re.compile(r"^fonds/(?P<code>[^/]+)/(?P<time>\d{8}T\d{12}Z)-[0-9a-f]{8}\.json$")


def good(**changes: str) -> FondsRecord:
    record = make_fonds("H41.01", NAME, history="Thành lập năm 1976.", start_date="1976",
                        end_date="2025", language="01", now=T0)
    return replace(record, **changes)


@pytest.fixture
def locations(tmp_path: Path) -> list[StorageBackend]:
    out = []
    for name in ("copy1", "copy2"):
        (tmp_path / name).mkdir()
        out.append(open_location((tmp_path / name).as_uri()))
    return out


# --- records ----------------------------------------------------------------------------------


def test_a_new_record_is_normalised() -> None:
    record = make_fonds(" H41 ", unicodedata.normalize("NFD", f"  {NAME} "), status="Đóng",
                        language="02, 1", start_date=" 05/1976", now=T0)
    assert record.code == "H41" and record.name == NAME
    assert record.name == unicodedata.normalize("NFC", record.name)
    assert record.status == "closed" and record.language == "06"  # 01 + 02 → combined code
    assert record.start_date == "05/1976"
    assert record.created == record.updated == "2026-11-21T10:00:00.123+07:00"
    assert validate_fonds(record).findings == []


@pytest.mark.parametrize(("given", "stored"), [
    ("01", "01"), ("09,01", "01,09"), (["03", "01"], "08"), ("1;4", "07"), ("", ""),
    ("05,01,01", "10"), ("01,02,03", "01,02,03"), ("11", "11"),
])
def test_language_codes_are_normalised(given: Any, stored: str) -> None:
    assert normalise_language(given) == stored


def test_the_language_lists_match_the_tt05_model() -> None:
    from sip import tt05_model

    assert dict(LANGUAGES) == dict(tt05_model.LANGUAGE)
    assert dict(COMBINED_LANGUAGES) == dict(tt05_model.COMBINED_LANGUAGES)


@pytest.mark.parametrize("code", ["H41", "000.00.00.H41", "a", "Phong_1-2", "9" * 30])
def test_good_codes(code: str) -> None:
    assert code_is_valid(code)
    assert validate_fonds(good(code=code)).valid


@pytest.mark.parametrize("code", ["", "H 41", "H41:1", "H41/1", "-H41", ".H41", "9" * 31,
                                  "Phông", "H41\n", "urn:x"])
def test_bad_codes(code: str) -> None:
    assert not code_is_valid(code)
    report = validate_fonds(good(code=code))
    assert report.codes() == {"FONDS-CODE-INVALID"}
    assert str(report.findings[0].location) == "code"


@pytest.mark.parametrize(("changes", "code", "where"), [
    ({"name": ""}, "FONDS-NAME-EMPTY", "name"),
    ({"name": "   "}, "FONDS-NAME-EMPTY", "name"),
    ({"name": "x" * 501}, "FONDS-NAME-TOO-LONG", "name"),
    ({"name": "Sở\nNội vụ"}, "FONDS-TEXT-CONTROL-CHAR", "name"),
    ({"history": "a\u0000b"}, "FONDS-TEXT-CONTROL-CHAR", "history"),
    ({"history": "x" * 20_001}, "FONDS-HISTORY-TOO-LONG", "history"),
    ({"status": "archived"}, "FONDS-STATUS-INVALID", "status"),
    ({"start_date": "31/02/2020"}, "FONDS-DATE-INVALID", "start_date"),
    ({"end_date": "2020-05-01"}, "FONDS-DATE-INVALID", "end_date"),
    ({"end_date": "5/2020"}, "FONDS-DATE-INVALID", "end_date"),
    ({"end_date": "13/2020"}, "FONDS-DATE-INVALID", "end_date"),
    ({"start_date": "١٩٧٦"}, "FONDS-DATE-INVALID", "start_date"),  # non-ASCII digits
    ({"start_date": "2026", "end_date": "2025"}, "FONDS-DATES-REVERSED", "start_date"),
    ({"start_date": "02/06/2025", "end_date": "05/2025"}, "FONDS-DATES-REVERSED", "start_date"),
    ({"language": "12"}, "FONDS-LANGUAGE-INVALID", "language"),
    ({"language": "01,vi"}, "FONDS-LANGUAGE-INVALID", "language"),
])
def test_each_problem_has_its_code(changes: dict[str, str], code: str, where: str) -> None:
    report = validate_fonds(good(**changes))
    assert [(f.code, str(f.location)) for f in report.findings] == [(code, where)]


@pytest.mark.parametrize(("start", "end"), [
    ("1976", "1976"), ("05/2025", "2025"), ("15/05/2025", "05/2025"), ("2025", "31/12/2025"),
    ("29/02/2024", ""), ("", "2025"),
])
def test_good_date_ranges(start: str, end: str) -> None:
    assert validate_fonds(good(start_date=start, end_date=end)).valid


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FondsInvalidError) as info:
        make_fonds("bad code", "", status="gone", start_date="2030", end_date="99/2020",
                   language="12")
    error = info.value
    assert isinstance(error, UsageError) and error.code == "FONDS-INVALID"
    assert error.report.codes() == {"FONDS-CODE-INVALID", "FONDS-NAME-EMPTY",
                                    "FONDS-STATUS-INVALID", "FONDS-DATE-INVALID",
                                    "FONDS-LANGUAGE-INVALID"}
    vietnamese = error.translated("vi")
    assert vietnamese.code == "FONDS-INVALID" and vietnamese.message != error.message
    assert "Mã phông" in vietnamese.message


def test_a_change_keeps_the_creation_time() -> None:
    first = good()
    later = T0 + timedelta(days=3)
    closed = changed_fonds(first, status="closed", end_date="05/2025", now=later)
    assert (closed.status, closed.end_date, closed.created) == ("closed", "05/2025",
                                                                first.created)
    assert closed.updated == "2026-11-24T10:00:00.123+07:00"
    assert closed.name == first.name and closed.language == first.language
    assert changed_fonds(first, language=["02", "01"], now=later).language == "06"
    with pytest.raises(FondsInvalidError) as info:
        changed_fonds(first, start_date="2030", now=later)
    assert info.value.report.codes() == {"FONDS-DATES-REVERSED"}


def test_errors_speak_both_languages() -> None:
    error = FondsError("FONDS-EXISTS", fonds="H41")
    assert isinstance(error, UsageError) and "H41" in error.message
    vi = error.translated("vi")
    assert isinstance(vi, FondsError) and vi.code == "FONDS-EXISTS" and "Phông" in vi.message
    unknown = FondsNotFoundError("FONDS-UNKNOWN", fonds="X").translated("vi")
    assert isinstance(unknown, NotFoundError) and unknown.code == "FONDS-UNKNOWN"
    failed = FondsPublishError("FONDS-PUBLISH-FAILED", fonds="X", store="s3://b", error="e")
    assert isinstance(failed, StorageError) and not isinstance(failed, UsageError)


# --- on storage -------------------------------------------------------------------------------


def test_the_document_round_trips() -> None:
    record = good(history="Hai dòng\nlịch sử \"trích dẫn\"")
    data = fonds_document(record)
    assert NAME.encode("utf-8") in data  # readable UTF-8, not \\u escapes
    assert parse_fonds_document(data) == record
    for bad in (b"[]", b"{}", b'{"code": 1}', b"\xff"):
        with pytest.raises(ValueError):
            parse_fonds_document(bad)


def test_the_key_is_the_update_time_in_utc() -> None:
    key = fonds_key(good())
    match = KEY.match(key)
    assert match and match["code"] == "H41.01" and match["time"] == "20261121T030000123000Z"
    assert fonds_key(good(), T0.astimezone(UTC) + timedelta(seconds=1)).startswith(
        "fonds/H41.01/20261121T030001123456Z-")
    assert fonds_key(good()) != key  # a new object for every change, even at the same time


def test_publish_then_read_returns_the_newest_per_code(locations: list[StorageBackend]) -> None:
    first = good()
    second = changed_fonds(first, status="closed", now=T0 + timedelta(hours=1))
    other = make_fonds("A-1", "Sở Nội vụ", now=T0)
    keys = [publish_fonds(locations, r) for r in (second, first, other)]  # any order
    for backend in locations:
        stored = sorted(info.key for info in backend.list("fonds/"))
        assert stored == sorted(keys)  # write-once: every change is its own object
        report = Report("read")
        assert read_fonds(backend, report) == [other, second]
        assert report.findings == []


def test_publish_is_write_once(locations: list[StorageBackend]) -> None:
    record = good()
    key = publish_fonds(locations, record)
    with pytest.raises(ObjectExistsError):
        locations[0].put(key, io.BytesIO(b"{}"), size=2,
                         sha256="44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    assert read_fonds(locations[0]) == [record]


def test_an_unreadable_newest_record_falls_back(locations: list[StorageBackend],
                                                tmp_path: Path) -> None:
    backend = locations[0]
    first = good()
    publish_fonds([backend], first)
    root = tmp_path / "copy1" / "fonds" / "H41.01"
    (root / "20991231T000000000000Z-0000000a.json").write_bytes(b"{not json")
    (root / "20991231T000000000000Z-0000000b.json").write_bytes(
        fonds_document(good(code="OTHER")))
    (root / "20991231T000000000000Z-0000000c.json").write_bytes(
        fonds_document(good(status="lost")))
    (root / "notes.txt").write_bytes(b"x")
    report = Report("read")
    assert read_fonds(backend, report) == [first]
    assert [f.code for f in report.findings] == ["FONDS-RECORD-UNREADABLE"] * 4
    assert {str(f.location) for f in report.findings} == {
        "fonds/H41.01/notes.txt",
        *(f"fonds/H41.01/20991231T000000000000Z-0000000{c}.json" for c in "abc")}
    assert read_fonds(locations[1]) == []


class FailingBackend(StorageBackend):
    """A location whose writes fail (a full disk, a lost network)."""

    scheme = "fail"

    def put(self, key: str, source: BinaryIO, *, size: int, sha256: str,
            retention: Retention | None = None) -> ObjectInfo:
        raise StorageError("no space left on device", location=self.url)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        raise NotImplementedError

    def head(self, key: str) -> ObjectInfo | None:
        return None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return iter(())

    def delete(self, key: str) -> None:
        raise NotImplementedError


def test_a_failing_location_leaves_no_record(locations: list[StorageBackend]) -> None:
    with pytest.raises(FondsPublishError) as info:
        publish_fonds([locations[0], FailingBackend("fail://x"), locations[1]], good())
    assert info.value.code == "FONDS-PUBLISH-FAILED" and info.value.location == "fail://x"
    assert "no space" in info.value.message
    assert [list(b.list("fonds/")) for b in locations] == [[], []]


# --- catalog and storage together ----------------------------------------------------------


def test_register_and_change_a_fonds(catalog: Catalog,
                                     locations: list[StorageBackend]) -> None:
    record = good()
    key = register_fonds(catalog, locations, record)
    assert catalog.fonds("H41.01") == record
    assert all(b.head(key) is not None for b in locations)

    closed = changed_fonds(record, status="closed", now=T0 + timedelta(days=1))
    record_fonds_change(catalog, locations, closed)
    assert catalog.fonds("H41.01") == closed
    assert all(read_fonds(b) == [closed] for b in locations)  # what a rebuild would find


def test_a_duplicate_publishes_nothing(catalog: Catalog,
                                       locations: list[StorageBackend]) -> None:
    register_fonds(catalog, locations, good())
    with pytest.raises(FondsError) as info:
        register_fonds(catalog, locations, good(name="Tên khác",
                                                updated="2027-01-01T00:00:00.000+07:00"))
    assert info.value.code == "FONDS-EXISTS"
    assert [len(list(b.list("fonds/"))) for b in locations] == [1, 1]
    assert all(read_fonds(b) == [good()] for b in locations)


def test_an_unknown_fonds_cannot_change(catalog: Catalog,
                                        locations: list[StorageBackend]) -> None:
    with pytest.raises(FondsNotFoundError) as info:
        record_fonds_change(catalog, locations, good())
    assert info.value.code == "FONDS-UNKNOWN"
    assert [list(b.list("fonds/")) for b in locations] == [[], []]


def test_a_failing_location_registers_nothing(catalog: Catalog,
                                              locations: list[StorageBackend]) -> None:
    with pytest.raises(FondsPublishError):
        register_fonds(catalog, [locations[0], FailingBackend("fail://x")], good())
    assert catalog.fonds("H41.01") is None
    assert list(locations[0].list("fonds/")) == []
    register_fonds(catalog, locations, good())  # once the location is back, it works
    assert catalog.fonds_list() == [good()]


def test_a_record_that_cannot_be_made_durable_is_not_published(
        tmp_path: Path, locations: list[StorageBackend], monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``durability = "deferred"`` location is synced; a failed flush removes the record."""
    import ctypes
    import errno

    from preservation.storage import durability

    (tmp_path / "deferred").mkdir()
    deferred = open_location((tmp_path / "deferred").as_uri(), durability="deferred")

    def failing(_fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durability, "SYNCFS", failing)
    with pytest.raises(FondsPublishError) as info:
        publish_fonds([*locations, deferred], good())
    assert info.value.code == "FONDS-PUBLISH-FAILED"
    for backend in (*locations, deferred):
        assert list(backend.list("fonds/")) == []
    deferred.close()
