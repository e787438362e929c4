"""A killed ingest, re-run on the same transfer, resumes: same AIP UUID, and what is already
stored and intact is not sent again; the result is the AIP an uninterrupted ingest makes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import aip.ingest as ingest_module
import aip.ingest_replicate as replicate_module
from aip.ingest import IngestResult, ingest
from aip.ingest_staging import OBJECT_LOG
from preservation.audit import audit
from preservation.repository import Repository, init_repository
from preservation.storage import StorageBackend, durability
from tests.helpers import add_test_fonds, intercept_writes, location_root

ROOT = Path(__file__).resolve().parents[2]


class Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it, and the cleanup is switched off."""


def run(repo: Repository, source: Path, **kwargs: Any) -> IngestResult:
    return ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog), **kwargs)


def contents(repo: Repository, index: int, aip_id: str) -> dict[str, str]:
    """Key (relative to the AIP prefix) → SHA-256 of every object of an AIP on a location."""
    root = location_root(repo.config, index) / aip_id
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def staged_uuids(repo: Repository) -> list[str]:
    root = repo.config.work_dir / "ingest"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every (location URL, key) actually written by ingest; sequential, so countable."""
    done: list[tuple[str, str]] = []
    real_open = ingest_module.open_location

    def opened(url: str, **options: Any) -> StorageBackend:
        backend = real_open(url, **options)

        def write(key: str, do: Callable[[], Any]) -> Any:
            result = do()
            done.append((url, key))
            return result

        intercept_writes(backend, write)
        return backend

    monkeypatch.setattr(ingest_module, "open_location", opened)
    monkeypatch.setattr(replicate_module, "WORKERS", 1)
    yield done


def kill_after(monkeypatch: pytest.MonkeyPatch, puts: list[tuple[str, str]], count: int) -> None:
    """From the ``count``-th stored object on, every put dies like a killed process."""
    wrapped = ingest_module.open_location

    def opened(url: str, **options: Any) -> StorageBackend:
        backend = wrapped(url, **options)

        def dying(key: str, do: Callable[[], Any]) -> Any:
            if len(puts) >= count:
                raise Killed
            return do()

        intercept_writes(backend, dying)
        return backend

    monkeypatch.setattr(ingest_module, "open_location", opened)
    monkeypatch.setattr(ingest_module, "_abandon", lambda *a, **k: None)


def killed_ingest(repo: Repository, transfer: Path, puts: list[tuple[str, str]],
                  monkeypatch: pytest.MonkeyPatch) -> str:
    """Ingest ``transfer`` and kill it after its second stored object; the staged AIP's UUID."""
    with monkeypatch.context() as m:
        kill_after(m, puts, 2)
        with pytest.raises(Killed):
            run(repo, transfer)
    [killed] = staged_uuids(repo)
    return killed


