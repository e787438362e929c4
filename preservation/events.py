"""PREMIS events written beside the AIP on storage, one write-once document per event.

What happens to an AIP after ingest (replication, fixity checks, dissemination, deletion,
repair) cannot go into the signed AIP, which never changes. Each such event is written as its own
small PREMIS 3.0 document next to the AIP, on every location that can be reached::

    events/<aip uuid>/<yyyymmddThhmmssffffffZ>-<event uuid>.xml

The document holds the event, its agents and the AIP it concerns (an intellectual entity
identified by its UUID), so that the history of an AIP can be read back from storage alone,
without this software and without the catalog. :func:`read_events` parses back exactly what
:func:`event_document` wrote, which is how the catalog is rebuilt.

The catalog fields PREMIS has no element for (the copy's location name and the catalog's
"name version" agent text) are kept in an ``eventDetailExtension`` in our own namespace.
"""

from __future__ import annotations

import getpass
import io
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from preservation import SOFTWARE_NAME, __version__
from preservation.catalog import Catalog, EventRecord
from preservation.errors import ObjectExistsError, PreservationError, StorageError, XmlError
from preservation.hashing import sha256_bytes
from preservation.storage import StorageBackend
from preservation.timeutil import compact_utc, iso
from preservation.xmlsafe import parse_bytes, xml_bytes

log = logging.getLogger(__name__)

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
#: our extension namespace: catalog fields PREMIS has no element for
EVENT_EXT_NS = "urn:x-preservation:event-record:1"
_NSMAP = {"premis": PREMIS_NS, "xsi": XSI_NS}
_NS = {"p": PREMIS_NS, "x": EVENT_EXT_NS}
_VOCAB = "http://id.loc.gov/vocabulary/preservation/"
EVENTS_PREFIX = "events/"
#: the largest event document read back (they are a few kilobytes)
MAX_EVENT_BYTES = 1 << 20

EVENT_TYPE_URIS: dict[str, str] = {
    "validation": _VOCAB + "eventType/val",
    "virus check": _VOCAB + "eventType/vir",
    "format identification": _VOCAB + "eventType/for",
    "digital signature validation": _VOCAB + "eventType/dig",
    "digital signature generation": _VOCAB + "eventType/dsg",
    "message digest calculation": _VOCAB + "eventType/mes",
    "information package creation": _VOCAB + "eventType/ipc",
    "ingestion": _VOCAB + "eventType/ing",
    "replication": _VOCAB + "eventType/rep",
    "fixity check": _VOCAB + "eventType/fix",
    "dissemination": _VOCAB + "eventType/dis",
    "deletion": _VOCAB + "eventType/del",
}
OUTCOME_URIS: dict[str, str] = {
    "success": _VOCAB + "eventOutcome/suc",
    "failure": _VOCAB + "eventOutcome/fai",
    "fail": _VOCAB + "eventOutcome/fai",
    "warning": _VOCAB + "eventOutcome/war",
}
AGENT_TYPE_URIS: dict[str, str] = {
    "software": _VOCAB + "agentType/sof",
    "organization": _VOCAB + "agentType/org",
    "person": _VOCAB + "agentType/per",
}
AGENT_ROLE_URIS: dict[str, str] = {
    "authorizer": _VOCAB + "eventRelatedAgentRole/aut",
    "executing program": _VOCAB + "eventRelatedAgentRole/exe",
    "implementer": _VOCAB + "eventRelatedAgentRole/imp",
    "validator": _VOCAB + "eventRelatedAgentRole/val",
}
#: namespace of the agent UUIDs derived from (type, name, version): the same agent always gets
#: the same identifier, in every event document
_AGENT_NAMESPACE = uuid.UUID("5f0e7a52-8f0b-4c6e-9d3c-2b7f6a1e4c10")


class EventDocumentError(PreservationError):
    """An event document on storage that is not one :func:`event_document` writes."""

    code = "EVENT-DOCUMENT-INVALID"


@dataclass(frozen=True)
class AgentRecord:
    """An agent of an event: our software, the organisation, the person who ran it."""

    name: str
    type: str  # PREMIS agentType: "software" | "organization" | "person"
    version: str = ""  # software only
    role: str = ""  # PREMIS linkingAgentRole, e.g. "executing program", "implementer"

    @property
    def uuid(self) -> str:
        """A stable identifier: the same agent has the same UUID in every document."""
        return str(uuid.uuid5(_AGENT_NAMESPACE, f"{self.type}\n{self.name}\n{self.version}"))


def software_agent() -> AgentRecord:
    """This software, as the executing program."""
    return AgentRecord(SOFTWARE_NAME, "software", __version__, "executing program")


