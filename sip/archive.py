"""Open a submitted package safely: a folder as it is, a ZIP only after every entry was judged.

:func:`open_package` is the only way the validator and ingest reach a submission:

* a **folder** is returned as it is — never copied, never written to;
* a **ZIP** (recognised by its bytes, not its extension) is read entry by entry with
  :mod:`sip.zipread` *before anything is extracted*: names (UTF-8, :func:`preservation.paths.
  path_problems`, length and depth), links and special files, duplicates, file/folder conflicts,
  NFC and case collisions, encryption, compression method, declared sizes against
  :class:`ZipLimits` (per entry, in total, compression ratio, entry count), local headers that
  disagree with the central directory, and entries whose data overlap (the "overlapping files" zip
  bomb). Any error → ``None`` and nothing is written. Otherwise the entries are extracted into a
  fresh private folder (mode 0700) under ``work_dir``, through directory file descriptors only
  (``O_EXCL | O_NOFOLLOW``, no path is ever joined or resolved), counting the bytes actually
  decompressed: an entry that inflates past its declared size is stopped there, and any failure
  (bad CRC, damaged data) removes the whole folder and returns ``None``.

Decisions (documented here because the code depends on them):

* Names that are not UTF-8 are refused (``ZIP-NAME-INVALID-UTF8``), not guessed as CP437: see
  :mod:`sip.zipread`.
* ``__MACOSX/`` (resource forks and Finder data that macOS's "Compress" adds) is checked like every
  other entry but not extracted, with one ``ZIP-MACOS-METADATA-SKIPPED`` warning; it does not count
  when looking for the single top folder.
* The package root is the ZIP's single top-level folder when it holds exactly one (and nothing
  else at the top), otherwise the extraction folder itself. The package name is that folder's name,
  else the ZIP file's name without its extension.
* Name *warnings* (Windows-only names, bidi controls, colliding folders) are left to the tree checks
  that run on the extracted folder (:func:`sip.safety.check_tree_safety`, or the BagIt checks), so
  they are reported once; when the ZIP is refused they are reported here instead, since no tree
  check will run.
* Permissions and dates stored in the ZIP are not applied: files are written 0600, folders 0700.
* Extraction stops at the first entry that fails (bad CRC, damaged data, lying size): what follows
  a broken entry is not worth trusting, and everything extracted so far is removed.
* The path the user gives is the user's own: if it is a link to a folder or a ZIP, it is followed;
  nothing inside the package ever is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from preservation.errors import NotFoundError
from preservation.findings import Report, Severity
from preservation.paths import printable
from sip.zipcheck import Item, Plan, ZipLimits, inspect
from sip.zipread import ZIP_MAGICS, Inflater, ZipFormatError, compressed_chunks, read_directory

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LIMITS", "OpenedPackage", "ZipLimits", "open_package"]

DEFAULT_LIMITS = ZipLimits()

_DIR_FLAGS = (os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
_FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class OpenedPackage:
    """A package ready to validate. Use as a context manager: leaving it removes the private
    extraction folder of a ZIP (a folder package is left exactly as it was)."""

    def __init__(self, root: Path, name: str, source: Path, is_zip: bool,
                 private: Path | None = None) -> None:
        self.root = root  # the package root to validate
        self.name = name  # folder name, the ZIP's single top folder, else the ZIP's stem
        self.source = source  # what the user gave
        self.is_zip = is_zip
        self._private = private

    @property
    def work_folder(self) -> Path | None:
        """The private folder a ZIP was extracted into (None for a folder package)."""
        return self._private

    def close(self) -> None:
        if self._private is not None:
            _remove(self._private)
            self._private = None

    def __enter__(self) -> OpenedPackage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenedPackage(root={self.root!s}, name={self.name!r}, zip={self.is_zip})"


def open_package(path: Path, work_dir: Path, report: Report, *,
                 limits: ZipLimits = DEFAULT_LIMITS) -> OpenedPackage | None:
    """Open the submission at ``path``: a folder as is, a ZIP extracted safely under
    ``work_dir``; ``None`` (with findings in ``report``) when it cannot be opened safely.

    Raises :class:`NotFoundError` when ``path`` does not exist or cannot be read at all.
    """
    try:
        st = os.stat(path)
    except OSError as error:
        raise NotFoundError(f"cannot open {path}: {error.strerror or error}",
                            location=str(path)) from error
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as error:
            raise NotFoundError(f"cannot list the folder {path}: {error.strerror or error}",
                                location=str(path)) from error
        return OpenedPackage(path, path.name or path.resolve().name, path, False)
    if not stat.S_ISREG(st.st_mode):
        report.add("PKG-NOT-A-PACKAGE", None, file=printable(path.name))
        return None
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        raise NotFoundError(f"cannot read {path}: {error.strerror or error}",
                            location=str(path)) from error
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            report.add("PKG-NOT-A-PACKAGE", None, file=printable(path.name))
            return None
        return _open_zip(fd, st.st_size, path, work_dir, report, limits)
    finally:
        os.close(fd)


def _open_zip(fd: int, size: int, path: Path, work_dir: Path, report: Report,
              limits: ZipLimits) -> OpenedPackage | None:
    try:
        looks_like_zip = os.pread(fd, 4, 0) in ZIP_MAGICS
    except OSError as error:
        raise NotFoundError(f"cannot read {path}: {error.strerror or error}",
                            location=str(path)) from error
    try:
        directory = read_directory(fd, size, limits.max_entries)
    except ZipFormatError as error:
        if looks_like_zip:
            report.add("ZIP-CORRUPT", None, error=str(error))
        else:
            report.add("PKG-NOT-A-PACKAGE", None, file=printable(path.name))
        return None
    except OSError as error:
        raise NotFoundError(f"cannot read {path}: {error.strerror or error}",
                            location=str(path)) from error
    scratch = Report(report.subject, report.kind)
    plan = inspect(fd, directory, scratch, limits)
    if plan is None or not scratch.valid:
        report.extend(scratch.findings)
        return None
    # Name warnings are reported again by the tree checks on the extracted folder.
    report.extend(f for f in scratch.findings
                  if not (f.code.startswith("PKG-") and f.severity is Severity.WARNING))
    work_dir.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="package-", dir=work_dir))
    try:
        extracted = _Extraction(fd, private, report, limits).run(plan)
    except BaseException:
        _remove(private)
        raise
    if not extracted:
        _remove(private)
        return None
    root, name = private, path.stem or path.name
    if len(plan.tops) == 1:
        top = next(iter(plan.tops))
        if top in plan.folders:
            root, name = private / top, top
    log.debug("extracted %s into %s (%d entries)", path, private, len(plan.items))
    return OpenedPackage(root, name, path, True, private)


# --- extraction ---------------------------------------------------------------------------------

class _Failed(Exception):
    """Extraction cannot go on (the finding is already in the report)."""


class _Extraction:
    """Write the planned entries below ``private`` through directory descriptors only."""

    def __init__(self, fd: int, private: Path, report: Report, limits: ZipLimits) -> None:
        self.fd = fd
        self.private = private
        self.report = report
        self.limits = limits
        self.total = 0
        self._root_fd = -1
        self._cached: tuple[tuple[str, ...], int] | None = None

    def run(self, plan: Plan) -> bool:
        self._root_fd = os.open(self.private, _DIR_FLAGS)
        try:
            for item in plan.items:
                if item.is_dir:
                    try:
                        self._folder(tuple(item.path.split("/")))
                    except OSError as error:
                        raise self._failed(item, error) from error
                else:
                    self._file(item)
        except _Failed:
            return False
        finally:
            self._drop_cache()
            os.close(self._root_fd)
        return True

    def _failed(self, item: Item, error: OSError) -> _Failed:
        self.report.add("ZIP-EXTRACT-FAILED", printable(item.path), file=printable(item.path),
                        error=error.strerror or type(error).__name__)
        return _Failed()

    def _drop_cache(self) -> None:
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None

    def _folder(self, segments: tuple[str, ...]) -> int:
        """A descriptor of the folder ``segments`` below the root (created as needed); it
        belongs to the cache, so callers must not close it."""
        if not segments or segments == ("",):
            return self._root_fd
        if self._cached is not None and self._cached[0] == segments:
            return self._cached[1]
        self._drop_cache()
        current = self._root_fd
        try:
            for segment in segments:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(segment, 0o700, dir_fd=current)
                opened = os.open(segment, _DIR_FLAGS, dir_fd=current)
                if current != self._root_fd:
                    os.close(current)
                current = opened
        except BaseException:
            if current != self._root_fd:
                os.close(current)
            raise
        self._cached = (segments, current)
        return current

    def _file(self, item: Item) -> None:
        segments = item.path.split("/")
        try:
            parent = self._folder(tuple(segments[:-1]))
            out = os.open(segments[-1], _FILE_FLAGS, 0o600, dir_fd=parent)
        except OSError as error:
            raise self._failed(item, error) from error
        try:
            self._stream(item, out)
        finally:
            os.close(out)

    def _stream(self, item: Item, out: int) -> None:
        """Decompress one entry into ``out``, trusting none of the sizes the headers declare."""
        entry = item.entry
        location = printable(item.path)
        inflater = Inflater(entry.method)
        written = 0
        crc = 0
        try:
            for piece in _decompressed(self.fd, item, inflater):
                written += len(piece)
                self.total += len(piece)
                if written > entry.file_size:
                    self.report.add("ZIP-SIZE-MISMATCH", location, file=location,
                                    declared=entry.file_size,
                                    actual=f"> {entry.file_size}")
                    raise _Failed()
                if self.total > self.limits.max_total_bytes:  # only with a lying header
                    self.report.add("ZIP-TOTAL-TOO-LARGE", None, size=f"> {self.total}",
                                    limit=self.limits.max_total_bytes)
                    raise _Failed()
                crc = zlib.crc32(piece, crc)
                _write_all(out, piece)
        except ZipFormatError as error:
            self.report.add("ZIP-ENTRY-CORRUPT", location, file=location, error=str(error))
            raise _Failed() from error
        except OSError as error:
            raise self._failed(item, error) from error
        if written != entry.file_size:
            self.report.add("ZIP-SIZE-MISMATCH", location, file=location,
                            declared=entry.file_size, actual=written)
            raise _Failed()
        if crc != entry.crc:
            self.report.add("ZIP-CRC-MISMATCH", location, file=location,
                            expected=f"{entry.crc:08x}", actual=f"{crc:08x}")
            raise _Failed()


def _decompressed(fd: int, item: Item, inflater: Inflater) -> Iterator[bytes]:
    for chunk in compressed_chunks(fd, item.data_offset, item.entry.compressed_size):
        yield from inflater.feed(chunk)
    yield from inflater.finish()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _remove(folder: Path) -> None:
    """Remove a private work folder (never following links inside it)."""
    shutil.rmtree(folder, ignore_errors=True)
    if os.path.lexists(folder):
        log.warning("could not remove the work folder %s", folder)

