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
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from preservation.catalog import (
    AipRecord,
    Catalog,
    CopyRecord,
    EventRecord,
    FileRecord,
    FondsCounts,
    FondsRecord,
)
from preservation.errors import CatalogError
from preservation.fonds import FondsError, FondsNotFoundError

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


# --- schema 3: versions, fonds, shared objects, rebuild -------------------------------------

FONDS_NAME = "Ủy ban nhân dân tỉnh Nghệ An"


def version(aip_id: str, number: int, *, package: str = "", previous: str | None = None,
            status: str = "NEW", fonds: str = "H41", created: str = "") -> AipRecord:
    return replace(aip_record(aip_id, created=created or f"2026-11-2{number}T10:00:00+07:00"),
                   version=number, package_id=package, previous_id=previous,
                   record_status=status, fonds_code=fonds,
                   objid=f"urn:{fonds}:uuid-{aip_id.upper()}", arc_file_code=f"A.{aip_id}")


def fonds_record(code: str = "H41", name: str = FONDS_NAME, **changes: str) -> FondsRecord:
    record = FondsRecord(code, name, "open", "Thành lập năm 1976.", "1976", "", "01",
                         "2026-11-21T10:00:00.000+07:00", "2026-11-21T10:00:00.000+07:00")
    return replace(record, **changes)


def test_new_fields_are_stored_and_read_back(catalog: Catalog) -> None:
    v1 = version("p1", 1)
    assert v1.package_id == "p1"  # empty package_id means "version 1 of its own package"
    v2 = version("p2", 2, package="p1", previous="p1", status="SUPPLEMENT")
    shared = replace(file_record("p2", "data/representations/rep1/data/a.pdf"),
                     stored_key="p1/data/representations/rep1/data/a.pdf")
    catalog.register_aip(v1, [file_record("p1", "data/representations/rep1/data/a.pdf")], [],
                         [])
    catalog.register_aip(v2, [shared, file_record("p2", "data/new.pdf")], [], [])
    assert catalog.aip("p1") == v1 and catalog.aip("p2") == v2
    assert [f.stored_key for f in catalog.files("p2")] == [None, shared.stored_key]
    assert catalog.files("p1")[0].stored_key is None


def test_versions_latest_and_fonds_membership(catalog: Catalog) -> None:
    v1 = version("p1", 1)
    v3 = version("p3", 3, package="p1", previous="p2", status="REPLACEMENT")
    v2 = version("p2", 2, package="p1", previous="p1", status="SUPPLEMENT")
    other = version("q1", 1, fonds="H42", created="2026-11-20T09:00:00+07:00")
    for record in (v1, v3, other, v2):  # registered out of order
        catalog.register_aip(record, [], [], [])
    assert catalog.versions("p1") == [v1, v2, v3]
    assert catalog.latest("p1") == v3
    assert catalog.versions("q1") == [other] and catalog.latest("q1") == other
    assert catalog.versions("p2") == [] and catalog.latest("nope") is None
    assert catalog.aips_in_fonds("H41") == [v1, v2, v3]
    assert catalog.aips_in_fonds("H42") == [other] and catalog.aips_in_fonds("x") == []
    # every version stays listed
    assert [a.id for a in catalog.aips()] == ["q1", "p1", "p2", "p3"]
    counts = catalog.fonds_counts()
    assert counts["H41"] == FondsCounts(aips=3, packages=1, files=3, bytes=9)
    assert counts["H42"] == FondsCounts(aips=1, packages=1, files=1, bytes=3)


def test_a_version_of_a_package_is_registered_once(catalog: Catalog) -> None:
    catalog.register_aip(version("p1", 1), [], [], [])
    catalog.register_aip(version("p2", 2, package="p1", previous="p1"), [], [], [])
    with pytest.raises(CatalogError) as info:
        catalog.register_aip(version("p2b", 2, package="p1", previous="p1"), [], [], [])
    assert info.value.code == "CATALOG-CONFLICT"
    assert [a.id for a in catalog.versions("p1")] == ["p1", "p2"]


def test_fonds_are_added_listed_and_updated(catalog: Catalog) -> None:
    assert catalog.fonds_list() == [] and catalog.fonds("H41") is None
    first, second = fonds_record("H41"), fonds_record("Closed_1", "Sở Nội vụ", status="closed")
    catalog.add_fonds(first)
    catalog.add_fonds(second)
    assert catalog.fonds("H41") == first
    assert catalog.fonds_list() == [second, first]  # byte order: upper case first
    with pytest.raises(FondsError) as info:
        catalog.add_fonds(fonds_record("H41", "Tên khác"))
    assert info.value.code == "FONDS-EXISTS"
    assert catalog.fonds("H41") == first

    changed = replace(first, name="UBND tỉnh Nghệ An", status="closed", end_date="2025",
                      language="06", updated="2026-12-01T08:00:00.000+07:00",
                      created="1999-01-01T00:00:00.000+07:00")
    catalog.update_fonds(changed)
    assert catalog.fonds("H41") == replace(changed, created=first.created)  # created stays
    with pytest.raises(FondsNotFoundError) as missing:
        catalog.update_fonds(fonds_record("NOPE"))
    assert missing.value.code == "FONDS-UNKNOWN"
    assert len(catalog.fonds_list()) == 2


