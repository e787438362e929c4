"""The filesystem location's ``durability="deferred"`` mode: no fsync per object, one ``sync``.

What must hold: a deferred ``put`` checks and publishes exactly like an immediate one (only the
wait for the disk moves); ``sync()`` flushes — with ``syncfs`` where the system has it, else an
``fsync`` of every file and directory written — and reports a failed flush as a StorageError;
the default mode is unchanged (an fsync per object, ``sync()`` a no-op).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.errors import (
    ChecksumMismatchError,
    ConfigError,
    ObjectExistsError,
    StorageError,
)
from preservation.storage import StorageBackend, durability, open_location
from preservation.storage.filesystem import FilesystemBackend


def put(backend: StorageBackend, key: str, data: bytes) -> None:
    backend.put(key, io.BytesIO(data), size=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    folder.mkdir()
    return folder


@pytest.fixture
def deferred(root: Path) -> Iterator[FilesystemBackend]:
    backend = open_location(root.as_uri(), durability="deferred")
    assert isinstance(backend, FilesystemBackend)
    yield backend
    backend.close()


def test_unknown_mode_is_a_config_error(root: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_location(root.as_uri(), durability="sometimes")
    assert info.value.code == "CONFIG-STORAGE-OPTION"


def test_immediate_mode_fsyncs_each_object_and_sync_is_a_no_op(root: Path,
                                                              fsyncs: list[int]) -> None:
    backend = open_location(root.as_uri())
    put(backend, "a/1.bin", b"one")
    assert len(fsyncs) >= 2  # the file and its directory
    before = len(fsyncs)
    backend.sync()
    assert len(fsyncs) == before


def test_deferred_put_waits_for_nothing_then_syncfs_once(
        deferred: FilesystemBackend, fsyncs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[int] = []

    def syncfs(fd: int) -> int:
        flushed.append(fd)
        return 0

    monkeypatch.setattr(durability, "SYNCFS", syncfs)
    for i in range(5):
        put(deferred, f"aip/data/{i}.bin", b"x" * i)
    assert fsyncs == []
    deferred.sync()
    assert len(flushed) == 1 and fsyncs == []
    with deferred.open("aip/data/4.bin") as stream:
        assert stream.read() == b"xxxx"
    deferred.sync()  # nothing written since: nothing to flush
    assert len(flushed) == 1


def test_a_failed_flush_is_a_storage_error(deferred: FilesystemBackend,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(_fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durability, "SYNCFS", failing)
    put(deferred, "aip/1.bin", b"data")
    with pytest.raises(StorageError) as info:
        deferred.sync()
    assert info.value.code == "STORAGE-SYNC-FAILED"


def test_without_syncfs_every_file_and_directory_is_fsynced_once(
        deferred: FilesystemBackend, fsyncs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "SYNCFS", None)
    put(deferred, "aip/data/a.bin", b"a")
    put(deferred, "aip/data/b.bin", b"b")
    put(deferred, "aip/gone.bin", b"c")
    assert fsyncs == []
    deferred.delete("aip/gone.bin")  # a delete stays durable at once (its directory)
    fsyncs.clear()
    deferred.sync()  # the deleted file is skipped, not an error
    # a.bin, b.bin; the directories aip/data, aip and the root, each once
    assert len(fsyncs) == 5


def test_deferred_put_still_checks_and_stays_write_once(deferred: FilesystemBackend,
                                                        root: Path) -> None:
    with pytest.raises(ChecksumMismatchError):
        deferred.put("aip/bad.bin", io.BytesIO(b"abc"), size=3,
                     sha256=hashlib.sha256(b"abd").hexdigest())
    assert not (root / "aip").exists()  # nothing published, no empty folder left
    put(deferred, "aip/ok.bin", b"abc")
    with pytest.raises(ObjectExistsError):
        put(deferred, "aip/ok.bin", b"abc")
    deferred.sync()
    assert (root / "aip" / "ok.bin").read_bytes() == b"abc"
