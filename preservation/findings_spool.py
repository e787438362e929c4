"""Append-only record spools: how a :class:`~preservation.findings.Report` keeps memory flat.

A report may hold one finding per file of a 100,000-file package. The first findings stay in
memory; the rest go to a :class:`RecordSpool`, an anonymous temporary file (no name in any
folder, gone when closed or when the process ends) of length-prefixed ``marshal`` records, read
back in order with ``os.pread`` (so a reader never moves the writer's position). Only one offset
per :data:`INDEX_EVERY` records stays in memory, for indexing.

:class:`SpooledSequence` is the read-only sequence view of "the in-memory records, then the
spooled ones", decoded one at a time: ``len``, indexing, slicing, iteration and ``==`` against a
list or tuple work as on the list a report used to expose.
"""

from __future__ import annotations

import marshal
import os
import struct
import tempfile
import threading
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from preservation.errors import PreservationError

T = TypeVar("T")

INDEX_EVERY = 1024
"""One file offset is kept per this many spooled records (8 bytes)."""

_HEADER = struct.Struct("<I")
_CHUNK = 256 * 1024


class ReportSpoolError(PreservationError):
    """A finding could not be stored in the report's temporary file (disk full, a value that
    cannot be stored). Not an ``OSError``: it is never mistaken for a problem of the file being
    checked. The report still counts exactly the findings it holds."""

    code = "REPORT-SPOOL-FAILED"


class RecordSpool:
    """Tuples of plain values (str, int, None, dict, tuple) appended to an anonymous file.

    A record that cannot be stored raises :class:`ReportSpoolError` and is not counted; after a
    failed write the spool refuses every further record (the file may end in part of one).
    """

    def __init__(self, what: str = "finding",
                 error: type[PreservationError] = ReportSpoolError) -> None:
        #: what one record is, for messages ("finding", "file record")
        self._what = what
        self._error = error
        try:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed below
                prefix=f"{what.replace(' ', '-')}s-")
        except OSError as e:
            raise error(f"the {what}s' temporary file cannot be created: {e}",
                        location=tempfile.gettempdir()) from e
        self._closer = weakref.finalize(self, self._file.close)
        self._count = 0
        self._end = 0  # bytes written (buffered or not)
        self._marks = array("Q")
        self._lock = threading.Lock()
        self._failed = False

    def __len__(self) -> int:
        return self._count

    @property
    def closed(self) -> bool:
        return not self._closer.alive

    def append(self, record: tuple[Any, ...]) -> None:
        try:
            data = marshal.dumps(record, 4)
        except ValueError as e:  # a value marshal cannot store
            raise self._error(f"a {self._what} cannot be stored: {e}") from e
        with self._lock:
            if self._failed:
                raise self._error(f"the {self._what}s' temporary file failed earlier")
            try:
                self._file.write(_HEADER.pack(len(data)) + data)
            except OSError as e:
                self._failed = True
                raise self._error(f"the {self._what}s' temporary file cannot be written: {e}"
                                  ) from e
            if self._count % INDEX_EVERY == 0:
                self._marks.append(self._end)
            self._end += _HEADER.size + len(data)
            self._count += 1

    def flush(self) -> None:
        """Write what is buffered: a complete spool must be flushed before the process forks,
        or every child would write the inherited buffer again at the shared file offset."""
        with self._lock:
            try:
                self._file.flush()
            except OSError as e:
                self._failed = True
                raise self._error(f"the {self._what}s' temporary file cannot be written: {e}"
                                  ) from e

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[Any, ...]]:
        """Records ``start`` to ``stop`` (exclusive; default: as many as there are now)."""
        stop = self._count if stop is None else min(stop, self._count)
        if start >= stop:
            return
        if self.closed:
            raise ValueError(f"the {self._what} spool is closed")
        with self._lock:
            self._file.flush()
        fd = self._file.fileno()
        index = start - start % INDEX_EVERY
        offset = self._marks[index // INDEX_EVERY]
        buffer, at = b"", 0
        view = memoryview(buffer)
        while index < stop:
            if len(buffer) - at < _HEADER.size:
                buffer, offset = self._refill(fd, buffer[at:], offset, _HEADER.size)
                at, view = 0, memoryview(buffer)
            (size,) = _HEADER.unpack_from(buffer, at)
            end = at + _HEADER.size + size
            if len(buffer) < end:
                buffer, offset = self._refill(fd, buffer[at:], offset, end - at)
                at, end, view = 0, end - at, memoryview(buffer)
            if index >= start:
                yield marshal.loads(view[at + _HEADER.size:end])
            at = end
            index += 1

    def close(self) -> None:
        """Delete the file now (it is also deleted when the spool is garbage-collected)."""
        with self._lock:  # not while a reader is reading: its descriptor stays this file's
            self._closer()

    def _refill(self, fd: int, rest: bytes, offset: int, need: int) -> tuple[bytes, int]:
        """``rest`` followed by what the file holds from ``offset``: at least ``need`` bytes.

        A reader paused across :meth:`close` stops here: its descriptor number may by now be
        another file's."""
        with self._lock:
            if self.closed:
                raise ValueError(f"the {self._what} spool is closed")
            return _refill(fd, rest, offset, need)


def _refill(fd: int, rest: bytes, offset: int, need: int) -> tuple[bytes, int]:
    """``rest`` followed by what the file holds from ``offset``: at least ``need`` bytes."""
    parts = [rest]
    have = len(rest)
    while have < need:
        more = os.pread(fd, max(_CHUNK, need - have), offset)
        if not more:
            raise ValueError("the finding spool is truncated")
        parts.append(more)
        have += len(more)
        offset += len(more)
    return b"".join(parts), offset


class SpooledSequence(Sequence[T], Generic[T]):
    """Read-only view: ``memory`` (a list that may still grow), then ``spool`` records, each
    decoded by ``decode``. ``memory`` is only ever appended to until the spool is started."""

    __slots__ = ("_decode", "_memory", "_spool_of")

    def __init__(self, memory: list[T], spool_of: Callable[[], RecordSpool | None],
                 decode: Callable[[tuple[Any, ...]], T]) -> None:
        self._memory = memory
        self._spool_of = spool_of
        self._decode = decode

    def __len__(self) -> int:
        spool = self._spool_of()
        return len(self._memory) + (len(spool) if spool is not None else 0)

    def __iter__(self) -> Iterator[T]:
        return self._range(0, len(self))

    def _range(self, start: int, stop: int) -> Iterator[T]:
        memory = self._memory
        kept = len(memory)
        yield from memory[start:min(stop, kept)]
        spool = self._spool_of()
        if spool is not None and stop > kept:
            decode = self._decode
            for record in spool.read(max(start - kept, 0), stop - kept):
                yield decode(record)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        size = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(size)
            if step == 1:
                return list(self._range(start, stop)) if start < stop else []
            return [self[i] for i in range(start, stop, step)]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("finding index out of range")
        return next(self._range(index, index + 1))

    def __reversed__(self) -> Iterator[T]:
        return reversed(list(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SpooledSequence | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                         strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[tuple[T, ...]], tuple[tuple[T, ...]]]:
        """Pickled (and copied) as the tuple of its records: the temporary file is this
        process's own."""
        return tuple, (tuple(self),)

    def __repr__(self) -> str:
        shown = list(self._range(0, min(len(self), 5)))
        more = f", … {len(self) - len(shown)} more" if len(self) > len(shown) else ""
        return f"[{', '.join(map(repr, shown))}{more}]"
