"""The filesystem location's write sessions: ``put(..., durable=False)`` defers the flush to
``sync()`` whatever the location's configured durability, and ``verify_later=True`` copies a
regular file with the kernel instead of hashing it (the caller reads the object back).

The contract part (what every backend does) is in ``test_storage_contract.py``; here: which
system calls the file backend makes, and that the default stays one fsync per object.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.errors import ChecksumMismatchError, StorageError
from preservation.storage import durability, open_location
from preservation.storage.durability import Pending
from preservation.storage.filesystem import FilesystemBackend


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(backend: FilesystemBackend, key: str, data: bytes, *, durable: bool = True) -> None:
    backend.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data), durable=durable)


@pytest.fixture
def store(root: Path) -> Iterator[FilesystemBackend]:
    """A location with the default durability, ``"immediate"``."""
    backend = open_location(root.as_uri())
    assert isinstance(backend, FilesystemBackend) and backend.durability == "immediate"
    yield backend
    backend.close()


@pytest.fixture
def syncfs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every syncfs call (recorded, successful)."""
    calls: list[int] = []

    def recording(fd: int) -> int:
        calls.append(fd)
        return 0

    monkeypatch.setattr(durability, "SYNCFS", recording)
    return calls


def test_a_session_on_an_immediate_location_flushes_once_at_sync(
        store: FilesystemBackend, root: Path, fsyncs: list[int], syncfs: list[int]) -> None:
    for i in range(5):
        put(store, f"aip/data/{i}.bin", b"x" * i, durable=False)
    assert fsyncs == [] and syncfs == []
    store.sync()
    assert len(syncfs) == 1 and fsyncs == []
    assert (root / "aip" / "data" / "4.bin").read_bytes() == b"xxxx"
    store.sync()  # nothing put since: nothing to flush
    assert len(syncfs) == 1


def test_durable_puts_beside_a_session_stay_durable_at_once(
        store: FilesystemBackend, fsyncs: list[int], syncfs: list[int]) -> None:
    put(store, "aip/data/a.bin", b"a", durable=False)
    assert fsyncs == []
    put(store, "events/aip/e.xml", b"<event/>")  # an event: durable when put returns
    assert len(fsyncs) >= 2  # the file and its directory (and the new directories' parents)
    store.sync()
    assert len(syncfs) == 1


def test_a_session_without_syncfs_fsyncs_each_file_and_directory_once(
        store: FilesystemBackend, fsyncs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "SYNCFS", None)
    put(store, "aip/data/a.bin", b"a", durable=False)
    put(store, "aip/data/b.bin", b"b", durable=False)
    assert fsyncs == []
    store.sync()
    # a.bin, b.bin; the directories aip/data, aip and the root, each once
    assert len(fsyncs) == 5


