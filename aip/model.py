"""Plain typed records that describe an AIP while it is built.

The builder fills these from a validated SIP; the METS and PREMIS writers turn them into XML; the
catalog stores a projection of them. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# FormatId lives in the core (preservation/ must not import aip/); re-exported here
from preservation.formats import FormatId as FormatId
from preservation.formats import format_fields, format_from_fields
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.spooled import fields_of, from_fields, spooled

KEEP = SPOOL_KEEP  # preservation.spooled.KEEP; a test may lower it here
"""Per-file records of an AIP (content files, payload, bag objects, file UUIDs of an event)
kept in memory before the rest go to a temporary file (:mod:`preservation.spooled`); read at
each call, so a test may lower it."""

#: the format of a content file fido did not identify (one shared object)
NOT_IDENTIFIED = FormatId(None, basis="not identified")


def content_format(formats: Mapping[str, FormatId], path: str) -> FormatId:
    """The identified format of the submission's file ``path`` (``Submission.formats``, whose
    objects are already shared), else :data:`NOT_IDENTIFIED`."""
    return formats.get(path) or NOT_IDENTIFIED


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


def content_file_fields(f: ContentFile) -> tuple[Any, ...]:
    """``f`` as plain values, for a spooled sequence (:mod:`preservation.spooled`)."""
    return (f.uuid, f.aip_path, f.original_name, f.size, f.sha256, format_fields(f.format),
            f.mime)


def content_file_from_fields(values: tuple[Any, ...]) -> ContentFile:
    """The :class:`ContentFile` of :func:`content_file_fields` (formats shared, not copied)."""
    uuid, aip_path, original_name, size, sha256, fmt, mime = values
    return ContentFile(uuid, aip_path, original_name, size, sha256,
                       format_from_fields(fmt) or FormatId(None), mime)


def spooled_content_files(files: Iterable[ContentFile]) -> Sequence[ContentFile]:
    """Every content file of ``files``, in order, as a read-only sequence of flat memory."""
    return spooled(files, content_file_fields, content_file_from_fields, keep=KEEP,
                   what="content file")


def spooled_uuids(uuids: Iterable[str]) -> Sequence[str]:
    """UUIDs (e.g. the files an event links), in order, as a sequence of flat memory."""
    return spooled(uuids, _one, _first, keep=KEEP, what="file UUID")


def _one(value: str) -> tuple[str]:
    return (value,)


def _first(values: tuple[Any, ...]) -> str:
    return str(values[0])


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
    #: a tuple, or for an event about every file one spooled sequence shared by such events
    object_uuids: Sequence[str] = ()
    #: objects linked with a PREMIS linkingObjectRole, e.g. ((sip_uuid, "source"),
    #: (aip_uuid, "outcome")) for information package creation
    object_roles: tuple[tuple[str, str], ...] = ()


class EventCodec:
    """The encoding of :class:`Event` records for a spooled sequence (``provenance._Story``).

    An event's ``object_uuids`` are a tuple (stored with it) or one of a few spooled sequences
    shared by the events about every file, which cannot be stored as plain values: such a
    sequence is stored as its index among :attr:`shared`, the sequences registered with this
    codec. ``when`` (the moment of most events) is stored as None and comes back as that
    very object; any other moment as ISO 8601 (the same instant and offset).
    """

    def __init__(self, when: datetime | None = None) -> None:
        self.when = when
        self.shared: list[Sequence[str]] = []

    def encode(self, e: Event) -> tuple[Any, ...]:
        objects: Any = e.object_uuids
        if not isinstance(objects, tuple):
            at = next((n for n, s in enumerate(self.shared) if s is objects), None)
            if at is None:
                self.shared.append(objects)
                at = len(self.shared) - 1
            objects = at
        moment = None if self.when is not None and e.datetime is self.when \
            else e.datetime.isoformat()
        return (e.uuid, e.type, e.type_uri, moment, e.outcome, e.detail, e.outcome_detail,
                e.agent_uuids, objects, e.object_roles)

    def decode(self, values: tuple[Any, ...]) -> Event:
        (uuid, kind, type_uri, moment, outcome, detail, outcome_detail, agents, objects,
         roles) = values
        when = self.when
        return Event(uuid, kind, type_uri,
                     when if moment is None and when is not None
                     else datetime.fromisoformat(moment),
                     outcome, detail, outcome_detail, tuple(agents),
                     self.shared[objects] if isinstance(objects, int) else tuple(objects),
                     tuple((str(u), str(r)) for u, r in roles))


@dataclass(frozen=True)
class AipDescription:
    """Everything the METS and PREMIS writers need to describe one AIP."""

    uuid: str  # lower-case AIP UUID; METS OBJID is "urn:uuid:" + uuid
    label: str
    created: datetime  # timezone-aware
    organisation: str
    software_name: str
    software_version: str
    #: a tuple, or (as the builder makes it) a spooled sequence: iterate it, never copy it
    files: Sequence[ContentFile]
    #: a tuple, or (as ingest_provenance makes it) a spooled sequence past KEEP events
    events: Sequence[Event] = ()
    agents: tuple[Agent, ...] = ()
    #: AIP-level metadata files referenced from METS (PREMIS.xml is added by the builder)
    metadata: tuple[MetadataFile, ...] = ()
    schemas: tuple[MetadataFile, ...] = ()
    #: the producer's files and our records kept under submission/: a tuple, or (as the E-ARK
    #: builder makes it) a spooled sequence
    submission: Sequence[MetadataFile] = ()
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


def spooled_reusable(files: Iterable[ReusableFile]) -> Sequence[ReusableFile]:
    """Every file of ``files``, in order, as a read-only sequence of flat memory."""
    return spooled(files, fields_of, from_fields(ReusableFile), keep=KEEP,
                   what="previous version file")


@dataclass(frozen=True)
class PreviousVersion:
    """The version a new AIP supplements or replaces, with the objects it may reuse."""

    uuid: str
    package_uuid: str
    version: int
    objid: str
    mode: str  # "supplement" | "replace"
    #: a tuple, or (as :func:`aip.versions.previous_version` makes it) a spooled sequence
    #: (:func:`spooled_reusable`): iterate it, never copy it
    files: Sequence[ReusableFile]
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


def payload_fields(p: PayloadFile) -> tuple[Any, ...]:
    """``p`` as plain values, for a spooled sequence (:mod:`preservation.spooled`)."""
    return (p.aip_path, None if p.source is None else str(p.source), p.size, p.sha256, p.role,
            p.original_name, format_fields(p.format), p.stored_key)


def payload_from_fields(values: tuple[Any, ...]) -> PayloadFile:
    """The :class:`PayloadFile` of :func:`payload_fields`."""
    aip_path, source, size, sha256, role, original_name, fmt, stored_key = values
    return PayloadFile(aip_path, None if source is None else Path(source), size, sha256, role,
                       original_name, format_from_fields(fmt), stored_key)


def spooled_payload(payload: Iterable[PayloadFile]) -> Sequence[PayloadFile]:
    """Every payload file of ``payload``, in order, as a sequence of flat memory."""
    return spooled(payload, payload_fields, payload_from_fields, keep=KEEP, what="payload file")
