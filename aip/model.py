"""Plain typed records that describe an AIP while it is built.

The builder fills these from a validated SIP; the METS and PREMIS writers turn them into XML; the
catalog stores a projection of them. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# FormatId lives in the core (preservation/ must not import aip/); re-exported here
from preservation.formats import FormatId as FormatId


@dataclass(frozen=True, slots=True)
class ContentFile:
    """One content file of the AIP's representation."""

    uuid: str  # lower-case UUID of the PREMIS file object; METS file ID is "ID-" + upper(uuid)
    aip_path: str  # relative to the AIP root, e.g. "representations/rep1/data/000001.pdf"
    original_name: str  # the producer's relative path, exactly as submitted
    size: int
    sha256: str  # lower-case hex
    format: FormatId
    mime: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class MetadataFile:
    """A file the builder wrote itself (PREMIS.xml, schemas, submission records)."""

    aip_path: str
    size: int
    sha256: str
    mime: str = "application/xml"


@dataclass(frozen=True)
class Agent:
    """A PREMIS agent: software, organisation or person."""

    uuid: str
    name: str
    type: str  # PREMIS agentType: "software", "organization", "person"
    version: str | None = None  # for software
    role: str | None = None  # e.g. "executing program", "implementer", "authorizer"


@dataclass(frozen=True)
class Event:
    """A PREMIS event. ``object_uuids`` link the objects it concerns."""

    uuid: str
    type: str  # PREMIS eventType label, e.g. "validation", "message digest calculation"
    type_uri: str  # id.loc.gov vocabulary URI
    datetime: datetime  # timezone-aware
    outcome: str  # "success" | "failure" | "warning"
    detail: str = ""
    outcome_detail: str = ""
    agent_uuids: tuple[str, ...] = ()
    object_uuids: tuple[str, ...] = ()
    #: objects linked with a PREMIS linkingObjectRole, e.g. ((sip_uuid, "source"),
    #: (aip_uuid, "outcome")) for information package creation
    object_roles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AipDescription:
    """Everything the METS and PREMIS writers need to describe one AIP."""

    uuid: str  # lower-case AIP UUID; METS OBJID is "urn:uuid:" + uuid
    label: str
    created: datetime  # timezone-aware
    organisation: str
    software_name: str
    software_version: str
    files: tuple[ContentFile, ...]
    events: tuple[Event, ...] = ()
    agents: tuple[Agent, ...] = ()
    #: AIP-level metadata files referenced from METS (PREMIS.xml is added by the builder)
    metadata: tuple[MetadataFile, ...] = ()
    schemas: tuple[MetadataFile, ...] = ()
    submission: tuple[MetadataFile, ...] = ()
    record_status: str = "NEW"
    source_kind: str = "bagit"  # what was submitted: "bagit", "eark", "tt05-hoso", …
    extra: dict[str, str] = field(default_factory=dict)
    objid: str = ""  # METS OBJID; "" means "urn:uuid:" + uuid
    fonds_code: str = ""  # mã phông of the fonds the AIP belongs to
    archive_code: str = ""  # the archive's own code (config archive_code)
    package_uuid: str = ""  # version 1's UUID, shared by every version ("" means uuid)
    version: int = 1
    previous_uuid: str | None = None  # the version this one supplements or replaces
    sip_identifier: str = ""  # the submission's own identifier (OBJID or name)
    sip_uuid: str = ""  # UUID of the PREMIS object that stands for the submission


# PREMIS event type vocabulary (id.loc.gov/vocabulary/preservation/eventType)
EVENT_TYPES: dict[str, str] = {
    "validation": "http://id.loc.gov/vocabulary/preservation/eventType/val",
    "format identification": "http://id.loc.gov/vocabulary/preservation/eventType/for",
    "message digest calculation": "http://id.loc.gov/vocabulary/preservation/eventType/mes",
    "ingestion": "http://id.loc.gov/vocabulary/preservation/eventType/ing",
    "information package creation": "http://id.loc.gov/vocabulary/preservation/eventType/ipc",
    "digital signature generation": "http://id.loc.gov/vocabulary/preservation/eventType/dsg",
    "replication": "http://id.loc.gov/vocabulary/preservation/eventType/rep",
    "fixity check": "http://id.loc.gov/vocabulary/preservation/eventType/fix",
    "dissemination": "http://id.loc.gov/vocabulary/preservation/eventType/dis",
    "deletion": "http://id.loc.gov/vocabulary/preservation/eventType/del",
    "virus check": "http://id.loc.gov/vocabulary/preservation/eventType/vir",
    "digital signature validation": "http://id.loc.gov/vocabulary/preservation/eventType/dig",
}


@dataclass(frozen=True)
class ReusableFile:
    """One payload object of the previous version that a new version may reference.

    Defined here (a plain record) and re-exported by :mod:`aip.builder` (contract §8).
    """

    bag_path: str  # its path in the previous bag, e.g. "data/representations/rep1/data/x.pdf"
    size: int
    sha256: str  # lower-case hex
    stored_key: str  # the object key that really holds the bytes (chains collapse)
    role: str  # "content" | "metadata"
    original_name: str | None = None
    puid: str | None = None
    format_name: str | None = None


@dataclass(frozen=True)
class PreviousVersion:
    """The version a new AIP supplements or replaces, with the objects it may reuse."""

    uuid: str
    package_uuid: str
    version: int
    objid: str
    mode: str  # "supplement" | "replace"
    files: tuple[ReusableFile, ...]
    #: the catalog's Source-Kind of that version ("tt05-hoso", "bagit+eark", …); "" when it is
    #: not recorded (an AIP rebuilt from a bag written before the field existed)
    source_kind: str = ""


@dataclass(frozen=True, slots=True)
class PayloadFile:
    """One file of an AIP's ``data/`` as a builder plans it, before it becomes a bag object.

    ``source`` is where the bytes are now (the submission, or the staging folder); None for an
    object reused from a previous version, whose bytes stay at ``stored_key``.
    """

    aip_path: str  # relative to the AIP root (the bag's data/)
    source: Path | None
    size: int
    sha256: str  # lower-case hex
    role: str  # "content" | "metadata"
    original_name: str | None = None
    format: FormatId | None = None
    stored_key: str | None = None
