"""How ingest writes its copies: every location at once, in a write session (no flush per
object, one ``sync`` per location before the read-back), each object read back and checked;
the first failure anywhere stops every location and leaves nothing; a location added since the
previous version gets the objects a new version reuses copied in, verified."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aip.ingest as ingest_module
import aip.ingest_replicate as replicate_module
from aip.builder import BuiltAip
from aip.ingest import IngestResult, ingest
from aip.ingest_resuming import ResumingBackend
from preservation.audit import audit
from preservation.config import Config, StorageConfig
from preservation.errors import ChecksumMismatchError, StorageError
from preservation.repository import Repository
from preservation.storage import StorageBackend, durability, open_location
from sip.samples import make_sample_transfer, minimal_pdf
from tests.aip.test_versions import ANNEX, PDF, make_bag
from tests.helpers import add_test_fonds, intercept_writes, location_root


def run(repo: Repository, source: Path, config: Config | None = None,
        **kwargs: Any) -> IngestResult:
    return ingest(config or repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog), **kwargs)


def aip_names(config: Config, index: int) -> set[str]:
    root = location_root(config, index)
    return {p.name for p in root.iterdir()} - {"events", "fonds"} if root.exists() else set()


def nothing_left(repo: Repository, config: Config, keep: set[str]) -> None:
    for index in range(len(config.storage)):
        assert aip_names(config, index) <= keep
    assert list((repo.config.work_dir / "ingest").iterdir()) == []


# --- the write session ----------------------------------------------------------------------

def _identity(path: Path | int) -> tuple[int, int]:
    """The (device, inode) of a path or an open descriptor."""
    info = os.fstat(path) if isinstance(path, int) else os.stat(path)
    return info.st_dev, info.st_ino


def test_objects_are_put_without_a_flush_each_and_each_copy_is_synced_before_its_read_back(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On locations of the default ("immediate") durability: no fsync while a copy is stored,
    a syncfs of that location's own filesystem handle between its puts and its read-back."""
    events: list[tuple[str, object]] = []
    lock = threading.Lock()
    real_fsync, real_store, real_verify = os.fsync, replicate_module.store_copy, \
        replicate_module.verify_copy

    def fsync(fd: int) -> None:
        with lock:
            events.append(("fsync", None))
        real_fsync(fd)

    def syncfs(fd: int) -> int:
        with lock:
            events.append(("syncfs", _identity(fd)))  # which location's root it flushes
        return 0

    def store(built: BuiltAip, backend: Any, name: str, progress: Any, own: Any) -> None:
        before = sum(kind == "fsync" for kind, _ in events)
        real_store(built, backend, name, progress, own)
        with lock:
            events.append(("stored", name))
            assert sum(kind == "fsync" for kind, _ in events) == before, \
                "no fsync per object in the write session"

    def verify(built: BuiltAip, backend: Any, name: str, progress: Any) -> None:
        with lock:
            events.append(("verify", name))
        real_verify(built, backend, name, progress)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(durability, "SYNCFS", syncfs)
    monkeypatch.setattr(replicate_module, "store_copy", store)
    monkeypatch.setattr(replicate_module, "verify_copy", verify)
    result = run(repo, transfer)
    assert repo.catalog.aip_ids() == [result.aip_id]
    for index, name in enumerate(("copy1", "copy2")):
        stored, verified = events.index(("stored", name)), events.index(("verify", name))
        root = _identity(location_root(repo.config, index))
        assert ("syncfs", root) in events[stored:verified], f"{name} synced before its read-back"