def test_a_write_that_ends_after_a_concurrent_flush_is_flushed_by_the_next(
        root: Path, syncfs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """``start`` (before a write) and ``add`` (after it) around another thread's ``flush``:
    the next ``flush`` covers the write, through the one handle opened at the first ``start``
    (before the write, so a write-back error after it is reported): never reopened."""
    opened: list[object] = []
    real_open = os.open

    def recording(path: object, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(path)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", recording)
    pending = Pending()
    pending.start(root)
    assert opened == [root]
    pending.flush()  # another thread's sync, while this write is under way: nothing yet
    (root / "late.bin").write_bytes(b"late")
    pending.add(root / "late.bin")
    pending.flush()
    assert len(syncfs) == 1
    pending.flush()  # nothing written since
    assert len(syncfs) == 1
    pending.start(root)
    (root / "later.bin").write_bytes(b"later")
    pending.add(root / "later.bin")
    pending.flush()
    assert len(syncfs) == 2 and syncfs[0] == syncfs[1]
    assert opened == [root], "one handle, opened before the first write, for every flush"
    pending.release()


def test_pending_makes_sync_flush_an_object_already_stored(
        store: FilesystemBackend, root: Path, fsyncs: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An object found on the location (not put in this session) named to ``pending``: the
    next ``sync`` fsyncs it and every directory up to the root, each once."""
    monkeypatch.setattr(durability, "SYNCFS", None)
    put(store, "aip/data/a.bin", b"a", durable=False)
    store.close()
    reopened = open_location(root.as_uri())
    fsyncs.clear()
    reopened.pending("aip/data/a.bin")
    assert fsyncs == []
    reopened.sync()
    assert len(fsyncs) == 4  # a.bin, aip/data, aip and the root
    reopened.sync()
    assert len(fsyncs) == 4
    reopened.close()


def test_pending_with_syncfs_makes_the_next_sync_flush_the_filesystem(
        store: FilesystemBackend, syncfs: list[int]) -> None:
    put(store, "aip/a.bin", b"a")  # durable at once: nothing pending
    store.sync()
    assert syncfs == []
    store.pending("aip/a.bin")
    store.sync()
    assert len(syncfs) == 1


def test_sessions_of_many_threads_then_one_sync(store: FilesystemBackend, root: Path,
                                                syncfs: list[int]) -> None:
    def write(n: int) -> None:
        for i in range(20):
            put(store, f"t{n}/{i}.bin", f"{n}-{i}".encode(), durable=False)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.sync()
    assert len(syncfs) == 1
    assert sum(1 for p in root.rglob("*.bin")) == 80


# -- verify_later: the kernel copies a regular file; the size is still checked ----------------


@pytest.fixture
def sendfiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts every os.sendfile call asked for (the calls still happen)."""
    calls: list[int] = []
    real = os.sendfile

    def recording(out: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real(out, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", recording)
    return calls


def test_verify_later_copies_a_file_in_the_kernel_without_hashing(
        store: FilesystemBackend, root: Path, tmp_path: Path, sendfiles: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(300_000)
    digest = sha256_hex(data)
    source = tmp_path / "source.bin"
    source.write_bytes(data)

    def no_hashing(*_args: object) -> object:
        raise AssertionError("verify_later: the stream is not hashed")

    with source.open("rb") as stream, monkeypatch.context() as patch:
        patch.setattr("preservation.storage.base.hashlib.sha256", no_hashing)
        store.put("aip/k.bin", stream, size=len(data), sha256=digest, durable=False,
                  verify_later=True)
    assert sum(sendfiles) >= len(data)
    assert (root / "aip" / "k.bin").read_bytes() == data


def test_verify_later_copies_from_the_current_position_of_the_source(
        store: FilesystemBackend, root: Path, tmp_path: Path, sendfiles: list[int]) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"header|payload")
    with source.open("rb") as stream:
        assert stream.read(7) == b"header|"
        store.put("aip/p.bin", stream, size=7, sha256=sha256_hex(b"payload"), verify_later=True)
    assert sendfiles and (root / "aip" / "p.bin").read_bytes() == b"payload"


def test_verify_later_streams_where_the_kernel_cannot_copy(
        store: FilesystemBackend, root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> int:
        raise OSError(errno.EINVAL, "sendfile not supported here")

    monkeypatch.setattr(os, "sendfile", refuse)
    data = os.urandom(70_000)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    with source.open("rb") as stream:
        store.put("aip/s.bin", stream, size=len(data), sha256=sha256_hex(data),
                  verify_later=True)
    assert (root / "aip" / "s.bin").read_bytes() == data


def test_verify_later_of_a_file_longer_than_announced_leaves_nothing(
        store: FilesystemBackend, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"0123456789")
    with source.open("rb") as stream, pytest.raises(ChecksumMismatchError):
        store.put("aip/long.bin", stream, size=9, sha256=sha256_hex(b"012345678"),
                  verify_later=True)
    assert list(root.iterdir()) == []


def test_without_verify_later_a_file_is_hashed_as_always(
        store: FilesystemBackend, tmp_path: Path, sendfiles: list[int]) -> None:
    data = b"same size, other bytes"
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    with source.open("rb") as stream, pytest.raises(ChecksumMismatchError):
        store.put("aip/k.bin", stream, size=len(data), sha256=sha256_hex(data[::-1]))
    assert sendfiles == [] and store.head("aip/k.bin") is None


@pytest.mark.parametrize("source_fails", [True, False])
def test_a_kernel_copy_failing_mid_way_raises_the_sources_error_or_a_storage_error(
        store: FilesystemBackend, root: Path, tmp_path: Path, source_fails: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``sendfile`` fails after a first chunk: if the source cannot be read there, its own
    ``OSError`` propagates (as when streaming); otherwise the write was ours: StorageError.
    Nothing is published either way."""
    data = os.urandom(100_000)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    real_sendfile, real_pread = os.sendfile, os.pread
    calls = [0]

    def sendfile(out: int, in_fd: int, offset: int | None, count: int) -> int:
        calls[0] += 1
        if calls[0] == 1:
            return real_sendfile(out, in_fd, offset, min(count, 4096))
        raise OSError(errno.EIO, "injected")

    def pread(fd: int, length: int, offset: int) -> bytes:
        if source_fails:
            raise OSError(errno.EIO, "injected: the source's disk")
        return real_pread(fd, length, offset)

    with source.open("rb") as stream, monkeypatch.context() as patch:
        patch.setattr(os, "sendfile", sendfile)
        patch.setattr(os, "pread", pread)
        with pytest.raises((OSError, StorageError)) as caught:
            store.put("aip/k.bin", stream, size=len(data), sha256=sha256_hex(data),
                      durable=False, verify_later=True)
    assert calls[0] == 2
    if source_fails:
        assert type(caught.value) is OSError and caught.value.errno == errno.EIO
    else:
        assert type(caught.value) is StorageError
    assert list(root.rglob("*")) == []
