"""The AIP's PREMIS 3.0 records: ``metadata/preservation/PREMIS.xml`` (package) and
``representations/<rep>/metadata/preservation/PREMIS_<rep>.xml`` (representation).

The package record holds the AIP as an intellectual entity (including its representation and
derived from its SIP, and from the previous version for a new version), every preservation event
linked to its objects and agents, and the agents; the representation record holds one file object
per content file and the events about those files. Element order follows premis-v3-0.xsd;
controlled values carry their id.loc.gov ``valueURI`` so the records stay readable when our
software is long gone. A dangling link, an event type URI contradicting the vocabulary, a
duplicate UUID or a naive datetime is refused (``ValueError``), never written.

Both records are described once against a :class:`~preservation.xmlstream.XmlSink`: written to
a file they are streamed (:func:`write_premis_package`, :func:`write_premis_representation`:
one file object, one event link at a time, so memory does not grow with the number of files);
the ``*_document`` functions build the same record as an lxml tree, for small uses and tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from lxml import etree

from aip.model import Agent, AipDescription, ContentFile, Event, FormatId
from aip.premis_checks import (
    LinkedObjects,
    SortedKeys,
    checked,
    event_type_uri,
    lookup,
    object_links_of,
    representation_uuid,
    sip_object_uuid,
    sip_uuid_of,
    timestamp,
    uuid_key,
)
from aip.premis_checks import canonical_uuid as _uuid
from preservation.xmlstream import Body, XmlSink, document_bytes, document_tree, write_document

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


def _event(sink: XmlSink, event: Event, agents: dict[str, Agent],
           objects: LinkedObjects) -> None:
    """One premis:event linked to its agents (with role) and objects (with role, if any).

    Its object links are streamed (an event about every file links every file).
    """
    with sink.open(_q("event")) as ev:
        _identifier(ev, "event", "UUID", _uuid(event.uuid))
        _authority(ev, "eventType", event.type, event_type_uri(event))
        _add(ev, "eventDateTime", timestamp(event.datetime))
        if event.detail:
            _add(_add(ev, "eventDetailInformation"), "eventDetail", event.detail)
        _outcome(ev, event)
        for agent_uuid in event.agent_uuids:
            _linking_agent(ev, lookup(agents, agent_uuid, "agent", event))
        for object_uuid, role in object_links_of(event):
            link = _add(ev, "linkingObjectIdentifier")
            _add(link, "linkingObjectIdentifierType", "UUID")
            _add(link, "linkingObjectIdentifierValue", objects.value(object_uuid, event))
            if role:
                _authority(link, "linkingObjectRole", role, OBJECT_ROLES.get(role))
            sink.flush()


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


def _agent(parent: etree._Element, agent: Agent) -> None:
    """One premis:agent: identifier, name, type (with URI) and version for software."""
    el = _add(parent, "agent")
    _identifier(el, "agent", "UUID", _uuid(agent.uuid))
    _add(el, "agentName", agent.name)
    _authority(el, "agentType", agent.type, AGENT_TYPES.get(agent.type))
    if agent.version:
        _add(el, "agentVersion", agent.version)


# --- the TT05 / E-ARK AIP pair: PREMIS.xml (package) and PREMIS_<rep>.xml (representation) ----


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
    _relationship(aip, _DERIVATION, _HAS_SOURCE, [sip_uuid_of(desc)], creation)
    if desc.previous_uuid:
        _relationship(aip, _DERIVATION, _HAS_SOURCE, [desc.previous_uuid], creation)
    sip = [("UUID", sip_uuid_of(desc))]
    if desc.sip_identifier:
        sip.append(("local", desc.sip_identifier))
    _entity(root, sip)
    if desc.previous_uuid:
        _entity(root, [("UUID", _uuid(desc.previous_uuid))])


_ROOT_ATTRIB = {"version": "3.0",
                f"{{{XSI_NS}}}schemaLocation": f"{PREMIS_NS} {PREMIS_SCHEMA_URL}"}


def _events_and_agents(sink: XmlSink, root: etree._Element, desc: AipDescription,
                       events: Iterable[Event], objects: LinkedObjects, *,
                       every_agent: bool) -> None:
    """The events, then every agent, or exactly the agents the events link (one pass over
    ``events``: there is an event per signed PDF, never a list of them)."""
    agents = {_uuid(a.uuid): a for a in desc.agents}
    used: set[str] = set()
    for event in events:
        _event(sink, event, agents, objects)
        used.update(_uuid(u) for u in event.agent_uuids)
    for agent in desc.agents:
        if every_agent or _uuid(agent.uuid) in used:
            _agent(root, agent)


def _package_body(desc: AipDescription) -> Body:
    """PREMIS.xml: the AIP as intellectual entity, its SIP (and previous version) as source
    objects, every event of the ingest with its agents and object links, every agent."""
    objects = checked(desc)

    def body(sink: XmlSink) -> None:
        with sink.open(_q("premis"), _ROOT_ATTRIB, NSMAP) as root:
            _package_objects(root, desc)
            _events_and_agents(sink, root, desc, desc.events, objects, every_agent=True)

    return body


def _representation_body(desc: AipDescription, representation: str) -> Body:
    """PREMIS_<rep>.xml: the representation, one file object per content file of it (SHA-256
    fixity, size, PRONOM format, originalName) and the events about those files."""
    objects = checked(desc)
    prefix = f"representations/{representation}/"
    rep_uuid = representation_uuid(desc.uuid, representation)
    # the files of other representations: 16 bytes each (none in an AIP of one)
    outside = SortedKeys((uuid_key(_uuid(f.uuid)) or b"" for f in desc.files
                          if not f.aip_path.startswith(prefix)), 16)

    def files() -> Iterator[ContentFile]:
        return (f for f in desc.files if f.aip_path.startswith(prefix))

    def about(event: Event) -> bool:
        return any(u == rep_uuid or (objects.is_file(u) and uuid_key(u) not in outside)
                   for u, _ in object_links_of(event) if u)

    def body(sink: XmlSink) -> None:
        with sink.open(_q("premis"), _ROOT_ATTRIB, NSMAP) as root:
            with sink.open(_q("object"), {f"{{{XSI_NS}}}type": "premis:representation"}) as rep:
                _identifier(rep, "object", "UUID", rep_uuid)
                _add(rep, "originalName", representation)
                if next(files(), None) is not None:
                    with sink.open(_q("relationship")) as rel:
                        _authority(rel, "relationshipType", *_STRUCTURAL)
                        _authority(rel, "relationshipSubType", "includes", INCLUDES_URI)
                        for f in files():
                            _identifier(rel, "relatedObject", "UUID", _uuid(f.uuid))
                            sink.flush()
                _relationship(rep, _STRUCTURAL, ("represents", REPRESENTS_URI), [desc.uuid])
            originator = f"{desc.software_name} {desc.software_version}"
            for f in files():
                _file_object(root, f, originator)
                sink.flush()
            chosen = (e for e in desc.events if about(e))
            _events_and_agents(sink, root, desc, chosen, objects, every_agent=False)

    return body


def premis_package_document(desc: AipDescription) -> etree._Element:
    """PREMIS.xml as one lxml tree (see :func:`write_premis_package` for the streamed file)."""
    return document_tree(_package_body(desc))


def premis_representation_document(desc: AipDescription,
                                   representation: str = "rep1") -> etree._Element:
    """PREMIS_<rep>.xml as one lxml tree (see :func:`write_premis_representation`)."""
    return document_tree(_representation_body(desc, representation))


def write_premis_package(path: str | os.PathLike[str], desc: AipDescription) -> tuple[int, str]:
    """Stream PREMIS.xml (UTF-8, NFC) to ``path``; return its size and SHA-256."""
    return write_document(path, _package_body(desc), keep_exact={ORIGINAL_NAME_TAG})


def write_premis_representation(path: str | os.PathLike[str], desc: AipDescription,
                                representation: str = "rep1") -> tuple[int, str]:
    """Stream PREMIS_<representation>.xml to ``path``, one file object at a time; return its
    size and SHA-256. originalName is kept exactly as submitted, everything else is NFC."""
    return write_document(path, _representation_body(desc, representation),
                          keep_exact={ORIGINAL_NAME_TAG})


def premis_package_bytes(desc: AipDescription) -> bytes:
    """PREMIS.xml (metadata/preservation/) as UTF-8 bytes, NFC."""
    return document_bytes(_package_body(desc), keep_exact={ORIGINAL_NAME_TAG})


def premis_representation_bytes(desc: AipDescription, representation: str = "rep1") -> bytes:
    """PREMIS_<representation>.xml as UTF-8 bytes; originalName kept exactly as submitted."""
    return document_bytes(_representation_body(desc, representation),
                          keep_exact={ORIGINAL_NAME_TAG})


__all__ = [
    "ORIGINAL_NAME_TAG",
    "PREMIS_NS",
    "premis_package_bytes",
    "premis_package_document",
    "premis_representation_bytes",
    "premis_representation_document",
    "representation_uuid",
    "sip_object_uuid",
    "timestamp",
    "write_premis_package",
    "write_premis_representation",
]
