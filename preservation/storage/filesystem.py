"""A storage location on a local or mounted filesystem: ``file:///absolute/path``.

Each object is one plain file under the root, at the path its key names, so a copy stays readable
with nothing but ``ls`` and ``sha256sum``. Writes are crash-safe and write-once:

* the bytes go to a temporary file (``.tmp-…``) in the target's directory, hashed and counted
  while streaming, and are fsync'ed before anything else happens;
* a file that does not have the announced size and SHA-256 is removed, never published (with
  ``verify_later=True`` only the size is checked here, and a regular-file source is copied by
  the kernel: the caller reads the object back and compares the SHA-256 itself);
* the verified file is made read-only and published with ``os.link``, which fails when the name
  exists, so two concurrent writers cannot overwrite each other; the directory is fsync'ed so the
  new name survives a power cut.

Directories exist only to hold objects, as in S3: a delete, or a put that fails, removes the
directories it leaves empty, so a discarded AIP leaves no empty folder behind in the copy.

Durability comes in two modes (``durability`` option):

* ``"immediate"`` (the default): as above, each ``put`` returns only once the file, its name and
  any new directory are on disk — one ``fsync`` of the file and one of its directory per object;
* ``"deferred"``: ``put`` writes, verifies and publishes exactly as above but does not wait for
  the disk; :meth:`FilesystemBackend.sync` then makes every object put so far durable at once
  (``syncfs`` of the location's filesystem on Linux, reporting any write-back error since the
  first deferred put; elsewhere an ``fsync`` of each file and directory). A caller choosing it
  must call ``sync()`` before it relies on the objects (ingest: before it registers the AIP);
  until then a crash or power cut may lose them, or leave a published name whose contents are
  missing or torn (the directory entry reached the disk, the data did not). After a crash such
  objects must be checked before use: a resumed ingest reads back each one it keeps, and names
  it to :meth:`FilesystemBackend.pending` so that its ``sync()`` flushes it too.

A caller may also ask for the deferred behaviour object by object, whatever the location's
mode: ``put(..., durable=False)`` (the write session of :meth:`StorageBackend.put`). Such puts
and a ``"deferred"`` location share one record of what is pending (``Pending`` in
:mod:`preservation.storage.durability`), flushed by the same ``sync()``; puts with
``durable=True`` on an ``"immediate"`` location stay durable when they return.

The SHA-256 is not stored beside the file (``head`` returns ``sha256=None``): the AIP's BagIt
manifests already record it, and a second record here could only disagree with them. Retention
(Object Lock) does not exist on a filesystem and is ignored.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from preservation.errors import (
    ConfigError,
    DeleteRefusedError,
    ObjectExistsError,
    ObjectMissingError,
    StorageError,
)
from preservation.storage.base import (
    ObjectInfo,
    Retention,
    StorageBackend,
    StreamVerifier,
    check_key,
    check_prefix,
)
from preservation.storage.durability import Pending
from preservation.storage.fs_directories import ATTEMPTS, Directories, flush_directory
from preservation.storage.kernel_copy import kernel_copy

log = logging.getLogger(__name__)

#: Bytes read from the source and written per system call.
CHUNK_SIZE = 1024 * 1024
DURABILITY_MODES = ("immediate", "deferred")


class FilesystemBackend(Directories, StorageBackend):
    """Objects as read-only files under a root directory that must already exist.

    The root is not created: a missing root usually means an unmounted disk, and writing into
    the empty mount point would put the archive's copy on the wrong device.
    """

    scheme = "file"

    def __init__(self, url: str, *, durability: str = "immediate",
                 early_copies: bool = False) -> None:
        super().__init__(url)
        self.root = root_from_url(url)
        if not self.root.is_dir():
            raise ConfigError(
                f"storage root {self.root} does not exist or is not a directory "
                "(is the disk mounted?)",
                code="CONFIG-STORAGE-ROOT",
                location=url,
            )
        if durability not in DURABILITY_MODES:
            raise ConfigError(
                f"durability must be one of {', '.join(DURABILITY_MODES)}, not {durability!r}",
                code="CONFIG-STORAGE-OPTION",
            )
        self.durability = durability
        #: whether an ingest may copy a transfer into this location's incoming area while it
        #: validates it (:mod:`preservation.storage.incoming`, :meth:`adopt`)
        self.early_copies = early_copies
        #: what deferred puts (the location's mode, or ``durable=False``) left to flush
        self._pending = Pending()
        self._root = str(self.root)

    def _path(self, key: str) -> str:
        """The file of ``key``, as a plain string: a ``Path`` made from it would intern each of
        its names (CPython's ``pathlib``), and an ingest's worker threads interning a new name
        per object grow and rebuild the interpreter's table of interned strings in their own
        malloc arenas, which keep the freed tables (several MiB each) for good."""
        return os.path.join(self._root, check_key(key))

    def put(
        self,
        key: str,
        source: BinaryIO,
        *,
        size: int,
        sha256: str,
        retention: Retention | None = None,
        durable: bool = True,
        verify_later: bool = False,
    ) -> ObjectInfo:
        """Stream ``source`` into a new read-only file; see the module docstring for the steps.

        With ``durable=False`` (or on a ``"deferred"`` location) nothing is fsync'ed here: the
        file and the directories made for it wait for :meth:`sync`. With ``verify_later=True``
        the stream is not hashed (the caller reads the object back and checks it); the size is
        still checked, and a source that is a regular file is copied by the kernel
        (``sendfile``) without passing through Python. The returned :class:`ObjectInfo` carries
        the SHA-256 announced (verified, unless ``verify_later``).
        """
        target = self._path(key)
        where = self._where(key)
        verifier = StreamVerifier(source, key=key, size=size, sha256=sha256,
                                  hashing=not verify_later)
        if os.path.lexists(target):
            raise self._taken(target, key)
        deferred = not durable or self.durability == "deferred"
        if deferred:
            self._pending.start(self.root)
        fd, temp = self._create_temp(target, key, deferred)
        published = False
        try:
            with os.fdopen(fd, "wb") as out:
                # Errors reading the source propagate as the source's OSError (also from the
                # kernel copy); only our own I/O is a StorageError.
                if not (verify_later and kernel_copy(source, out.fileno(), verifier, where)):
                    while chunk := verifier.read(CHUNK_SIZE):
                        with _os_errors("write", key, where):
                            out.write(chunk)
                verifier.finish()
                with _os_errors("write", key, where):
                    out.flush()
                    if not deferred:
                        os.fsync(out.fileno())
                    os.fchmod(out.fileno(), 0o444)
            self._publish(temp, target, key)
            published = True
        finally:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            if not published:
                self._prune(os.path.dirname(target))
        if deferred:
            self._pending.add(target)
        else:
            flush_directory(os.path.dirname(target))
        stat_result = os.stat(target)
        return ObjectInfo(
            key=key, size=stat_result.st_size, sha256=sha256, modified=_mtime(stat_result)
        )

    def _publish(self, temp: str, target: str, key: str) -> None:
        """Give the verified temporary file its final name, refusing to replace anything."""
        try:
            os.link(temp, target)
        except FileExistsError:
            raise self._taken(target, key) from None
        except OSError as exc:  # e.g. a filesystem without hard links
            raise StorageError(
                f"cannot publish {key} (os.link): {exc}", location=self._where(key)
            ) from exc

    def adopt(self, key: str, path: str, *, size: int, durable: bool = True) -> bool:
        """Publish the complete read-only file ``path`` of this location's incoming area
        (:mod:`preservation.storage.incoming`) under ``key``, by a hard link as :meth:`put`
        publishes its temporary file, and drop its old name; durability as for :meth:`put`.

        Like a ``verify_later`` put, the bytes are not hashed: the caller reads the object back.
        False (nothing done) when ``path`` is not a file of ``size`` bytes, or cannot be linked
        (another filesystem mounted under the root, one without hard links): the caller puts
        the bytes instead. An existing key is refused as by :meth:`put`.
        """
        target = self._path(key)
        if os.path.lexists(target):
            raise self._taken(target, key)
        try:
            info = os.lstat(path)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return False
        deferred = not durable or self.durability == "deferred"
        if deferred:
            self._pending.start(self.root)
        parent = os.path.dirname(target)
        for _ in range(ATTEMPTS):
            try:
                self._make_parents(parent, key, deferred)
            except FileNotFoundError:
                continue  # a concurrent delete pruned a directory while it was made
            try:
                os.link(path, target)
                break
            except FileExistsError:
                raise self._taken(target, key) from None
            except FileNotFoundError:
                if not os.path.lexists(path):
                    return False
                continue  # a concurrent delete pruned the directory: make it again
            except OSError as exc:
                self._prune(parent)
                if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP):
                    return False
                raise StorageError(f"cannot publish {key} (os.link): {exc}",
                                   location=self._where(key)) from exc
        else:
            raise StorageError(f"the directory of {key} vanished {ATTEMPTS} times while "
                               "writing", location=self._where(key))
        with suppress(FileNotFoundError):
            os.unlink(path)
        if deferred:
            self._pending.add(target)
        else:
            with _os_errors("write", key, self._where(key)):
                fd = os.open(target, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            flush_directory(parent)
        return True

    def _taken(self, target: str, key: str) -> StorageError:
        """The error for a put whose target name exists: an object, or a directory of them."""
        if os.path.isdir(target) and not os.path.islink(target):
            return StorageError(
                f"key {key} names a directory of other objects",
                code="STORAGE-KEY-CONFLICT",
                location=self._where(key),
            )
        return ObjectExistsError(f"object {key} already exists", location=self._where(key))

    def open(self, key: str) -> BinaryIO:
        """The object's file, opened for binary reading (use it in a ``with`` block)."""
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissingError(f"no object {key}", location=self._where(key)) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symbolic link is never one of our objects
                raise ObjectMissingError(
                    f"no object {key} (a symbolic link is there)", location=self._where(key)
                ) from None
            raise StorageError(f"cannot open {key}: {exc}", location=self._where(key)) from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ObjectMissingError(f"no object {key}", location=self._where(key))
        # a 1 MiB buffer for a 4 KiB object would cost an mmap/munmap per open
        return os.fdopen(fd, "rb", buffering=min(CHUNK_SIZE, max(8192, info.st_size)))

    def head(self, key: str) -> ObjectInfo | None:
        """Size and modification time of the object's file, or None when there is none."""
        path = self._path(key)
        try:
            stat_result = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"cannot stat {key}: {exc}", location=self._where(key)) from exc
        if not stat.S_ISREG(stat_result.st_mode):
            return None
        return ObjectInfo(key=key, size=stat_result.st_size, modified=_mtime(stat_result))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Walk the tree below the deepest directory ``prefix`` names, one directory at a time.

        Only directories that can hold matching keys are entered. Names starting with '.' are
        never keys (unfinished writes, a NAS's ``.snapshot``) and are passed over silently;
        other files whose names cannot be keys, or that are not regular files, are skipped with
        a warning, since a stray file in an archive copy deserves a look.
        """
        check_prefix(prefix)
        start = prefix.rpartition("/")[0]
        pending = [start]
        while pending:
            directory = pending.pop()
            try:
                entries = os.scandir(self.root.joinpath(*directory.split("/")))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise StorageError(
                    f"cannot list {directory or '/'}: {exc}", location=self.url
                ) from exc
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue  # unfinished writes, or the filesystem's own (.snapshot)
                    key = f"{directory}/{entry.name}" if directory else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if key.startswith(prefix):
                            pending.append(key)
                        continue
                    if not key.startswith(prefix):
                        continue
                    try:
                        check_key(key)
                    except StorageError:
                        log.warning("skipping %s in %s: not a valid object key", key, self.root)
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        log.warning("skipping %s in %s: not a regular file", key, self.root)
                        continue
                    try:
                        stat_result = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted since the directory was read
                    yield ObjectInfo(
                        key=key, size=stat_result.st_size, modified=_mtime(stat_result)
                    )

    def delete(self, key: str) -> None:
        """Unlink the object's file; absent is fine.

        On POSIX, removing a read-only file needs only write permission on its directory; a
        directory made read-only by an administrator refuses with :class:`DeleteRefusedError`.
        Directories left empty are removed (:meth:`_prune`).
        """
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except PermissionError as exc:
            raise DeleteRefusedError(
                f"the filesystem refuses to delete {key}: {exc}", location=self._where(key)
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc}", location=self._where(key)) from exc
        flush_directory(os.path.dirname(path))
        self._prune(os.path.dirname(path))

    def pending(self, key: str) -> None:
        """Have the next :meth:`sync` flush the existing object under ``key``, as if it had
        just been put with ``durable=False``: its file and every directory from it up to the
        root (without ``syncfs``, each is fsync'ed; with it, the filesystem is flushed)."""
        current = self._path(key)
        self._pending.start(self.root)
        while current != self._root and len(current) > len(self._root):
            self._pending.add(current)  # the file or directory, and the directory naming it
            current = os.path.dirname(current)

    def sync(self) -> None:
        """Make every object put without waiting for the disk durable (those of a ``"deferred"``
        location, those put with ``durable=False``, those named to :meth:`pending`); nothing to
        do when there are none.

        Raises :class:`StorageError` if the system reports that some write did not reach the
        disk; the objects must then be taken as lost (an ingest fails and cleans up).
        """
        try:
            self._pending.flush()
        except OSError as exc:
            raise StorageError(
                f"cannot make the objects written to {self.root} durable: {exc}",
                code="STORAGE-SYNC-FAILED", location=self.url,
            ) from exc

    def close(self) -> None:
        """Release the handle deferred puts keep (objects not synced stay unsynced)."""
        self._pending.release()

    def _where(self, key: str) -> str:
        return f"{self.url}#{key}"


def root_from_url(url: str) -> Path:
    """The absolute directory a ``file://`` URL names (percent-escapes decoded)."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme != "file":
        problem = "the scheme must be file://"
    elif parts.netloc not in ("", "localhost"):
        problem = f"a host ({parts.netloc!r}) is not allowed; use file:///absolute/path"
    elif parts.query or parts.fragment:
        problem = "a query or fragment is not allowed"
    elif not parts.path.startswith("/"):
        problem = "the path must be absolute (file:///absolute/path)"
    if problem:
        raise ConfigError(f"invalid storage URL {url!r}: {problem}", code="CONFIG-STORAGE-URL")
    return Path(unquote(parts.path))


def _mtime(stat_result: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat_result.st_mtime, tz=UTC)


@contextmanager
def _os_errors(action: str, key: str, where: str) -> Iterator[None]:
    """Report a failure of our own file operations as a :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot {action} {key}: {exc}", location=where) from exc
