"""Build an AIP from a validated SIP, in a private staging folder.

The AIP is a BagIt 1.0 bag (:mod:`aip.tt05_aip_bag`: tag files, ``fetch.txt`` for objects
reused from a previous version, a detached CMS signature over the tagmanifest) whose payload
``data/`` is the AIP package:

- a TT05 SIP_hoso / SIP_tailieu becomes an AIP_hoso / AIP_tailieu (:mod:`aip.tt05_aip`);
- an E-ARK SIP or a BagIt bag becomes an E-ARK-shaped AIP::

    data/METS.xml
    data/metadata/preservation/PREMIS.xml
    data/representations/rep1/metadata/preservation/PREMIS_rep1.xml
    data/representations/rep1/data/000001.pdf …   content, named by sequence, not by producer
    data/schemas/*.xsd
    data/submission/…                       the producer's metadata and our validation report

Producer file names that are not portable are metadata (METS, PREMIS originalName), never paths
or object keys. Only metadata files are written to staging: content files are referenced where
they are and streamed to storage once, with the SHA-256 computed during validation.

Versions (contract §2, §8): ``previous`` names the version a new AIP supplements or replaces;
payload files with the same bytes as one of its objects are not stored again
(``StagedObject.stored_key``), and a supplement carries the previous content by reference.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from aip.mets import write_mets
from aip.model import (
    AipDescription,
    ContentFile,
    FormatId,
    MetadataFile,
    PayloadFile,
    PreviousVersion,
    ReusableFile,
)
from aip.premis import sip_object_uuid, write_premis_package, write_premis_representation
from aip.provenance import ingest_provenance
from aip.tt05_aip import PREMIS, PREMIS_REP, plan_tt05, tt05_objid, write_tt05
from aip.tt05_aip_bag import BagIdentity, StagedObject, staged, write_bag
from aip.tt05_aip_staging import (
    carried,
    extension,
    mime_of,
    producer_metadata,
    schema_file,
    submission_evidence,
    write,
    write_streamed,
)
from preservation import SOFTWARE_NAME, __version__
from preservation.signing import SigningIdentity
from sip.submission import SipKind, Submission, SubmittedFile

__all__ = ["Actors", "BuiltAip", "PreviousVersion", "ReusableFile", "StagedObject", "build_aip",
           "content_path"]

SCHEMA_FILES = ("mets.xsd", "xlink.xsd", "premis-v3-0.xsd", "DILCISExtensionMETS.xsd")
PREMIS_PATH = PREMIS
#: METS RECORDSTATUS (and catalog record_status) of a new AIP, by version mode
RECORD_STATUS = {None: "NEW", "supplement": "SUPPLEMENT", "replace": "REPLACEMENT"}
_TT05_KINDS = (SipKind.TT05_HOSO, SipKind.TT05_TAILIEU)
_REP_DATA = "representations/rep1/data/"


@dataclass(frozen=True)
class BuiltAip:
    uuid: str
    label: str
    source_name: str
    created: datetime
    staging: Path
    #: every object in the order it must be stored: content, metadata, tag files, signature last
    objects: tuple[StagedObject, ...]
    #: what METS and PREMIS say, version facts included (package_uuid, version, previous_uuid,
    #: record_status), and the fonds and OBJID
    description: AipDescription
    tagmanifest_sha256: str
    signer: str
    arc_file_code: str = ""  # TT05 arcFileCode (also in bag-info.txt); "" for other kinds

    @property
    def content_size(self) -> int:
        return sum(o.size for o in self.objects if o.role == "content")


@dataclass(frozen=True)
class Actors:
    """Who is responsible for an ingest: the organisation and the person running it."""

    organisation: str
    person: str = ""

    @classmethod
    def current(cls, organisation: str) -> Actors:
        try:
            person = getpass.getuser()
        except (KeyError, OSError):
            person = ""
        return cls(organisation=organisation, person=person)


def content_path(sequence: int, original: str) -> str:
    """The AIP path of the n-th content file: a sequence number and the original's extension."""
    return f"{_REP_DATA}{sequence:06d}{extension(original)}"


