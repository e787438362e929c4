"""A submitted package on disk, listed once and hashed once, shared by every SIP validator.

The E-ARK, TT05 and content validators all look at the same folder (a producer's folder, or a ZIP
already extracted into a private work folder by :mod:`sip.archive`). :class:`PackageTree` lists it
once without following links (:func:`sip.bagit_tree.walk`), hashes every regular file in one
parallel pass, and answers later questions from that listing: does this path exist, what is its
size and digest. References found in METS files are resolved with :meth:`PackageTree.resolve`,
which never joins a hostile href to the file system: it normalises the href lexically and then
matches it against the listing.
"""

from __future__ import annotations

import itertools
import posixpath
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from lxml import etree

from preservation.diskmap import DiskMap
from preservation.findings import Finding, Report
from preservation.paths import path_problems
from preservation.spooled import spooled
from sip import bagit_tree
from sip.bagit_hash import Hashed, JobList, hash_each, hashed_fields, hashed_of
from sip.bagit_tree import Listed, Tree, listed_fields, listed_of, open_listed, walk

#: Algorithm names as METS CHECKSUMTYPE / BagIt spell them → hashlib names.
ALGORITHMS = {
    "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
    "SHA-512": "sha512", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384",
    "SHA512": "sha512",
}


@dataclass(frozen=True)
class Resolved:
    """An href resolved against the package: the package-relative path, or why it cannot be."""

    href: str
    path: str | None  # "/"-separated, relative to the package root; None if unsafe / not local
    problems: tuple[str, ...] = ()  # path_problems codes, or "escapes-root", "not-local"