def current_person() -> str:
    """The operating-system user running this process ("" when it cannot be told)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def standard_agents(organisation: str, person: str | None = None) -> tuple[AgentRecord, ...]:
    """Our software, the organisation (authorizer) and the person (implementer) when known.

    ``person`` None means the operating-system user; "" means nobody is named.
    """
    who = current_person() if person is None else person
    agents = [software_agent()]
    if organisation:
        agents.append(AgentRecord(organisation, "organization", role="authorizer"))
    if who:
        agents.append(AgentRecord(who, "person", role="implementer"))
    return tuple(agents)


def agent_text(agents: Sequence[AgentRecord]) -> str:
    """The catalog's "name version" text: the executing software agents."""
    return "; ".join(f"{a.name} {a.version}".strip() for a in agents if a.type == "software")


def new_event(aip_id: str, type: str, when: datetime, outcome: str, *, detail: str = "",
              outcome_detail: str = "", location: str | None = None,
              agents: Sequence[AgentRecord] = ()) -> EventRecord:
    """A new catalog event with a fresh UUID, its time as ISO 8601 with an offset."""
    return EventRecord(id=str(uuid.uuid4()), aip_id=str(uuid.UUID(aip_id)), type=type,
                       datetime=iso(when), outcome=outcome, detail=detail,
                       outcome_detail=outcome_detail, location=location,
                       agent=agent_text(agents) or f"{SOFTWARE_NAME} {__version__}")


def deletion_event(aip_id: str, when: datetime, *, reason: str, keys: Sequence[str] = (),
                   refused: Sequence[str] = (), location: str | None = None,
                   agents: Sequence[AgentRecord] = ()) -> EventRecord:
    """A ``deletion`` event: objects of ``aip_id`` removed (failed ingest, destruction).

    ``keys`` are the objects deleted, ``refused`` those a location would not delete (Object
    Lock): the outcome is "success" when nothing was refused, else "failure".
    """
    detail = f"{reason}: {len(keys)} object(s) deleted" + (
        f" on {location}" if location else "")
    listed = ", ".join(refused[:20]) + (f", … {len(refused) - 20} more" if len(refused) > 20
                                        else "")
    return new_event(aip_id, "deletion", when, "failure" if refused else "success",
                     detail=detail,
                     outcome_detail=f"refused by the location: {listed}" if refused else "",
                     location=location, agents=agents)


# --- document ---------------------------------------------------------------------------------

def event_key(aip_id: str, event: EventRecord) -> str:
    """``events/<aip uuid>/<compact UTC time>-<event uuid>.xml``: sorts by time (the event's
    ISO 8601 time must have an offset)."""
    when = compact_utc(datetime.fromisoformat(event.datetime))
    return f"{EVENTS_PREFIX}{uuid.UUID(aip_id)}/{when}-{uuid.UUID(event.id)}.xml"


def _q(name: str) -> str:
    return f"{{{PREMIS_NS}}}{name}"


def _add(parent: etree._Element, name: str, text: str | None = None,
         uri: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _q(name))
    if text is not None:
        child.text = text
    if uri:
        child.set("valueURI", uri)
    return child


def _identifier(parent: etree._Element, prefix: str, id_type: str, value: str) -> etree._Element:
    holder = _add(parent, f"{prefix}Identifier")
    _add(holder, f"{prefix}IdentifierType", id_type)
    _add(holder, f"{prefix}IdentifierValue", value)
    return holder