def build_aip(
    submission: Submission,
    *,
    aip_uuid: str,
    staging: Path,
    identity: SigningIdentity,
    actors: Actors,
    created: datetime,
    label: str | None = None,
    tsa_url: str = "",
    fonds_code: str = "",
    archive_code: str = "",
    previous: PreviousVersion | None = None,
    archivist: str = "",
) -> BuiltAip:
    """Write the AIP's metadata and tag files into the (empty) ``staging`` folder and sign.

    ``submission`` must be valid (see :func:`sip.validate.open_sip`). ``fonds_code`` (mã phông)
    goes into the TT05 OBJID ``urn:<fonds>:uuid-<UUID>`` (``urn:uuid:`` without one) and
    bag-info; ``archive_code`` prefixes a TT05 dossier's arcFileCode; ``previous`` makes this a
    new version (supplement or replacement) of that AIP; ``archivist`` names the person who ran
    the ingest (default: ``actors.person``, resolved here once for every record of the AIP).
    """
    if submission.root is None or not submission.valid:
        raise ValueError("build_aip needs a valid, opened submission")
    if previous is not None and previous.mode not in ("supplement", "replace"):
        raise ValueError(f"unknown version mode {previous.mode!r}")
    if archivist:
        actors = replace(actors, person=archivist)
    tt05 = submission.tt05 is not None and submission.kind in _TT05_KINDS
    title = label or submission.title or submission.name
    desc = AipDescription(
        uuid=aip_uuid, label=title, created=created, organisation=actors.organisation,
        software_name=SOFTWARE_NAME, software_version=__version__, files=(),
        source_kind=submission.kind_label,
        record_status=RECORD_STATUS[previous.mode if previous else None],
        objid=tt05_objid(fonds_code, aip_uuid) if tt05 else f"urn:uuid:{uuid.UUID(aip_uuid)}",
        fonds_code=fonds_code, archive_code=archive_code,
        package_uuid=previous.package_uuid if previous else aip_uuid,
        version=previous.version + 1 if previous else 1,
        previous_uuid=previous.uuid if previous else None,
        sip_identifier=submission.identifiers.get("objid") or submission.name,
        sip_uuid=sip_object_uuid(aip_uuid),
    )
    signer = identity.certificate.subject.rfc4514_string()

    def described(desc: AipDescription, files: tuple[ContentFile, ...]) -> AipDescription:
        """``desc`` with its content files and the ingest's PREMIS agents and events."""
        agents, events = ingest_provenance(
            submission, files, actors, desc.created, desc_uuid=desc.uuid,
            sip_uuid=desc.sip_uuid, previous_uuid=desc.previous_uuid,
            record_status=desc.record_status, version_number=desc.version, signer=signer,
            tsa_url=tsa_url)
        return replace(desc, files=files, agents=agents, events=events)

    arc_code = ""
    if tt05:
        plan = plan_tt05(submission, archive_code=archive_code, previous=previous)
        arc_code = plan.arc_file_code
        desc = described(desc, tuple(cf for cf, _ in plan.content))
        payload = write_tt05(plan, submission, desc, staging)
    else:
        payload, desc = _eark_payload(submission, desc, staging, previous, described)

    objects = staged(payload, previous)
    ident = BagIdentity(
        aip_uuid=aip_uuid, package_uuid=desc.package_uuid, version=desc.version,
        previous_uuid=desc.previous_uuid, record_status=desc.record_status,
        fonds_code=fonds_code, archive_code=archive_code, source_kind=submission.kind_label,
        objid=desc.objid, created=created, organisation=actors.organisation, label=title,
        source_name=submission.name, arc_file_code=arc_code)
    tags, tagmanifest, signature = write_bag(staging, objects, ident, identity, tsa_url)
    return BuiltAip(
        uuid=aip_uuid, label=title, source_name=submission.name, created=created,
        staging=staging, objects=(*objects, *tags, tagmanifest, signature), description=desc,
        tagmanifest_sha256=tagmanifest.sha256, signer=signer, arc_file_code=arc_code,
    )


def _eark_payload(
    submission: Submission, desc: AipDescription, staging: Path,
    previous: PreviousVersion | None,
    described: Callable[[AipDescription, tuple[ContentFile, ...]], AipDescription],
) -> tuple[list[PayloadFile], AipDescription]:
    """The E-ARK-shaped AIP of an E-ARK SIP or a BagIt bag: content numbered in rep1/data."""
    content = submission.content()
    representations = {f.representation for f in content}
    carried = _carried_content(previous)
    taken = {cf.aip_path for cf, _ in carried}
    pairs = list(carried)
    n = 0
    for f in content:
        n += 1
        while content_path(n, f.path) in taken:
            n += 1
        fmt = _format(submission, f)
        name = (f.original_name if len(representations) <= 1
                else f"{f.representation}/{f.original_name}")
        cf = ContentFile(str(uuid.uuid4()), content_path(n, f.path), name, f.size, f.sha256,
                         fmt, fmt.mime or "application/octet-stream")
        pairs.append((cf, PayloadFile(cf.aip_path, f.fs_path, f.size, f.sha256, "content",
                                      name, fmt)))
    files = tuple(cf for cf, _ in pairs)
    schemas = [write(staging, f"schemas/{name}", schema_file(name)) for name in SCHEMA_FILES]
    kept = [*producer_metadata(submission), *submission_evidence(staging, submission)]
    desc = described(desc, files)
    premis_rep = write_streamed(staging, PREMIS_REP,
                            lambda path: write_premis_representation(path, desc, "rep1"))
    desc = replace(
        desc, schemas=tuple(_metadata(m) for m in schemas),
        submission=tuple(_metadata(m) for m in kept),
        metadata=(_metadata(premis_rep),))
    premis = write_streamed(staging, PREMIS_PATH, lambda path: write_premis_package(path, desc))
    mets = write_streamed(staging, "METS.xml",
                      lambda path: write_mets(path, desc, _metadata(premis)))
    return [*(p for _, p in pairs), *kept, premis, premis_rep, *schemas, mets], desc


def _carried_content(previous: PreviousVersion | None
                     ) -> list[tuple[ContentFile, PayloadFile]]:
    """A supplement's content carried from the previous version, by reference."""
    if previous is None or previous.mode != "supplement":
        return []
    prefix = "data/" + _REP_DATA
    return [carried(f, f.bag_path.removeprefix(prefix)) for f in previous.files
            if f.role == "content" and f.bag_path.startswith(prefix)]


def _metadata(item: PayloadFile) -> MetadataFile:
    return MetadataFile(item.aip_path, item.size, item.sha256, mime_of(item))


def _format(submission: Submission, f: SubmittedFile) -> FormatId:
    return submission.formats.get(f.path) or FormatId(puid=None, name=None, mime=None,
                                                      basis="not identified")
