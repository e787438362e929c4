"""The per-file state of a BagIt validation, kept flat in memory however many files a bag has.

A validation of 100,000 files must not hold 100,000 of anything. What it needs per file is
kept in one of three ways, each a plain in-memory structure up to :data:`sip.bagit_tree.KEEP`
entries (a small bag costs what it always did):

- sequences read more than once (a manifest's lines, the checksums to compare) are
  :func:`preservation.spooled.spooled`: past ``KEEP`` records in an anonymous temporary file;
- keyed lookups (a manifest's paths, the digests of every file) are
  :class:`preservation.diskmap.DiskMap`, written a batch at a time: past ``KEEP`` keys in a
  temporary SQLite file;
- "which of these names may repeat?" (duplicate manifest lines, names that collide) is
  :class:`Repeats`: hashes of the keys in two passes, in sets up to ``KEEP`` keys and in two
  fixed-size bitmaps past that, so only the few keys that may repeat are then looked at exactly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from preservation.diskmap import DiskMap
from preservation.paths import collisions
from preservation.spooled import fields_of, from_fields, spooled
from sip import bagit_tree

T = TypeVar("T")
V = TypeVar("V")

#: The bitmaps of :class:`Repeats` past ``KEEP`` keys: 2**23 bits (1 MiB) each, at most.
MAX_BITS = 1 << 23


def _same(value: Any) -> Any:
    return value


def keep() -> int:
    """:data:`sip.bagit_tree.KEEP`, read now (a test may lower it)."""
    return bagit_tree.KEEP


class Repeats:
    """The keys of ``keys`` (``count`` of them) that may occur more than once.

    ``key in repeats`` is True for every key that occurs twice or more, and for a few others
    that share its hash (or, past ``KEEP`` keys, its bit): callers check those exactly.
    ``bool(repeats)``: whether any key may repeat at all.
    """

    __slots__ = ("_bits", "_mask", "_shared")

    def __init__(self, keys: Iterable[Hashable], count: int) -> None:
        if count <= keep():
            seen: set[int] = set()
            shared: set[int] = set()
            for key in keys:
                h = hash(key)
                (shared if h in seen else seen).add(h)
            del seen
            self._shared: set[int] | None = shared
            self._bits = bytearray()
            self._mask = 0
            return
        bits = 1 << 13
        while bits < MAX_BITS and bits < count * 64:
            bits <<= 1
        self._mask = bits - 1
        once = bytearray(bits >> 3)
        twice = bytearray(bits >> 3)
        mask = self._mask
        for key in keys:
            bit = hash(key) & mask
            byte, flag = bit >> 3, 1 << (bit & 7)
            if once[byte] & flag:
                twice[byte] |= flag
            else:
                once[byte] |= flag
        del once
        self._shared = None
        self._bits = twice if any(twice) else bytearray()

    def __contains__(self, key: Hashable) -> bool:
        if self._shared is not None:
            return hash(key) in self._shared
        if not self._bits:
            return False
        bit = hash(key) & self._mask
        return bool(self._bits[bit >> 3] & (1 << (bit & 7)))

    def __bool__(self) -> bool:
        return bool(self._shared) if self._shared is not None else bool(self._bits)


def case_key(name: str) -> str:
    """The form two colliding names share (NFC, case-folded, NFC again)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def flat_collisions(names: Callable[[], Iterable[str]], count: int
                    ) -> list[tuple[str, str, str]]:
    """:func:`preservation.paths.collisions` of ``names()`` (iterated twice; ``count`` names),
    grouping only the names whose case key may be shared: colliding names always share it,
    and a name alone in its group pairs with none."""
    repeats = Repeats((case_key(name) for name in names()), count)
    if not repeats:
        return []
    return collisions(name for name in names() if case_key(name) in repeats)


def mapping(pairs: Iterable[tuple[str, V]] = (), *, order: str = "insertion",
            what: str = "file record", encode: Callable[[V], Any] | None = None,
            decode: Callable[[Any], V] | None = None) -> DiskMap[V]:
    """A :class:`DiskMap` of ``pairs`` (later pairs win), written a batch at a time."""
    result: DiskMap[V] = DiskMap(
        encode=encode or _same, decode=decode or _same, keep=keep(),
        order="key" if order == "key" else "insertion", what=what)
    batch: list[tuple[str, V]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= bagit_tree.WRITE_BATCH:
            result.update(batch)
            batch.clear()
    result.update(batch)
    return result


def first_of(pairs: Callable[[], Iterable[tuple[str, str]]], count: int) -> DiskMap[str]:
    """Key → the value of its first pair in ``pairs()`` (iterated twice; ``count`` pairs), as
    ``dict.setdefault`` would keep it."""
    repeats = Repeats((key for key, _ in pairs()), count)
    result: DiskMap[str] = DiskMap(keep=keep(), what="name")
    batch: list[tuple[str, str]] = []
    for key, value in pairs():
        if key in repeats:  # may come again: the first one stays
            if key not in result:
                result[key] = value
            continue
        batch.append((key, value))
        if len(batch) >= bagit_tree.WRITE_BATCH:
            result.update(batch)
            batch.clear()
    result.update(batch)
    return result


def spool(items: Iterable[T], kind: Callable[..., T], what: str) -> Sequence[T]:
    """Every record of ``items`` (a flat dataclass ``kind``) as a read-only sequence, past
    ``KEEP`` in a temporary file."""
    return spooled(items, fields_of, from_fields(kind), keep=keep(), what=what)


def close(*maps: object) -> None:
    """Remove the temporary files of ``maps`` now (a dict or a list has none)."""
    for item in maps:
        if isinstance(item, DiskMap):
            item.close()


def merged_masks(files: Iterable[str], sets: Sequence[Iterable[str]]
                 ) -> Iterator[tuple[str, int]]:
    """``(rel, mask)`` for every path of ``files`` (sorted): bit *i* set when the *i*-th of
    ``sets`` (each iterated in sorted order, each a subset of ``files``) holds it."""
    cursors = [iter(sorted_set) for sorted_set in sets]
    heads: list[str | None] = [next(cursor, None) for cursor in cursors]
    for rel in files:
        mask = 0
        for index, cursor in enumerate(cursors):
            head = heads[index]
            while head is not None and head < rel:
                head = next(cursor, None)
            if head == rel:
                mask |= 1 << index
                head = next(cursor, None)
            heads[index] = head
        yield rel, mask
