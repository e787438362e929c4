"""What is on disk in a bag, listed without following links, and its files hashed in one pass.

:func:`walk` lists the bag once with ``lstat`` semantics: regular files (with size and inode),
folders, symbolic links, special files and folders it could not list. It never follows a link and
never leaves the root. Every later access to a file goes through :func:`open_listed`, which opens
the listed file with ``O_NOFOLLOW`` and checks that it is still the same regular file (device,
inode, size, modification time) before a byte is read, so a file swapped for a link, a FIFO or
another file after the walk is reported as changed rather than read.

:func:`hash_each` reads each file once, in 1 MiB chunks, feeding every requested algorithm from
the same buffer, with a small thread pool (hashlib releases the GIL on large updates).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
#: Small files are hashed in batches of about this many bytes or files per task.
BATCH_BYTES = 8 * CHUNK
BATCH_FILES = 256
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


@dataclass(frozen=True, slots=True)
class Listed:
    """A regular file found by :func:`walk`."""

    rel: str  # "/"-separated, relative to the bag root, exactly as on disk (os.fsdecode)
    size: int
    dev: int
    ino: int
    mtime_ns: int


@dataclass
class Tree:
    """Everything under a bag root, by "/"-separated relative path, sorted."""

    files: dict[str, Listed] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    empty_dirs: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    specials: list[tuple[str, str]] = field(default_factory=list)  # (rel, kind)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (rel, error)

    def names(self) -> Iterator[str]:
        """Every path the walk saw, whatever it is."""
        yield from self.files
        yield from self.dirs
        yield from self.symlinks
        yield from (rel for rel, _ in self.specials)
        yield from (rel for rel, _ in self.unreadable)

    def not_regular(self) -> set[str]:
        """Paths that exist but are not regular files (already reported on their own)."""
        return ({*self.dirs, *self.symlinks} | {rel for rel, _ in self.specials}
                | {rel for rel, _ in self.unreadable})


def describe_error(error: OSError) -> str:
    """An OSError without the absolute path (reports must not leak where the bag sits)."""
    return error.strerror or type(error).__name__


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return f"mode {stat.S_IFMT(mode):o}"


def walk(root: Path) -> Tree:
    """List ``root`` recursively without following links.

    Raises :class:`OSError` when ``root`` itself cannot be listed; folders below it that cannot be
    listed are recorded in ``unreadable``.
    """
    tree = Tree()
    stack: list[str] = [""]
    first = True
    devices: dict[int, int] = {}  # one int object per device, not one per file
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as error:
            if first:
                raise
            tree.unreadable.append((rel_dir, describe_error(error)))
            continue
        first = False
        if not entries and rel_dir:
            tree.empty_dirs.append(rel_dir)
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_symlink():
                    tree.symlinks.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    tree.dirs.append(rel)
                    subdirs.append(rel)
                else:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        dev = devices.setdefault(st.st_dev, st.st_dev)
                        tree.files[rel] = Listed(rel, st.st_size, dev, st.st_ino,
                                                st.st_mtime_ns)
                    else:
                        tree.specials.append((rel, _kind(st.st_mode)))
            except OSError as error:
                tree.unreadable.append((rel, describe_error(error)))
        stack.extend(reversed(subdirs))
    tree.dirs.sort()
    tree.empty_dirs.sort()
    tree.symlinks.sort()
    tree.files = dict(sorted(tree.files.items()))
    return tree


class ChangedError(Exception):
    """The file is no longer the regular file the walk listed."""


@contextmanager
def open_listed(root: Path, listed: Listed, *, buffering: int = 64 * 1024
                ) -> Iterator[BinaryIO]:
    """Open a listed file read-only, never through a link; :class:`ChangedError` if swapped.

    ``buffering=0`` gives the unbuffered file (for reading into a caller's buffer).
    """
    try:
        fd = os.open(os.path.join(root, listed.rel), _OPEN_FLAGS)
    except OSError as error:
        if os.path.islink(os.path.join(root, listed.rel)):
            raise ChangedError(listed.rel) from error
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (
                (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                != (listed.dev, listed.ino, listed.size, listed.mtime_ns)):
            raise ChangedError(listed.rel)
        if hasattr(os, "posix_fadvise") and listed.size > CHUNK:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        stream = os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise
    with stream:
        yield stream


@dataclass(frozen=True, slots=True)
class Hashed:
    """The outcome of hashing one listed file: digests, or why there are none."""

    listed: Listed
    digests: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    changed: bool = False


_Job = tuple[Listed, frozenset[str]]
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
    """What :func:`hash_each` hashes: a list of jobs, or a :class:`JobList`."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> _Job: ...


class JobList:
    """Jobs without a tuple per file: ``files`` all hashed with the one shared set of
    ``algorithms``, then ``others`` (files with algorithms of their own)."""

    __slots__ = ("algorithms", "files", "others")

    def __init__(self, files: list[Listed], algorithms: frozenset[str],
                 others: list[_Job] | None = None) -> None:
        self.files = files
        self.algorithms = algorithms
        self.others = others if others is not None else []

    def __len__(self) -> int:
        return len(self.files) + len(self.others)

    def __getitem__(self, index: int, /) -> _Job:
        if 0 <= index < len(self.files):
            return self.files[index], self.algorithms
        if index < 0:
            raise IndexError("job index out of range")
        return self.others[index - len(self.files)]


def _hash_batch(root: Path, batch: list[tuple[int, _Job]],
                report_bytes: Callable[[int], None] | None) -> list[tuple[int, Hashed]]:
    return [(index, _hash_one(root, listed, algorithms, report_bytes))
            for index, (listed, algorithms) in batch]


def _batches(jobs: Jobs) -> Iterator[list[tuple[int, _Job]]]:
    """Jobs in batches of about BATCH_BYTES (one big file alone) or BATCH_FILES files, so the
    pool stays busy to the end and small files do not cost a future each: files of
    :data:`CHUNK` bytes or more first, biggest first, then the smaller ones in the order given
    (only the big ones are sorted: a bag of many small files costs no index per file)."""
    count = len(jobs)
    big = sorted((i for i in range(count) if jobs[i][0].size >= CHUNK),
                 key=lambda i: -jobs[i][0].size)
    small = (i for i in range(count) if jobs[i][0].size < CHUNK)
    batch: list[tuple[int, _Job]] = []
    size = 0
    for index in itertools.chain(big, small):
        job = jobs[index]
        batch.append((index, job))
        size += job[0].size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


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