def test_a_killed_ingest_resumes_and_sends_only_what_is_missing(
        repo: Repository, transfer: Path, tmp_path: Path, puts: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    killed = killed_ingest(repo, transfer, puts, monkeypatch)
    first = contents(repo, 0, killed)
    assert len(first) == 2 and not (location_root(repo.config, 1) / killed).exists()
    puts.clear()

    result = run(repo, transfer)
    assert result.resumed and result.aip_id == killed
    assert staged_uuids(repo) == []  # the journal went with the staging folder
    own = [f for f in repo.catalog.files(killed) if f.stored_key is None]
    copy1, copy2 = (repo.config.storage[i].url for i in (0, 1))
    sent1 = {key.removeprefix(f"{killed}/") for url, key in puts
             if url == copy1 and key.startswith(f"{killed}/")}
    assert not sent1 & set(first), "objects already stored and intact are not sent again"
    assert sent1 | set(first) == {f.path for f in own}
    assert len([k for u, k in puts if u == copy2 and not k.startswith("events/")]) == len(own)
    assert all(a.ok for a in audit(repo.config, repo.catalog, [killed], repo.trust_anchors()))

    # the same AIP an uninterrupted ingest of the same transfer makes
    other_home = tmp_path / "other"
    init_repository(other_home, name="Lưu trữ lịch sử tỉnh (test)")
    with Repository.open(other_home) as other:
        clean = run(other, transfer)
        assert not clean.resumed
        for index in (0, 1):
            assert set(contents(other, index, clean.aip_id)) == set(contents(repo, index, killed))

        def content(r: Repository, aip_id: str) -> set[tuple[str, str | None, int, str]]:
            return {(f.path, f.original_name, f.size, f.sha256) for f in r.catalog.files(aip_id)
                    if f.role == "content"}

        assert content(other, clean.aip_id) == content(repo, killed)


def test_objects_kept_on_resume_are_made_durable_before_the_aip_is_registered(
        repo: Repository, transfer: Path, puts: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The killed attempt put its objects in a write session and never synced them: the
    resumed ingest keeps them without a put, and still fsyncs each (without ``syncfs``: the
    file and every directory up to the location's root) before it registers the AIP."""
    monkeypatch.setattr(durability, "SYNCFS", None)
    killed = killed_ingest(repo, transfer, puts, monkeypatch)
    root = location_root(repo.config, 0)
    kept = [root / killed / path for path in contents(repo, 0, killed)]
    assert len(kept) == 2
    wanted = {path for file in kept for path in (file, *file.parents) if path.is_relative_to(root)}

    def identity(info: os.stat_result) -> tuple[int, int]:
        return info.st_dev, info.st_ino

    flushed: set[tuple[int, int]] = set()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        flushed.add(identity(os.fstat(fd)))

    unflushed: list[list[str]] = []
    real_register = repo.catalog.register_aip

    def register(*args: Any) -> None:
        unflushed.append(sorted(str(p) for p in wanted if identity(p.stat()) not in flushed))
        real_register(*args)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(repo.catalog, "register_aip", register)
    puts.clear()
    result = run(repo, transfer)
    assert result.resumed and result.aip_id == killed
    assert not {(repo.config.storage[0].url, str(f.relative_to(root))) for f in kept} & set(puts)
    assert unflushed == [[]], "every kept file and its directories fsync'ed before registering"


def test_an_object_changed_since_the_kill_is_stored_again(
        repo: Repository, transfer: Path, puts: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    killed = killed_ingest(repo, transfer, puts, monkeypatch)
    (path, _), *_ = contents(repo, 0, killed).items()
    torn = location_root(repo.config, 0) / killed / path
    os.chmod(torn, 0o644)
    torn.write_bytes(torn.read_bytes()[:-1])  # as if the kill had torn it
    puts.clear()
    result = run(repo, transfer)
    assert result.aip_id == killed
    assert (repo.config.storage[0].url, f"{killed}/{path}") in puts
    assert all(a.ok for a in audit(repo.config, repo.catalog, [killed], repo.trust_anchors()))


def test_another_transfer_or_other_parameters_start_clean(
        repo: Repository, transfer: Path, puts: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    killed = killed_ingest(repo, transfer, puts, monkeypatch)
    result = run(repo, transfer, label="Một nhãn khác")  # not the ingest that was killed
    assert not result.resumed and result.aip_id != killed
    assert not (location_root(repo.config, 0) / killed).exists()
    assert staged_uuids(repo) == []


_CHILD = """
import sys, time
from pathlib import Path
import aip.ingest as m
import aip.ingest_replicate as r
from preservation.repository import Repository
from tests.helpers import intercept_writes

home, source, count, marker = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
real_open = m.open_location
done = [0]

def opened(url, **options):
    backend = real_open(url, **options)
    def write(key, do):
        if done[0] >= count:
            marker.write_text(str(done[0]))
            time.sleep(3600)  # killed here, with `count` objects stored
        result = do()
        done[0] += 1
        return result
    intercept_writes(backend, write)
    return backend

m.open_location = opened
r.WORKERS = 1
with Repository.open(home) as repo:
    m.ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog, fonds="TEST")
"""


def test_sigkill_of_a_real_ingest_process_then_resume(
        repo: Repository, transfer: Path, tmp_path: Path, puts: list[tuple[str, str]]) -> None:
    add_test_fonds(repo.catalog)
    marker = tmp_path / "stored-3"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(repo.config.home), str(transfer), "3", str(marker)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the ingest process ended early: {child.communicate()}")
            if time.monotonic() > deadline:
                pytest.fail("the ingest process never reached its third object")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    [killed] = staged_uuids(repo)
    assert len(contents(repo, 0, killed)) == 3
    assert (repo.config.work_dir / "ingest" / killed / OBJECT_LOG).exists()

    result = run(repo, transfer)
    assert result.resumed and result.aip_id == killed
    own = {f.path for f in repo.catalog.files(killed) if f.stored_key is None}
    copy1 = repo.config.storage[0].url
    sent = [k for u, k in puts if u == copy1 and not k.startswith("events/")]
    assert len(sent) == len(own) - 3  # the three stored before the kill were kept
    assert all(a.ok for a in audit(repo.config, repo.catalog, [killed], repo.trust_anchors()))
