"""The catalog contract: the same tests on SQLite and on a real PostgreSQL (``catalog_url``).

What the rest of the repository relies on, whatever the database: a registration is all or
nothing, queries answer in the same (byte) order on both backends, names come back byte-exact
(Vietnamese NFC and NFD alike), sizes past 4 GiB fit, and two connections writing at once
neither lose nor half-see each other's work.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from preservation.catalog import AipRecord, Catalog, CopyRecord, EventRecord, FileRecord
from preservation.errors import CatalogError

TITLE = "Tờ trình về việc phê duyệt kế hoạch lưu trữ"
#: Mixed case and punctuation: a locale-aware collation would order these differently.
PATHS = ["data/METS.xml", "data/metadata/EAD.xml", "data/Zeta.pdf", "data/a b.txt",
         "data/representations/rep1/data/Tờ trình.pdf", "data/_x.txt"]
GiB = 1024 ** 3


def aip_record(aip_id: str, created: str = "2026-11-21T10:00:00.000+07:00",
               label: str = TITLE, total_size: int = 3) -> AipRecord:
    return AipRecord(aip_id, 1, label, created, "tt05", "SIP_hoso", 1, total_size, "ab" * 32,
                     "CN=Lưu trữ tỉnh", "Trung tâm Lưu trữ lịch sử")


def file_record(aip_id: str, path: str, size: int = 3,
                original_name: str | None = "Tờ trình.pdf") -> FileRecord:
    return FileRecord(aip_id, path, "content", size, "cd" * 32, original_name, "fmt/18",
                      "Acrobat PDF 1.4")


def records(aip_id: str, files: int = 1) -> tuple[AipRecord, list[FileRecord],
                                                  list[CopyRecord], list[EventRecord]]:
    return (aip_record(aip_id),
            [file_record(aip_id, f"data/f{i:05d}") for i in range(files)],
            [CopyRecord(aip_id, "copy1", "file:///a", "2026-11-21T10:00:01+07:00", "ok",
                        "2026-11-21T10:00:01+07:00"),
             CopyRecord(aip_id, "copy2", "s3://b/a", "2026-11-21T10:00:02+07:00", "ok",
                        "2026-11-21T10:00:02+07:00")],
            [EventRecord(f"ev-{aip_id}", aip_id, "ingestion", "2026-11-21T10:00:03+07:00",
                         "success", "SIP → AIP", "", None, "preservation 0.1.0")])


def test_a_registered_aip_answers_every_query(catalog: Catalog) -> None:
    aip = aip_record("b", created="2026-11-21T11:00:00.000+07:00")
    files = [file_record("b", p) for p in reversed(PATHS)]
    copies = [CopyRecord("b", name, f"file:///{name}", "t1", "ok", "t1")
              for name in ("copy2", "Copy1", "copy1")]
    events = [EventRecord("e2", "b", "fixity check", "2026-11-21T11:00:00+07:00", "success"),
              EventRecord("e1", "b", "ingestion", "2026-11-21T10:00:00+07:00", "success",
                          "detail", "outcome", "copy1", "archivist")]
    catalog.register_aip(aip, files, copies, events)
    catalog.register_aip(*records("a"))  # created an hour earlier: listed first

    assert catalog.aip("b") == aip
    assert catalog.aip("nope") is None
    assert catalog.aip_ids() == ["a", "b"]
    assert [r.id for r in catalog.aips()] == ["a", "b"]
    # byte order on both backends, whatever the PostgreSQL database's locale
    assert [f.path for f in catalog.files("b")] == sorted(PATHS, key=str.encode)
    assert catalog.files("b")[0] == file_record("b", "data/METS.xml")
    assert [c.location for c in catalog.copies("b")] == ["Copy1", "copy1", "copy2"]
    assert catalog.events("b") == sorted(events, key=lambda e: e.datetime)
    assert catalog.files("nope") == [] and catalog.copies("nope") == []


def test_data_survives_reopening(catalog_url: str) -> None:
    with Catalog(catalog_url) as catalog:
        catalog.register_aip(*records("a", files=3))
    with Catalog(catalog_url) as catalog:
        assert catalog.aip_ids() == ["a"]
        assert len(catalog.files("a")) == 3
        assert catalog.events("a")[0].detail == "SIP → AIP"


def test_copy_status_and_events_are_updated(catalog: Catalog) -> None:
    catalog.register_aip(*records("a"))
    catalog.set_copy_status("a", "copy2", "failed", "2026-11-22T09:00:00+07:00")
    catalog.add_events([EventRecord("ev-fix", "a", "fixity check", "2026-11-22T09:00:00+07:00",
                                    "failure", "", "3 files differ", "copy2", "audit")])
    assert [(c.location, c.status, c.checked_at) for c in catalog.copies("a")] == [
        ("copy1", "ok", "2026-11-21T10:00:01+07:00"),
        ("copy2", "failed", "2026-11-22T09:00:00+07:00")]
    assert [e.id for e in catalog.events("a")] == ["ev-a", "ev-fix"]
    assert catalog.events("a")[1].location == "copy2"
    catalog.add_events([])  # nothing to add is not an error
    assert len(catalog.events("a")) == 2


def test_a_conflicting_registration_leaves_nothing(catalog: Catalog) -> None:
    aip, files, copies, _events = records("a", files=50)
    clash = [EventRecord("dup", "a", "x", "t", "success"),
             EventRecord("dup", "a", "y", "t", "success")]
    with pytest.raises(CatalogError) as info:
        catalog.register_aip(aip, files, copies, clash)
    assert info.value.code == "CATALOG-CONFLICT"
    assert catalog.aip_ids() == [] and catalog.files("a") == [] and catalog.copies("a") == []
    catalog.register_aip(*records("a"))  # the connection is usable after the rollback
    assert catalog.aip_ids() == ["a"]


def test_a_failure_mid_transaction_leaves_nothing(catalog: Catalog) -> None:
    """The file list breaks after the AIP row and 100 files are written: none of it stays."""

    def breaking_files() -> Iterator[FileRecord]:
        for i in range(100):
            yield file_record("a", f"data/f{i:03d}")
        raise OSError("the staging disk went away")

    aip, _files, copies, events = records("a")
    with pytest.raises(OSError, match="staging disk"):
        catalog.register_aip(aip, breaking_files(), copies, events)
    assert catalog.aip("a") is None and catalog.files("a") == [] and catalog.events("a") == []
    catalog.register_aip(*records("a"))
    assert [f.path for f in catalog.files("a")] == ["data/f00000"]


def test_an_aip_is_registered_once(catalog: Catalog) -> None:
    catalog.register_aip(*records("a"))
    with pytest.raises(CatalogError) as info:
        catalog.register_aip(*records("a", files=2))
    assert info.value.code == "CATALOG-CONFLICT" and "a" in info.value.message
    assert len(catalog.files("a")) == 1


def test_records_must_belong_to_a_registered_aip(catalog: Catalog) -> None:
    with pytest.raises(CatalogError) as info:
        catalog.add_events([EventRecord("e", "ghost", "ingestion", "t", "success")])
    assert info.value.code == "CATALOG-CONFLICT"
    assert catalog.events("ghost") == []


def test_vietnamese_names_round_trip_byte_exact(catalog: Catalog) -> None:
    nfc = unicodedata.normalize("NFC", TITLE)
    nfd = unicodedata.normalize("NFD", TITLE)
    assert nfc != nfd
    catalog.register_aip(aip_record("nfc", label=nfc), [file_record("nfc", "data/x", 1, nfc)],
                         [], [])
    catalog.register_aip(aip_record("nfd", label=nfd), [file_record("nfd", "data/x", 1, nfd)],
                         [], [])
    # two paths that differ only in normalisation are two files, not one
    name_c = "data/" + unicodedata.normalize("NFC", "Hồ sơ.pdf")
    name_d = "data/" + unicodedata.normalize("NFD", "Hồ sơ.pdf")
    catalog.register_aip(aip_record("both"), [file_record("both", name_c),
                                              file_record("both", name_d)], [], [])
    for aip_id, text in (("nfc", nfc), ("nfd", nfd)):
        record = catalog.aip(aip_id)
        assert record is not None
        assert record.label.encode("utf-8") == text.encode("utf-8")
        assert record.signer == "CN=Lưu trữ tỉnh"
        original = catalog.files(aip_id)[0].original_name
        assert original is not None and original.encode("utf-8") == text.encode("utf-8")
    assert {f.path.encode() for f in catalog.files("both")} == {name_c.encode(),
                                                                name_d.encode()}


def test_sizes_past_4_gib_fit(catalog: Catalog) -> None:
    big = 6 * GiB + 7
    catalog.register_aip(aip_record("a", total_size=2 * big), [
        file_record("a", "data/one", big), file_record("a", "data/two", big)], [], [])
    record = catalog.aip("a")
    assert record is not None and record.total_size == 2 * big
    assert [f.size for f in catalog.files("a")] == [big, big]


def test_two_writers_at_once_both_land(catalog_url: str) -> None:
    """Two connections register different AIPs concurrently: both complete, nothing is lost."""
    Catalog(catalog_url).close()  # create the schema first

    def register(aip_id: str) -> None:
        with Catalog(catalog_url) as catalog:
            catalog.register_aip(*records(aip_id, files=300))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(register, ["a", "b", "c", "d"]))
    with Catalog(catalog_url) as catalog:
        assert catalog.aip_ids() == ["a", "b", "c", "d"]
        assert all(len(catalog.files(i)) == 300 for i in "abcd")


def test_two_writers_of_one_aip_one_wins(catalog_url: str) -> None:
    Catalog(catalog_url).close()

    def register(files: int) -> str:
        with Catalog(catalog_url) as catalog:
            try:
                catalog.register_aip(*records("same", files=files))
            except CatalogError as e:
                return e.code
            return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(register, [200, 201]))
    assert outcomes == ["CATALOG-CONFLICT", "ok"]
    with Catalog(catalog_url) as catalog:
        assert len(catalog.files("same")) in (200, 201)


def test_a_reader_never_sees_half_a_registration(catalog_url: str) -> None:
    """While one connection is inside register_aip, another sees nothing of it; then all."""
    Catalog(catalog_url).close()
    inside, release = threading.Event(), threading.Event()

    def paused_files() -> Iterator[FileRecord]:
        for i in range(10):
            yield file_record("a", f"data/f{i}")
        inside.set()
        assert release.wait(60), "the test did not release the writer"
        yield file_record("a", "data/last")

    def writer() -> None:
        aip, _files, copies, events = records("a")
        with Catalog(catalog_url) as catalog:
            catalog.register_aip(aip, paused_files(), copies, events)

    with ThreadPoolExecutor(1) as pool, Catalog(catalog_url) as reader:
        done = pool.submit(writer)
        try:
            assert inside.wait(60), "the writer never reached the middle of its transaction"
            assert reader.aip("a") is None and reader.files("a") == []
        finally:
            release.set()
        done.result(timeout=60)
        assert reader.aip("a") is not None and len(reader.files("a")) == 11
