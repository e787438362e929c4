"""The one interface every storage location implements.

A location stores immutable objects under keys. Keys are ASCII paths made by this project from an
AIP's UUID (``<uuid>/data/METS.xml``); they never contain a producer's file name. Objects are
write-once: ``put`` refuses to overwrite. Every ``put`` is given the SHA-256 the bytes must have
and fails (leaving nothing behind) when the streamed bytes do not match.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from preservation.errors import StorageError

#: Keys are ASCII, '/'-separated, with no empty, '.' or '..' segment.
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")
MAX_KEY_LENGTH = 900


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`StorageError`."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise StorageError(f"object key has an invalid length: {key!r}", code="STORAGE-BAD-KEY")
    for segment in key.split("/"):
        if segment in (".", "..") or not _KEY_SEGMENT.match(segment):
            raise StorageError(f"unsafe object key: {key!r}", code="STORAGE-BAD-KEY")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """What a location knows about one object without reading it."""

    key: str
    size: int
    #: lower-case hex SHA-256 recorded at put time, when the backend keeps it; else None.
    sha256: str | None = None
    modified: datetime | None = None
    #: Object Lock retention end, where the backend has one.
    retain_until: datetime | None = None


@dataclass(frozen=True)
class Retention:
    """Object Lock retention to apply (S3 COMPLIANCE/GOVERNANCE); ignored where unsupported."""

    mode: str  # "COMPLIANCE" or "GOVERNANCE"
    until: datetime


class StorageBackend(abc.ABC):
    """A storage location: ``file://…``, ``s3://bucket/prefix`` …"""

    #: URL scheme this backend registers for.
    scheme: str = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @abc.abstractmethod
    def put(
        self,
        key: str,
        source: BinaryIO,
        *,
        size: int,
        sha256: str,
        retention: Retention | None = None,
    ) -> ObjectInfo:
        """Store the bytes read from ``source`` (until EOF) under ``key``.

        ``sha256`` (lower-case hex) and ``size`` are what the bytes must be; the backend checks
        them while streaming (and, for S3, asks the server to check too). On mismatch it raises
        :class:`ChecksumMismatchError` and no object exists under ``key`` afterwards. An existing
        object under ``key`` raises :class:`ObjectExistsError` (write-once).
        """

    @abc.abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream an object's bytes. Raises :class:`ObjectMissingError` if absent."""

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Size and recorded checksum of an object, or None when it does not exist."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, streamed (never the whole listing at once)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object where allowed; :class:`DeleteRefusedError` where the location refuses.

        Deleting an absent key is not an error.
        """

    def describe(self) -> str:
        """A human-readable name of the location (the URL without secrets)."""
        return self.url

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
