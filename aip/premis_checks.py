"""What a PREMIS record of an AIP may say, checked before a byte of it is written.

The AIP's PREMIS writers (:mod:`aip.premis`) stream their records, so every refusal must come
first: :func:`checked` refuses a malformed or duplicate UUID, an event linking an unknown object
or agent, an event type URI contradicting the id.loc.gov vocabulary and a naive datetime, and
returns the :class:`LinkedObjects` the events' links resolve against. Also the identifiers both
writers derive (:func:`sip_object_uuid`, :func:`representation_uuid`) and the canonical forms
they write (:func:`canonical_uuid`, :func:`timestamp`).
"""

from __future__ import annotations

import bisect
import heapq
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TypeVar

from aip.model import EVENT_TYPES, AipDescription, Event

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_T = TypeVar("_T")


def timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment!r} has no time zone")
    return moment.isoformat(timespec="milliseconds")


def canonical_uuid(value: str) -> str:
    """The canonical lower-case form of a UUID; anything else is refused.

    A value already in that form is returned itself (no new string per file in the
    per-document sets, and no parsing: the writers ask for it several times per file).
    """
    if _CANONICAL_UUID.fullmatch(value):
        return value
    return str(uuid.UUID(value))


def sip_object_uuid(aip_uuid: str) -> str:
    """The UUID of the PREMIS object standing for the SIP an AIP was made from (derived, so
    the ingest events and the PREMIS writer agree without passing it around)."""
    return str(uuid.uuid5(uuid.UUID(aip_uuid), "submission"))


def representation_uuid(aip_uuid: str, representation: str = "rep1") -> str:
    """The UUID of the PREMIS representation object ``representation`` of an AIP (derived)."""
    return str(uuid.uuid5(uuid.UUID(aip_uuid), f"representation:{representation}"))


def sip_uuid_of(desc: AipDescription) -> str:
    """The UUID of the PREMIS object standing for ``desc``'s SIP: its own, or derived."""
    return canonical_uuid(desc.sip_uuid) if desc.sip_uuid else sip_object_uuid(desc.uuid)


def event_type_uri(event: Event) -> str | None:
    """The event's vocabulary URI; a URI contradicting our vocabulary table is a bug."""
    known = EVENT_TYPES.get(event.type)
    if known and event.type_uri and event.type_uri != known:
        raise ValueError(f"event {event.uuid}: {event.type!r} is {known}, not {event.type_uri}")
    return event.type_uri or known


def object_links_of(event: Event) -> Iterator[tuple[str, str]]:
    """(object uuid, role) of every object ``event`` links; none at all means the AIP ("")."""
    with_role = {canonical_uuid(u) for u, _ in event.object_roles}
    for u, role in event.object_roles:
        yield canonical_uuid(u), role
    linked = bool(with_role)
    for u in event.object_uuids:
        canonical = canonical_uuid(u)
        if canonical not in with_role:
            linked = True
            yield canonical, ""
    if not linked:
        yield "", ""


def lookup(table: dict[str, _T], key: str, what: str, event: Event) -> _T:
    """Resolve a link of ``event``; a dangling link is refused, never written."""
    try:
        return table[canonical_uuid(key) if key else ""]
    except (KeyError, ValueError):
        raise ValueError(f"event {event.uuid} links unknown {what} {key!r}") from None


