"""The storage contract: every backend passes these same tests (``backend`` runs each kind).

What an archive relies on, whatever the medium: bytes come back exactly as written, an object is
never overwritten, a put whose bytes differ from what was announced leaves nothing behind,
listing streams, and keys are the safe ASCII paths ``check_key`` allows and nothing else.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import urlsplit

import pytest

from preservation.errors import (
    ChecksumMismatchError,
    ObjectExistsError,
    ObjectMissingError,
    StorageError,
)
from preservation.storage import ObjectInfo, StorageBackend, check_key

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1024 * 1024
#: Large enough to take the multipart path of the S3 fixture (threshold 5 MiB, 3 parts).
LARGE = 12 * MiB

Payload = Callable[..., bytes]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_bytes(backend: StorageBackend, key: str, data: bytes) -> ObjectInfo:
    return backend.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data))


def read_all(backend: StorageBackend, key: str) -> bytes:
    with backend.open(key) as stream:
        return stream.read()


def keys(backend: StorageBackend, prefix: str = "") -> set[str]:
    return {info.key for info in backend.list(prefix)}


class Trickle(io.RawIOBase):
    """A source that gives at most ``step`` bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int = 7_000) -> None:
        self._data = memoryview(data)
        self._step = step
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._step, len(self._data) - self._pos)
        view[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class Breaking(io.RawIOBase):
    """A source that fails after ``good`` bytes, like a disk that goes away mid-read."""

    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._left == 0:
            raise OSError("source broke")
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._left)
        view[:n] = b"\x01" * n
        self._left -= n
        return n


class Endless(io.RawIOBase):
    """A source that never ends, counting what was taken from it."""

    def __init__(self) -> None:
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        view[:] = b"\x02" * len(view)
        self.consumed += len(view)
        return len(view)


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65_537, LARGE], ids=["empty", "1B", "64KiB+1", "12MiB"])
def test_put_then_head_open_and_list_agree(
    backend: StorageBackend, payload: Payload, size: int
) -> None:
    data = payload(size)
    key = "0b7e6a2c/data/representations/rep1/file.bin"

    info = put_bytes(backend, key, data)

    assert (info.key, info.size, info.sha256) == (key, size, sha256_hex(data))
    head = backend.head(key)
    assert head is not None
    assert (head.key, head.size) == (key, size)
    assert head.sha256 in (None, sha256_hex(data))
    assert head.modified is not None and head.modified.tzinfo is not None
    assert read_all(backend, key) == data
    assert [(i.key, i.size) for i in backend.list("0b7e6a2c/")] == [(key, size)]


def test_open_streams_a_large_object_in_bounded_reads(
    backend: StorageBackend, payload: Payload
) -> None:
    data = payload(LARGE, seed=3)
    put_bytes(backend, "big/object", data)
    digest, total = hashlib.sha256(), 0
    with backend.open("big/object") as stream:
        while chunk := stream.read(MiB):
            assert len(chunk) <= MiB
            digest.update(chunk)
            total += len(chunk)
    assert (total, digest.hexdigest()) == (LARGE, sha256_hex(data))


def test_open_may_stop_early_and_the_location_stays_usable(
    backend: StorageBackend, payload: Payload
) -> None:
    data = payload(LARGE, seed=4)
    put_bytes(backend, "big/object", data)
    for _ in range(3):  # a leaked connection or file handle would show up on repetition
        with backend.open("big/object") as stream:
            assert stream.read(10) == data[:10]
    assert read_all(backend, "big/object") == data


@pytest.mark.parametrize("size", [100_000, LARGE], ids=["small", "12MiB"])
def test_put_accepts_a_source_that_returns_short_reads(
    backend: StorageBackend, payload: Payload, size: int
) -> None:
    data = payload(size, seed=5)
    backend.put("trickle/k", cast(BinaryIO, Trickle(data)), size=size, sha256=sha256_hex(data))
    assert read_all(backend, "trickle/k") == data


@pytest.mark.parametrize(
    "key", ["a", "0/1/2/3", "9f1c/data/METS.xml", "A-b_c.d@e+f=g", "x" * 200 + "/y" * 300]
)
def test_every_safe_key_round_trips(backend: StorageBackend, key: str) -> None:
    put_bytes(backend, key, key.encode())
    assert read_all(backend, key) == key.encode()
    assert keys(backend) == {key}


