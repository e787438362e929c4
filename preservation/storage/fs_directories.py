"""The directories of a filesystem location (:mod:`preservation.storage.filesystem`): made
durably for a new object, made again when a concurrent delete pruned them, removed as soon as
they are empty, so that a discarded AIP leaves no empty folder behind in the copy."""

from __future__ import annotations

import errno
import os
import stat
import tempfile

from preservation.errors import StorageError
from preservation.fsync import fsync_directory
from preservation.storage.durability import Pending

#: How often a put recreates directories that a concurrent delete pruned under it.
ATTEMPTS = 10
#: Names starting with this are unfinished writes, never objects (keys cannot start with '.').
TEMP_PREFIX = ".tmp-"


class Directories:
    """The directory handling :class:`FilesystemBackend` inherits; it sets ``_root`` (the
    root, a plain string) and ``_pending`` (what waits for ``sync``)."""

    _root: str
    _pending: Pending

    def _where(self, key: str) -> str:
        raise NotImplementedError

    def _create_temp(self, target: str, key: str, deferred: bool) -> tuple[int, str]:
        """Create the target's directories and an empty temporary file in them.

        A concurrent delete may prune a directory between its creation here and the temporary
        file's (see :meth:`_prune`); then the directories are made again, a few times at most.
        """
        for _ in range(ATTEMPTS):
            try:
                parent = os.path.dirname(target)
                self._make_parents(parent, key, deferred)
                fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=parent)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(
                    f"cannot create a file for {key}: {exc}", location=self._where(key)
                ) from exc
            return fd, name
        raise StorageError(
            f"the directory of {key} vanished {ATTEMPTS} times while writing",
            location=self._where(key),
        )

    def _prune(self, directory: str) -> None:
        """Remove ``directory`` and its parents, up to the root, as long as they are empty.

        ``rmdir`` removes nothing but an empty directory, so this can never take an object
        with it; a put racing with it starts its directories over (:meth:`_create_temp`).
        """
        while directory != self._root and len(directory) > len(self._root):
            try:
                os.rmdir(directory)
            except OSError:
                return  # not empty (the usual case), or already removed by someone else
            directory = os.path.dirname(directory)
            flush_directory(directory)

    def _make_parents(self, directory: str, key: str, deferred: bool) -> None:
        """Create the missing directories between the root and ``directory``, durably.

        Each new directory's parent is fsync'ed (``deferred``: at :meth:`sync`) so that the path
        to a stored object survives a crash, not only the object's own name. Raises
        ``FileNotFoundError`` when a concurrent delete prunes one of them meanwhile (a parent
        before its child is made, or one a concurrent put made first, found gone): the caller
        starts over.
        """
        missing = []
        current = directory
        while (current != self._root and len(current) > len(self._root)
               and not os.path.isdir(current)):
            missing.append(current)
            current = os.path.dirname(current)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                # one look at what is there (two could see a directory pruned, then made again)
                try:
                    there = os.lstat(path)
                except FileNotFoundError:  # made by a concurrent put, pruned since
                    raise FileNotFoundError(errno.ENOENT, "pruned while made", path) from None
                if stat.S_ISDIR(there.st_mode):  # made a directory by a concurrent put: fine
                    continue
                raise self._conflict(
                    key, f"the object {path[len(self._root):].lstrip('/')}") from None
            except NotADirectoryError:
                raise self._conflict(key, "an object, not a directory") from None
            except FileNotFoundError:
                raise  # a concurrent prune removed a parent: the caller starts over
            except OSError as exc:
                raise StorageError(
                    f"cannot create directory for {key}: {exc}", location=self._where(key)
                ) from exc
            if deferred:
                self._pending.add(path)
            else:
                flush_directory(os.path.dirname(path))


    def _conflict(self, key: str, what: str) -> StorageError:
        return StorageError(f"key {key} runs through {what}", code="STORAGE-KEY-CONFLICT",
                            location=self._where(key))


def flush_directory(directory: str) -> None:
    """Flush a directory's entries (a directory a concurrent delete has just pruned has nothing
    left to flush)."""
    fsync_directory(directory, missing_ok=True)