def event_document(event: EventRecord, agents: Sequence[AgentRecord] = ()) -> bytes:
    """One schema-valid ``premis:premis``: the AIP (object), the event, its agents."""
    aip_id = str(uuid.UUID(event.aip_id))
    root = etree.Element(_q("premis"), nsmap=_NSMAP, version="3.0")
    root.set(f"{{{XSI_NS}}}schemaLocation",
             f"{PREMIS_NS} http://www.loc.gov/standards/premis/v3/premis.xsd")
    obj = _add(root, "object")
    obj.set(f"{{{XSI_NS}}}type", "premis:intellectualEntity")
    _identifier(obj, "object", "UUID", aip_id)

    ev = _add(root, "event")
    _identifier(ev, "event", "UUID", str(uuid.UUID(event.id)))
    _add(ev, "eventType", event.type, EVENT_TYPE_URIS.get(event.type))
    _add(ev, "eventDateTime", event.datetime)
    info = _add(ev, "eventDetailInformation")
    if event.detail:
        _add(info, "eventDetail", event.detail)
    ext = _add(info, "eventDetailExtension")
    record = etree.SubElement(ext, f"{{{EVENT_EXT_NS}}}record", nsmap={"ev": EVENT_EXT_NS})
    if event.location is not None:
        etree.SubElement(record, f"{{{EVENT_EXT_NS}}}location").text = event.location
    etree.SubElement(record, f"{{{EVENT_EXT_NS}}}agent").text = event.agent
    outcome = _add(ev, "eventOutcomeInformation")
    _add(outcome, "eventOutcome", event.outcome, OUTCOME_URIS.get(event.outcome))
    if event.outcome_detail:
        _add(_add(outcome, "eventOutcomeDetail"), "eventOutcomeDetailNote",
             event.outcome_detail)
    for agent in agents:
        link = _identifier(ev, "linkingAgent", "UUID", agent.uuid)
        if agent.role:
            _add(link, "linkingAgentRole", agent.role, AGENT_ROLE_URIS.get(agent.role))
    _identifier(ev, "linkingObject", "UUID", aip_id)

    for agent in _distinct(agents):
        el = _add(root, "agent")
        _identifier(el, "agent", "UUID", agent.uuid)
        _add(el, "agentName", agent.name)
        _add(el, "agentType", agent.type, AGENT_TYPE_URIS.get(agent.type))
        if agent.version:
            _add(el, "agentVersion", agent.version)
    return xml_bytes(root)


def _distinct(agents: Sequence[AgentRecord]) -> list[AgentRecord]:
    seen: set[str] = set()
    out = []
    for agent in agents:
        if agent.uuid not in seen:
            seen.add(agent.uuid)
            out.append(agent)
    return out


def parse_event_document(data: bytes, source: str = "") -> tuple[EventRecord,
                                                                  tuple[AgentRecord, ...]]:
    """The event and agents of a document :func:`event_document` wrote."""
    try:
        root = parse_bytes(data, max_bytes=MAX_EVENT_BYTES, source=source or None).getroot()
    except XmlError as e:
        raise EventDocumentError(f"unreadable event document: {e.message}",
                                 location=source) from e
    ev = root.find("p:event", _NS)
    aip_id = root.findtext("p:object/p:objectIdentifier/p:objectIdentifierValue",
                           namespaces=_NS)
    if root.tag != _q("premis") or ev is None or not aip_id:
        raise EventDocumentError("not a PREMIS event document", location=source)
    names = {a.findtext("p:agentIdentifier/p:agentIdentifierValue", namespaces=_NS):
             (a.findtext("p:agentName", "", _NS), a.findtext("p:agentType", "", _NS),
              a.findtext("p:agentVersion", "", _NS)) for a in root.iterfind("p:agent", _NS)}
    agents = []
    for link in ev.iterfind("p:linkingAgentIdentifier", _NS):
        key = link.findtext("p:linkingAgentIdentifierValue", namespaces=_NS)
        if key not in names:
            raise EventDocumentError(f"event links unknown agent {key}", location=source)
        name, kind, version = names[key]
        agents.append(AgentRecord(name, kind, version,
                                  link.findtext("p:linkingAgentRole", "", _NS)))
    record = ev.find("p:eventDetailInformation/p:eventDetailExtension/x:record", _NS)
    event = EventRecord(
        id=ev.findtext("p:eventIdentifier/p:eventIdentifierValue", "", _NS),
        aip_id=aip_id,
        type=ev.findtext("p:eventType", "", _NS),
        datetime=ev.findtext("p:eventDateTime", "", _NS),
        outcome=ev.findtext("p:eventOutcomeInformation/p:eventOutcome", "", _NS),
        detail=ev.findtext("p:eventDetailInformation/p:eventDetail", "", _NS),
        outcome_detail=ev.findtext(
            "p:eventOutcomeInformation/p:eventOutcomeDetail/p:eventOutcomeDetailNote", "", _NS),
        location=record.findtext("x:location", None, _NS) if record is not None else None,
        agent=(record.findtext("x:agent", "", _NS) if record is not None
               else agent_text(agents)),
    )
    return event, tuple(agents)


# --- storage ----------------------------------------------------------------------------------

