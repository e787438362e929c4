"""The storage and registration steps of an ingest hold no per-file collection: the catalog's
file rows come from a generator, inserted in batches; the objects are iterated, never copied,
also when ``built.objects`` is a spooled sequence; a resumed ingest notes the objects it has
already read out of memory and still reads none of them twice; the fingerprint of a
submission is taken in one pass, with the value it always had."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import pytest

import aip.ingest as ingest_module
import aip.ingest_resuming as resuming_module
import preservation.catalog as catalog_module
from aip.builder import BuiltAip, StagedObject
from aip.ingest import IngestResult, ingest
from aip.ingest_records import file_records
from aip.ingest_resuming import ReadKeys
from aip.ingest_staging import fingerprint
from aip.tt05_aip_bag import staged_fields, staged_from_fields
from preservation.audit import audit
from preservation.catalog import Catalog, FileRecord
from preservation.config import Config
from preservation.errors import CatalogError
from preservation.findings import Report
from preservation.repository import Repository
from preservation.spooled import spooled
from preservation.storage import StorageBackend
from sip.samples import make_sample_transfer, minimal_pdf
from sip.submission import FileRole, Submission, SubmittedFile
from tests.aip.test_ingest_copies import with_third_location
from tests.aip.test_ingest_resume import Killed, kill_after, puts, staged_uuids  # noqa: F401
from tests.aip.test_versions import ANNEX, make_bag
from tests.core.postgres_server import postgres_db, postgres_server  # noqa: F401
from tests.core.test_catalog import aip_record
from tests.helpers import add_test_fonds, intercept_writes, location_root


def run(repo: Repository, source: Path, config: Config | None = None,
        **kwargs: Any) -> IngestResult:
    return ingest(config or repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog), **kwargs)


# --- catalog rows, from a generator, in batches -------------------------------------------------

def _rows(aip_id: str, count: int) -> list[FileRecord]:
    return [FileRecord(aip_id, f"data/tệp {i:03d}.pdf", "content", i, f"{i:064x}",
                       f"tệp {i:03d}.pdf", "fmt/18" if i % 2 else None,
                       "Acrobat PDF 1.4" if i % 2 else None,
                       f"v1/data/tệp {i:03d}.pdf" if i % 3 == 0 else None)
            for i in range(count)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalog: a new SQLite file, or a new PostgreSQL database."""
    url = (f"sqlite:///{tmp_path / 'catalog.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_db"))
    with Catalog(url) as opened:
        yield opened


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 8, 9])
def test_file_rows_from_a_generator_across_batches_equal_the_rows_of_a_list(
        catalog: Catalog, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog.register_aip(aip_record("aip-1"), _rows("aip-1", count), [], [])  # from a list
    before = catalog.files("aip-1")
    assert before == sorted(_rows("aip-1", count), key=lambda r: r.path)
    monkeypatch.setattr(catalog_module, "INSERT_BATCH", 2)
    taken: list[int] = []

    def generated() -> Iterator[FileRecord]:
        for index, row in enumerate(_rows("aip-2", count)):
            taken.append(index)
            yield row

    catalog.register_aip(aip_record("aip-2"), generated(), [], [])
    assert taken == list(range(count)), "the generator is consumed once, in order"
    assert [dataclasses.replace(r, aip_id="aip-1") for r in catalog.files("aip-2")] == before
    assert catalog.aip("aip-2") is not None


def test_a_conflict_in_a_later_batch_registers_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "INSERT_BATCH", 2)
    rows = _rows("aip-1", 6)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        with pytest.raises(CatalogError, match="aip-1") as raised:
            catalog.register_aip(aip_record("aip-1"), iter([*rows, rows[4]]), [], [])
        assert raised.value.code == "CATALOG-CONFLICT"
        assert catalog.aip("aip-1") is None and catalog.files("aip-1") == []


