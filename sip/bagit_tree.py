"""What is on disk in a bag, listed without following links, and its files hashed in one pass.

:func:`walk` lists the bag once with ``lstat`` semantics: regular files (with size and inode),
folders, symbolic links, special files and folders it could not list. It never follows a link and
never leaves the root. Every later access to a file goes through :func:`open_listed`, which opens
the listed file with ``O_NOFOLLOW`` and checks that it is still the same regular file (device,
inode, size, modification time) before a byte is read, so a file swapped for a link, a FIFO or
another file after the walk is reported as changed rather than read.

The listing's files are a ``dict`` up to :data:`KEEP` files and a
:class:`~preservation.diskmap.DiskMap` past that (flat memory, the same interface). Hashing them
(:func:`sip.bagit_hash.hash_each`) is in :mod:`sip.bagit_hash`; its names are importable from here.
"""

from __future__ import annotations

import bisect
import os
import stat
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from preservation.diskmap import DiskMap
from preservation.spooled import KEEP as SPOOL_KEEP

#: Files of a listing (and of the other per-file maps of a validation) kept in a plain dict;
#: past this many, in a temporary SQLite file (:class:`preservation.diskmap.DiskMap`). Read at
#: each use, so a test may lower it here.
KEEP = SPOOL_KEEP
#: Entries written to a map on disk per transaction.
WRITE_BATCH = 1024
#: Files are read in pieces of this many bytes.
CHUNK = 1024 * 1024
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


def listed_fields(listed: Listed) -> tuple[str, int, int, int, int]:
    """A :class:`Listed` as plain values (for a temporary file)."""
    return listed.rel, listed.size, listed.dev, listed.ino, listed.mtime_ns


def listed_of(values: Any) -> Listed:
    """The :class:`Listed` of :func:`listed_fields`."""
    return Listed(*values)


@dataclass
class Tree:
    """Everything under a bag root, by "/"-separated relative path, sorted.

    ``files`` is a ``dict`` sorted by path for up to :data:`KEEP` files, past that a
    :class:`~preservation.diskmap.DiskMap` iterated in path order (the same mapping interface).
    """

    files: MutableMapping[str, Listed] = field(default_factory=dict)
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

    def count(self) -> int:
        """How many paths :meth:`names` yields."""
        return (len(self.files) + len(self.dirs) + len(self.symlinks) + len(self.specials)
                + len(self.unreadable))

    def not_regular(self) -> NotRegular:
        """Paths that exist but are not regular files (already reported on their own)."""
        return NotRegular(self)


class NotRegular:
    """``rel in tree.not_regular()``: looked up in the sorted folders and links, without a set
    of them all."""

    __slots__ = ("_dirs", "_others", "_symlinks")

    def __init__(self, tree: Tree) -> None:
        self._dirs, self._symlinks = tree.dirs, tree.symlinks
        self._others = {rel for rel, _ in tree.specials} | {rel for rel, _ in tree.unreadable}

    def __contains__(self, rel: object) -> bool:
        if not isinstance(rel, str):
            return False
        return rel in self._others or in_sorted(self._dirs, rel) or in_sorted(
            self._symlinks, rel)


def in_sorted(items: list[str], rel: str) -> bool:
    """Whether ``rel`` is in the sorted list ``items`` (a bisection, no set of them)."""
    at = bisect.bisect_left(items, rel)
    return at < len(items) and items[at] == rel


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
    files: DiskMap[Listed] = DiskMap(encode=listed_fields, decode=listed_of, keep=KEEP,
                                     order="key", what="listed file")
    pending: list[tuple[str, Listed]] = []  # written to ``files`` a batch at a time
    stack: list[str] = [""]
    first = True
    devices: dict[int, int] = {}  # one int object per device, not one per file
    while stack:
        rel_dir = stack.pop()
        marks = len(tree.dirs), len(tree.symlinks), len(files)
        try:
            found, subdirs, specials, unreadable = _scan(root, rel_dir, tree, files, pending,
                                                         devices)
        except OSError as error:
            if first:
                raise
            _forget(rel_dir, tree, files, pending, marks)
            tree.unreadable.append((rel_dir, describe_error(error)))
            continue
        first = False
        if not found and rel_dir:
            tree.empty_dirs.append(rel_dir)
        tree.specials += specials
        tree.unreadable += unreadable
        stack.extend(reversed(subdirs))
    tree.dirs.sort()
    tree.empty_dirs.sort()
    tree.symlinks.sort()
    files.update(pending)
    del pending
    # a small bag keeps a plain dict, sorted by path, as fast as ever
    tree.files = files if files.on_disk else dict(files.items())
    return tree


def _scan(root: Path, rel_dir: str, tree: Tree, files: DiskMap[Listed],
          pending: list[tuple[str, Listed]], devices: dict[int, int]
          ) -> tuple[bool, list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """List one folder: its files go to ``pending`` (and on to ``files``), its folders and
    links to ``tree``. Returns whether it holds anything, and its sub-folders, special files and
    unreadable entries sorted by name. Its entries are not held: a folder of 100,000 files costs
    no more memory than one of ten."""
    found = False
    subdirs: list[str] = []
    specials: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str]] = []
    with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
        for entry in it:
            found = True
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
                        pending.append((rel, Listed(rel, st.st_size, dev, st.st_ino,
                                                    st.st_mtime_ns)))
                        if len(pending) >= WRITE_BATCH:
                            files.update(pending)
                            pending.clear()
                    else:
                        specials.append((rel, _kind(st.st_mode)))
            except OSError as error:
                unreadable.append((rel, describe_error(error)))
    subdirs.sort()
    specials.sort()
    unreadable.sort()
    return found, subdirs, specials, unreadable


def _forget(rel_dir: str, tree: Tree, files: DiskMap[Listed],
            pending: list[tuple[str, Listed]], marks: tuple[int, int, int]) -> None:
    """Undo what :func:`_scan` recorded of a folder that failed to list part-way (its entries
    are the only ones below it listed so far: its sub-folders come later)."""
    del tree.dirs[marks[0]:]
    del tree.symlinks[marks[1]:]

    def inside(rel: str) -> bool:
        return rel.startswith(f"{rel_dir}/") and "/" not in rel[len(rel_dir) + 1:]

    pending[:] = [(rel, listed) for rel, listed in pending if not inside(rel)]
    if len(files) > marks[2]:  # a batch of this folder was written: look for it (rare)
        for rel in [rel for rel in files if inside(rel)]:
            del files[rel]


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
