"""The AIP's PREMIS 3.0 record (metadata/preservation/PREMIS.xml).

One intellectual entity for the AIP that includes one file object per content file, every
preservation event linked to its objects and agents, and the agents. Element order follows
premis-v3-0.xsd; controlled values carry their id.loc.gov ``valueURI`` so the record stays
readable when our software is long gone.
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


def ie_identifier(desc: AipDescription) -> tuple[str, str]:
    """(type, value) identifying the AIP's intellectual entity."""
    return "URN", f"urn:uuid:{_uuid(desc.uuid)}"


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


def _entity_object(parent: etree._Element, desc: AipDescription) -> None:
    """The AIP as a premis:intellectualEntity that structurally includes every file."""
    obj = _add(parent, "object", **{f"{{{XSI_NS}}}type": "premis:intellectualEntity"})
    _identifier(obj, "object", *ie_identifier(desc))
    for f in desc.files:
        rel = _add(obj, "relationship")
        _authority(rel, "relationshipType", "structural", STRUCTURAL_URI)
        _authority(rel, "relationshipSubType", "includes", INCLUDES_URI)
        _identifier(rel, "relatedObject", "UUID", _uuid(f.uuid))


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
    """One premis:event linked to its agents (with role) and objects."""
    ev = _add(parent, "event")
    _identifier(ev, "event", "UUID", _uuid(event.uuid))
    _authority(ev, "eventType", event.type, _event_type_uri(event))
    _add(ev, "eventDateTime", timestamp(event.datetime))
    if event.detail:
        _add(_add(ev, "eventDetailInformation"), "eventDetail", event.detail)
    _outcome(ev, event)
    for agent_uuid in event.agent_uuids:
        _linking_agent(ev, _lookup(agents, agent_uuid, "agent", event))
    for object_uuid in event.object_uuids or ("",):
        _identifier(ev, "linkingObject", *_lookup(objects, object_uuid, "object", event))


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


def _object_links(desc: AipDescription) -> dict[str, tuple[str, str]]:
    """uuid -> (identifier type, value) for every object an event may link; "" is the AIP."""
    ie = ie_identifier(desc)
    links = {_uuid(f.uuid): ("UUID", _uuid(f.uuid)) for f in desc.files}
    links[_uuid(desc.uuid)] = ie
    links[""] = ie
    return links


def _unique(items: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        key = _uuid(item)
        if key in seen:
            raise ValueError(f"duplicate {what} UUID {item}")
        seen.add(key)


def premis_document(desc: AipDescription) -> etree._Element:
    """The PREMIS 3.0 record of ``desc`` as an lxml element (root ``premis:premis``)."""
    _unique([desc.uuid, *(f.uuid for f in desc.files)], "object")
    _unique([e.uuid for e in desc.events], "event")
    _unique([a.uuid for a in desc.agents], "agent")
    root = etree.Element(_q("premis"), nsmap=NSMAP, version="3.0")
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{PREMIS_NS} {PREMIS_SCHEMA_URL}")
    _entity_object(root, desc)
    originator = f"{desc.software_name} {desc.software_version}"
    for f in desc.files:
        _file_object(root, f, originator)
    agents = {_uuid(a.uuid): a for a in desc.agents}
    objects = _object_links(desc)
    for event in desc.events:
        _event(root, event, agents, objects)
    for agent in desc.agents:
        _agent(root, agent)
    return root


def premis_bytes(desc: AipDescription) -> bytes:
    """PREMIS.xml as bytes: UTF-8, NFC, except originalName which is kept exactly as submitted."""
    return xml_bytes(premis_document(desc), keep_exact={ORIGINAL_NAME_TAG})


def premis_package_bytes(desc: AipDescription) -> bytes:
    """PREMIS.xml (package level) as bytes."""
    return premis_bytes(desc)


def premis_representation_bytes(desc: AipDescription, representation: str = "rep1") -> bytes:
    """PREMIS_<representation>.xml as bytes."""
    return premis_bytes(desc)