def test_the_catalog_rows_of_an_ingest_are_those_of_every_object(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered in batches of 3 from :func:`file_records`: one row per object, as the list
    the ingest registered before (same fields, same order of fields)."""
    monkeypatch.setattr(catalog_module, "INSERT_BATCH", 3)
    seen: list[BuiltAip] = []
    real = ingest_module.catalog_records

    def spy(config: Config, built: BuiltAip, *args: Any) -> Any:
        seen.append(built)
        return real(config, built, *args)

    monkeypatch.setattr(ingest_module, "catalog_records", spy)
    result = run(repo, transfer)
    [built] = seen
    expected = [FileRecord(built.uuid, o.bag_path, o.role, o.size, o.sha256, o.original_name,
                           o.format.puid if o.format else None,
                           o.format.name if o.format else None, o.stored_key or None)
                for o in built.objects]
    assert len(expected) > 3 * 2, "several batches"
    assert repo.catalog.files(result.aip_id) == sorted(expected, key=lambda r: r.path)
    assert list(file_records(built)) == expected


# --- replicate with spooled objects -------------------------------------------------------------

def spooled_built(monkeypatch: pytest.MonkeyPatch, keep: int) -> list[BuiltAip]:
    """Make every ingest replicate a built whose objects are a spooled sequence (``keep`` in
    memory); the builts replicated."""
    real = ingest_module.replicate_all
    used: list[BuiltAip] = []

    def replicate_all(built: BuiltAip, *args: Any) -> Any:
        objects: Sequence[StagedObject] = spooled(built.objects, staged_fields,
                                                  staged_from_fields, keep=keep)
        assert objects == list(built.objects)
        spooled_one = dataclasses.replace(built, objects=objects)
        used.append(spooled_one)
        return real(spooled_one, *args)

    monkeypatch.setattr(ingest_module, "replicate_all", replicate_all)
    return used


def stored(config: Config, index: int, prefix: str) -> dict[str, str]:
    root = location_root(config, index) / prefix
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def test_replicate_writes_and_verifies_every_object_of_a_spooled_built(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 1, then a supplement that reuses its files with a location added since: every
    own object is put once per location, the signature last, each one read back; the reused
    ones are copied into the new location; the counts are those of the objects."""
    used = spooled_built(monkeypatch, keep=2)
    opened: Counter[tuple[str, str]] = Counter()
    put_order: dict[str, list[str]] = {}
    lock = threading.Lock()
    real_open = ingest_module.open_location

    def open_location(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)
        real_get = backend.open

        def write(key: str, do: Callable[[], Any]) -> Any:
            result = do()
            with lock:
                put_order.setdefault(url, []).append(key)
            return result

        def get(key: str) -> AbstractContextManager[BinaryIO]:
            with lock:
                opened[(url, key)] += 1
            return real_get(key)

        intercept_writes(backend, write)
        backend.open = get  # type: ignore[method-assign]
        return backend

    monkeypatch.setattr(ingest_module, "open_location", open_location)
    first = run(repo, make_sample_transfer(tmp_path / "v1"))
    config = with_third_location(repo.config, tmp_path)
    put_order.clear()
    opened.clear()
    second = run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), config,
                 supplement=first.aip_id)
    assert [b.uuid for b in used] == [first.aip_id, second.aip_id]
    built = used[1]
    assert len(built.objects) > 2, "past the objects kept in memory"
    v2 = second.aip_id
    files = {f.path: f for f in repo.catalog.files(v2)}
    own = {p: f for p, f in files.items() if f.stored_key is None}
    reused = {p: f for p, f in files.items() if f.stored_key is not None}
    assert reused and own
    for index, loc in enumerate(config.storage):
        assert stored(config, index, v2) == {p: f.sha256 for p, f in own.items()}
        keys = [k for k in put_order[loc.url] if k.startswith(f"{v2}/")]
        assert sorted(keys) == sorted(f"{v2}/{p}" for p in own), "each own object put once"
        assert keys[-1] == f"{v2}/{built.objects[-1].bag_path}", "the signature last"
        assert all(opened[(loc.url, f"{v2}/{p}")] == 1 for p in own), "each read back once"
    new = second.copies[2]
    for copy in second.copies:
        copied = len(reused) if copy is new else 0
        assert (copy.objects, copy.reused, copy.copied_in) == (
            len(own) + copied, len(reused) - copied, copied)
        assert copy.bytes == sum(f.size for f in own.values()) + (
            sum(f.size for f in reused.values()) if copy is new else 0)
    assert all(a.ok for a in audit(config, repo.catalog, [first.aip_id, v2],
                                   repo.trust_anchors()))


# --- a resumed ingest reads no kept object twice ------------------------------------------------