class PackageTree:
    """Everything under one package root, by "/"-separated relative path."""

    def __init__(self, root: Path, tree: Tree | None = None) -> None:
        self.root = root
        self.tree = tree if tree is not None else walk(root)
        #: digests by path; past sip.bagit_tree.KEEP files in a temporary file
        self._hashed: DiskMap[Hashed] = DiskMap(encode=hashed_fields, decode=hashed_of,
                                                keep=bagit_tree.KEEP, what="hashed file")
        self._dirs = set(self.tree.dirs)
        #: NFC form → the listed path, only where the two differ (an NFC name maps to itself
        #: without an entry); later paths win, as the listing's sorted order would have it
        self._nfc: DiskMap[str] = DiskMap(keep=bagit_tree.KEEP, what="file name")
        for rel in self.tree.files:
            nfc = unicodedata.normalize("NFC", rel)
            if nfc != rel or nfc in self._nfc:
                self._nfc[nfc] = rel
        #: package XML already parsed by sip.xmlload.load_xml: the tree (None: unreadable or
        #: not kept), its findings, and the reports that were told them (id → weak reference)
        self.parsed_xml: dict[str, tuple[etree._ElementTree | None, tuple[Finding, ...],
                                         dict[int, weakref.ref[Report]]]] = {}

    # --- listing ------------------------------------------------------------------------------
    @property
    def files(self) -> Mapping[str, Listed]:
        return self.tree.files

    def is_file(self, rel: str) -> bool:
        return rel in self.tree.files

    def is_dir(self, rel: str) -> bool:
        return rel == "" or rel in self._dirs

    def size(self, rel: str) -> int | None:
        listed = self.tree.files.get(rel)
        return listed.size if listed else None

    def under(self, folder: str) -> Iterator[str]:
        """Every file path below ``folder`` ("" for all), sorted."""
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        return (rel for rel in self.tree.files if rel.startswith(prefix))

    def only_child(self, folder: str) -> str | None:
        """The one name directly inside ``folder``; None when it holds nothing or several
        (stops at the second name: no set of every path of a flat folder)."""
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        only: str | None = None
        for rel in itertools.chain(self.tree.files, self.tree.dirs):
            if rel.startswith(prefix):
                name = rel[len(prefix):].split("/", 1)[0]
                if name and name != only:
                    if only is not None:
                        return None
                    only = name
        return only

    def children(self, folder: str) -> list[str]:
        """Names (not paths) of the files and folders directly inside ``folder``."""
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        names = {rel[len(prefix):].split("/", 1)[0]  # no tuple of every path first
                 for rel in itertools.chain(self.tree.files, self.tree.dirs)
                 if rel.startswith(prefix)}
        return sorted(n for n in names if n)

    def find_nfc(self, rel: str) -> str | None:
        """The listed path equal to ``rel`` after NFC normalisation (hrefs vs NFD names)."""
        listed = self.tree.files.get(rel)
        if listed is not None:
            return listed.rel  # the listing's own string: callers keep it, not a copy
        nfc = unicodedata.normalize("NFC", rel)
        hit = self._nfc.get(nfc)
        if hit is not None:
            return hit
        return nfc if nfc in self.tree.files else None

    def listed_or_same(self, rel: str) -> str:
        """``find_nfc(rel) or rel``; with the listing on disk, no lookup for an NFC ``rel``
        that no other listed name normalises to (the answer is ``rel`` either way)."""
        if not isinstance(self.tree.files, dict) and rel not in self._nfc \
                and unicodedata.is_normalized("NFC", rel):
            return rel
        return self.find_nfc(rel) or rel

    # --- hashing ------------------------------------------------------------------------------
    def hash_all(self, algorithms: Iterable[str] = ("sha256",), *,
                 progress: Callable[[int], None] | None = None) -> None:
        """Hash every file not hashed yet with ``algorithms`` (hashlib names), one read each."""
        wanted = frozenset(algorithms)
        missing = (rel for rel in self.tree.files
                   if not wanted <= self._hashed.get(rel, _EMPTY).digests.keys())
        self.hash_all_of(missing, wanted, progress=progress)

    def hashed(self, rel: str, algorithm: str = "sha256") -> Hashed | None:
        """Digests of a listed file (computed now if needed); None if it is not listed.

        Check ``error`` and ``changed`` on the result before trusting ``digests``.
        """
        known = self._hashed.get(rel)  # only listed files have digests: one lookup if known
        if known is not None and (algorithm in known.digests or known.error or known.changed):
            return known
        if rel not in self.tree.files:
            return None
        self.hash_all_of([rel], (algorithm,))
        return self._hashed.get(rel)

    def hash_all_of(self, rels: Iterable[str], algorithms: Iterable[str], *,
                    progress: Callable[[int], None] | None = None) -> None:
        """Hash the listed files among ``rels`` with ``algorithms`` (one read each); the new
        digests join the ones already known unless the file is now unreadable or changed."""
        wanted = frozenset(algorithms)
        files = self.tree.files
        # one sequence of the listed files (past KEEP in a temporary file) and one shared set
        # of algorithms, no tuple per file; the outcomes are stored a batch at a time
        jobs = JobList(spooled((files[rel] for rel in rels if rel in files), listed_fields,
                               listed_of, keep=bagit_tree.KEEP, what="listed file"), wanted)
        known = bool(self._hashed)  # else there is nothing to merge with: no lookup per file
        batch: list[tuple[str, Hashed]] = []
        for _, hashed in hash_each(self.root, jobs, progress=progress):
            previous = self._hashed.get(hashed.listed.rel) if known else None
            if previous is not None and not hashed.error and not hashed.changed:
                hashed = Hashed(hashed.listed, {**previous.digests, **hashed.digests})
            batch.append((hashed.listed.rel, hashed))
            if len(batch) >= bagit_tree.WRITE_BATCH:
                self._hashed.update(batch)
                batch.clear()
        self._hashed.update(batch)

    def seed_digest(self, rel: str, algorithm: str, hexdigest: str) -> None:
        """Record a digest computed elsewhere (e.g. by the BagIt validator) to avoid a re-read."""
        self.seed_digests(((rel, algorithm, hexdigest),), strict=True)

    def seed_digests(self, digests: Iterable[tuple[str, str, str]], *,
                     strict: bool = False) -> None:
        """:meth:`seed_digest` for many ``(rel, algorithm, hexdigest)``, written in batches;
        a path that is not a listed file is skipped (``strict``: :class:`KeyError`)."""
        files = self.tree.files
        batch: dict[str, Hashed] = {}  # not written yet: a path given twice merges here
        for rel, algorithm, hexdigest in digests:
            listed = files[rel] if strict else files.get(rel)
            if listed is None:
                continue
            previous = batch.get(rel) or self._hashed.get(rel)
            merged = dict(previous.digests) if previous is not None else {}
            merged[algorithm] = hexdigest
            batch[rel] = Hashed(listed, merged)
            if len(batch) >= bagit_tree.WRITE_BATCH:
                self._hashed.update(batch)
                batch.clear()
        self._hashed.update(batch)

    def digest(self, rel: str, algorithm: str = "sha256") -> str | None:
        """Lower-case hex digest of a listed file, or None (not listed, unreadable, changed)."""
        return self.size_and_digest(rel, algorithm)[1]

    def size_and_digest(self, rel: str, algorithm: str = "sha256"
                        ) -> tuple[int | None, str | None]:
        """:meth:`size` and :meth:`digest` at once (the digests hold the listing's record)."""
        hashed = self.hashed(rel, algorithm)
        if hashed is None:
            return None, None
        if hashed.error or hashed.changed:
            return hashed.listed.size, None
        return hashed.listed.size, hashed.digests.get(algorithm)

    def opened(self, rel: str) -> AbstractContextManager[BinaryIO]:
        """``with tree.opened(rel) as f``: a listed file, never through a link.

        Raises :class:`sip.bagit_tree.ChangedError` if it was swapped since the listing.
        """
        return open_listed(self.root, self.tree.files[rel])

    def read_bytes(self, rel: str, limit: int) -> bytes:
        """The whole file if it is at most ``limit`` bytes; ValueError otherwise."""
        listed = self.tree.files[rel]
        if listed.size > limit:
            raise ValueError(f"{rel} is {listed.size} bytes, over the limit of {limit}")
        with open_listed(self.root, listed) as stream:
            return stream.read(limit + 1)

    # --- references ---------------------------------------------------------------------------
    def resolve(self, base_dir: str, href: str) -> Resolved:
        """:func:`resolve_href` (kept as a method for the validators that hold a tree)."""
        return resolve_href(base_dir, href)


