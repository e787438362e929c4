"""Many lookups of keys asked in ascending order, answered by one walk of a sorted DiskMap.

A lookup in a :class:`~preservation.diskmap.DiskMap` on disk is a SQLite query (about 8 µs for a
key that is there). When a check asks for thousands of keys in ascending order (the paths of
another key-ordered map, say), reading the map's entries in key order alongside — a merge —
answers each in well under a microsecond. :class:`SortedLookup` does that for a map iterated
in key order (``order="key"``), and stays exact whatever is asked: a key smaller than the one
asked before it (the keys are not ascending after all) is looked up in the map. A map in
memory is simply looked up (a dict is faster than any merge).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from preservation.diskmap import DiskMap

__all__ = ["SortedLookup"]

V = TypeVar("V")


class SortedLookup(Generic[V]):
    """``mapping.get`` and ``in`` for keys asked mostly in ascending order.

    ``mapping`` must not change while the lookup is used; a DiskMap on disk must iterate in key
    order (``order="key"``), the order of ``str`` comparison.
    """

    def __init__(self, mapping: Mapping[str, V]) -> None:
        self._mapping = mapping
        self._items: Iterator[tuple[str, V]] | None = None
        if isinstance(mapping, DiskMap) and mapping.on_disk:
            if mapping.order != "key":
                raise ValueError("SortedLookup needs a DiskMap iterated in key order")
            self._items = iter(mapping.items())
        self._current: tuple[str, V] | None = None
        self._last: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """``mapping.get(key, default)``."""
        items, last = self._items, self._last
        if items is None or (last is not None and key < last):
            return self._mapping.get(key, default)
        current = self._current
        if last is None:
            current = next(items, None)
        self._last = key
        while current is not None and current[0] < key:
            current = next(items, None)
        self._current = current
        return current[1] if current is not None and current[0] == key else default

    def __contains__(self, key: str) -> bool:
        marker = _ABSENT
        return self.get(key, marker) is not marker


_ABSENT: Any = object()