def test_a_failing_fonds_hook_registers_nothing(catalog: Catalog) -> None:
    seen: list[FondsRecord] = []

    def fail(record: FondsRecord) -> None:
        seen.append(record)
        assert catalog.fonds(record.code) is not None  # inside the transaction: the row is there
        raise OSError("the storage went away")

    with pytest.raises(OSError):
        catalog.add_fonds(fonds_record(), before_commit=fail)
    assert catalog.fonds("H41") is None and len(seen) == 1
    catalog.add_fonds(fonds_record(), before_commit=seen.append)
    with pytest.raises(OSError):
        catalog.update_fonds(fonds_record(name="Đổi tên"), before_commit=fail)
    assert catalog.fonds("H41") == fonds_record()


def test_vietnamese_fonds_names_round_trip_byte_exact(catalog: Catalog) -> None:
    nfd = unicodedata.normalize("NFD", FONDS_NAME)
    catalog.add_fonds(fonds_record("A", nfd, history="Lịch sử\nhai dòng"))
    record = catalog.fonds("A")
    assert record is not None and record.name.encode() == nfd.encode()
    assert record.history == "Lịch sử\nhai dòng"


def _everything(catalog: Catalog) -> dict[str, object]:
    """Every answer the catalog gives, for comparing two catalogs."""
    ids = catalog.aip_ids()
    return {"aips": list(catalog.aips()), "ids": ids, "fonds": catalog.fonds_list(),
            "files": {i: catalog.files(i) for i in ids},
            "copies": {i: catalog.copies(i) for i in ids},
            "events": {i: catalog.events(i) for i in ids},
            "versions": {i: catalog.versions(i) for i in ids},
            "latest": {i: catalog.latest(i) for i in ids},
            "in_fonds": {f.code: catalog.aips_in_fonds(f.code) for f in catalog.fonds_list()},
            "counts": catalog.fonds_counts()}


def test_replace_all_fills_an_empty_catalog(catalog_url: str, tmp_path: Path) -> None:
    original = Catalog(f"sqlite:///{tmp_path / 'original.sqlite'}")
    with original:
        original.add_fonds(fonds_record())
        aip, files, copies, events = records("p1", files=3)
        original.register_aip(replace(aip, fonds_code="H41"), files, copies, events)
        original.register_aip(version("p2", 2, package="p1", previous="p1"),
                              [replace(file_record("p2", "data/x"), stored_key="p1/data/x")],
                              [], [])
        expected = _everything(original)
        ids = original.aip_ids()
        everything: dict[str, Any] = {
            "fonds": original.fonds_list(), "aips": list(original.aips()),
            "files": [f for i in ids for f in original.files(i)],
            "copies": [c for i in ids for c in original.copies(i)],
            "events": [e for i in ids for e in original.events(i)],
        }
    with Catalog(catalog_url) as rebuilt:
        rebuilt.replace_all(aips=iter(everything["aips"]), files=iter(everything["files"]),
                            copies=everything["copies"], events=everything["events"],
                            fonds=everything["fonds"])
        assert _everything(rebuilt) == expected
        assert not rebuilt.is_empty()
        with pytest.raises(CatalogError) as info:
            rebuilt.replace_all(fonds=[fonds_record("OTHER")])
        assert info.value.code == "CATALOG-NOT-EMPTY"
        assert rebuilt.fonds("OTHER") is None


def test_replace_all_refuses_a_catalog_with_only_fonds_or_only_aips(catalog: Catalog) -> None:
    assert catalog.is_empty()
    catalog.add_fonds(fonds_record())
    with pytest.raises(CatalogError) as info:
        catalog.replace_all(aips=[version("p1", 1)])
    assert info.value.code == "CATALOG-NOT-EMPTY" and catalog.aip_ids() == []


def test_replace_all_is_all_or_nothing(catalog: Catalog) -> None:
    with pytest.raises(CatalogError) as info:
        catalog.replace_all(fonds=[fonds_record()], aips=[version("p1", 1)],
                            files=[file_record("p1", "data/a"), file_record("ghost", "data/b")])
    assert info.value.code == "CATALOG-CONFLICT"
    assert catalog.is_empty() and catalog.files("p1") == []
    catalog.register_aip(*records("a"))
    assert catalog.aip_ids() == ["a"]
