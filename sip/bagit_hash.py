"""Every listed file hashed in one pass: each read once, all its algorithms at a time.

:func:`hash_each` reads each file once, in 1 MiB chunks (:data:`sip.bagit_tree.CHUNK`), feeding
every requested algorithm from the same buffer, with a small thread pool (hashlib releases the
GIL on large updates). Files are opened with :func:`sip.bagit_tree.open_listed`, so a file
swapped since the listing is reported as changed, never read. The jobs are iterated (twice), never
copied: nothing is kept per file but the few batches in flight.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, Protocol, TypeVar

from sip.bagit_tree import (
    CHUNK,
    ChangedError,
    Listed,
    describe_error,
    listed_fields,
    listed_of,
    open_listed,
)

#: Small files are hashed in batches of about this many bytes or files per task.
BATCH_BYTES = 8 * CHUNK
BATCH_FILES = 256
#: The biggest files (of :data:`CHUNK` bytes or more) that :func:`hash_each` starts first.
BIG_FIRST = 256


@dataclass(frozen=True, slots=True)
class Hashed:
    """The outcome of hashing one listed file: digests, or why there are none."""

    listed: Listed
    digests: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    changed: bool = False


def hashed_fields(h: Hashed) -> tuple[Any, ...]:
    """A :class:`Hashed` as plain values (for a temporary file)."""
    return listed_fields(h.listed), h.digests, h.error, h.changed


def hashed_of(values: Any) -> Hashed:
    """The :class:`Hashed` of :func:`hashed_fields`."""
    listed, digests, error, changed = values
    return Hashed(listed_of(listed), digests, error, changed)


_Job = tuple[Listed, frozenset[str]]
_T_co = TypeVar("_T_co", covariant=True)
_buffers = threading.local()


def _hash_one(root: Path, listed: Listed, algorithms: frozenset[str],
              report_bytes: Callable[[int], None] | None) -> Hashed:
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:  # one 1 MiB buffer per thread, not per file
        buffer = _buffers.buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        with open_listed(root, listed, buffering=0) as stream:
            hashers = [(a, hashlib.new(a, usedforsecurity=False)) for a in sorted(algorithms)]
            total = 0
            while n := stream.readinto(buffer):  # type: ignore[attr-defined]
                chunk = view[:n]
                for _, hasher in hashers:
                    hasher.update(chunk)
                total += n
                if report_bytes is not None:
                    report_bytes(n)
            if total != listed.size:
                return Hashed(listed, changed=True)
            return Hashed(listed, {a: h.hexdigest() for a, h in hashers})
    except ChangedError:
        return Hashed(listed, changed=True)
    except OSError as error:
        return Hashed(listed, error=describe_error(error))
    finally:
        view.release()


class Jobs(Protocol):
    """What :func:`hash_each` hashes: a list of jobs, or a :class:`JobList`; iterated twice."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[_Job]: ...


class JobList:
    """Jobs without a tuple per file: ``files`` all hashed with the one shared set of
    ``algorithms``, then ``others`` (files with algorithms of their own). Both are iterated
    again for each pass (a list, a spooled sequence or a view of a listing: no copy is made)."""

    __slots__ = ("algorithms", "files", "others")

    def __init__(self, files: _Reiterable[Listed], algorithms: frozenset[str],
                 others: _Reiterable[_Job] | None = None) -> None:
        self.files = files
        self.algorithms = algorithms
        self.others: _Reiterable[_Job] = others if others is not None else []

    def __len__(self) -> int:
        return len(self.files) + len(self.others)

    def __iter__(self) -> Iterator[_Job]:
        algorithms = self.algorithms
        for listed in self.files:
            yield listed, algorithms
        yield from self.others


class _Reiterable(Protocol[_T_co]):
    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[_T_co]: ...


def _hash_batch(root: Path, batch: list[tuple[int, _Job]],
                report_bytes: Callable[[int], None] | None) -> list[tuple[int, Hashed]]:
    return [(index, _hash_one(root, listed, algorithms, report_bytes))
            for index, (listed, algorithms) in batch]


def _batches(jobs: Jobs) -> Iterator[list[tuple[int, _Job]]]:
    """Jobs in batches of about BATCH_BYTES (one big file alone) or BATCH_FILES files, so the
    pool stays busy to the end and small files do not cost a future each: the
    :data:`BIG_FIRST` biggest files of :data:`CHUNK` bytes or more first, biggest first, then
    every other job in the order given (two passes over ``jobs``; nothing is kept per file)."""
    biggest = heapq.nlargest(BIG_FIRST, ((i, job) for i, job in enumerate(jobs)
                                         if job[0].size >= CHUNK),
                             key=lambda pair: (pair[1][0].size, -pair[0]))
    first = {index for index, _ in biggest}
    rest = ((i, job) for i, job in enumerate(jobs) if i not in first)
    batch: list[tuple[int, _Job]] = []
    size = 0
    for index, job in _chain(biggest, rest):
        batch.append((index, job))
        size += job[0].size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _chain(first: list[tuple[int, _Job]], rest: Iterable[tuple[int, _Job]]
           ) -> Iterator[tuple[int, _Job]]:
    while first:  # let the biggest go as they are handed out
        yield first.pop(0)
    yield from rest


def workers() -> int:
    """Threads used for hashing: min(4, CPUs)."""
    return max(1, min(4, os.cpu_count() or 1))


def hash_each(root: Path, jobs: Jobs, *, progress: Callable[[int], None] | None = None
              ) -> Iterator[tuple[int, Hashed]]:
    """``(index in jobs, outcome)`` of every job's file, hashed once with all its algorithms,
    as the batches finish (not in the order of ``jobs``).

    ``progress(n)`` is called in the caller's thread with the number of bytes read since the
    previous call. At most a few batches per worker are in flight, so a million files do not
    make a million futures.
    """
    queue: SimpleQueue[int] = SimpleQueue()
    report_bytes = queue.put if progress is not None else None
    window = workers() * 3

    def drain() -> None:
        if progress is None:
            return
        total = 0
        while True:
            try:
                total += queue.get_nowait()
            except Empty:
                break
        if total:
            progress(total)

    with ThreadPoolExecutor(workers(), thread_name_prefix="bagit-hash") as pool:
        batches = _batches(jobs)
        pending: set[Future[list[tuple[int, Hashed]]]] = set()
        exhausted = False
        while not exhausted or pending:
            while not exhausted and len(pending) < window:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                else:
                    pending.add(pool.submit(_hash_batch, root, batch, report_bytes))
                    del batch
            if pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    yield from future.result()
                del done
            drain()
    drain()
