"""PRONOM format identification with fido, loaded once and reused for many files.

The ``fido`` command line tool spends ~0.2 s loading its signature files before it looks at a single
file, and ``fido.fido.Fido()`` with its defaults does not even start (it names a signature file that
1.6.1 does not ship). :class:`FormatIdentifier` loads the bundled signatures once, as the ``fido``
command does (``fido.versions.get_local_versions()`` names the files), and then identifies any
number of files with the same rules as ``fido`` without its per-run start-up:

* the head and the tail (128 KiB each, fido's ``bufsize``) of a file are matched against every
  PRONOM byte signature, and fido's ``has_priority_over`` relations drop the inferior matches;
* a ZIP or OLE2 match is looked into with PRONOM's container signatures (DOCX, XLSX, ODF, DOC…);
* a file without a signature match, or an empty one, is matched by its extension.

Why not call ``Fido.identify_file`` with a ``handle_matches`` callback (the documented way to get
results instead of its printed CSV)? It swallows ``IOError`` (it prints it to stderr and reports
nothing), writes to stderr for empty files, re-parses the 190 kB container signature file for every
ZIP/OLE2 file, and walks the signature XML elements for every file. So fido is used here to *load*
the signatures (its own loader, so overrides between signature files resolve exactly as in fido),
and the matching rules of ``Fido.match_formats``, ``container_type``, ``match_container`` and
``match_extensions`` are applied to a precompiled copy of them: same answers (the tests compare with
the ``fido`` command and with ``Fido.match_formats``), several times faster, no output.

Two deliberate differences, both for files the ``fido`` command cannot handle anyway: a ZIP member
that does not inflate (the command dies with ``zlib.error``) and a ZIP member a container signature
would read that inflates past :data:`MAX_CONTAINER_MEMBER` (the command reads it all into memory)
both skip the container step with a logged warning, leaving the byte-signature answer (a ZIP).

Nothing is ever written to stdout or stderr (our CLI prints JSON on stdout).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, overload

from preservation.errors import PreservationError
from preservation.forking import Crashed, fork_map
from preservation.forking import can_fork as can_fork  # where it was before; used here too
from preservation.format_patterns import BrokenPatternError, Finds, Test, compile_pattern

logger = logging.getLogger(__name__)

#: Largest uncompressed ZIP member that container signatures may read. fido reads the whole member
#: named by a signature ([Content_Types].xml, mimetype, META-INF/manifest.xml…) into memory, so a
#: small DOCX could inflate to gigabytes; real ones are a few kB. (OLE2 streams are not compressed:
#: what fido reads from them is bounded by the file's size.)
MAX_CONTAINER_MEMBER = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FormatId:
    """A file format as identified (PRONOM via fido)."""

    puid: str | None  # e.g. "fmt/18"; None when nothing matched
    name: str | None = None  # e.g. "Acrobat PDF 1.4 - Portable Document Format"
    version: str | None = None
    mime: str | None = None
    #: how the match was made: "signature", "container", "extension" or "none"
    basis: str = "none"
    registry: str = "PRONOM"
    #: the signature file release fido used, e.g. "v109"
    registry_version: str | None = None
    #: the other PUIDs that matched equally well, in fido's order (``puid`` is the first)
    alternatives: tuple[str, ...] = ()


_SHARED: dict[tuple[object, ...], FormatId] = {}
_SHARED_MAX = 4096


def format_fields(fmt: FormatId | None) -> tuple[object, ...] | None:
    """``fmt`` as a tuple of plain values (for a spooled record); None stays None."""
    if fmt is None:
        return None
    return (fmt.puid, fmt.name, fmt.version, fmt.mime, fmt.basis, fmt.registry,
            fmt.registry_version, fmt.alternatives)


def format_from_fields(values: tuple[object, ...] | list[object] | None) -> FormatId | None:
    """The :class:`FormatId` of :func:`format_fields`: one shared object per distinct
    identification (a package of 100,000 PDFs holds a handful of them, not 100,000)."""
    if values is None:
        return None
    key = tuple(tuple(v) if isinstance(v, list) else v for v in values)
    shared = _SHARED.get(key)
    if shared is None:
        puid, name, version, mime, basis, registry, registry_version, alternatives = key
        shared = FormatId(puid, name, version, mime, basis, registry,  # type: ignore[arg-type]
                          registry_version, tuple(alternatives))  # type: ignore[arg-type]
        if len(_SHARED) < _SHARED_MAX:
            _SHARED[key] = shared
    return shared


def shared_format(fmt: FormatId) -> FormatId:
    """An equal :class:`FormatId`, shared with every other file identified the same way."""
    return format_from_fields(format_fields(fmt)) or fmt


@dataclass(frozen=True, slots=True)
class PronomFormat:
    """What the loaded signature files say about one PUID."""

    puid: str
    name: str | None
    version: str | None
    mime: str | None  # the first MIME type listed, as fido reports it


class FormatIdentificationError(PreservationError):
    """The format signatures could not be loaded, or the identifier was used after closing."""

    code = "FMT-IDENTIFIER"


# (signature name, tests) of one signature
_Signature = tuple[str | None, tuple[Test, ...]]
# a match: (index of the format, signature name)
_Match = tuple[int, str | None]

_EXTERNAL_SIGNATURE = "External"  # fido's signature name for extension matches


def _text(element: Any, tag: str) -> str | None:
    child = element.find(tag)
    if child is None or not child.text:
        return None
    return str(child.text)


class _Signatures:
    """fido's loaded signatures, precompiled. Immutable after construction."""

    def __init__(self, conf_dir: str | os.PathLike[str] | None) -> None:
        import xml.etree.ElementTree as ET

        import fido
        import fido.fido
        import fido.package
        import fido.versions

        conf = str(conf_dir) if conf_dir is not None else fido.CONFIG_DIR
        versions = fido.versions.get_local_versions(conf)
        pronom_version = versions.pronom_version
        format_files = [versions.pronom_signature, versions.fido_extension_signature]
        container_file = versions.pronom_container_signature
        saved_maxcache = re._MAXCACHE  # type: ignore[attr-defined]
        try:
            # Fido() prints (and sys.exit()s) on a broken signature file: keep it off our streams.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()) as err,
            ):
                self.fido = fido.fido.Fido(
                    quiet=True,
                    conf_dir=conf,
                    format_files=format_files,
                    # fido 1.6.1 ignores this argument (it keeps its module default); the
                    # container file is read below from the name in versions.xml instead
                    containersignature_file=container_file,
                    handle_matches=self._unexpected_matches,
                )
        except SystemExit as e:
            raise FormatIdentificationError(
                f"fido could not load its signature files: {err.getvalue().strip()}",
                location=conf,
            ) from e
        finally:
            # Fido() raises the process-wide ``re`` cache size; our patterns are precompiled
            re._MAXCACHE = saved_maxcache  # type: ignore[attr-defined]

        self.conf_dir = conf
        self.fido_version: str = fido.__version__
        self.version = f"v{pronom_version}"
        self.files = (*format_files, container_file)
        self.bufsize: int = self.fido.bufsize

        elements = list(self.fido.formats)
        self.puids: list[str] = [self.fido.get_puid(e) for e in elements]
        by_puid = {puid: i for i, puid in enumerate(self.puids)}
        # has_priority_over: inferior[i] = the PUIDs that format i beats
        self.inferior: list[frozenset[str]] = [
            self.fido.puid_has_priority_over_map[p] for p in self.puids
        ]
        self.info = {
            p: PronomFormat(p, _text(e, "name"), _text(e, "version"), _text(e, "mime"))
            for p, e in zip(self.puids, elements, strict=True)
        }
        self.signatures: list[tuple[_Signature, ...]] = []
        self.extensions: dict[str, list[int]] = {}
        # Fido.container_type: the first match with a <container> element decides (its text),
        # or fmt/111 (OLE2); other formats are skipped
        self.container: list[tuple[bool, str | None]] = []
        self.finds = Finds()
        # the first byte each format's BOF match needs (None: any byte may do)
        needs: list[set[int] | None] = []
        for i, element in enumerate(elements):
            signatures = []
            firsts: set[int] | None = set()
            for sig in element.findall("signature"):
                compiled = [c for p in sig.findall("pattern")
                            if (c := compile_pattern(p, self.finds))]
                signatures.append((sig.findtext("name"), tuple(t for t, _ in compiled)))
                # a signature is tried from its first test: that test's byte rules it out
                first = compiled[0][1] if compiled else None
                if first is None or firsts is None:
                    firsts = None
                else:
                    firsts.add(first)
            self.signatures.append(tuple(signatures))
            needs.append(firsts if signatures else set())
            for ext in element.findall("extension"):
                if ext.text and i not in self.extensions.setdefault(ext.text, []):
                    self.extensions[ext.text].append(i)
            container = element.find("container")
            if container is not None:
                self.container.append((True, container.text))
            else:
                self.container.append((self.puids[i] == "fmt/111", "ole"))

        container_doc = ET.parse(os.path.join(conf, container_file))
        # {path inside the container: {puid: [signature]}}, as Fido.match_container builds it
        self.container_signatures = {
            kind: self.fido.extract_signatures(container_doc, signature_type=kind)
            for kind in ("ZIP", "OLE2")
        }
        #: by_first_byte[b]: the formats that can match a head starting with byte b, in fido's
        #: order ([256]: an empty head); the others fail on their first test, so skipping them
        #: changes no answer (and no broken pattern is reached in them either)
        self.by_first_byte: list[tuple[int, ...]] = [
            tuple(i for i, n in enumerate(needs) if n is None or b in n) for b in range(257)]
        #: every distinct answer given so far, shared (see _answer)
        self.answers: dict[tuple[tuple[str, ...], str], FormatId] = {}
        self.by_puid = by_puid
        self.packages: dict[str, Any] = {
            "zip": ("ZIP", fido.package.ZipPackage),
            "ole": ("OLE2", fido.package.OlePackage),
        }

    @staticmethod
    def _unexpected_matches(*_args: Any) -> None:
        """Replaces fido's printing match handler; nothing calls it, nothing may print."""

    # -- the matching rules of fido.fido.Fido -------------------------------------------------

    def _as_good_as_any(self, i: int, matches: Sequence[_Match]) -> bool:
        """``Fido.as_good_as_any``: no other match has priority over format ``i``."""
        puid = self.puids[i]
        return not any(j != i and puid in self.inferior[j] for j, _ in matches)

    def match_signatures(self, head: bytes, tail: bytes) -> list[_Match]:
        """``Fido.match_formats``: byte-signature matches, inferior ones removed, fido's order."""
        result: list[_Match] = []
        # fido asks, before trying format i, whether any match so far has priority over it; the
        # union of what the matches so far beat answers that in one set lookup (the formats
        # matched so far all come before i, so "another match" is every match)
        beaten: set[str] = set()
        self.finds.known.clear()
        for i in self.by_first_byte[head[0] if head else 256]:
            signatures = self.signatures[i]
            if self.puids[i] in beaten:
                continue
            try:
                for name, tests in signatures:
                    for test, on_tail in tests:
                        if not test(tail if on_tail else head):
                            break
                    else:
                        result.append((i, name))
                        beaten |= self.inferior[i]
            except BrokenPatternError:
                continue  # fido: prints the exception, skips the rest of this format
        return [m for m in result if self._as_good_as_any(m[0], result)]

    def match_extension(self, filename: str) -> list[_Match]:
        """``Fido.match_extensions``."""
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        if not ext:
            return []
        result = [(i, _EXTERNAL_SIGNATURE) for i in self.extensions.get(ext, ())]
        return [m for m in result if self._as_good_as_any(m[0], result)]

    def container_type(self, matches: list[_Match]) -> str | None:
        """``Fido.container_type``."""
        for i, _ in matches:
            decides, kind = self.container[i]
            if decides:
                return kind
        return None

    def match_container(self, kind: str, path: str) -> list[_Match]:
        """``Fido.match_container`` for a ZIP or OLE2 file (signatures parsed once, not per file).

        fido's package readers already treat a bad ZIP or OLE2 as "no match"; a member that cannot
        be decompressed (which would stop the ``fido`` command) is treated the same way here.
        ``OSError`` (the file cannot be read) propagates.
        """
        signature_type, package = self.packages[kind]
        if kind == "zip" and self._oversized_member(path, self.container_signatures["ZIP"]):
            return []
        try:
            puids = package(path, self.container_signatures[signature_type]).detect_formats()
        except OSError:
            raise
        except (zlib.error, NotImplementedError, EOFError, ValueError) as e:
            logger.warning("container signatures not checked for %s: %s", path, e)
            return []
        name_of = [self.fido.puid_format_map[p].findtext("name") for p in puids]
        return [(self.by_puid[p], n) for p, n in zip(puids, name_of, strict=True)]

    @staticmethod
    def _oversized_member(path: str, signatures: dict[str, Any]) -> bool:
        """True (and a warning) if a member a ZIP signature would read exceeds the limit."""
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                for name in signatures:
                    # ZipFile.open(name), as fido calls it, reads the last entry of that name
                    if name in names and archive.getinfo(name).file_size > MAX_CONTAINER_MEMBER:
                        logger.warning(
                            "container signatures not checked for %s: %s inflates to %d bytes",
                            path,
                            name,
                            archive.getinfo(name).file_size,
                        )
                        return True
        except (zipfile.BadZipFile, RuntimeError, UnicodeDecodeError, ValueError):
            pass  # fido's ZipPackage reports such a file as no container match
        return False


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at end of file (fido's loop never ends on a short file)."""
    chunks = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class FormatIdentifier:
    """Identifies files with fido's PRONOM signatures, loaded once for the life of the object.

    Use it as a context manager (or call :meth:`close`). Loading takes ~0.2 s; identifying takes
    about a millisecond for most files, a few for ZIP/OLE2 containers.

    Threads: an instance is meant for one thread at a time; calls from several threads are
    serialised by an internal lock (correct, but no faster). For parallel identification give each
    worker process its own instance.

    Errors: a file that cannot be read is the caller's problem — :meth:`identify` lets the
    ``OSError`` (``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError``…) through rather
    than reporting "no match". A file that matches nothing gives ``FormatId(puid=None,
    basis="none")``. Signature files that cannot be loaded raise
    :class:`FormatIdentificationError`.
    """

    def __init__(self, *, conf_dir: str | os.PathLike[str] | None = None) -> None:
        """Load fido's signatures from ``conf_dir`` (default: the ones bundled with fido)."""
        self._signatures: _Signatures | None = _load_signatures(conf_dir)
        self._lock = threading.Lock()

    def __enter__(self) -> FormatIdentifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the loaded signatures (~35 MB of XML elements and compiled patterns). Idempotent."""
        self._signatures = None

    @property
    def _loaded(self) -> _Signatures:
        if self._signatures is None:
            raise FormatIdentificationError("the format identifier is closed")
        return self._signatures

    @property
    def signature_version(self) -> str:
        """The PRONOM signature release in use, e.g. ``"v109"``."""
        return self._loaded.version

    @property
    def signature_files(self) -> tuple[str, ...]:
        """The signature files in use: PRONOM, fido's extensions, PRONOM container signatures."""
        return self._loaded.files

    @property
    def fido_version(self) -> str:
        """The version of fido whose rules and signatures are used (for the PREMIS agent)."""
        return self._loaded.fido_version

    def format_info(self, puid: str) -> PronomFormat | None:
        """Name, version and MIME type of a PUID as the loaded signatures describe it."""
        return self._loaded.info.get(puid)

    def pronom_name(self, puid: str) -> str | None:
        """The PRONOM name of a PUID, e.g. ``"Acrobat PDF 1.4 - Portable Document Format"``."""
        info = self.format_info(puid)
        return info.name if info else None

    def identify(self, path: str | os.PathLike[str]) -> FormatId:
        """Identify one file as the ``fido`` command would; see the class notes on errors."""
        sigs = self._loaded
        with self._lock:
            return _identify_file(sigs, os.fspath(path))

    def shared(self, answer: FormatId) -> FormatId:
        """The one shared object equal to ``answer`` (e.g. a copy pickled by a worker process):
        equal answers stay one object, as :meth:`identify`'s are."""
        return _shared(self._loaded, answer)

    def identify_many(
        self, paths: Iterable[str | os.PathLike[str]]
    ) -> Iterator[tuple[Path, FormatId]]:
        """Identify files one by one as they are asked for (``paths`` may be a generator).

        An ``OSError`` ends the iteration; call :meth:`identify` per file to carry on past one.
        """
        for path in paths:
            yield Path(path), self.identify(path)

    def identify_parallel(
        self, paths: Sequence[str | os.PathLike[str]], *, processes: int = 2, chunksize: int = 32,
        check: Callable[[str], None] | None = None,
    ) -> Iterator[tuple[str, FormatId | OSError]]:
        """Identify many files in ``processes`` forked worker processes, in the order given.

        Workers are forked from this process, so they share the signatures already loaded
        (nothing is loaded again); each answer is the one :meth:`identify` gives, and equal
        answers come back as one shared object. A file that cannot be read gives its
        ``OSError`` in place of an answer (``EIO`` if it ended its worker process: see
        :func:`preservation.forking.fork_map`, which runs the workers). Without ``fork``,
        with ``processes`` < 2, or while other threads run (see :func:`can_fork`), the files
        are identified here, one by one.

        ``check(path)``, when given, is called (in the worker) just before a file is opened by
        name, e.g. to make sure it is still the regular file that was listed; an ``OSError`` it
        raises is that file's answer and the file is not opened.
        """
        sigs = self._loaded
        names = [os.fspath(p) for p in paths]
        if processes < 2 or not can_fork():
            for name in names:
                yield name, _identify_checked(sigs, name, check)
            return

        def one(name: str) -> FormatId | OSError:
            # a worker runs one file at a time: no lock needed, and none inherited can be held
            return _identify_checked(sigs, name, check)

        answers = fork_map(one, names, processes=processes, chunksize=chunksize,
                           cpu_limit=None)
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, Crashed):
                yield name, OSError(errno.EIO, f"identification stopped: {answer.reason}", name)
            else:
                yield name, _shared(sigs, answer)


