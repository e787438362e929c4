"""The AIP's PREMIS 3.0 records: ``metadata/preservation/PREMIS.xml`` (package) and
``representations/<rep>/metadata/preservation/PREMIS_<rep>.xml`` (representation).

The package record holds the AIP as an intellectual entity (including its representation and
derived from its SIP, and from the previous version for a new version), every preservation event
linked to its objects and agents, and the agents; the representation record holds one file object
per content file and the events about those files. Element order follows premis-v3-0.xsd;
controlled values carry their id.loc.gov ``valueURI`` so the records stay readable when our
software is long gone. A dangling link, an event type URI contradicting the vocabulary, a
duplicate UUID or a naive datetime is refused (``ValueError``), never written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from lxml import etree

from aip.model import EVENT_TYPES, Agent, AipDescription, ContentFile, Event, FormatId
from preservation.xmlsafe import xml_bytes

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS_SCHEMA_URL = "http://www.loc.gov/standards/premis/v3/premis.xsd"
NSMAP = {"premis": PREMIS_NS, "xsi": XSI_NS}

_VOCAB = "http://id.loc.gov/vocabulary/preservation/"
#: PREMIS outcome as given -> (label, id.loc.gov eventOutcome URI)
OUTCOMES: dict[str, tuple[str, str]] = {
    "success": ("success", _VOCAB + "eventOutcome/suc"),
    "failure": ("fail", _VOCAB + "eventOutcome/fai"),
    "fail": ("fail", _VOCAB + "eventOutcome/fai"),
    "warning": ("warning", _VOCAB + "eventOutcome/war"),
}
AGENT_TYPES: dict[str, str] = {
    "software": _VOCAB + "agentType/sof",
    "organization": _VOCAB + "agentType/org",
    "organisation": _VOCAB + "agentType/org",
    "person": _VOCAB + "agentType/per",
}
AGENT_ROLES: dict[str, str] = {
    "authorizer": _VOCAB + "eventRelatedAgentRole/aut",
    "executing program": _VOCAB + "eventRelatedAgentRole/exe",
    "implementer": _VOCAB + "eventRelatedAgentRole/imp",
    "validator": _VOCAB + "eventRelatedAgentRole/val",
}
SHA256_URI = _VOCAB + "cryptographicHashFunctions/sha256"
STRUCTURAL_URI = _VOCAB + "relationshipType/str"
INCLUDES_URI = _VOCAB + "relationshipSubType/inc"
REPRESENTS_URI = _VOCAB + "relationshipSubType/rep"
DERIVATION_URI = _VOCAB + "relationshipType/der"
HAS_SOURCE_URI = _VOCAB + "relationshipSubType/hss"
#: PREMIS linkingObjectRole -> id.loc.gov eventRelatedObjectRole URI
OBJECT_ROLES: dict[str, str] = {
    "source": _VOCAB + "eventRelatedObjectRole/sou",
    "outcome": _VOCAB + "eventRelatedObjectRole/out",
}
#: our contentLocationType: the file's path relative to the AIP root
AIP_PATH = "AIP path"
ORIGINAL_NAME_TAG = f"{{{PREMIS_NS}}}originalName"
_T = TypeVar("_T")


def _q(name: str) -> str:
    return f"{{{PREMIS_NS}}}{name}"


def _add(
    parent: etree._Element, name: str, text: str | None = None, **attrib: str
) -> etree._Element:
    """Append a premis:<name> child with optional text and attributes."""
    child = etree.SubElement(parent, _q(name), attrib)
    if text is not None:
        child.text = text
    return child


def _authority(parent: etree._Element, name: str, text: str, uri: str | None) -> None:
    """A stringPlusAuthority element, with valueURI when the term is in a vocabulary."""
    attrib = {"valueURI": uri} if uri else {}
    _add(parent, name, text, **attrib)


def _identifier(parent: etree._Element, prefix: str, id_type: str, value: str) -> None:
    """<prefix>Identifier with <prefix>IdentifierType and <prefix>IdentifierValue."""
    holder = _add(parent, f"{prefix}Identifier")
    _add(holder, f"{prefix}IdentifierType", id_type)
    _add(holder, f"{prefix}IdentifierValue", value)


def timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment!r} has no time zone")
    return moment.isoformat(timespec="milliseconds")


def _uuid(value: str) -> str:
    """The canonical lower-case form of a UUID; anything else is refused."""
    return str(uuid.UUID(value))


def _format(parent: etree._Element, fmt: FormatId) -> None:
    """premis:format: designation, PRONOM key when identified, and the basis of the match."""
    holder = _add(parent, "format")
    designation = _add(holder, "formatDesignation")
    _add(designation, "formatName", fmt.name or fmt.puid or "unknown")
    if fmt.version:
        _add(designation, "formatVersion", fmt.version)
    if fmt.puid:
        registry = _add(holder, "formatRegistry")
        _add(registry, "formatRegistryName", fmt.registry)
        _add(registry, "formatRegistryKey", fmt.puid)
    _add(holder, "formatNote", _format_note(fmt))


def _format_note(fmt: FormatId) -> str:
    release = f" {fmt.registry_version}" if fmt.registry_version else ""
    if not fmt.puid:
        return f"No format match ({fmt.registry}{release}); identification basis: {fmt.basis}"
    return f"Identified by {fmt.basis} match ({fmt.registry}{release})"


def _file_object(parent: etree._Element, f: ContentFile, originator: str) -> None:
    """One premis:object of xsi:type premis:file."""
    obj = _add(parent, "object", **{f"{{{XSI_NS}}}type": "premis:file"})
    _identifier(obj, "object", "UUID", _uuid(f.uuid))
    chars = _add(obj, "objectCharacteristics")
    _add(chars, "compositionLevel", "0")
    fixity = _add(chars, "fixity")
    _authority(fixity, "messageDigestAlgorithm", "SHA-256", SHA256_URI)
    _add(fixity, "messageDigest", f.sha256.lower())
    _add(fixity, "messageDigestOriginator", originator)
    _add(chars, "size", str(f.size))
    _format(chars, f.format)
    _add(obj, "originalName", f.original_name)
    location = _add(_add(obj, "storage"), "contentLocation")
    _add(location, "contentLocationType", AIP_PATH)
    _add(location, "contentLocationValue", f.aip_path)


def _event_type_uri(event: Event) -> str | None:
    """The event's vocabulary URI; a URI contradicting our vocabulary table is a bug."""
    known = EVENT_TYPES.get(event.type)
    if known and event.type_uri and event.type_uri != known:
        raise ValueError(f"event {event.uuid}: {event.type!r} is {known}, not {event.type_uri}")
    return event.type_uri or known


