"""Streaming SHA-256: every byte read once, in fixed-size chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hex SHA-256 and byte count of everything left in ``stream``.

    Reads into one reusable buffer when the stream can (``readinto``), so hashing many objects
    does not allocate a fresh 1 MiB ``bytes`` per chunk.
    """
    h = hashlib.sha256()
    size = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size
    buffer = bytearray(CHUNK)
    with memoryview(buffer) as view:
        while n := readinto(buffer):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return sha256_stream(f)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
