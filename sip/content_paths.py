"""The content checks' items and their paths, in flat memory however many files there are.

:class:`ContentItem` is one file for :func:`sip.content.check_content` to check.
:class:`ContentPaths` reads the items once, before any is checked: the paths seen (a
:class:`~preservation.diskmap.DiskMap`: a dict while small, a temporary database past ``keep``
paths), which item is the first of its path (a path listed twice is checked once) and the items
to examine, as a spooled sequence (:mod:`preservation.spooled`) that forked workers read in
chunks.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from preservation.diskmap import DiskMap
from preservation.spooled import KEEP, spooled

__all__ = ["ContentItem", "ContentPaths"]


@dataclass(frozen=True, slots=True)
class ContentItem:
    """A content file to check: its package-relative path, and whether it is a scan."""

    path: str
    #: TT05 confidenceLevel 02: a digitised paper record (must be two-layer PDF/A)
    digitised: bool = False


def _item_fields(item: ContentItem) -> tuple[str, bool]:
    return item.path, item.digitised


def _item_from_fields(values: tuple[Any, ...]) -> ContentItem:
    return ContentItem(values[0], values[1])


class ContentPaths:
    """The items' paths in one pass over ``items``.

    ``seen``: every item's path (a :class:`~preservation.diskmap.DiskMap` with None values, to
    which the caller may add); ``work``: the first item of each path for which ``examined`` is
    true, in order (spooled); :meth:`firsts`: the items again, each with whether it is the
    first of its path. The places of items whose path came earlier are kept, 8 bytes each
    (none when every path is listed once).
    """

    def __init__(self, items: Iterable[ContentItem], examined: Callable[[ContentItem], bool],
                 *, keep: int = KEEP) -> None:
        self.seen: DiskMap[None] = DiskMap(keep=keep, what="content path")
        self._repeats = array("q")
        self.work = spooled(self._firsts(items, examined), _item_fields, _item_from_fields,
                            keep=keep, what="content item")

    def _firsts(self, items: Iterable[ContentItem], examined: Callable[[ContentItem], bool]
                ) -> Iterator[ContentItem]:
        seen = self.seen
        for index, item in enumerate(items):
            if item.path in seen:
                self._repeats.append(index)
                continue
            seen[item.path] = None
            if examined(item):
                yield item

    def firsts(self, items: Iterable[ContentItem]) -> Iterator[tuple[ContentItem, bool]]:
        """Each item of ``items`` (the same items again) and whether it is the first of its
        path."""
        repeats = iter(self._repeats)
        repeat = next(repeats, -1)
        for index, item in enumerate(items):
            first = index != repeat
            if not first:
                repeat = next(repeats, -1)
            yield item, first

    def close(self) -> None:
        """Forget the paths (the temporary database is removed)."""
        self.seen.close()