# -- write-once ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "12MiB"])
def test_put_never_overwrites(backend: StorageBackend, payload: Payload, size: int) -> None:
    first, second = payload(size, seed=1), payload(size, seed=2)
    put_bytes(backend, "k/once", first)
    with pytest.raises(ObjectExistsError) as caught:
        put_bytes(backend, "k/once", second)
    assert caught.value.code == "STORAGE-OBJECT-EXISTS"
    assert read_all(backend, "k/once") == first


def test_concurrent_puts_of_one_key_have_exactly_one_winner(backend: StorageBackend) -> None:
    writers = 8
    contents = [f"writer {i}\n".encode() * 5000 for i in range(writers)]
    start = threading.Barrier(writers)

    def attempt(i: int) -> int | None:
        start.wait()
        try:
            put_bytes(backend, "race/k", contents[i])
        except ObjectExistsError:
            return None
        return i

    with ThreadPoolExecutor(writers) as pool:
        winners = [i for i in pool.map(attempt, range(writers)) if i is not None]
    assert len(winners) == 1
    assert read_all(backend, "race/k") == contents[winners[0]]
    assert keys(backend) == {"race/k"}


# -- refused puts leave nothing -----------------------------------------------------------


@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "12MiB"])
@pytest.mark.parametrize("fault", ["wrong-sha256", "fewer-bytes", "more-bytes"])
def test_put_of_bytes_other_than_announced_leaves_nothing(
    backend: StorageBackend, payload: Payload, size: int, fault: str
) -> None:
    data = payload(size)
    announced_size, announced_sha256 = {
        "wrong-sha256": (size, sha256_hex(data + b"!")),
        "fewer-bytes": (size + 1, sha256_hex(data)),
        "more-bytes": (size - 1, sha256_hex(data)),
    }[fault]

    with pytest.raises(ChecksumMismatchError) as caught:
        backend.put("bad/k", io.BytesIO(data), size=announced_size, sha256=announced_sha256)

    assert caught.value.code == "STORAGE-CHECKSUM-MISMATCH"
    assert backend.head("bad/k") is None
    assert keys(backend) == set()
    put_bytes(backend, "bad/k", data)  # the key is still free
    assert read_all(backend, "bad/k") == data


@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "12MiB"])
def test_put_from_a_failing_source_raises_its_error_and_leaves_nothing(
    backend: StorageBackend, size: int
) -> None:
    with pytest.raises(OSError, match="source broke"):
        backend.put("broken/k", cast(BinaryIO, Breaking(size // 2)), size=size, sha256="0" * 64)
    assert backend.head("broken/k") is None
    assert keys(backend) == set()


def test_put_stops_reading_a_source_longer_than_announced(backend: StorageBackend) -> None:
    source = Endless()
    with pytest.raises(ChecksumMismatchError):
        backend.put(
            "endless/k", cast(BinaryIO, source), size=1000, sha256=sha256_hex(b"\x02" * 1000)
        )
    assert source.consumed <= 1000 + MiB
    assert backend.head("endless/k") is None


@pytest.mark.parametrize(
    "digest", ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, " " + "0" * 63, "0" * 64 + "\n"]
)
def test_put_refuses_a_malformed_sha256(backend: StorageBackend, digest: str) -> None:
    with pytest.raises(StorageError) as caught:
        backend.put("k", io.BytesIO(b"x"), size=1, sha256=digest)
    assert caught.value.code == "STORAGE-BAD-DIGEST"
    assert backend.head("k") is None


@pytest.mark.parametrize("size", [-1, 1.0, True])
def test_put_refuses_an_invalid_size(backend: StorageBackend, size: int) -> None:
    with pytest.raises(StorageError) as caught:
        backend.put("k", io.BytesIO(b"x"), size=size, sha256=sha256_hex(b"x"))
    assert caught.value.code == "STORAGE-BAD-SIZE"


# -- write sessions: durable=False, then sync(); verify_later ---------------------------------


def test_a_write_session_stores_every_object_readable_after_sync(
    backend: StorageBackend, payload: Payload
) -> None:
    """Puts with ``durable=False`` from several threads, one ``sync()``: every object is there
    with its bytes; ``sync`` again (nothing pending) and a durable put afterwards work too."""
    objects = {f"session/data/{i:03d}.bin": payload(1000 * i, seed=i) for i in range(24)}

    def put(item: tuple[str, bytes]) -> ObjectInfo:
        key, data = item
        return backend.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data),
                           durable=False)

    with ThreadPoolExecutor(4) as pool:
        infos = list(pool.map(put, objects.items()))
    assert [(i.key, i.size, i.sha256) for i in infos] == [
        (k, len(d), sha256_hex(d)) for k, d in objects.items()]
    backend.sync()
    backend.sync()
    assert {k: read_all(backend, k) for k in keys(backend, "session/")} == objects
    put_bytes(backend, "session/after", b"durable")
    assert read_all(backend, "session/after") == b"durable"