def publish_event(backends: Sequence[StorageBackend], event: EventRecord,
                  agents: Sequence[AgentRecord] = ()) -> list[str]:
    """Write the event's document on every location; return those that failed (described).

    Write-once: a document already there with the same bytes counts as written (a retry); one
    with other bytes is a failure, never overwritten. One bad location never stops the others.
    A document counts as written once it is durable: the location is synced (a no-op unless it
    is a ``durability = "deferred"`` filesystem location).
    """
    key = event_key(event.aip_id, event)
    data = event_document(event, agents)
    digest = sha256_bytes(data)
    failed = []
    for backend in backends:
        try:
            try:
                backend.put(key, io.BytesIO(data), size=len(data), sha256=digest)
            except ObjectExistsError:
                if not _same_object(backend, key, digest):
                    log.error("event %s on %s: another document exists under %s", event.id,
                              backend.describe(), key)
                    failed.append(backend.describe())
                    continue
            backend.sync()
        except (StorageError, OSError) as e:
            log.error("event %s could not be written to %s: %s", event.id,
                      backend.describe(), e)
            failed.append(backend.describe())
    return failed


def record_event(catalog: Catalog, reachable: Sequence[StorageBackend],
                 unreachable: Iterable[str], event: EventRecord,
                 agents: Sequence[AgentRecord] = ()) -> list[str]:
    """An event beside its AIP on every ``reachable`` location, then in the catalog (as a
    dissemination is recorded by ``export`` and by an access copy); return where it was not
    written: the locations that failed, each ``unreachable`` one (``NAME (unreachable)``), or
    ``(no reachable location)`` when there was none at all. A location that fails is logged,
    never an error: the catalog row is added either way."""
    failed = [*publish_event(reachable, event, agents),
              *(f"{name} (unreachable)" for name in unreachable)]
    if not failed and not reachable:
        failed = ["(no reachable location)"]
    if failed:
        log.warning("%s event %s of AIP %s not written beside the AIP on %s", event.type,
                    event.id, event.aip_id, ", ".join(failed))
    catalog.add_events([event])
    return failed


def _same_object(backend: StorageBackend, key: str, digest: str) -> bool:
    try:
        with backend.open(key) as stream:
            return sha256_bytes(stream.read(MAX_EVENT_BYTES + 1)) == digest
    except (StorageError, OSError):
        return False


def read_events(backend: StorageBackend, aip_id: str, *, on_error: OnError | None = None
                ) -> Iterator[EventRecord]:
    """Every event published beside ``aip_id`` on this location, oldest first."""
    for _, event, _ in read_event_documents(backend, aip_id, on_error=on_error):
        yield event


#: told (key, error) of a document that cannot be read, instead of raising
OnError = Callable[[str, PreservationError], None]


def read_event_documents(backend: StorageBackend, aip_id: str, *,
                         on_error: OnError | None = None,
                         ) -> Iterator[tuple[str, EventRecord, tuple[AgentRecord, ...]]]:
    """(key, event, agents) of every event document of ``aip_id``, oldest first.

    A document that is not one we write (too large, malformed, or about another AIP) raises
    :class:`EventDocumentError` — or, with ``on_error``, is reported there and skipped, so that
    one bad document does not hide the others.
    """
    prefix = f"{EVENTS_PREFIX}{uuid.UUID(aip_id)}/"
    keys = sorted(info.key for info in backend.list(prefix) if info.key.endswith(".xml"))
    for key in keys:
        try:
            yield _event_document(backend, key, aip_id)
        except EventDocumentError as e:
            if on_error is None:
                raise
            on_error(key, e)


def _event_document(backend: StorageBackend, key: str, aip_id: str
                    ) -> tuple[str, EventRecord, tuple[AgentRecord, ...]]:
    with backend.open(key) as stream:
        data = stream.read(MAX_EVENT_BYTES + 1)
    if len(data) > MAX_EVENT_BYTES:
        raise EventDocumentError("event document too large", location=key)
    event, agents = parse_event_document(data, key)
    if event.aip_id != str(uuid.UUID(aip_id)):
        raise EventDocumentError(f"event document is about AIP {event.aip_id}", location=key)
    return key, event, agents


def publish_deletion(backends: Sequence[StorageBackend], aip_id: str, when: datetime, *,
                     reason: str, keys: Sequence[str] = (), refused: Sequence[str] = (),
                     location: str | None = None, agents: Sequence[AgentRecord] = ()
                     ) -> tuple[EventRecord, list[str]]:
    """Record a deletion beside the AIP; return the event and the locations that failed."""
    agents = tuple(agents) or standard_agents("")
    event = deletion_event(aip_id, when, reason=reason, keys=keys, refused=refused,
                           location=location, agents=agents)
    return event, publish_event(backends, event, agents)


__all__ = [
    "EVENTS_PREFIX",
    "AgentRecord",
    "EventDocumentError",
    "agent_text",
    "current_person",
    "deletion_event",
    "event_document",
    "event_key",
    "new_event",
    "parse_event_document",
    "publish_deletion",
    "publish_event",
    "read_event_documents",
    "read_events",
    "record_event",
    "software_agent",
    "standard_agents",
]
