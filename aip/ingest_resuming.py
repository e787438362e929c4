"""A storage location as an ingest writes to it: every put noted in the staging journal, and
what an interrupted attempt of the same ingest already stored kept instead of sent again (see
:mod:`aip.ingest_staging` for the staging folder and its journal)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from aip.ingest_early import EarlyCopies
from aip.ingest_staging import Staging
from preservation.hashing import sha256_stream
from preservation.storage import ObjectInfo, Retention, StorageBackend

log = logging.getLogger(__name__)

def same_object(backend: StorageBackend, info: ObjectInfo, size: int, sha256: str) -> bool:
    """True when the stored object has this size and SHA-256 (read when HEAD gives none)."""
    if info.size != size:
        return False
    if info.sha256 is not None:
        return info.sha256 == sha256
    with backend.open(info.key) as stream:
        return sha256_stream(stream, size) == (sha256, size)


class ReadKeys:
    """The keys of one location whose bytes this run already read and checked (objects kept on
    resume where HEAD gives no SHA-256), so that the read-back does not read them again.

    Held out of memory, in a private temporary SQLite database (its page cache is bounded; the
    file goes when it is closed), made at the first key: an ingest resumed after 100,000
    objects were stored does not hold 100,000 keys. Only an optimisation: a key it cannot
    record (the temporary folder unwritable) is simply read again by the read-back. Safe to use
    from several threads at once.
    """

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._failed = False
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            if self._failed:
                return
            try:
                if self._db is None:
                    self._db = _private_database()
                self._db.execute("INSERT OR IGNORE INTO keys VALUES (?)", (key,))
            except sqlite3.Error as e:
                log.warning("cannot note that %s was read already (%s): the read-back reads "
                            "it again", key, e)
                self._failed = True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            if self._db is None or self._failed:
                return False
            try:
                found = self._db.execute("SELECT 1 FROM keys WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return False
            return found is not None

    def close(self) -> None:
        """Delete the keys; a later :meth:`add` notes nothing (the read-back reads again)."""
        with self._lock:
            self._failed = True
            if self._db is not None:
                self._db.close()
                self._db = None


def _private_database() -> sqlite3.Connection:
    """An empty temporary SQLite set of keys, deleted when closed (nothing made durable)."""
    db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
    except BaseException:
        db.close()
        raise
    return db


class Cancelled(Exception):
    """Work refused because the ingest already failed elsewhere (another object or location);
    the ingest raises that first failure, never this."""


class ResumingBackend(StorageBackend):
    """A location as an ingest writes to it: every put is noted in the staging journal.

    When the staging folder is a resumed one, an object already under the key with the right
    size and SHA-256 is kept (not sent again, but made durable as the put would have: named to
    the location's :meth:`~StorageBackend.pending`, synced at once for a durable put); one
    with other bytes (metadata an earlier attempt built differently, or a torn write) is
    deleted and stored anew — it belongs to this very AIP, which no catalog knows yet.

    Thread safety: an ingest writes all its locations at once, each with several threads. Each
    location has its own ``ResumingBackend`` (``read_back`` is per location, and locked);
    what they share is the staging folder, whose journal lines are written under its lock
    (:meth:`Staging.note`), one whole line at a time, and the ``abort`` event: once
    set (the first failure anywhere), every later ``put`` and ``open`` of every location of the
    ingest raises :class:`Cancelled` instead of working, so a failed ingest stops at once and
    its cleanup never races with a put still running.
    """

    def __init__(self, inner: StorageBackend, staging: Staging, location: str,
                 abort: threading.Event | None = None, early: EarlyCopies | None = None
                 ) -> None:
        super().__init__(inner.url)
        self.scheme = inner.scheme
        self.inner = inner
        self.staging = staging
        self.location = location
        self.abort = abort if abort is not None else threading.Event()
        #: keys kept in this run after their bytes were read and checked (out of memory)
        self.read_back = ReadKeys()
        self.early = early or EarlyCopies()

    def early_copy(self, source: Path | None, size: int) -> str | None:
        """The complete early copy of the transfer's file ``source`` in this location's
        incoming area (:mod:`aip.ingest_early`), to :meth:`adopt`; None: put the bytes."""
        return self.early.take(self.location, source, size)

    def check_running(self) -> None:
        """Raise :class:`Cancelled` once the ingest has failed somewhere."""
        if self.abort.is_set():
            raise Cancelled(f"{self.location}: the ingest failed elsewhere")

    def put(self, key: str, source: BinaryIO, *, size: int, sha256: str,
            retention: Retention | None = None, durable: bool = True,
            verify_later: bool = False) -> ObjectInfo:
        self.check_running()
        kept = self._kept(key, size, sha256, durable)
        if kept is not None:
            return kept
        stored = self.inner.put(key, source, size=size, sha256=sha256, retention=retention,
                                durable=durable, verify_later=verify_later)
        self.staging.note("stored", self.location, key, size, sha256)
        return stored

    def adopt(self, key: str, path: str, *, size: int, sha256: str,
              durable: bool = True) -> bool:
        """Publish a file of a filesystem location's incoming area under ``key``
        (:meth:`FilesystemBackend.adopt`), noted as a put is; False (nothing done) where the
        location cannot, and the caller puts the bytes instead. Unhashed, as a
        ``verify_later`` put: the read-back checks the SHA-256."""
        self.check_running()
        adopt = getattr(self.inner, "adopt", None)
        if adopt is None:
            return False
        if self._kept(key, size, sha256, durable) is not None:
            return True
        if not adopt(key, path, size=size, durable=durable):
            return False
        self.staging.note("stored", self.location, key, size, sha256)
        return True

    def _kept(self, key: str, size: int, sha256: str, durable: bool) -> ObjectInfo | None:
        """On a resumed ingest, the object an interrupted attempt already stored under ``key``
        with these bytes, kept (and made durable); one with other bytes is deleted. None when
        the key is to be written."""
        if not self.staging.resumed:
            return None
        info = self.inner.head(key)
        if info is None:
            return None
        if not same_object(self.inner, info, size, sha256):
            self.inner.delete(key)
            return None
        if info.sha256 is None:
            self.read_back.add(key)
        # stored by the interrupted attempt, perhaps never flushed: this run's sync (for a
        # durable put, one now) makes it durable like a new object
        self.inner.pending(key)
        if durable:
            self.inner.sync()
        self.staging.note("kept", self.location, key, size, sha256)
        return info

    def verified(self, key: str, size: int, sha256: str) -> None:
        self.staging.note("verified", self.location, key, size, sha256)

    def pending(self, key: str) -> None:
        self.inner.pending(key)

    def sync(self) -> None:
        self.check_running()
        self.inner.sync()

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        self.check_running()
        return self.inner.open(key)

    def head(self, key: str) -> ObjectInfo | None:
        return self.inner.head(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def describe(self) -> str:
        return self.inner.describe()

    def close(self) -> None:
        self.read_back.close()
        self.inner.close()
