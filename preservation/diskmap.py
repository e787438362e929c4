"""A dict by file path that keeps flat memory however many files a transfer has.

:class:`DiskMap` is a :class:`~collections.abc.MutableMapping` from ``str`` to records. While it
holds at most ``keep`` keys (default :data:`preservation.spooled.KEEP`) it is a plain ``dict``;
when one more key comes, every entry moves to a temporary SQLite database, whose page cache is
bounded (:data:`CACHE_KIB`), and stays there. A transfer of up to ``keep`` files costs nothing
more than a dict; a larger one costs a SQLite query per lookup (a few microseconds) and no
memory per file.

- Keys are any ``str`` (lone surrogates of undecodable file names too), stored as their UTF-8
  bytes (``surrogatepass``), whose order is the code-point order of ``str``.
- Values go through ``encode`` to something :mod:`marshal` can store and back through
  ``decode``; a value must compare equal after the round trip (the default keeps plain values:
  str, int, bytes, None, tuples of them).
- Iteration is in insertion order, as for a dict (``order="insertion"``), or sorted by key
  (``order="key"``, as ``sorted(d)``). Past ``keep`` it reads pages of :data:`PAGE` rows,
  each page after the last key seen, so changing the map between two pages does not break the
  iteration (a dict would raise; here a key added behind the cursor is simply seen or not).
- Threads may share one map (a lock serialises the database). A process forked while the map is
  on disk reads it through its own connection (read-only); it must not write to it.
- :meth:`close` (or the end of the map, or of the process that made it) removes the database.

A write that fails (the temporary folder full or unwritable) raises
:class:`~preservation.spooled.SpoolError` (``SPOOL-FAILED``), never an ``OSError`` that could be
mistaken for a problem of a file being ingested.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, ItemsView, Iterable, Iterator, MutableMapping, ValuesView
from typing import Any, Generic, Literal, TypeVar

from preservation.spooled import KEEP, SpoolError

V = TypeVar("V")

#: Rows read per query when iterating a map on disk.
PAGE = 512
#: The SQLite page cache of one connection, in KiB: what a map on disk may keep in memory.
CACHE_KIB = 2048

_MISSING = object()


def _same(value: Any) -> Any:
    return value


def _key(key: str) -> bytes:
    if not isinstance(key, str):
        raise TypeError(f"DiskMap keys are str, not {type(key).__name__}")
    return key.encode("utf-8", "surrogatepass")


def _text(key: bytes) -> str:
    return key.decode("utf-8", "surrogatepass")


class _Database:
    """The SQLite file of one map: a table ``m(id, k, v)``, ``id`` giving insertion order."""

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

    def _failing(self, doing: str) -> _Failing:
        return _Failing(self.what, doing)

    def run(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        with self.lock, self._failing("read" if sql.startswith("SELECT") else "write"):
            return self.connection().execute(sql, tuple(parameters)).fetchall()

    def upsert(self, rows: Iterable[tuple[bytes, bytes]]) -> int:
        """Write ``(key, value)`` rows in one transaction; how many keys were new."""
        added = 0
        with self.lock, self._failing("write"):
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


class _Failing:
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


class DiskMap(MutableMapping[str, V], Generic[V]):
    """A ``dict`` of at most ``keep`` keys in memory; past that, every entry in a temporary
    SQLite file (see the module notes)."""

    def __init__(self, items: Iterable[tuple[str, V]] = (), *,
                 encode: Callable[[V], Any] = _same, decode: Callable[[Any], V] = _same,
                 keep: int = KEEP, order: Literal["insertion", "key"] = "insertion",
                 what: str = "file record") -> None:
        if order not in ("insertion", "key"):
            raise ValueError(f"order must be 'insertion' or 'key', not {order!r}")
        self._encode, self._decode = encode, decode
        self._keep, self._order, self._what = keep, order, what
        self._memory: dict[str, V] | None = {}
        self._sorted: list[str] | None = None  # the memory's keys sorted, for order="key"
        self._db: _Database | None = None
        self._count = 0
        self.update(items)

    # --- where the entries are --------------------------------------------------------------

    @property
    def on_disk(self) -> bool:
        """Whether the entries have moved to the temporary database."""
        return self._db is not None

    def _spill(self, more: Iterable[tuple[str, V]] = ()) -> _Database:
        """Move every entry to a new database (and ``more`` after them)."""
        db = _Database(self._what)
        memory = self._memory or {}
        encode = self._encode

        def rows() -> Iterator[tuple[bytes, bytes]]:
            for key, value in memory.items():
                yield _key(key), marshal.dumps(encode(value))
            for key, value in more:
                yield _key(key), marshal.dumps(encode(value))

        self._count = db.upsert(rows())
        self._db, self._memory, self._sorted = db, None, None
        return db

    # --- the mapping ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._memory) if self._memory is not None else self._count

    def __getitem__(self, key: str) -> V:
        if self._memory is not None:
            return self._memory[key]
        assert self._db is not None
        rows = self._db.run("SELECT v FROM m WHERE k = ?", (_key(key),))
        if not rows:
            raise KeyError(key)
        return self._decode(marshal.loads(rows[0][0]))

    def __contains__(self, key: object) -> bool:
        if self._memory is not None:
            return key in self._memory
        if not isinstance(key, str):
            return False
        assert self._db is not None
        return bool(self._db.run("SELECT 1 FROM m WHERE k = ?", (_key(key),)))

    def __setitem__(self, key: str, value: V) -> None:
        memory = self._memory
        if memory is not None:
            if key in memory or len(memory) < self._keep:
                if key not in memory:
                    _key(key)  # refuse a key that is not str now, not when spilled
                    self._sorted = None
                memory[key] = value
                return
            self._spill(((key, value),))
            return
        assert self._db is not None
        self._count += self._db.upsert(((_key(key), marshal.dumps(self._encode(value))),))

    def __delitem__(self, key: str) -> None:
        if self._memory is not None:
            del self._memory[key]
            self._sorted = None
            return
        assert self._db is not None
        with self._db.lock, self._db._failing("write"):
            deleted = self._db.connection().execute(
                "DELETE FROM m WHERE k = ?", (_key(key),)).rowcount
        if not deleted:
            raise KeyError(key)
        self._count -= 1

    def update(self, other: Any = (), /, **kwargs: V) -> None:
        """As ``dict.update``; many new keys at once go to the database in one transaction."""
        pairs: Iterable[tuple[str, V]] = (
            other.items() if hasattr(other, "items") else other)
        iterator = iter(pairs)
        for key, value in iterator:
            if self._memory is not None and key not in self._memory \
                    and len(self._memory) >= self._keep:
                self._spill(_chain_one((key, value), iterator))
                break
            if self._db is not None:
                self._upsert(_chain_one((key, value), iterator))
                break
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def _upsert(self, pairs: Iterable[tuple[str, V]]) -> None:
        assert self._db is not None
        encode = self._encode
        self._count += self._db.upsert((_key(k), marshal.dumps(encode(v))) for k, v in pairs)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """As ``dict.pop``."""
        if self._memory is not None:
            if key in self._memory:
                self._sorted = None
            if default is _MISSING:
                return self._memory.pop(key)
            return self._memory.pop(key, default)
        try:
            value = self[key]
        except KeyError:
            if default is _MISSING:
                raise
            return default
        del self[key]
        return value

    def clear(self) -> None:
        """Forget every entry (and the database, if there is one)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._memory, self._sorted, self._count = {}, None, 0

    def close(self) -> None:
        """:meth:`clear`: the temporary database is removed."""
        self.clear()

    # --- iteration ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._pairs(values=False))

    def items(self) -> ItemsView[str, V]:
        return _Items(self)

    def values(self) -> ValuesView[V]:
        return _Values(self)

    def _pairs(self, *, values: bool) -> Iterator[tuple[str, Any]]:
        memory = self._memory
        if memory is not None:
            if self._order == "insertion":
                yield from memory.items()
                return
            if self._sorted is None:
                self._sorted = sorted(memory)
            for key in self._sorted:
                if self._memory is not memory:  # spilled or cleared meanwhile
                    raise RuntimeError("DiskMap changed during iteration")
                if key in memory:
                    yield key, memory[key]
            return
        db = self._db
        assert db is not None
        column = "k" if self._order == "key" else "id"
        columns = "id, k, v" if values else "id, k"
        first = f"SELECT {columns} FROM m ORDER BY {column} LIMIT {PAGE}"
        then = f"SELECT {columns} FROM m WHERE {column} > ? ORDER BY {column} LIMIT {PAGE}"
        decode = self._decode
        rows = db.run(first)
        while rows:
            for row in rows:
                yield _text(row[1]), decode(marshal.loads(row[2])) if values else None
            if len(rows) < PAGE or self._db is not db:
                return
            rows = db.run(then, (rows[-1][1] if column == "k" else rows[-1][0],))

    def __repr__(self) -> str:
        where = "on disk" if self._db is not None else "in memory"
        return f"<DiskMap of {len(self)} {self._what}s {where}>"

    def __reduce__(self) -> Any:
        return dict, (list(self.items()),)


class _Items(ItemsView[str, V]):
    """``DiskMap.items()``: iterated a page of rows at a time, not a lookup per key."""

    _mapping: DiskMap[V]

    def __iter__(self) -> Iterator[tuple[str, V]]:
        return self._mapping._pairs(values=True)


class _Values(ValuesView[V]):
    _mapping: DiskMap[V]

    def __iter__(self) -> Iterator[V]:
        return (value for _, value in self._mapping._pairs(values=True))


def _chain_one(first: tuple[str, V], rest: Iterator[tuple[str, V]]
               ) -> Iterator[tuple[str, V]]:
    yield first
    yield from rest