@pytest.mark.parametrize("fault", ["wrong-sha256", "fewer-bytes", "more-bytes"])
def test_a_write_session_put_is_checked_and_write_once_all_the_same(
    backend: StorageBackend, payload: Payload, fault: str
) -> None:
    data = payload(5000, seed=8)
    announced_size, announced_sha256 = {
        "wrong-sha256": (len(data), sha256_hex(data + b"!")),
        "fewer-bytes": (len(data) + 1, sha256_hex(data)),
        "more-bytes": (len(data) - 1, sha256_hex(data)),
    }[fault]
    with pytest.raises(ChecksumMismatchError):
        backend.put("s/bad", io.BytesIO(data), size=announced_size, sha256=announced_sha256,
                    durable=False)
    assert backend.head("s/bad") is None
    backend.put("s/k", io.BytesIO(data), size=len(data), sha256=sha256_hex(data), durable=False)
    with pytest.raises(ObjectExistsError):
        backend.put("s/k", io.BytesIO(b"other"), size=5, sha256=sha256_hex(b"other"),
                    durable=False)
    backend.sync()
    assert keys(backend) == {"s/k"} and read_all(backend, "s/k") == data


def _sources(data: bytes, folder: Path) -> dict[str, Callable[[], BinaryIO]]:
    """The same bytes as an in-memory stream and as a regular file (a backend may copy a file
    without reading it through Python)."""
    path = folder / "source.bin"
    path.write_bytes(data)
    return {"memory": lambda: io.BytesIO(data), "file": lambda: path.open("rb")}


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("size", [0, 70_000, LARGE], ids=["empty", "small", "12MiB"])
def test_verify_later_stores_exactly_the_source(
    backend: StorageBackend, payload: Payload, tmp_path: Path, kind: str, size: int
) -> None:
    data = payload(size, seed=9)
    with _sources(data, tmp_path)[kind]() as source:
        info = backend.put("v/k", source, size=size, sha256=sha256_hex(data), durable=False,
                           verify_later=True)
    backend.sync()
    assert (info.key, info.size) == ("v/k", size)
    assert read_all(backend, "v/k") == data


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("fault", ["fewer-bytes", "more-bytes"])
def test_verify_later_still_refuses_a_wrong_size_and_leaves_nothing(
    backend: StorageBackend, payload: Payload, tmp_path: Path, kind: str, fault: str
) -> None:
    data = payload(70_000, seed=10)
    size = len(data) + 1 if fault == "fewer-bytes" else len(data) - 1
    with _sources(data, tmp_path)[kind]() as source, pytest.raises(ChecksumMismatchError):
        backend.put("v/bad", source, size=size, sha256=sha256_hex(data), verify_later=True)
    assert backend.head("v/bad") is None and keys(backend) == set()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_verify_later_with_other_bytes_is_refused_or_left_for_the_read_back(
    backend: StorageBackend, payload: Payload, tmp_path: Path, kind: str
) -> None:
    """What the caller of ``verify_later`` relies on: S3 refuses (the server checks the
    SHA-256 of every put) and leaves nothing; file:// skips the hash and stores exactly the
    source's bytes — which the caller's read-back then finds differ from the SHA-256
    announced."""
    data = payload(70_000, seed=11)
    announced = sha256_hex(data + b"!")
    if backend.scheme == "s3":
        with (_sources(data, tmp_path)[kind]() as source,
              pytest.raises(ChecksumMismatchError)):
            backend.put("v/other", source, size=len(data), sha256=announced, verify_later=True)
        assert backend.head("v/other") is None
        return
    with _sources(data, tmp_path)[kind]() as source:
        backend.put("v/other", source, size=len(data), sha256=announced, verify_later=True)
    stored = read_all(backend, "v/other")
    assert stored == data and sha256_hex(stored) != announced


# -- listing ------------------------------------------------------------------------------