def _event(
    parent: etree._Element,
    event: Event,
    agents: dict[str, Agent],
    objects: dict[str, tuple[str, str]],
) -> None:
    """One premis:event linked to its agents (with role) and objects (with role, if any)."""
    ev = _add(parent, "event")
    _identifier(ev, "event", "UUID", _uuid(event.uuid))
    _authority(ev, "eventType", event.type, _event_type_uri(event))
    _add(ev, "eventDateTime", timestamp(event.datetime))
    if event.detail:
        _add(_add(ev, "eventDetailInformation"), "eventDetail", event.detail)
    _outcome(ev, event)
    for agent_uuid in event.agent_uuids:
        _linking_agent(ev, _lookup(agents, agent_uuid, "agent", event))
    for object_uuid, role in _object_links_of(event):
        link = _add(ev, "linkingObjectIdentifier")
        id_type, value = _lookup(objects, object_uuid, "object", event)
        _add(link, "linkingObjectIdentifierType", id_type)
        _add(link, "linkingObjectIdentifierValue", value)
        if role:
            _authority(link, "linkingObjectRole", role, OBJECT_ROLES.get(role))


def _object_links_of(event: Event) -> list[tuple[str, str]]:
    """(object uuid, role) of every object ``event`` links; none at all means the AIP."""
    roles = [(_uuid(u), role) for u, role in event.object_roles]
    with_role = {u for u, _ in roles}
    plain = [(_uuid(u), "") for u in event.object_uuids if _uuid(u) not in with_role]
    return roles + plain or [("", "")]


def _outcome(ev: etree._Element, event: Event) -> None:
    label, uri = OUTCOMES.get(event.outcome, (event.outcome, ""))
    info = _add(ev, "eventOutcomeInformation")
    _authority(info, "eventOutcome", label, uri or None)
    if event.outcome_detail:
        _add(_add(info, "eventOutcomeDetail"), "eventOutcomeDetailNote", event.outcome_detail)


