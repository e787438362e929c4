"""The payload side of a BagIt validation run (used by :mod:`sip.bagit_checks`), flat in memory.

:class:`Payload` is a view of the listing's payload files (no copy); :class:`Check` a checksum a
manifest line claims, spooled past ``KEEP`` (:func:`spool_checks`); :func:`hash_listed` reads every
file once and keeps the outcomes in a :class:`~preservation.diskmap.DiskMap` by path;
:func:`may_collide` and :class:`Exact` answer, without a set of every path a manifest lists,
which of its paths may collide and whether it lists a given path.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preservation.diskmap import DiskMap
from preservation.spooled import spooled
from sip.bagit_flat import Repeats, close, keep, mapping, spool
from sip.bagit_hash import Hashed, JobList, hash_each, hashed_fields, hashed_of
from sip.bagit_text import ManifestLine
from sip.bagit_tree import WRITE_BATCH, Listed, Tree, listed_fields, listed_of


@dataclass(frozen=True, slots=True)
class Check:
    """A checksum a manifest line claims for a file on disk."""

    path: str
    algorithm: str
    expected: bytes  # the checksum's bytes (half the memory of its lower-case hex text)
    manifest: str
    line: int


def spool_checks(checks: Iterable[Check]) -> Sequence[Check]:
    """Every check of ``checks``, in order, past ``KEEP`` in a temporary file."""
    return spool(checks, Check, "checksum")


class Payload:
    """The payload files of a listing (those below ``data/``), without a copy of them: a
    read-only view of ``tree.files`` answering ``in``, ``get``, iteration (sorted), ``values``
    and ``len``."""

    __slots__ = ("_count", "_files")

    def __init__(self, files: Mapping[str, Listed]) -> None:
        self._files = files
        self._count: int | None = None

    def __contains__(self, rel: object) -> bool:
        return isinstance(rel, str) and rel.startswith("data/") and rel in self._files

    def get(self, rel: str) -> Listed | None:
        return self._files.get(rel) if rel.startswith("data/") else None

    def __iter__(self) -> Iterator[str]:
        return (rel for rel in self._files if rel.startswith("data/"))

    def values(self) -> Iterator[Listed]:
        return (f for rel, f in self._files.items() if rel.startswith("data/"))

    def listed(self) -> PayloadFiles:
        """The payload files, iterable again and again (for :class:`JobList`)."""
        return PayloadFiles(self)

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self)
        return self._count


class PayloadFiles:
    """The payload files of a listing, iterated again for each pass of :func:`hash_each`."""

    __slots__ = ("_payload",)

    def __init__(self, payload: Payload) -> None:
        self._payload = payload

    def __len__(self) -> int:
        return len(self._payload)

    def __iter__(self) -> Iterator[Listed]:
        return self._payload.values()


def hash_listed(root: Path, tree: Tree, payload: Payload, algorithms: frozenset[str],
                tag_checks: Sequence[Check], progress: Callable[[int], None] | None
                ) -> DiskMap[Hashed]:
    """Read every payload file (with ``algorithms``) and every file ``tag_checks`` name (with
    theirs) once; the outcomes by path, iterated in path order, past ``KEEP`` on disk."""
    tags: DiskMap[tuple[str, ...]] = DiskMap(keep=keep(), what="tag file")
    for check in tag_checks:
        known = tags.get(check.path, ())
        if check.algorithm not in known:
            tags[check.path] = (*known, check.algorithm)
    files = tree.files
    others = spooled(((files[rel], frozenset(algs)) for rel, algs in tags.items()),
                     _job_fields, _job_of, keep=keep(), what="tag file")
    tags.close()
    jobs = JobList(payload.listed(), algorithms, others)
    hashed: DiskMap[Hashed] = DiskMap(encode=hashed_fields, decode=hashed_of, keep=keep(),
                                      order="key", what="hashed file")
    batch: list[tuple[str, Hashed]] = []
    for _, h in hash_each(root, jobs, progress=progress):
        batch.append((h.listed.rel, h))
        if len(batch) >= WRITE_BATCH:
            hashed.update(batch)
            batch.clear()
    hashed.update(batch)
    return hashed


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def may_collide(lines: Sequence[ManifestLine]) -> Iterator[tuple[str, int]]:
    """``(path, line)`` of the entries whose path may collide with another's, in order.

    Two paths that collide (equal after NFC normalisation, or after case folding as well) have
    the same case-folded NFC form; only the entries whose form may be shared by two entries
    (:class:`sip.bagit_flat.Repeats`) are passed on, so the collision check groups a few names,
    not every name a big manifest lists."""
    repeats = Repeats((nfc(nfc(entry.path).casefold()) for entry in lines), len(lines))
    if repeats:
        yield from ((entry.path, entry.line) for entry in lines
                    if nfc(nfc(entry.path).casefold()) in repeats)


class Exact:
    """``path in exact``: whether a manifest lists ``path``, the map of its paths made at the
    first question (a manifest rarely names a file in another form than on disk)."""

    __slots__ = ("_lines", "_paths")

    def __init__(self, lines: Sequence[ManifestLine]) -> None:
        self._lines = lines
        self._paths: DiskMap[None] | None = None

    def __contains__(self, path: object) -> bool:
        if self._paths is None:
            self._paths = mapping(((entry.path, None) for entry in self._lines),
                                  what="manifest path")
        return path in self._paths

    def close(self) -> None:
        close(self._paths)
        self._paths = None


def _job_fields(job: tuple[Listed, frozenset[str]]) -> tuple[Any, ...]:
    return listed_fields(job[0]), tuple(sorted(job[1]))


def _job_of(values: tuple[Any, ...]) -> tuple[Listed, frozenset[str]]:
    return listed_of(values[0]), frozenset(values[1])
