"""A filesystem location's private incoming area: files copied in before anyone knows whether
they will become objects, published later by a hard link (no second copy), or thrown away.

An ingest copies the transfer's files to every filesystem location *while* it validates them
(:mod:`aip.ingest_early`), so that the disk writes overlap the CPU work of validation instead of
following it. Nothing here is an object until :meth:`FilesystemBackend.adopt
<preservation.storage.filesystem.FilesystemBackend.adopt>` links it under its key, after the
transfer was accepted; a rejected transfer's area is removed whole.

Layout: ``<root>/.incoming/<random>/`` holds one area; its owner keeps an exclusive ``flock`` on
``<root>/.incoming/<random>.lock``, taken before the folder is made and dropped by the kernel when
the process dies. Names starting with '.' are
never keys, so no listing, audit or catalog rebuild ever sees an area
(:meth:`FilesystemBackend.list <preservation.storage.filesystem.FilesystemBackend.list>`).
:func:`sweep_incoming` removes the areas a killed process left (their lock is free).

Each file is copied inside the kernel (``copy_file_range``, else ``sendfile``) to a temporary
name and renamed once complete and read-only, so an area never holds a torn file under a real
name. The bytes are not hashed here: whoever publishes them reads the object back and compares
its SHA-256 with the validated one (the ingest's read-back).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from contextlib import suppress

log = logging.getLogger(__name__)

INCOMING = ".incoming"
LOCK = ".lock"
_TEMP = ".tmp-"
_CHUNK = 64 << 20
#: tries at making an area whose lock file a concurrent sweep may remove (see IncomingArea)
_ATTEMPTS = 10


class IncomingArea:
    """One private, locked incoming area under a filesystem location's root."""

    def __init__(self, root: str) -> None:
        base = os.path.join(root, INCOMING)
        for _ in range(_ATTEMPTS):
            os.makedirs(base, exist_ok=True)
            self.path = os.path.join(base, uuid.uuid4().hex)
            # locked before the folder exists: a sweep never sees it unlocked
            try:
                self._lock: int | None = os.open(self.path + LOCK,
                                                 os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
            except FileNotFoundError:
                continue  # .incoming removed by a sweep or a closing area meanwhile
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX)
                if not _still_named(self._lock, self.path + LOCK):
                    # a sweep took the free lock file between its creation and our lock,
                    # and removed it: a lock without a name protects nothing
                    os.close(self._lock)
                    self._lock = None
                    continue
                os.mkdir(self.path, 0o700)
            except BaseException:
                self.close()
                raise
            return
        raise OSError(f"cannot make an incoming area under {base}: its lock file was removed "
                      f"{_ATTEMPTS} times while it was made")

    def file(self, rel: str) -> str:
        """Where the file ``rel`` (a relative path with '/' separators) is, or will be."""
        return os.path.join(self.path, *rel.split("/"))

    def copy_in(self, rel: str, source: str) -> int:
        """Copy the regular file ``source`` (never through a symbolic link) to ``rel``, read-only;
        its size. ``OSError`` for any failure (nothing is left under ``rel`` then)."""
        return copy_file(self.path, rel, source)

    def copy_tree(self, source: str) -> Copier:
        """Start copying every regular file under the folder ``source`` here, in a separate
        process (:class:`Copier`)."""
        return Copier(source, self.path)

    def take(self, rel: str, size: int) -> str | None:
        """The complete copy of ``rel`` if there is one of ``size`` bytes, else None."""
        path = self.file(rel)
        try:
            info = os.lstat(path)
        except OSError:
            return None
        return path if stat.S_ISREG(info.st_mode) and info.st_size == size else None

    def close(self) -> None:
        """Remove the area and what is left in it (files not published), then unlock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            with suppress(OSError):
                os.unlink(self.path + LOCK)
            os.close(self._lock)
            self._lock = None
        with suppress(OSError):
            os.rmdir(os.path.dirname(self.path))  # .incoming, when no other area is open


class Copier:
    """A child process copying a folder's regular files into an incoming area, one after the
    other, until done or stopped.

    A process, not a thread: the bookkeeping of a copy per file (names, directories,
    renames) then never competes for the interpreter lock with the parent's validation. The
    child runs this file as a script with ``python -I`` (standard library only), stops at
    SIGTERM after the file it is copying (or within 64 MiB of a large one, leaving no file
    under its name), and also when its parent dies.
    """

    def __init__(self, source: str, area: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), source, area, str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            close_fds=True)
        self.copied = 0
        self.problem = ""
        self._asked = False

    def terminate(self) -> None:
        """Ask the child to stop after the file it is copying (:meth:`wait` for it)."""
        self._asked = True
        if self._process.poll() is None:
            with suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)

    def wait(self) -> bool:
        """Wait until the child has copied all it could; True, the first time, when it stopped
        on a failure (``problem`` says which)."""
        if self._process.stdout is None:
            return False  # waited for already
        out, err = self._process.communicate()
        self._process.stdout = None
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("copied "):
                self.copied = int(line.split()[1])
        self.problem = err.decode("utf-8", "replace").strip()
        stopped = self._asked and self._process.returncode == -signal.SIGTERM  # before it
        # could take the signal itself: still starting, nothing copied, nothing to report
        if self._process.returncode and not stopped and not self.problem:
            self.problem = f"the copying process ended with status {self._process.returncode}"
        return bool(self.problem)


def copy_file(area: str, rel: str, source: str, stopping: Callable[[], bool] = lambda: False
              ) -> int:
    """Copy the regular file ``source`` to ``rel`` in the area folder ``area``; see
    :meth:`IncomingArea.copy_in`. Stops (``OSError`` EINTR, nothing left) when ``stopping()``
    says so between chunks."""
    target = os.path.join(area, *rel.split("/"))
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    # O_NONBLOCK: a FIFO in a transfer must not hang the copy (it is refused below)
    in_fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(in_fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", source)
        out_fd, temp = tempfile.mkstemp(prefix=_TEMP, dir=parent)
        try:
            size = _copy(in_fd, out_fd, info.st_size, stopping)
            os.fchmod(out_fd, 0o444)
        except BaseException:
            os.close(out_fd)
            os.unlink(temp)
            raise
        os.close(out_fd)
        os.rename(temp, target)
    finally:
        os.close(in_fd)
    return size


def copy_tree(source: str, area: str, stopping: Callable[[], bool]) -> tuple[int, str]:
    """Copy every regular file under ``source`` (symbolic links never followed) to the same
    relative path in ``area``, one directory at a time, until done or ``stopping()``; how many
    were copied, and what stopped it early ("" for nothing, or being stopped): the first
    failure ends the copying."""
    copied = 0
    pending = [""]
    try:
        while pending and not stopping():
            rel_dir = pending.pop()
            with os.scandir(os.path.join(source, rel_dir)) as entries:
                for entry in entries:
                    if stopping():
                        break
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        copy_file(area, rel, entry.path, stopping)
                        copied += 1
    except OSError as exc:
        return copied, "" if exc.errno == errno.EINTR and stopping() else str(exc)
    return copied, ""


def _copy(in_fd: int, out_fd: int, size: int,
          stopping: Callable[[], bool] = lambda: False) -> int:
    """Copy the first ``size`` bytes (fewer if the file shrank); the number copied."""
    copied = 0
    use_range = hasattr(os, "copy_file_range")
    while copied < size:
        if stopping():
            raise OSError(errno.EINTR, "stopped")
        count = min(size - copied, _CHUNK)
        if use_range:
            try:
                sent = os.copy_file_range(in_fd, out_fd, count, copied, copied)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                use_range = False
                continue
        else:
            os.lseek(out_fd, copied, os.SEEK_SET)
            sent = os.sendfile(out_fd, in_fd, copied, count)
        if sent == 0:
            break
        copied += sent
    return copied


def sweep_incoming(root: str) -> int:
    """Remove the incoming areas under ``root`` that no live process holds; how many."""
    base = os.path.join(root, INCOMING)
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    removed = 0
    for name in names:
        area = os.path.join(base, name)
        if name.endswith(LOCK):
            if not os.path.lexists(area[:-len(LOCK)]):
                _remove_free_lock(area)  # died between the lock and the folder
            continue
        try:
            fd = os.open(area + LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = None  # the lock comes before the folder and goes after it: abandoned
        except OSError as exc:
            log.warning("cannot check the incoming area %s: %s", area, exc)
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a running ingest's
            shutil.rmtree(area, ignore_errors=True)
            removed += 1
            if fd is not None:
                with suppress(OSError):
                    os.unlink(area + LOCK)
        finally:
            if fd is not None:
                os.close(fd)
    with suppress(OSError):
        os.rmdir(base)
    return removed


def _still_named(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _remove_free_lock(lock: str) -> None:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(lock)
    except OSError:
        pass  # held: its owner is about to make the folder
    finally:
        os.close(fd)


def _child(argv: list[str]) -> int:
    """The :class:`Copier` child: ``incoming.py SOURCE AREA PARENT_PID``."""
    source, area, parent = argv[0], argv[1], int(argv[2])
    stop = [False]

    def stopping() -> bool:
        return stop[0] or os.getppid() != parent

    def asked(_signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, asked)
    copied, problem = copy_tree(source, area, stopping)
    if problem:
        print(problem, file=sys.stderr)
    print(f"copied {copied}")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