def _identify_checked(sigs: _Signatures, name: str,
                      check: Callable[[str], None] | None) -> FormatId | OSError:
    """``check(name)`` then the file's identification; the ``OSError`` of either instead."""
    try:
        if check is not None:
            check(name)
        return _identify_file(sigs, name)
    except OSError as e:
        return e


def _identify_file(sigs: _Signatures, filename: str) -> FormatId:
    """One file against the loaded signatures (``FormatIdentifier.identify`` without its lock)."""
    with open(filename, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        head = _read_exactly(stream, min(size, sigs.bufsize))
        if size <= sigs.bufsize:
            tail = head
        else:
            stream.seek(size - sigs.bufsize)
            tail = _read_exactly(stream, sigs.bufsize)
    matches = sigs.match_signatures(head, tail)
    kind = sigs.container_type(matches)
    if kind in sigs.packages:
        container_matches = sigs.match_container(kind, filename)
        if container_matches:
            return _answer(sigs, container_matches, "container")
    if matches and size > 0:  # fido: a 0-byte file matches some signatures (RTF)
        return _answer(sigs, matches, "signature")
    return _answer(sigs, sigs.match_extension(filename), "extension")


def _answer(sigs: _Signatures, matches: list[_Match], basis: str) -> FormatId:
    """The answer for these matches; equal answers are one shared (frozen) object, so 100,000
    PDFs hold one ``FormatId`` between them, not 100,000."""
    puids = tuple(dict.fromkeys(sigs.puids[i] for i, _ in matches))  # fido may repeat one
    key = (puids, basis if puids else "none")
    known = sigs.answers.get(key)
    if known is not None:
        return known
    if not puids:
        answer = FormatId(puid=None, basis="none", registry_version=sigs.version)
    else:
        info = sigs.info[puids[0]]
        answer = FormatId(
            puid=info.puid,
            name=info.name,
            version=info.version,
            mime=info.mime,
            basis=basis,
            registry_version=sigs.version,
            alternatives=puids[1:],
        )
    return sigs.answers.setdefault(key, answer)


@overload
def _shared(sigs: _Signatures, answer: FormatId) -> FormatId: ...
@overload
def _shared(sigs: _Signatures, answer: FormatId | OSError) -> FormatId | OSError: ...
def _shared(sigs: _Signatures, answer: FormatId | OSError) -> FormatId | OSError:
    """A worker's (pickled) answer as the parent's shared object."""
    if isinstance(answer, OSError):
        return answer
    puids = (answer.puid, *answer.alternatives) if answer.puid else ()
    return sigs.answers.setdefault((puids, answer.basis), answer)


def _load_signatures(conf_dir: str | os.PathLike[str] | None) -> _Signatures:
    """Load and precompile fido's signatures (the expensive step; tests count its calls)."""
    try:
        return _Signatures(conf_dir)
    except FormatIdentificationError:
        raise
    except Exception as e:  # missing or malformed versions.xml / signature files
        raise FormatIdentificationError(
            f"fido could not load its signature files: {e}",
            location=str(conf_dir) if conf_dir is not None else None,
        ) from e
