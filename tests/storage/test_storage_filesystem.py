"""What only the filesystem backend does: URLs, plain read-only files, no stray temp files."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import pytest

from preservation.errors import (
    ChecksumMismatchError,
    ConfigError,
    DeleteRefusedError,
    ObjectMissingError,
    StorageError,
)
from preservation.storage import Retention, open_location
from preservation.storage.filesystem import FilesystemBackend

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_bytes(
    backend: FilesystemBackend, key: str, data: bytes, retention: Retention | None = None
) -> None:
    backend.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data), retention=retention)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "copy 1"  # a space, to exercise the URL's percent-encoding
    path.mkdir()
    return path


@pytest.fixture
def store(root: Path) -> FilesystemBackend:
    backend = open_location(root.as_uri())
    assert isinstance(backend, FilesystemBackend)
    return backend


def all_names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_objects_are_plain_read_only_files_at_their_key(
    root: Path, store: FilesystemBackend
) -> None:
    put_bytes(store, "9f1c/data/METS.xml", b"<mets/>")
    path = root / "9f1c" / "data" / "METS.xml"
    assert path.read_bytes() == b"<mets/>"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert all_names(root) == ["9f1c", "9f1c/data", "9f1c/data/METS.xml"]


def test_refused_puts_leave_no_file_nor_directory(root: Path, store: FilesystemBackend) -> None:
    with pytest.raises(ChecksumMismatchError):
        store.put("a/k", io.BytesIO(b"bytes"), size=5, sha256="0" * 64)
    with pytest.raises(OSError, match="gone"):
        store.put("a/k", cast(BinaryIO, _FailingSource()), size=5, sha256="0" * 64)
    assert all_names(root) == []  # nor the directory made for it


def test_delete_removes_the_directories_it_empties(root: Path, store: FilesystemBackend) -> None:
    for key in ("u/data/a", "u/data/b", "v/x"):
        put_bytes(store, key, b"x")
    store.delete("u/data/a")
    assert all_names(root) == ["u", "u/data", "u/data/b", "v", "v/x"]
    store.delete("u/data/b")
    assert all_names(root) == ["v", "v/x"]
    store.delete("v/x")
    assert all_names(root) == []
    assert root.is_dir()


def test_list_passes_over_temporary_and_hidden_names(root: Path, store: FilesystemBackend) -> None:
    put_bytes(store, "a/k", b"x")
    (root / "a" / ".tmp-abc123").write_bytes(b"unfinished")
    (root / ".snapshot" / "a").mkdir(parents=True)
    (root / ".snapshot" / "a" / "k").write_bytes(b"x")
    assert [info.key for info in store.list()] == ["a/k"]


def test_list_warns_about_files_that_cannot_be_keys(
    root: Path, store: FilesystemBackend, caplog: pytest.LogCaptureFixture
) -> None:
    put_bytes(store, "a/k", b"x")
    (root / "a" / "copy of k").write_bytes(b"x")
    os.symlink(root / "a" / "k", root / "a" / "link")
    with caplog.at_level(logging.WARNING, logger="preservation.storage.filesystem"):
        assert [info.key for info in store.list()] == ["a/k"]
    assert "copy of k" in caplog.text
    assert "a/link" in caplog.text


def test_symbolic_links_are_not_objects(
    root: Path, store: FilesystemBackend, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"not in the archive")
    os.symlink(outside, root / "link")
    assert store.head("link") is None
    with pytest.raises(ObjectMissingError):
        store.open("link")


def test_a_key_cannot_pass_through_an_object_nor_replace_a_directory(
    store: FilesystemBackend,
) -> None:
    put_bytes(store, "a", b"object")
    put_bytes(store, "d/x", b"object below d")
    for key in ("a/b", "a/b/c", "d"):
        with pytest.raises(StorageError) as caught:
            put_bytes(store, key, b"x")
        assert caught.value.code == "STORAGE-KEY-CONFLICT"
    assert {info.key for info in store.list()} == {"a", "d/x"}


def test_retention_is_ignored(store: FilesystemBackend) -> None:
    retention = Retention("COMPLIANCE", datetime.now(UTC) + timedelta(days=1))
    put_bytes(store, "k", b"x", retention=retention)
    store.delete("k")
    assert store.head("k") is None


@contextmanager
def protected(path: Path) -> Iterator[None]:
    """Make ``path`` undeletable as an administrator would: a read-only directory or, for root
    (whom permissions do not stop), the immutable flag."""
    if os.geteuid() != 0:
        path.parent.chmod(0o555)
        try:
            yield
        finally:
            path.parent.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("running as root where no immutable flag can stop a delete")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_delete_of_a_protected_file_is_refused(root: Path, store: FilesystemBackend) -> None:
    put_bytes(store, "a/k", b"x")
    with protected(root / "a" / "k"), pytest.raises(DeleteRefusedError) as caught:
        store.delete("a/k")
    assert caught.value.code == "STORAGE-DELETE-REFUSED"
    assert store.head("a/k") is not None


@pytest.mark.parametrize(
    "url",
    [
        "file://relative/path",
        "file:relative",
        "file://host.example.org/srv/archive",
        "file:///srv/archive?x=1",
        "file:///srv/archive#part",
    ],
)
def test_invalid_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FilesystemBackend(url)
    assert caught.value.code == "CONFIG-STORAGE-URL"


def test_the_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        FilesystemBackend((tmp_path / "unmounted").as_uri())
    assert caught.value.code == "CONFIG-STORAGE-ROOT"


def test_plain_and_localhost_urls_name_the_same_root(root: Path) -> None:
    for url in (root.as_uri(), f"file://localhost{root.as_uri()[len('file://') :]}"):
        assert FilesystemBackend(url).root == root
    assert FilesystemBackend(f"file://{root}").root == root  # unescaped, as config files write it


class _FailingSource(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        raise OSError("source gone")
