"""Deferred durability for the filesystem location: many writes, one flush.

See :mod:`preservation.storage.filesystem` (``durability="deferred"``): objects are written and
published without waiting for the disk, and :meth:`Pending.flush` then makes all of them durable
at once — ``syncfs(2)`` of the location's filesystem where libc has it (Linux), otherwise an
``fsync`` of every file and directory written, each once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Any


def load_syncfs() -> Any:
    """libc's ``syncfs(fd)`` (Linux), or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


SYNCFS = load_syncfs()


class Pending:
    """What a ``"deferred"`` location wrote and has not yet made durable.

    ``start(root)`` before each deferred write, ``add(path)`` for each file and directory it
    created (or, for an object found already written, each that holds it), ``flush()`` to make
    them durable (raises ``OSError``), ``release()`` on close.

    With ``syncfs`` (Linux) one call flushes the location's whole filesystem. One handle on the
    root is opened at the first ``start`` — before the first deferred write — and kept until
    ``release``: the kernel (5.8+) reports through it, at each ``syncfs``, every write-back
    error since the previous one (since the opening, for the first), so no error between a
    write and the next flush goes unreported. ``add`` only records that something is pending.
    Elsewhere every file written and every directory that gained a name is fsync'ed, each once.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        #: with syncfs: something was written since the last flush
        self._dirty = False
        self._paths: set[str] = set()
        self._lock = threading.Lock()
        #: held by a flush and by release, so the handle is never closed under a syncfs
        self._flushing = threading.Lock()

    def start(self, root: Path) -> None:
        """Before a deferred write: open the handle on ``root`` if it is not open yet."""
        with self._lock:
            if SYNCFS is not None and self._fd is None:
                self._fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)

    def add(self, path: str | Path) -> None:
        """Record a file or directory just written (after the write, before the put returns);
        with ``syncfs`` nothing is opened here: the handle ``start`` opened covers it."""
        with self._lock:
            if SYNCFS is None:
                name = os.fspath(path)
                self._paths.add(name)
                self._paths.add(os.path.dirname(name))
            else:
                self._dirty = True

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                fd, dirty, paths = self._fd, self._dirty, sorted(self._paths)
                self._dirty, self._paths = False, set()
            if dirty and fd is not None and SYNCFS is not None and SYNCFS(fd) != 0:
                number = ctypes.get_errno()
                raise OSError(number, f"syncfs: {os.strerror(number)}")
            for path in paths:
                try:
                    handle = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # deleted since (a discarded object, a pruned directory)
                try:
                    os.fsync(handle)
                finally:
                    os.close(handle)

    def release(self) -> None:
        with self._flushing, self._lock:
            fd, self._fd, self._dirty = self._fd, None, False
        if fd is not None:
            os.close(fd)