def test_list_streams_every_object_under_a_string_prefix(backend: StorageBackend) -> None:
    # 1,500 objects cross S3's page of 1,000 keys; the decoys share the prefix's first letters.
    many = [f"many/obj-{i:04d}" for i in range(1500)]
    others = ["many/sub/deep/x", "many-more/x", "manyx", "other/y"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: put_bytes(backend, key, key.encode()), many + others))

    listing = backend.list("many/")
    assert isinstance(listing, Iterator)
    infos = {info.key: info for info in listing}
    assert set(infos) == {*many, "many/sub/deep/x"}
    assert all(info.size == len(key) for key, info in infos.items())
    assert keys(backend, "many/sub/") == keys(backend, "many/sub/de") == {"many/sub/deep/x"}
    assert keys(backend, "many") == {*many, *others} - {"other/y"}
    assert keys(backend, "") == {*many, *others}
    assert keys(backend, "nothing/") == set()
    assert keys(backend, "many/obj-149") == {f"many/obj-149{i}" for i in range(10)}


# -- delete -------------------------------------------------------------------------------


def test_delete_removes_the_object_and_frees_the_key(backend: StorageBackend) -> None:
    put_bytes(backend, "d/k", b"first")
    put_bytes(backend, "d/keep", b"other")

    backend.delete("d/k")

    assert backend.head("d/k") is None
    with pytest.raises(ObjectMissingError):
        backend.open("d/k")
    assert keys(backend) == {"d/keep"}
    backend.delete("d/k")  # again: absent is fine
    put_bytes(backend, "d/k", b"second")
    assert read_all(backend, "d/k") == b"second"


def test_concurrent_puts_and_deletes_under_one_prefix_all_succeed(backend: StorageBackend) -> None:
    """Deletes that empty a prefix (a directory, on a filesystem) must not break puts into it."""

    def churn(writer: int) -> None:
        for i in range(25):
            key = f"shared/prefix/{writer}-{i}"
            put_bytes(backend, key, key.encode())
            assert read_all(backend, key) == key.encode()
            backend.delete(key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(churn, range(8)))
    assert keys(backend) == set()


def test_delete_of_an_absent_key_is_not_an_error(backend: StorageBackend) -> None:
    backend.delete("never/was/here")
    assert keys(backend) == set()


# -- missing objects ----------------------------------------------------------------------


def test_missing_objects(backend: StorageBackend) -> None:
    put_bytes(backend, "dir/k", b"x")
    for absent in ("no/such/key", "dir", "dir/k/deeper"):
        assert backend.head(absent) is None
        with pytest.raises(ObjectMissingError) as caught:
            backend.open(absent)
        assert caught.value.code == "STORAGE-OBJECT-MISSING"


# -- unsafe keys --------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "abc/def\n",  # a regular expression's $ would accept the newline
    "abc\n/def",
    "/absolute",
    "trailing/",
    "a//b",
    "..",
    "a/../b",
    ".",
    "a/./b",
    ".hidden",
    "a/.tmp-x",
    "tên/x",
    "ü",
    "a b",
    "a\\b",
    "a\x00b",
    "~",
    "C:/x",
    "x" * 901,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_by_every_operation(backend: StorageBackend, key: str) -> None:
    operations: list[Callable[[], object]] = [
        lambda: put_bytes(backend, key, b"x"),
        lambda: backend.head(key),
        lambda: backend.open(key),
        lambda: backend.delete(key),
    ]
    for operation in operations:
        with pytest.raises(StorageError) as caught:
            operation()
        assert caught.value.code == "STORAGE-BAD-KEY"
    assert keys(backend) == set()


@pytest.mark.parametrize("key", ["abc/def\n", "abc\n", "a/b\n/c"])
def test_check_key_refuses_a_trailing_newline(key: str) -> None:
    with pytest.raises(StorageError) as caught:
        check_key(key)
    assert caught.value.code == "STORAGE-BAD-KEY"


@pytest.mark.parametrize("prefix", ["../", "/", "a//", ".", "ü/", "a/../"])
def test_unsafe_list_prefixes_are_refused(backend: StorageBackend, prefix: str) -> None:
    with pytest.raises(StorageError) as caught:
        list(backend.list(prefix))
    assert caught.value.code == "STORAGE-BAD-KEY"


# -- naming -------------------------------------------------------------------------------


def test_backend_names_its_location(backend: StorageBackend) -> None:
    assert urlsplit(backend.url).scheme == backend.scheme
    assert backend.describe()