def _linking_agent(ev: etree._Element, agent: Agent) -> None:
    holder = _add(ev, "linkingAgentIdentifier")
    _add(holder, "linkingAgentIdentifierType", "UUID")
    _add(holder, "linkingAgentIdentifierValue", _uuid(agent.uuid))
    if agent.role:
        _authority(holder, "linkingAgentRole", agent.role, AGENT_ROLES.get(agent.role))


def _lookup(table: dict[str, _T], key: str, what: str, event: Event) -> _T:
    """Resolve a link of ``event``; a dangling link is refused, never written."""
    try:
        return table[_uuid(key) if key else ""]
    except (KeyError, ValueError):
        raise ValueError(f"event {event.uuid} links unknown {what} {key!r}") from None


def _agent(parent: etree._Element, agent: Agent) -> None:
    """One premis:agent: identifier, name, type (with URI) and version for software."""
    el = _add(parent, "agent")
    _identifier(el, "agent", "UUID", _uuid(agent.uuid))
    _add(el, "agentName", agent.name)
    _authority(el, "agentType", agent.type, AGENT_TYPES.get(agent.type))
    if agent.version:
        _add(el, "agentVersion", agent.version)


def _unique(items: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        key = _uuid(item)
        if key in seen:
            raise ValueError(f"duplicate {what} UUID {item}")
        seen.add(key)


def _check_identifiers(desc: AipDescription) -> None:
    """Every object, event and agent UUID of ``desc`` is a UUID and used once; else refused."""
    _unique([desc.uuid, *(f.uuid for f in desc.files)], "object")
    _unique([e.uuid for e in desc.events], "event")
    _unique([a.uuid for a in desc.agents], "agent")


# --- the TT05 / E-ARK AIP pair: PREMIS.xml (package) and PREMIS_<rep>.xml (representation) ----

def sip_object_uuid(aip_uuid: str) -> str:
    """The UUID of the PREMIS object standing for the SIP an AIP was made from (derived, so
    the ingest events and the PREMIS writer agree without passing it around)."""
    return str(uuid.uuid5(uuid.UUID(aip_uuid), "submission"))


def representation_uuid(aip_uuid: str, representation: str = "rep1") -> str:
    """The UUID of the PREMIS representation object ``representation`` of an AIP (derived)."""
    return str(uuid.uuid5(uuid.UUID(aip_uuid), f"representation:{representation}"))


def _entity(parent: etree._Element, identifiers: Iterable[tuple[str, str]]) -> etree._Element:
    obj = _add(parent, "object", **{f"{{{XSI_NS}}}type": "premis:intellectualEntity"})
    for id_type, value in identifiers:
        _identifier(obj, "object", id_type, value)
    return obj


def _relationship(obj: etree._Element, kind: tuple[str, str], sub: tuple[str, str],
                  related: Iterable[str], events: Iterable[str] = ()) -> None:
    rel = _add(obj, "relationship")
    _authority(rel, "relationshipType", *kind)
    _authority(rel, "relationshipSubType", *sub)
    for object_uuid in related:
        _identifier(rel, "relatedObject", "UUID", _uuid(object_uuid))
    for event_uuid in events:
        _identifier(rel, "relatedEvent", "UUID", _uuid(event_uuid))


_STRUCTURAL = ("structural", STRUCTURAL_URI)
_DERIVATION = ("derivation", DERIVATION_URI)
_HAS_SOURCE = ("has source", HAS_SOURCE_URI)


def _sip_uuid(desc: AipDescription) -> str:
    return _uuid(desc.sip_uuid) if desc.sip_uuid else sip_object_uuid(desc.uuid)


def _creation_events(desc: AipDescription) -> list[str]:
    return [e.uuid for e in desc.events if e.type == "information package creation"]


def _package_objects(root: etree._Element, desc: AipDescription) -> None:
    """The AIP (with its OBJID), the SIP it comes from, and the version it follows."""
    objid = desc.objid or f"urn:uuid:{_uuid(desc.uuid)}"
    aip = _entity(root, [("UUID", _uuid(desc.uuid)), ("URN", objid)])
    _relationship(aip, _STRUCTURAL, ("includes", INCLUDES_URI),
                  [representation_uuid(desc.uuid)])
    creation = _creation_events(desc)
    # derivation / has source (id.loc.gov relationshipType/der, relationshipSubType/hss): the
    # AIP is made from the SIP; a new version is also made from the version it supplements or
    # replaces (METS RECORDSTATUS and the creation event's detail say which)
    _relationship(aip, _DERIVATION, _HAS_SOURCE, [_sip_uuid(desc)], creation)
    if desc.previous_uuid:
        _relationship(aip, _DERIVATION, _HAS_SOURCE, [desc.previous_uuid], creation)
    sip = [("UUID", _sip_uuid(desc))]
    if desc.sip_identifier:
        sip.append(("local", desc.sip_identifier))
    _entity(root, sip)
    if desc.previous_uuid:
        _entity(root, [("UUID", _uuid(desc.previous_uuid))])


def _links(desc: AipDescription) -> dict[str, tuple[str, str]]:
    """uuid -> identifier of every object an event may link; "" (no object) is the AIP."""
    aip = ("UUID", _uuid(desc.uuid))
    links = {_uuid(f.uuid): ("UUID", _uuid(f.uuid)) for f in desc.files}
    for extra in (_sip_uuid(desc), representation_uuid(desc.uuid), desc.previous_uuid):
        if extra:
            links[_uuid(extra)] = ("UUID", _uuid(extra))
    links[_uuid(desc.uuid)] = aip
    links[""] = aip
    return links


def _new_root() -> etree._Element:
    root = etree.Element(_q("premis"), nsmap=NSMAP, version="3.0")
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{PREMIS_NS} {PREMIS_SCHEMA_URL}")
    return root


def _events_and_agents(root: etree._Element, desc: AipDescription,
                       events: Iterable[Event], *, every_agent: bool) -> None:
    """The events, then every agent, or exactly the agents the events link."""
    chosen = list(events)
    agents = {_uuid(a.uuid): a for a in desc.agents}
    objects = _links(desc)
    for event in chosen:
        _event(root, event, agents, objects)
    used = {_uuid(u) for e in chosen for u in e.agent_uuids}
    for agent in desc.agents:
        if every_agent or _uuid(agent.uuid) in used:
            _agent(root, agent)


def premis_package_document(desc: AipDescription) -> etree._Element:
    """PREMIS.xml: the AIP as intellectual entity, its SIP (and previous version) as source
    objects, every event of the ingest with its agents and object links, every agent."""
    _check_identifiers(desc)
    root = _new_root()
    _package_objects(root, desc)
    _events_and_agents(root, desc, desc.events, every_agent=True)
    return root


def premis_representation_document(desc: AipDescription,
                                   representation: str = "rep1") -> etree._Element:
    """PREMIS_<rep>.xml: the representation, one file object per content file of it (SHA-256
    fixity, size, PRONOM format, originalName) and the events about those files."""
    _check_identifiers(desc)
    prefix = f"representations/{representation}/"
    files = [f for f in desc.files if f.aip_path.startswith(prefix)]
    rep_uuid = representation_uuid(desc.uuid, representation)
    root = _new_root()
    rep = _add(root, "object", **{f"{{{XSI_NS}}}type": "premis:representation"})
    _identifier(rep, "object", "UUID", rep_uuid)
    _add(rep, "originalName", representation)
    if files:
        _relationship(rep, _STRUCTURAL, ("includes", INCLUDES_URI), [f.uuid for f in files])
    _relationship(rep, _STRUCTURAL, ("represents", REPRESENTS_URI), [desc.uuid])
    originator = f"{desc.software_name} {desc.software_version}"
    for f in files:
        _file_object(root, f, originator)
    mine = {_uuid(f.uuid) for f in files} | {rep_uuid}
    about = [e for e in desc.events
             if any(u in mine for u, _ in _object_links_of(e) if u)]
    _events_and_agents(root, desc, about, every_agent=False)
    return root


def premis_package_bytes(desc: AipDescription) -> bytes:
    """PREMIS.xml (metadata/preservation/) as UTF-8 bytes, NFC."""
    return xml_bytes(premis_package_document(desc), keep_exact={ORIGINAL_NAME_TAG})


def premis_representation_bytes(desc: AipDescription, representation: str = "rep1") -> bytes:
    """PREMIS_<representation>.xml as UTF-8 bytes; originalName kept exactly as submitted."""
    return xml_bytes(premis_representation_document(desc, representation),
                     keep_exact={ORIGINAL_NAME_TAG})
