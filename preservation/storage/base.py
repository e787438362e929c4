"""The one interface every storage location implements.

A location stores immutable objects under keys. Keys are ASCII paths made by this project from an
AIP's UUID (``<uuid>/data/METS.xml``); they never contain a producer's file name. Objects are
write-once: ``put`` refuses to overwrite. Every ``put`` is given the SHA-256 the bytes must have
and fails (leaving nothing behind) when the streamed bytes do not match — except where the
caller took that check on itself (``verify_later``: it reads the object back and hashes it).

Write sessions: ``put(..., durable=False)`` returns without waiting for stable storage and
``sync()`` then makes all such objects durable at once (see :meth:`StorageBackend.put`).
"""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from preservation.errors import ChecksumMismatchError, StorageError

#: Keys are ASCII, '/'-separated, with no empty, '.' or '..' segment.
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")
MAX_KEY_LENGTH = 900
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`StorageError`."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise StorageError(f"object key has an invalid length: {key!r}", code="STORAGE-BAD-KEY")
    for segment in key.split("/"):
        if segment in (".", "..") or not _KEY_SEGMENT.fullmatch(segment):
            raise StorageError(f"unsafe object key: {key!r}", code="STORAGE-BAD-KEY")
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if some valid key can start with it (``""``, ``"a"``, ``"a/"``, ``"a/b"``).

    Listing compares plain strings (``"ab"`` matches ``"abc/x"``), but a prefix that no key can
    have, such as ``"../"``, is refused rather than answered with nothing.
    """
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_sha256(value: str) -> str:
    """Return ``value`` if it is a lower-case hex SHA-256, else raise :class:`StorageError`."""
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise StorageError(f"not a lower-case hex SHA-256: {value!r}", code="STORAGE-BAD-DIGEST")
    return value


class StreamVerifier:
    """Reads the source of a ``put`` while counting and hashing, as every backend must.

    ``read`` refuses (with :class:`ChecksumMismatchError`) as soon as the source gives more
    bytes than announced, so a wrong ``size`` never makes a backend buffer or send unbounded
    data; ``finish`` checks the end of the stream, the size and the SHA-256.
    """

    def __init__(self, source: BinaryIO, *, key: str, size: int, sha256: str,
                 hashing: bool = True) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise StorageError(f"invalid object size {size!r}", code="STORAGE-BAD-SIZE")
        self.key = key
        self.size = size
        self.sha256 = check_sha256(sha256)
        self.count = 0
        self._source = source
        #: None when the caller checks the SHA-256 itself (``put(..., verify_later=True)``)
        self._hash = hashlib.sha256() if hashing else None
        self._eof = False

    def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the source (fewer only at its end), hashed and counted.

        Never more is asked of the source than the bytes still announced and one more (to find a
        source that is too long): a 4 KiB object is not read with a 1 MiB request, whose buffer
        a worker thread's malloc arena would keep."""
        chunks: list[bytes] = []
        wanted = min(limit, self.size - self.count + 1)
        while wanted > 0 and not self._eof:
            chunk = self._source.read(wanted)
            if not chunk:
                self._eof = True
                break
            self.count += len(chunk)
            if self.count > self.size:
                raise ChecksumMismatchError(
                    f"source of {self.key} is longer than the announced {self.size} bytes",
                    location=self.key,
                )
            if self._hash is not None:
                self._hash.update(chunk)
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def finish(self) -> None:
        """After the last ``read``: the source must be exhausted and match size and SHA-256
        (the size only, when made with ``hashing=False``).

        A byte still left in the source fails the put, whatever the count: it was never handed
        to the backend, so storing what was read would silently lose it.
        """
        if not self._eof and self._source.read(1):
            raise ChecksumMismatchError(
                f"source of {self.key} is longer than the announced {self.size} bytes",
                location=self.key,
            )
        self._eof = True
        if self.count != self.size:
            raise ChecksumMismatchError(
                f"source of {self.key} has {self.count} bytes, announced {self.size}",
                location=self.key,
            )
        if self._hash is None:
            return  # the caller checks the SHA-256 (verify_later)
        digest = self._hash.hexdigest()
        if digest != self.sha256:
            raise ChecksumMismatchError(
                f"source of {self.key} has SHA-256 {digest}, announced {self.sha256}",
                location=self.key,
            )


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
        durable: bool = True,
        verify_later: bool = False,
    ) -> ObjectInfo:
        """Store the bytes read from ``source`` (until EOF) under ``key``.

        ``sha256`` (lower-case hex) and ``size`` are what the bytes must be; the backend checks
        them while streaming (and, for S3, asks the server to check too). On mismatch it raises
        :class:`ChecksumMismatchError` and no object exists under ``key`` afterwards. An existing
        object under ``key`` raises :class:`ObjectExistsError` (write-once).

        ``durable=False`` opens (or joins) a *write session*: the object is written, checked and
        published exactly as above, but the backend may return before it is on stable storage;
        :meth:`sync` then makes every object so put since the last ``sync`` durable at once, or
        raises. Until ``sync`` returns, a crash or power cut may lose such an object, or leave
        its key published with missing or torn contents (the name reached the disk, the bytes
        did not), so a caller relies on it only after ``sync``, and only puts this way objects
        it checks again after a crash (ingest: its AIP's objects, synced before they are read
        back and registered; a resumed ingest reads back every object it keeps, and a new one
        deletes those of an unfinished attempt). This is independent of the location's
        own configuration; everything written with the default ``durable=True`` (events, fonds
        records, repairs) is durable when ``put`` returns, whatever sessions are open.

        ``verify_later=True`` is the caller's promise to read the object back, hash it and
        compare with ``sha256`` before it relies on the object, and to delete it if they differ
        (ingest does, for the objects under its new AIP's prefix, after ``sync``). The backend
        may then skip hashing the stream: the file backend does (it still checks the size; a
        source with other bytes of the right size is published and found by the read-back);
        S3 does not (the server checks ``ChecksumSHA256`` anyway). Never use it for an object
        no cleanup of the caller would delete.
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

    def pending(self, key: str) -> None:  # noqa: B027 - optional hook
        """Count the object already under ``key`` in the current write session: the next
        :meth:`sync` makes it durable too.

        For an object found on the location rather than put now (a resumed ingest keeps what
        an interrupted attempt stored, possibly with ``durable=False`` and never synced). A
        backend whose objects are durable once stored (S3) has nothing to do.
        """

    def sync(self) -> None:  # noqa: B027 - optional hook
        """Make every object this backend has put durable before returning.

        Objects put with ``durable=False`` or named to :meth:`pending`, and every object of a
        filesystem location configured with ``durability="deferred"``, are flushed here; a
        failure to do so raises :class:`StorageError` (code ``STORAGE-SYNC-FAILED``) and those
        objects must be taken as lost. A backend whose ``put`` is always durable when it
        returns (S3: an acknowledged PUT is stored) has nothing to do. Safe to call from
        several threads and more than once.
        """

    def describe(self) -> str:
        """A human-readable name of the location (the URL without secrets)."""
        return self.url

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
