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
- Threads may read one map at once (a lock serialises the database). Threads that write to one
  map must hold a lock of their own around the writes: the move from memory to the database
  is not serialised (the count of keys on disk is). A process forked while the map is on disk
  reads it through its own connection (read-only); it must not write to it.
- :meth:`close` (or the end of the map, or of the process that made it) removes the database.
- ``buffer`` (default 0): past ``keep``, that many written entries wait in memory (read there
  first) and go to the database in one transaction, when there are ``buffer`` of them or before
  anything that needs the database whole (``len``, iteration, ``del``); a failed write is then
  reported by the operation that writes the batch. Waiting writes are also written before any
  ``fork`` (``os.register_at_fork``), so a forked process finds every entry in the database and
  never has to write; it does not see keys the parent adds after the fork.

A write that fails (the temporary folder full or unwritable) raises
:class:`~preservation.spooled.SpoolError` (``SPOOL-FAILED``), never an ``OSError`` that could be
mistaken for a problem of a file being ingested.
"""

from __future__ import annotations

import logging
import marshal
import os
import weakref
from collections.abc import Callable, ItemsView, Iterable, Iterator, MutableMapping, ValuesView
from typing import Any, Generic, Literal, TypeVar, overload

from preservation.diskmap_db import CACHE_KIB, Database
from preservation.spooled import KEEP, SpoolError

__all__ = ["CACHE_KIB", "PAGE", "DiskMap"]

log = logging.getLogger(__name__)

V = TypeVar("V")
T = TypeVar("T")

#: Rows read per query when iterating a map on disk.
PAGE = 512
#: The bits a map on disk with a buffer keeps of its keys' hashes (128 KiB).
_BITS = 1 << 20

_MISSING = object()


def _same(value: Any) -> Any:
    return value


def _key(key: str) -> bytes:
    if not isinstance(key, str):
        raise TypeError(f"DiskMap keys are str, not {type(key).__name__}")
    return key.encode("utf-8", "surrogatepass")


def _text(key: bytes) -> str:
    return key.decode("utf-8", "surrogatepass")


#: buffered maps with writes waiting (id → weak reference), written before any fork
_WAITING: dict[int, weakref.ref[DiskMap[Any]]] = {}


def _forget(key: int) -> Callable[[object], None]:
    def gone(_ref: object) -> None:
        _WAITING.pop(key, None)
    return gone


def _flush_before_fork() -> None:
    """Write every buffered map's waiting entries (the forked process reads the database
    through its own read-only connection, and could not write them)."""
    for ref in list(_WAITING.values()):
        waiting = ref()
        if waiting is not None and waiting._db is not None and \
                waiting._db.owner == os.getpid():
            try:
                waiting._flush()
            except SpoolError as error:  # the child then misses them; the parent raises later
                log.warning("%s", error)


os.register_at_fork(before=_flush_before_fork)


class DiskMap(MutableMapping[str, V], Generic[V]):
    """A ``dict`` of at most ``keep`` keys in memory; past that, every entry in a temporary
    SQLite file (see the module notes)."""

    def __init__(self, items: Iterable[tuple[str, V]] = (), *,
                 encode: Callable[[V], Any] = _same, decode: Callable[[Any], V] = _same,
                 keep: int = KEEP, order: Literal["insertion", "key"] = "insertion",
                 what: str = "file record", buffer: int = 0) -> None:
        if order not in ("insertion", "key"):
            raise ValueError(f"order must be 'insertion' or 'key', not {order!r}")
        self._encode, self._decode = encode, decode
        self._keep, self._order, self._what = keep, order, what
        self._memory: dict[str, V] | None = {}
        self._sorted: list[str] | None = None  # the memory's keys sorted, for order="key"
        self._db: Database | None = None
        self._count = 0
        self._buffer = buffer
        #: past keep, with a buffer: entries written since the last batch (key bytes, value)
        self._pending: dict[str, tuple[bytes, bytes]] = {}
        #: past keep, with a buffer: a bit per hash of every key written (most lookups of a
        #: key never written are answered without a query)
        self._bits: bytearray | None = None
        self.update(items)

    # --- where the entries are --------------------------------------------------------------

    @property
    def on_disk(self) -> bool:
        """Whether the entries have moved to the temporary database."""
        return self._db is not None

    @property
    def order(self) -> Literal["insertion", "key"]:
        """The order of iteration (see the module notes)."""
        return self._order

    def _spill(self, more: Iterable[tuple[str, V]] = ()) -> Database:
        """Move every entry to a new database (and ``more`` after them)."""
        db = Database(self._what)
        memory = self._memory or {}
        self._bits = bytearray(_BITS >> 3) if self._buffer else None
        row = self._row

        def rows() -> Iterator[tuple[bytes, bytes]]:
            for key, value in memory.items():
                yield row(key, value)
            for key, value in more:
                yield row(key, value)

        self._count = db.upsert(rows())
        self._db, self._memory, self._sorted = db, None, None
        return db

    def _row(self, key: str, value: V) -> tuple[bytes, bytes]:
        """The database row of an entry (its key's bit set)."""
        bits = self._bits
        if bits is not None:
            bit = hash(key) & (_BITS - 1)
            bits[bit >> 3] |= 1 << (bit & 7)
        return _key(key), marshal.dumps(self._encode(value))

    def _written(self, key: str) -> bool:
        """False: ``key`` was never written to the database (True: it may have been)."""
        bits = self._bits
        if bits is None:
            return True
        bit = hash(key) & (_BITS - 1)
        return bool(bits[bit >> 3] & (1 << (bit & 7)))

    # --- the mapping ------------------------------------------------------------------------

    def __len__(self) -> int:
        if self._memory is not None:
            return len(self._memory)
        self._flush()
        return self._count

    def _value(self, key: str) -> Any:
        """The stored (marshalled) value of ``key`` on disk, or _MISSING."""
        pending = self._pending.get(key) if self._pending else None
        if pending is not None:
            return pending[1]
        if not self._written(key):
            return _MISSING
        assert self._db is not None
        row = self._db.one("SELECT v FROM m WHERE k = ?", (_key(key),))
        return _MISSING if row is None else row[0]

    def __getitem__(self, key: str) -> V:
        if self._memory is not None:
            return self._memory[key]
        value = self._value(key)
        if value is _MISSING:
            raise KeyError(key)
        return self._decode(marshal.loads(value))

    @overload
    def get(self, key: str, /) -> V | None: ...

    @overload
    def get(self, key: str, /, default: V | T) -> V | T: ...

    def get(self, key: str, /, default: Any = None) -> Any:
        """As ``dict.get`` (one query on disk)."""
        if self._memory is not None:
            return self._memory.get(key, default)
        value = self._value(key)
        return default if value is _MISSING else self._decode(marshal.loads(value))

    def __contains__(self, key: object) -> bool:
        if self._memory is not None:
            return key in self._memory
        if not isinstance(key, str):
            return False
        if self._pending and key in self._pending:
            return True
        if not self._written(key):
            return False
        assert self._db is not None
        return self._db.one("SELECT 1 FROM m WHERE k = ?", (_key(key),)) is not None

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
        db = self._db
        assert db is not None
        row = self._row(key, value)
        if not self._buffer:
            with db.lock:  # the count too: threads may share a map
                self._count += db.upsert_locked((row,))
            return
        with db.lock:
            self._pending[key] = row
            if id(self) not in _WAITING:
                _WAITING[id(self)] = weakref.ref(self, _forget(id(self)))
        if len(self._pending) >= self._buffer:
            self._flush()

    def flush(self) -> None:
        """Write the buffered entries now (a map a forked process will read: it cannot)."""
        self._flush()

    def _flush(self) -> None:
        """Write the buffered entries in one transaction."""
        db = self._db
        if not self._pending or db is None:
            return
        with db.lock:
            self._count += db.upsert_locked(list(self._pending.values()))
            self._pending.clear()
            _WAITING.pop(id(self), None)

    def __delitem__(self, key: str) -> None:
        if self._memory is not None:
            del self._memory[key]
            self._sorted = None
            return
        self._flush()
        assert self._db is not None
        with self._db.lock, self._db._failing("write"):
            deleted = self._db.connection().execute(
                "DELETE FROM m WHERE k = ?", (_key(key),)).rowcount
            self._count -= 1 if deleted else 0
        if not deleted:
            raise KeyError(key)

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
        self._flush()
        assert self._db is not None
        row = self._row
        with self._db.lock:
            self._count += self._db.upsert_locked(row(k, v) for k, v in pairs)

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
        self._pending, self._bits = {}, None
        _WAITING.pop(id(self), None)

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
        self._flush()
        rows = db.run(first)
        while rows:
            for row in rows:
                yield _text(row[1]), decode(marshal.loads(row[2])) if values else None
            if len(rows) < PAGE or self._db is not db:
                return
            self._flush()  # what was written meanwhile, behind the cursor: seen
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
