"""A reproducible stream of any size, made on the fly: large objects without large files.

Used by tests/storage/test_large_objects.py and benchmarks/large_file.py.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

from preservation.hashing import sha256_stream

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1024 * 1024


class GeneratedStream(io.RawIOBase):
    """``size`` reproducible bytes made on the fly: 1 MiB blocks, each stamped with its index."""

    def __init__(self, size: int, seed: int = 7) -> None:
        super().__init__()
        self.size = size
        self.position = 0
        self._block = hashlib.shake_256(seed.to_bytes(4, "big")).digest(MiB)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.size - self.position)
        done = 0
        while done < n:
            index, offset = divmod(self.position + done, MiB)
            block = index.to_bytes(8, "big") + self._block[8:]
            take = min(n - done, MiB - offset)
            view[done:done + take] = block[offset:offset + take]
            done += take
        self.position += n
        return n


def stream_of(size: int) -> io.BufferedReader:
    return io.BufferedReader(GeneratedStream(size), buffer_size=MiB)


def digest_of(size: int) -> str:
    """The SHA-256 of the ``size``-byte generated stream (read once, never held whole)."""
    return sha256_stream(stream_of(size))[0]
