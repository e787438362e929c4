"""What a PREMIS record of an AIP may say, checked before a byte of it is written.

The AIP's PREMIS writers (:mod:`aip.premis`) stream their records, so every refusal must come
first: :func:`checked` refuses a malformed or duplicate UUID, an event linking an unknown object
or agent, an event type URI contradicting the id.loc.gov vocabulary and a naive datetime, and
returns the :class:`LinkedObjects` the events' links resolve against. Also the identifiers both
writers derive (:func:`sip_object_uuid`, :func:`representation_uuid`) and the canonical forms
they write (:func:`canonical_uuid`, :func:`timestamp`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TypeVar

from aip.model import EVENT_TYPES, AipDescription, Event
from aip.premis_keys import SortedKeys

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


def _unique_events(desc: AipDescription) -> None:
    """A duplicate or malformed event UUID is refused. The events' UUIDs are
    :class:`~aip.premis_keys.SortedKeys` of 16 bytes (an event per signed PDF: no set of
    them); only when one is found twice are they read again, to name the first repeat."""
    twice: bytes | None
    try:
        keys = SortedKeys((_file_key(e.uuid) for e in desc.events), 16)
    except ValueError:  # a malformed one: refused in order, as a repeat before it would be
        twice = b""
    else:
        twice = keys.duplicate()
        keys.close()
    if twice is not None:
        _unique((e.uuid for e in desc.events), "event")


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
    :class:`~aip.premis_keys.SortedKeys` of their 16 bytes: 16 bytes per file, in one pass
    over the files (in a temporary file past :data:`aip.model.KEEP` files).
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
    _unique_events(desc)
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
