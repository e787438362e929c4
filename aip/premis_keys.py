"""Sorted byte keys of one width: the per-file lookups of the PREMIS writers and the ingest
events, in flat memory however many files an AIP has.

:class:`SortedKeys` sorts its keys in runs of :data:`SortedKeys.RUN` (more than one run go to
an anonymous temporary file and are merged from it). Up to ``keep`` keys (default
:data:`aip.model.KEEP`, read at each construction) the sorted keys are one ``bytes`` in memory,
``width`` bytes per key; past that they stay in a second anonymous temporary file, and only one
key in :data:`SortedKeys.DISK_FENCE` is kept in memory, so that a lookup bisects those and then
reads one block of the file. Both give the same answers.
"""

from __future__ import annotations

import bisect
import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from aip import model

__all__ = ["SortedKeys"]


class SortedKeys:
    """Byte strings of one width, sorted: ``width`` bytes per key in memory (a set of them would
    take about 100; a UUID is 16 bytes, not a 36-character string), or past ``keep`` keys in a
    temporary file (see the module notes). Duplicates are kept (:meth:`duplicate` finds one).
    """

    __slots__ = ("_blob", "_count", "_fence", "_fences", "_file", "_width")
    RUN = 1024
    #: one key in this many is also kept as a ``bytes`` object, so that a lookup bisects them
    #: in C and then only a few keys of the blob (about 4 bytes per key, not 100)
    FENCE = 16
    #: the same for keys in the temporary file: a lookup reads one block of this many keys
    DISK_FENCE = 256
    #: keys read at a time from each run while the runs are merged (and from the file)
    READ = 128

    def __init__(self, keys: Iterable[bytes], width: int, *, keep: int | None = None) -> None:
        self._width = width
        keep = model.KEEP if keep is None else keep
        self._blob: bytes | bytearray = b""
        self._file: IO[bytes] | None = None
        run: list[bytes] = []
        runs = 0
        spill = None
        try:
            for key in keys:
                if len(key) != width:
                    raise ValueError(f"a key of {len(key)} bytes among keys of {width}")
                run.append(key)
                if len(run) == self.RUN:
                    run.sort()
                    if spill is None:
                        spill = tempfile.TemporaryFile(prefix="sorted-keys-")  # noqa: SIM115
                    spill.write(b"".join(run))
                    runs += 1
                    run.clear()
            run.sort()
            last = b"".join(run)
            del run
            if spill is None:
                self._count = len(last) // width
                if self._count <= keep:
                    self._blob = last
                else:
                    self._store(self._keys(last))
            else:
                spill.write(last)
                spill.flush()
                del last
                size = spill.tell()
                self._count = size // width
                merged = heapq.merge(*(self._read(spill.fileno(), r * self.RUN * width,
                                                  min(self.RUN * width,
                                                      size - r * self.RUN * width))
                                       for r in range(runs + 1)))
                if self._count <= keep:
                    self._blob = self._joined(merged, size)
                else:
                    self._store(merged)
        finally:
            if spill is not None:
                spill.close()
        if self._file is None:
            self._fence = self.FENCE
            step = self.FENCE * width
            self._fences = [bytes(self._blob[at:at + width])
                            for at in range(0, len(self._blob), step)]

    def _joined(self, keys: Iterator[bytes], size: int) -> bytearray:
        blob = bytearray(size)
        at = 0
        width = self._width
        for key in keys:
            blob[at:at + width] = key
            at += width
        return blob

    def _store(self, keys: Iterator[bytes]) -> None:
        """Write the sorted ``keys`` to a new temporary file, keeping one in
        :data:`DISK_FENCE` as a fence."""
        self._file = tempfile.TemporaryFile(prefix="sorted-keys-")  # noqa: SIM115
        self._fence = self.DISK_FENCE
        self._fences = []
        chunk: list[bytes] = []
        for n, key in enumerate(keys):
            if n % self.DISK_FENCE == 0:
                self._fences.append(key)
            chunk.append(key)
            if len(chunk) == self.READ:
                self._file.write(b"".join(chunk))
                chunk.clear()
        self._file.write(b"".join(chunk))
        self._file.flush()

    def _span(self, start: int, stop: int) -> bytes | bytearray:
        """The bytes of keys ``start`` to ``stop`` (exclusive)."""
        width = self._width
        if self._file is None:
            return self._blob[start * width:stop * width]
        data = os.pread(self._file.fileno(), (stop - start) * width, start * width)
        if len(data) != (stop - start) * width:
            raise ValueError("the sorted keys' temporary file is truncated")
        return data

    def _lower_bound(self, key: bytes) -> int:
        """The index of the first key not less than ``key`` (``len(self)`` if none)."""
        fence = bisect.bisect_left(self._fences, key)
        if fence == 0:
            return 0
        width = self._width
        first = (fence - 1) * self._fence + 1  # the key at (fence - 1) * step is less than key
        block = self._span(first, min(fence * self._fence, self._count))
        lo, hi = 0, len(block) // width
        while lo < hi:
            mid = (lo + hi) // 2
            if block[mid * width:mid * width + width] < key:
                lo = mid + 1
            else:
                hi = mid
        return first + lo

    def _read(self, fd: int, offset: int, length: int) -> Iterator[bytes]:
        block = self.READ * self._width
        end = offset + length
        while offset < end:
            data = os.pread(fd, min(block, end - offset), offset)
            if not data or len(data) % self._width:
                raise ValueError("the sorted keys' temporary file is truncated")
            offset += len(data)
            yield from self._keys(data)

    def _keys(self, blob: bytes | bytearray, start: int = 0) -> Iterator[bytes]:
        width = self._width
        return (bytes(blob[at:at + width]) for at in range(start, len(blob), width))

    def _from(self, index: int) -> Iterator[bytes]:
        """The keys from ``index`` on, in order."""
        if self._file is None:
            return self._keys(self._blob, index * self._width)
        return self._read(self._file.fileno(), index * self._width,
                          (self._count - index) * self._width)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < self._count:
            raise IndexError("key index out of range")
        return bytes(self._span(index, index + 1))

    def __iter__(self) -> Iterator[bytes]:
        return self._from(0)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes) or len(key) != self._width:
            return False
        at = self._lower_bound(key)
        return at < self._count and self[at] == key

    def starting_with(self, prefix: bytes) -> Iterator[bytes]:
        """The keys that start with ``prefix``, in order."""
        for key in self._from(self._lower_bound(prefix)):
            if not key.startswith(prefix):
                return
            yield key

    def duplicate(self) -> bytes | None:
        """A key held more than once (the first in order), or None."""
        previous = None
        for key in self:
            if key == previous:
                return key
            previous = key
        return None

    def close(self) -> None:
        """Remove the temporary file now (it also goes with this object)."""
        if self._file is not None:
            self._file.close()