def _unique(items: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        key = canonical_uuid(item)
        if key in seen:
            raise ValueError(f"duplicate {what} UUID {item}")
        seen.add(key)


class SortedKeys:
    """Byte strings of one width, sorted into one ``bytes``: ``width`` bytes per key, where a
    set of them would take about 100 (a UUID is 16 bytes, not a 36-character string).

    Sorted in runs of :data:`RUN` keys; more than one run go to an anonymous temporary file
    and are merged from it into the final bytes, so that making it takes little more than its
    final size. Duplicates are kept (:meth:`duplicate` finds one).
    """

    __slots__ = ("_blob", "_count", "_fences", "_width")
    RUN = 1024
    #: one key in this many is also kept as a ``bytes`` object, so that a lookup bisects them
    #: in C and then only a few keys of the blob (about 4 bytes per key, not 100)
    FENCE = 16
    #: keys read at a time from each run while the runs are merged
    READ = 128

    def __init__(self, keys: Iterable[bytes], width: int) -> None:
        self._width = width
        run: list[bytes] = []
        runs = 0
        spill = None
        try:
            for key in keys:
                if len(key) != width:
                    raise ValueError(f"a key of {len(key)} bytes among keys of {width}")
                run.append(key)
                if len(run) == self.RUN:
                    run.sort()
                    if spill is None:
                        spill = tempfile.TemporaryFile(prefix="sorted-keys-")  # noqa: SIM115
                    spill.write(b"".join(run))
                    runs += 1
                    run.clear()
            run.sort()
            last = b"".join(run)
            del run
            if spill is None:
                self._blob: bytes | bytearray = last
            else:
                spill.write(last)
                spill.flush()
                del last
                self._blob = self._merged(spill.fileno(), runs + 1, spill.tell())
        finally:
            if spill is not None:
                spill.close()
        self._count = len(self._blob) // width
        step = self.FENCE * width
        self._fences = [bytes(self._blob[at:at + width])
                        for at in range(0, len(self._blob), step)]

    def _lower_bound(self, key: bytes) -> int:
        """The index of the first key not less than ``key`` (``len(self)`` if none)."""
        fence = bisect.bisect_left(self._fences, key)
        if fence == 0:
            return 0
        blob, width = self._blob, self._width
        lo = (fence - 1) * self.FENCE + 1  # the key at (fence - 1) * FENCE is less than key
        hi = min(fence * self.FENCE, self._count)
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[mid * width:mid * width + width] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _merged(self, fd: int, runs: int, size: int) -> bytearray:
        """The sorted runs of the file ``fd`` (the last one may be shorter) merged."""
        span = self.RUN * self._width
        merged = bytearray(size)
        at = 0
        width = self._width
        for key in heapq.merge(*(self._read(fd, r * span, min(span, size - r * span))
                                 for r in range(runs))):
            merged[at:at + width] = key
            at += width
        return merged

    def _read(self, fd: int, offset: int, length: int) -> Iterator[bytes]:
        block = self.READ * self._width
        end = offset + length
        while offset < end:
            data = os.pread(fd, min(block, end - offset), offset)
            if not data or len(data) % self._width:
                raise ValueError("the sorted keys' temporary file is truncated")
            offset += len(data)
            yield from self._keys(data)

    def _keys(self, blob: bytes | bytearray) -> Iterator[bytes]:
        width = self._width
        return (bytes(blob[at:at + width]) for at in range(0, len(blob), width))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < self._count:
            raise IndexError("key index out of range")
        at = index * self._width
        return bytes(self._blob[at:at + self._width])

    def __iter__(self) -> Iterator[bytes]:
        return self._keys(self._blob)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes) or len(key) != self._width:
            return False
        at = self._lower_bound(key)
        return at < self._count and self[at] == key

    def starting_with(self, prefix: bytes) -> Iterator[bytes]:
        """The keys that start with ``prefix``, in order."""
        at = self._lower_bound(prefix)
        while at < self._count:
            key = self[at]
            if not key.startswith(prefix):
                return
            yield key
            at += 1

    def duplicate(self) -> bytes | None:
        """A key held more than once (the first in order), or None."""
        previous = None
        for key in self:
            if key == previous:
                return key
            previous = key
        return None


def uuid_key(value: str) -> bytes | None:
    """The 16 bytes of a UUID given in canonical form (:func:`canonical_uuid`), else None."""
    if not _CANONICAL_UUID.fullmatch(value):
        return None
    return bytes.fromhex(value.replace("-", ""))


def _file_key(value: str) -> bytes:
    return bytes.fromhex(canonical_uuid(value).replace("-", ""))


class LinkedObjects:
    """The objects the events of an AIP may link, checked once before anything is written.

    Every content file UUID, the AIP's (also linked by an event that names no object), its
    SIP's, its first representation's and the previous version's. The file UUIDs are kept as
    :class:`SortedKeys` of their 16 bytes: 16 bytes per file, in one pass over the files.
    """

    def __init__(self, desc: AipDescription) -> None:
        self.aip = canonical_uuid(desc.uuid)
        self._files = SortedKeys((_file_key(f.uuid) for f in desc.files), 16)
        twice = self._files.duplicate()
        if twice is not None:
            raise ValueError(f"duplicate object UUID {uuid.UUID(bytes=twice)}")
        if self.is_file(self.aip):
            raise ValueError(f"duplicate object UUID {self.aip}")
        self.others = {self.aip, sip_uuid_of(desc), representation_uuid(desc.uuid)}
        if desc.previous_uuid:
            self.others.add(canonical_uuid(desc.previous_uuid))

    def is_file(self, key: str) -> bool:
        """Whether ``key`` (canonical) is the UUID of one of the content files."""
        return uuid_key(key) in self._files

    def value(self, key: str, event: Event) -> str:
        """The identifier value of a linked object ("" is the AIP); dangling: refused."""
        if not key:
            return self.aip
        if key in self.others or self.is_file(key):
            return key
        raise ValueError(f"event {event.uuid} links unknown object {key!r}")


def checked(desc: AipDescription) -> LinkedObjects:
    """Refuse what cannot be written truthfully, before a byte is written: a malformed or
    duplicate UUID, a dangling link, an event type URI contradicting the vocabulary, a naive
    datetime. Returns the linkable objects."""
    objects = LinkedObjects(desc)
    _unique([e.uuid for e in desc.events], "event")
    _unique([a.uuid for a in desc.agents], "agent")
    agents = {canonical_uuid(a.uuid): a for a in desc.agents}
    for event in desc.events:
        event_type_uri(event)
        timestamp(event.datetime)
        for agent_uuid in event.agent_uuids:
            lookup(agents, agent_uuid, "agent", event)
        for object_uuid, _ in object_links_of(event):
            objects.value(object_uuid, event)
    return objects


__all__ = ["LinkedObjects", "SortedKeys", "canonical_uuid", "checked", "event_type_uri", "lookup",
           "object_links_of", "representation_uuid", "sip_object_uuid", "sip_uuid_of",
           "timestamp", "uuid_key"]
