"""The temporary SQLite file behind a :class:`preservation.diskmap.DiskMap` past its ``keep``.

One table ``m(id, k, v)``: ``id`` gives insertion order, ``k`` is the key's UTF-8 bytes (unique),
``v`` the marshalled value. Writes go in batches (one transaction); a key already there keeps its
row, hence its place, as in a dict. A process forked while the map is
on disk reads it through its own read-only connection. Every failure is a
:class:`~preservation.spooled.SpoolError`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from preservation.spooled import SpoolError

#: The SQLite page cache of one connection, in KiB: what a map on disk may keep in memory.
CACHE_KIB = 2048



class Database:
    """The SQLite file of one map."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.owner = os.getpid()
        try:
            self.folder = tempfile.mkdtemp(prefix="preservation-map-")
        except OSError as error:
            raise SpoolError(f"cannot make a temporary folder for the {what}s: "
                             f"{error.strerror or error}") from error
        self.path = os.path.join(self.folder, "map.sqlite")
        self._lock = threading.Lock()
        self._lock_pid = self.owner
        self._connections: dict[int, sqlite3.Connection] = {}
        self._finalizer = weakref.finalize(self, _remove, self.owner, self.folder,
                                           self._connections)
        with self._failing("create"):
            db = self.connection()
            db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB)")

    @property
    def lock(self) -> threading.Lock:
        """The lock of this process (a forked child gets a new one: the parent's may have been
        held by another thread at the fork)."""
        pid = os.getpid()
        if pid != self._lock_pid:
            self._lock, self._lock_pid = threading.Lock(), pid
        return self._lock

    def connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        db = self._connections.get(pid)
        if db is None:
            if pid == self.owner:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=OFF")
                db.execute("PRAGMA synchronous=OFF")
            else:  # a forked child: its own connection, reading only
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                     isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._connections[pid] = db
        return db

    def _failing(self, doing: str) -> Failing:
        return Failing(self.what, doing)

    def run(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        with self.lock, self._failing("read" if sql.startswith("SELECT") else "write"):
            return self.connection().execute(sql, tuple(parameters)).fetchall()

    def one(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        """The first row ``sql`` selects, or None (a lookup: the shortest path)."""
        try:
            with self.lock:
                return self.connection().execute(sql, parameters).fetchone()
        except (sqlite3.Error, OSError) as error:
            raise SpoolError(f"cannot read the temporary file of the {self.what}s: "
                             f"{error}") from error

    def upsert(self, rows: Iterable[tuple[bytes, bytes]]) -> int:
        """Write ``(key, value)`` rows in one transaction; how many keys were new."""
        with self.lock:
            return self.upsert_locked(rows)

    def upsert_locked(self, rows: Iterable[tuple[bytes, bytes]]) -> int:
        """:meth:`upsert`, the caller holding :attr:`lock`."""
        added = 0
        with self._failing("write"):
            db = self.connection()
            db.execute("BEGIN")
            try:
                for key, value in rows:  # mostly new keys: one statement each
                    if db.execute("INSERT OR IGNORE INTO m (k, v) VALUES (?, ?)",
                                  (key, value)).rowcount:
                        added += 1
                    else:  # a key already there keeps its place, as in a dict
                        db.execute("UPDATE m SET v = ? WHERE k = ?", (value, key))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return added

    def close(self) -> None:
        self._finalizer()


class Failing:
    """Turns a database failure into :class:`SpoolError`."""

    def __init__(self, what: str, doing: str) -> None:
        self.what, self.doing = what, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: Any) -> None:
        if isinstance(error, (sqlite3.Error, OSError)):
            raise SpoolError(f"cannot {self.doing} the temporary file of the {self.what}s: "
                             f"{error}") from error


def _remove(owner: int, folder: str, connections: dict[int, sqlite3.Connection]) -> None:
    for db in connections.values():
        with contextlib.suppress(sqlite3.Error):
            db.close()
    connections.clear()
    if os.getpid() == owner:  # a forked child never removes its parent's file
        shutil.rmtree(folder, ignore_errors=True)