def resolve_href(base_dir: str, href: str) -> Resolved:
    """Resolve an ``xlink:href`` (or schemaLocation) written in a file inside ``base_dir``.

    Relative references are percent-decoded and joined to ``base_dir`` lexically; ``file:``
    URLs with no host are accepted as relative paths only when they are relative. Absolute
    paths, ``..`` escaping the root, other schemes and every path_problems() case give
    ``path=None`` with the reasons.
    """
    parts = urlsplit(href)
    if parts.scheme and parts.scheme.lower() != "file" and len(parts.scheme) > 1:
        return Resolved(href, None, ("not-local",))
    if parts.scheme.lower() == "file":
        if parts.netloc:
            return Resolved(href, None, ("not-local",))
        raw = unquote(parts.path)
    else:
        raw = unquote(href.split("#", 1)[0].split("?", 1)[0])
    problems = [p for p in path_problems(raw)
                if p not in ("dot-dot", "dot-segment", "windows-character",
                             "windows-reserved")]
    if problems:
        return Resolved(href, None, tuple(problems))
    joined = posixpath.normpath(posixpath.join(base_dir, raw)) if base_dir else \
        posixpath.normpath(raw)
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return Resolved(href, None, ("escapes-root",))
    if joined == ".":
        joined = ""
    return Resolved(href, joined)

_EMPTY = Hashed(Listed("", 0, 0, 0, 0))

