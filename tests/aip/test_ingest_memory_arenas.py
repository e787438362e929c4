"""What an ingest's storage threads allocate per object stays small and short-lived, so that
their malloc arenas do not grow with the file count (issue 4, SCALE):

- the file location builds an object's file name as a string, never a ``Path`` (which would
  intern the key's names: a new interned name per object grows and rebuilds the interpreter's
  table of interned strings, several MiB, in whichever worker thread's arena it happens);
- the read-back (:func:`preservation.hashing.sha256_stream`) and a put's stream
  (:class:`preservation.storage.base.StreamVerifier`) ask for no more bytes than the object
  has and one more, never a 1 MiB buffer for a 4 KiB object; both still find a source that is
  longer or shorter than announced.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from preservation.errors import ChecksumMismatchError
from preservation.hashing import CHUNK, sha256_stream
from preservation.storage import durability
from preservation.storage.base import StreamVerifier
from preservation.storage.filesystem import FilesystemBackend


class Recording(io.RawIOBase):
    """A readable stream of ``data`` that records how many bytes each call asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
        self.position = 0
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        self.asked.append(len(view))
        chunk = self.data[self.position:self.position + len(view)]
        view[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


@pytest.mark.parametrize("size", [0, 1, 4096, CHUNK - 1, CHUNK, CHUNK + 5])
def test_sha256_stream_reads_into_a_buffer_no_larger_than_the_object(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    stream = Recording(data)
    assert sha256_stream(stream, size) == (  # type: ignore[arg-type]
        hashlib.sha256(data).hexdigest(), size)
    assert max(stream.asked) == min(CHUNK, size + 1)


@pytest.mark.parametrize(("recorded", "actual"), [(4096, 5000), (4096, 100), (0, 3)])
def test_sha256_stream_counts_an_object_of_another_length_to_its_end(
        recorded: int, actual: int) -> None:
    data = b"x" * actual
    assert sha256_stream(Recording(data), recorded) == (  # type: ignore[arg-type]
        hashlib.sha256(data).hexdigest(), actual)
    assert sha256_stream(io.BytesIO(data), recorded)[1] == actual  # also through ``read``


def test_sha256_stream_reads_a_stream_longer_than_expected_in_full_chunks() -> None:
    data = bytes(range(256)) * (3 * CHUNK // 256)  # 3 MiB recorded as empty
    stream = Recording(data)
    assert sha256_stream(stream, 0) == (  # type: ignore[arg-type]
        hashlib.sha256(data).hexdigest(), len(data))
    assert stream.asked[0] == 1 and set(stream.asked[1:]) == {CHUNK}  # not 3 million reads


def verifier(data: bytes, size: int) -> tuple[StreamVerifier, Recording]:
    source = Recording(data)
    return StreamVerifier(source, key="k", size=size,  # type: ignore[arg-type]
                          sha256=hashlib.sha256(data).hexdigest()), source


def test_a_put_asks_its_source_for_the_announced_bytes_and_one_more() -> None:
    check, source = verifier(b"a" * 4096, 4096)
    assert check.read(CHUNK) == b"a" * 4096
    assert check.read(CHUNK) == b""
    check.finish()
    assert max(source.asked) == 4097


@pytest.mark.parametrize(("data", "size"), [(b"a" * 4097, 4096), (b"a" * 10, 4096)])
def test_a_put_still_refuses_a_source_longer_or_shorter_than_announced(
        data: bytes, size: int) -> None:
    check, _ = verifier(data, size)
    with pytest.raises(ChecksumMismatchError):
        while check.read(CHUNK):
            pass
        check.finish()


def test_a_put_still_reads_exactly_the_limit_asked_for() -> None:
    """Parts (S3 multipart) need ``read(limit)`` to give ``limit`` bytes but at the end."""
    check, _ = verifier(b"b" * 1000, 1000)
    assert [len(check.read(300)) for _ in range(5)] == [300, 300, 300, 100, 0]
    check.finish()


def watch_interning(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    interned: list[str] = []
    real: Callable[[str], str] = sys.intern

    def recording(name: str) -> str:
        interned.append(name)
        return real(name)

    monkeypatch.setattr(sys, "intern", recording)
    return interned


@pytest.mark.parametrize("durable", [True, False])
@pytest.mark.parametrize("syncfs", [True, False])
def test_the_file_location_interns_no_name_of_an_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncfs: bool) -> None:
    if not syncfs:
        monkeypatch.setattr(durability, "SYNCFS", None)
    root = tmp_path / "store"
    root.mkdir()
    store = FilesystemBackend(root.as_uri())
    interned = watch_interning(monkeypatch)
    data = b"payload"
    for name in ("obj-0001.bin", "obj-0002.bin"):
        key = f"aip-uuid/data/rep/{name}"
        store.put(key, io.BytesIO(data), size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), durable=durable, verify_later=True)
        with store.open(key) as stream:
            assert stream.read() == data
        assert store.head(key) is not None
        store.pending(key)
    store.sync()
    store.delete("aip-uuid/data/rep/obj-0001.bin")
    assert not [n for n in interned if n.startswith(("obj-", ".tmp-"))]
    assert [info.key for info in store.list("aip-uuid/")] == ["aip-uuid/data/rep/obj-0002.bin"]
    store.close()