def test_a_copy_whose_flush_fails_fails_the_ingest_and_leaves_nothing(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write session's ``sync`` on an "immediate" location: a write-back error reported
    by the flush is STORAGE-SYNC-FAILED, and the ingest removes all it wrote."""
    def failing(_fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durability, "SYNCFS", failing)
    with pytest.raises(StorageError) as caught:
        run(repo, transfer)
    assert caught.value.code == "STORAGE-SYNC-FAILED"
    assert repo.catalog.aip_ids() == []
    nothing_left(repo, repo.config, set())


def test_an_object_whose_bytes_changed_after_validation_fails_at_the_read_back(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The puts do not hash (``verify_later``): a source changed since it was validated, with
    the same size, is stored as it is now, found by the read-back, and all of it removed.
    (Without early copies: with them, the copy made during validation is what is stored;
    tests/aip/test_ingest_early.py.)"""
    real_build = ingest_module._build

    def build_then_change(*args: Any) -> BuiltAip:
        built = real_build(*args)
        victim = next(o.source for o in built.objects if o.role == "content" and o.size > 8)
        assert victim is not None
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0xFF  # the producer's file changes under the running ingest
        victim.write_bytes(bytes(data))
        return built

    monkeypatch.setattr(ingest_module, "_build", build_then_change)
    config = early_copies(repo.config, False)  # the default, said
    with pytest.raises(ChecksumMismatchError, match="read back"):
        run(repo, transfer, config)
    assert repo.catalog.aip_ids() == []
    nothing_left(repo, config, set())


def early_copies(config: Config, on: bool = True) -> Config:
    """``config`` with ``early_copies = on`` on every location (aip.ingest_early)."""
    return dataclasses.replace(config, storage=tuple(
        dataclasses.replace(s, options={**s.options, "early_copies": on})
        for s in config.storage))


# --- all locations at once; the first failure stops everything --------------------------------

def test_a_failure_on_one_location_stops_all_and_leaves_nothing(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first location holds every put until the second has failed: then none of them is
    made (the failure stops every lane), and no put runs while the cleanup does."""
    first, second = (s.url for s in repo.config.storage[:2])
    timeline: list[str] = []
    lock = threading.Lock()
    failed, abandoning = threading.Event(), threading.Event()
    running = [0]
    stored = {first: 0, second: 0}
    real_open, real_put, real_abandon = open_location, ResumingBackend.put, \
        ingest_module._abandon

    def opened(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)
        inner_put = backend.put

        def put(key: str, source: Any, **kw: Any) -> Any:
            with lock:
                if url == second and stored[second] >= 3:
                    timeline.append("failed")
                    failed.set()
                    raise StorageError("injected: the second location's disk is full")
                timeline.append(f"put {url}" + (" while abandoning" if abandoning.is_set()
                                                  else ""))
                running[0] += 1
            try:
                return inner_put(key, source, **kw)
            finally:
                with lock:
                    running[0] -= 1
                    stored[url] += 1

        backend.put = put  # type: ignore[method-assign]
        return backend

    def held(self: ResumingBackend, key: str, source: Any, **kw: Any) -> Any:
        if self.location == "copy1":
            assert failed.wait(60), "the second location never failed"
            self.abort.wait(60)  # its lane records the failure an instant after raising it
        return real_put(self, key, source, **kw)

    def abandon(*args: Any) -> None:
        with lock:
            timeline.append(f"abandon with {running[0]} put(s) running")
            abandoning.set()
        try:
            real_abandon(*args)
        finally:
            abandoning.clear()

    monkeypatch.setattr(ingest_module, "open_location", opened)
    monkeypatch.setattr(ResumingBackend, "put", held)
    monkeypatch.setattr(ingest_module, "_abandon", abandon)
    with pytest.raises(StorageError, match="injected") as caught:
        run(repo, transfer)
    assert type(caught.value) is StorageError  # the failure itself, not a "cancelled"
    after = timeline[timeline.index("failed"):]
    assert f"put {first}" not in after and stored[first] == 0, "no put after the failure"
    assert "abandon with 0 put(s) running" in timeline
    assert not [e for e in timeline if e.endswith("while abandoning")]
    assert repo.catalog.aip_ids() == []
    nothing_left(repo, repo.config, set())


@pytest.mark.parametrize("early", [False, True], ids=["puts", "early-copies"])
def test_a_killed_concurrent_ingest_resumes_intact(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch, early: bool) -> None:
    """The journal of a resumed ingest stays right with both locations written at once, four
    threads each: what was stored before the kill is kept, the rest is sent, audit is clean;
    also when the objects are published from early copies (the resumed run copies again)."""
    config = early_copies(repo.config, early)
    class Killed(BaseException):
        pass

    real_open = open_location
    stored: list[tuple[str, str]] = []
    lock = threading.Lock()
    dying = [True]

    def opened(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)

        def write(key: str, do: Callable[[], Any]) -> Any:
            with lock:
                if dying[0] and sum("/rep1/data/" in k for _, k in stored) >= 2:
                    raise Killed  # once two content files are stored, on either location
            result = do()
            with lock:
                stored.append((url, key))
            return result

        intercept_writes(backend, write)
        return backend

    monkeypatch.setattr(ingest_module, "open_location", opened)
    with monkeypatch.context() as patch:
        patch.setattr(ingest_module, "_abandon", lambda *a, **k: None)  # as if killed
        with pytest.raises(Killed):
            run(repo, transfer, config)
    before = set(stored)
    dying[0] = False
    stored.clear()
    result = run(repo, transfer, config)
    assert result.resumed
    files = repo.catalog.files(result.aip_id)
    content = {f"{result.aip_id}/{f.path}" for f in files if f.role == "content"}
    assert {k for _, k in before} & content, "the kill came after some content was stored"
    # content stored before the kill is kept; only metadata the new attempt built anew (its
    # PREMIS records the attempt's time) may have been replaced
    assert not {k for _, k in before & set(stored)} & content
    own = {f.path for f in files if f.stored_key is None}
    for loc in config.storage:
        sent = {k for u, k in before | set(stored) if u == loc.url and not k.startswith("events/")}
        assert sent == {f"{result.aip_id}/{p}" for p in own}
    assert all(a.ok for a in audit(config, repo.catalog, [result.aip_id],
                                   repo.trust_anchors()))


# --- a location added since the previous version ----------------------------------------------

def with_third_location(config: Config, tmp_path: Path) -> Config:
    root = tmp_path / "copy3"
    root.mkdir()
    return dataclasses.replace(config, storage=(
        *config.storage, StorageConfig(name="copy3", url=root.as_uri())))


@pytest.fixture
def first(repo: Repository, tmp_path: Path) -> IngestResult:
    add_test_fonds(repo.catalog)
    return run(repo, make_sample_transfer(tmp_path / "v1"))


def test_a_new_location_gets_the_reused_objects_copied_in(
        repo: Repository, first: IngestResult, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    config = with_third_location(repo.config, tmp_path)
    v1 = first.aip_id
    with caplog.at_level(logging.WARNING, logger="aip.ingest_reused"):
        second = run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), config,
                     supplement=v1)
    v2 = second.aip_id
    reused = [f for f in repo.catalog.files(v2) if f.stored_key is not None]
    assert reused and all(f.stored_key == f"{v1}/{f.path}" for f in reused)
    old, new = second.copies[0], second.copies[2]
    assert [c.location for c in second.copies] == ["copy1", "copy2", "copy3"]
    assert (old.copied_in, new.copied_in) == (0, len(reused))
    assert new.objects == old.objects + len(reused) and new.reused == old.reused - len(reused)
    assert new.bytes == old.bytes + sum(f.size for f in reused)
    assert sum("copied in from copy1" in r.getMessage() for r in caplog.records) == len(reused)
    copy3 = location_root(config, 2)
    for f in reused:  # under the key of the version that holds them, with their bytes
        held = copy3 / v1 / f.path
        assert held.is_file() and held.stat().st_size == f.size
    replication = [e for e in repo.catalog.events(v2)
                   if e.type == "replication" and e.location == "copy3"]
    assert len(replication) == 1 and f"{new.objects} objects" in (replication[0].detail or "")
    [result] = audit(config, repo.catalog, [v2], repo.trust_anchors())
    assert result.ok and {c.location for c in result.copies} == {"copy1", "copy2", "copy3"}


def test_a_reused_object_that_no_location_has_intact_fails_with_its_code(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    config = with_third_location(repo.config, tmp_path)
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    for index in (0, 1):  # damaged on both older locations: same size, other bytes
        victim = location_root(config, index) / v1 / pdf.path
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0xFF
        os.chmod(victim.parent, 0o755)
        victim.unlink()
        victim.write_bytes(bytes(data))
    with pytest.raises(StorageError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), config, supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-MISSING"
    assert "copy3" in str(caught.value)
    assert repo.catalog.aip_ids() == [v1]
    assert not (location_root(config, 2) / v1 / pdf.path).exists(), "no damaged copy-in"
    nothing_left(repo, config, {v1})


def test_a_registered_location_that_lost_a_reused_object_is_not_quietly_mended(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    """Where the previous version has a verified copy, a missing object is damage for audit
    and repair, even though another location could supply it."""
    config = with_third_location(repo.config, tmp_path)
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    victim = location_root(config, 1) / v1 / pdf.path
    os.chmod(victim.parent, 0o755)
    victim.unlink()
    with pytest.raises(StorageError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), config, supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-MISSING"
    assert "copy2" in str(caught.value) and "audit" in str(caught.value)
    assert not victim.exists()
    nothing_left(repo, config, {v1})


def test_a_copy_in_takes_the_next_location_when_the_first_has_other_bytes(
        repo: Repository, first: IngestResult, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """copy1's PDF has other bytes of the same size: the copy-in to copy3 refuses it and takes
    copy2's; copy1's damage then fails the ingest at its read-back, and copy3 keeps the
    intact object, under the key of the version that holds it."""
    config = with_third_location(repo.config, tmp_path)
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    victim = location_root(config, 0) / v1 / pdf.path
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    os.chmod(victim.parent, 0o755)
    victim.unlink()
    victim.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="aip.ingest_reused"), \
            pytest.raises(ChecksumMismatchError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), config, supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-CHANGED"
    assert caught.value.location == f"copy1:{v1}/{pdf.path}"
    held = location_root(config, 2) / v1 / pdf.path
    assert hashlib.sha256(held.read_bytes()).hexdigest() == pdf.sha256
    copied = [r.getMessage() for r in caplog.records if f"{v1}/{pdf.path}" in r.getMessage()]
    assert len(copied) == 1 and "copied in from copy2" in copied[0]
    assert repo.catalog.aip_ids() == [v1]
    nothing_left(repo, config, {v1})


def test_a_reused_object_of_another_size_fails_before_anything_is_put(
        repo: Repository, first: IngestResult, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by HEAD when the reused objects are checked, before any upload; write-once: the
    object is not replaced."""
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    victim = location_root(repo.config, 1) / v1 / pdf.path
    data = victim.read_bytes()
    os.chmod(victim.parent, 0o755)
    victim.unlink()
    victim.write_bytes(data[:-1])
    puts: list[str] = []
    real_open = open_location

    def opened(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)
        real_put = backend.put

        def put(key: str, source: Any, **kw: Any) -> Any:
            puts.append(key)
            return real_put(key, source, **kw)

        backend.put = put  # type: ignore[method-assign]
        return backend

    monkeypatch.setattr(ingest_module, "open_location", opened)
    with pytest.raises(ChecksumMismatchError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("PL")}), supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-CHANGED"
    assert caught.value.location == f"copy2:{v1}/{pdf.path}"
    assert puts == [], "refused before anything was put"
    assert victim.read_bytes() == data[:-1]
    assert repo.catalog.aip_ids() == [v1]
    nothing_left(repo, repo.config, {v1})