def test_a_resumed_ingest_reads_each_kept_object_once(
        repo: Repository, transfer: Path, puts: list[tuple[str, str]],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """file:// gives no SHA-256 on HEAD: a kept object is read to check it, and the read-back
    after the sync does not read it again (noted in :class:`ReadKeys`, not in memory)."""
    with monkeypatch.context() as m:
        kill_after(m, puts, 5)
        with pytest.raises(Killed):
            run(repo, transfer)
    [aip_id] = staged_uuids(repo)
    kept = {key for _, key in puts}
    assert len(kept) == 5
    reads: Counter[tuple[str, str]] = Counter()
    real_open = ingest_module.open_location

    def open_location(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)
        real_get = backend.open

        def get(key: str) -> AbstractContextManager[BinaryIO]:
            reads[(url, key)] += 1
            return real_get(key)

        backend.open = get  # type: ignore[method-assign]
        return backend

    made: list[ReadKeys] = []

    class Spied(ReadKeys):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(ingest_module, "open_location", open_location)
    monkeypatch.setattr(resuming_module, "ReadKeys", Spied)
    puts.clear()
    result = run(repo, transfer)
    assert result.resumed and result.aip_id == aip_id
    copy1 = repo.config.storage[0].url
    assert not {k for u, k in puts if u == copy1} & kept, "kept, not sent again"
    assert all(reads[(copy1, key)] == 1 for key in kept), reads
    own = [f for f in repo.catalog.files(aip_id) if f.stored_key is None]
    for loc in repo.config.storage:
        assert all(reads[(loc.url, f"{aip_id}/{f.path}")] == 1 for f in own)
    assert len(made) == len(repo.config.storage)
    assert all(keys._db is None for keys in made), "closed when the ingest ends"
    assert all(a.ok for a in audit(repo.config, repo.catalog, [aip_id], repo.trust_anchors()))


def test_read_keys_are_kept_out_of_memory_and_shared_by_threads() -> None:
    keys = ReadKeys()
    assert "a/b" not in keys  # nothing made before the first key
    assert keys._db is None

    def add(start: int) -> None:
        for i in range(start, 3000, 4):
            keys.add(f"uuid/data/tệp {i}.pdf")

    workers = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    keys.add("uuid/data/tệp 7.pdf")  # twice: still one key
    assert all(f"uuid/data/tệp {i}.pdf" in keys for i in range(3000))
    assert "uuid/data/tệp 3000.pdf" not in keys and "uuid/data/tệp 1.PDF" not in keys
    assert keys._db is not None
    assert keys._db.execute("SELECT count(*) FROM keys").fetchone() == (3000,)
    assert keys._db.execute("PRAGMA database_list").fetchall()[0][2] == "", "a private temp db"
    keys.close()
    assert keys._db is None and "uuid/data/tệp 1.pdf" not in keys


def test_read_keys_that_cannot_be_noted_are_read_again(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def unwritable() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(resuming_module, "_private_database", unwritable)
    keys = ReadKeys()
    with caplog.at_level(logging.WARNING, logger="aip.ingest_resuming"):
        keys.add("uuid/data/a.pdf")
        keys.add("uuid/data/b.pdf")
    assert "uuid/data/a.pdf" not in keys  # so the read-back reads it again: safe
    assert sum("read-back reads it again" in r.getMessage() for r in caplog.records) == 1
    keys.close()


# --- the fingerprint, in one pass ---------------------------------------------------------------

def _previous_fingerprint(files: Sequence[SubmittedFile], parameters: dict[str, str]) -> str:
    """The fingerprint as the previous version computed it (always from a sorted copy)."""
    h = hashlib.sha256()
    h.update(json.dumps(parameters, sort_keys=True).encode())
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"\n{f.path}\t{f.size}\t{f.sha256}".encode())
    return h.hexdigest()


def _submitted(paths: list[str]) -> list[SubmittedFile]:
    return [SubmittedFile(p, Path("/sip") / p, len(p), hashlib.sha256(p.encode()).hexdigest(),
                          FileRole.CONTENT, p.removeprefix("data/")) for p in paths]


class OnePass(list[SubmittedFile]):
    """Counts its passes."""

    passes = 0

    def __iter__(self) -> Iterator[SubmittedFile]:
        self.passes += 1
        return super().__iter__()


@pytest.mark.parametrize("paths", [
    [],
    ["data/a.txt"],
    ["data/A.txt", "data/a b.txt", "data/a.txt", "data/a/b.txt", "data/tệp.pdf", "data/z"],
    ["data/b.txt", "data/a.txt", "data/c.txt"],  # out of order: sorted first, same value
    ["data/a.txt", "data/a.txt"],  # duplicates (never from validation): as before
])
def test_the_fingerprint_is_the_value_it_always_was(tmp_path: Path, paths: list[str]) -> None:
    parameters = {"label": "Hồ sơ", "fonds": "H41", "archivist": "", "kind": "bagit",
                  "mode": "", "previous": ""}
    files = OnePass(_submitted(paths))
    submission = Submission(tmp_path, Report("x"), files=files)
    assert fingerprint(submission, parameters) == _previous_fingerprint(files, parameters)
    in_order = all(a < b for a, b in pairwise(paths))
    files.passes = 0
    fingerprint(submission, parameters)
    assert files.passes == (1 if in_order else 2), "one pass over files in path order"
    spooled_files = spooled(files, lambda f: (f.path, str(f.fs_path), f.size, f.sha256,
                                              f.role.value, f.original_name),
                            lambda v: SubmittedFile(v[0], Path(v[1]), v[2], v[3],
                                                    FileRole(v[4]), v[5]), keep=1)
    spooled_submission = Submission(tmp_path, Report("x"), files=spooled_files)
    assert fingerprint(spooled_submission, parameters) == _previous_fingerprint(files,
                                                                                 parameters)
