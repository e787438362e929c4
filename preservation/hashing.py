"""Streaming SHA-256: every byte read once, in fixed-size chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


def sha256_stream(stream: BinaryIO, expected: int | None = None) -> tuple[str, int]:
    """Hex SHA-256 and byte count of everything left in ``stream``.

    Reads into one reusable buffer when the stream can (``readinto``), so hashing many objects
    does not allocate a fresh 1 MiB ``bytes`` per chunk. ``expected``: the size the stream
    should have; the buffer is then no larger than that and one byte more (a fresh 1 MiB buffer
    per 4 KiB object, read by worker threads, is what their malloc arenas keep, fragmented, as
    the count grows). A stream longer than expected is still read to its end, in ``CHUNK``s.
    """
    h = hashlib.sha256()
    size = 0
    length = CHUNK if expected is None else min(CHUNK, max(expected, 0) + 1)
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(length):
            h.update(chunk)
            size += len(chunk)
            length = CHUNK if size > (expected or 0) else length
        return h.hexdigest(), size
    buffer = bytearray(length)
    view = memoryview(buffer)
    try:
        while n := readinto(buffer):
            h.update(view[:n])
            size += n
            if len(buffer) < CHUNK and expected is not None and size > expected:
                view.release()  # longer than it should be: read the rest in full chunks
                buffer = bytearray(CHUNK)
                view = memoryview(buffer)
    finally:
        view.release()
    return h.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return sha256_stream(f)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
