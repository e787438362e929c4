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
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from aip import model
from aip.mets import write_mets
from aip.model import (
    AipDescription,
    ContentFile,
    MetadataFile,
    PayloadFile,
    PreviousVersion,
    ReusableFile,
    content_format,
    spooled_content_files,
    spooled_payload,
)
from aip.premis import sip_object_uuid, write_premis_package, write_premis_representation
from aip.provenance import ingest_provenance
from aip.tt05_aip import PREMIS, PREMIS_REP, tt05_objid, write_tt05
from aip.tt05_aip_bag import (
    BagIdentity,
    StagedObject,
    staged,
    staged_fields,
    staged_from_fields,
    write_bag,
)
from aip.tt05_aip_plan import plan_tt05
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
from preservation.diskmap import DiskMap
from preservation.signing import SigningIdentity
from preservation.spooled import MappedSequence, spooled
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
    #: every object in the order it must be stored: content, metadata, tag files, the
    #: tagmanifest, the signature last (a spooled sequence: iterate it, never copy it)
    objects: Sequence[StagedObject]
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

    def described(desc: AipDescription, files: Sequence[ContentFile]) -> AipDescription:
        """``desc`` with its content files and the ingest's PREMIS agents and events."""
        agents, events = ingest_provenance(
            submission, files, actors, desc.created, desc_uuid=desc.uuid,
            sip_uuid=desc.sip_uuid, previous_uuid=desc.previous_uuid,
            record_status=desc.record_status, version_number=desc.version, signer=signer,
            tsa_url=tsa_url)
        return replace(desc, files=files, agents=agents, events=events)

    arc_code = ""
    payload: Iterable[PayloadFile]  # one pass, read by staged(): spooled there, once
    if tt05:
        plan = plan_tt05(submission, archive_code=archive_code, previous=previous)
        arc_code = plan.arc_file_code
        desc = described(desc, spooled_content_files(cf for cf, _ in plan.content))
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
    every = spooled(itertools.chain(objects, tags, (tagmanifest, signature)), staged_fields,
                    staged_from_fields, keep=model.KEEP, what="AIP object")
    del objects  # one sequence of the AIP's objects, not two
    return BuiltAip(
        uuid=aip_uuid, label=title, source_name=submission.name, created=created,
        staging=staging, objects=every, description=desc,
        tagmanifest_sha256=tagmanifest.sha256, signer=signer, arc_file_code=arc_code,
    )


def _eark_payload(
    submission: Submission, desc: AipDescription, staging: Path,
    previous: PreviousVersion | None,
    described: Callable[[AipDescription, Sequence[ContentFile]], AipDescription],
) -> tuple[Iterator[PayloadFile], AipDescription]:
    """The E-ARK-shaped AIP of an E-ARK SIP or a BagIt bag: content numbered in rep1/data.

    The content files are made in one pass and spooled (``desc.files``); the payload is
    derived from them and the submission's content again, pass by pass, never held as a list:
    a single pass, read once by :func:`aip.tt05_aip_bag.staged` (which spools the objects).
    """
    content = submission.content()
    prefixed = _several_representations(content)
    carried_count = 0
    # the carried files' paths: the previous version's, not ours (a DiskMap past model.KEEP)
    taken: DiskMap[None] = DiskMap(keep=model.KEEP, what="carried AIP path")
    for cf, _ in _carried_content(previous):
        carried_count += 1
        taken[cf.aip_path] = None

    def new_files() -> Iterator[ContentFile]:
        n = 0
        for f in content:
            n += 1
            while content_path(n, f.path) in taken:
                n += 1
            fmt = content_format(submission.formats, f.path)
            name = f"{f.representation}/{f.original_name}" if prefixed else f.original_name
            yield ContentFile(str(uuid.uuid4()), content_path(n, f.path), name, f.size,
                              f.sha256, fmt, fmt.mime or "application/octet-stream")

    files = spooled_content_files(itertools.chain(
        (cf for cf, _ in _carried_content(previous)), new_files()))
    taken.close()

    def content_payload() -> Iterator[PayloadFile]:
        yield from (p for _, p in _carried_content(previous))
        mine = itertools.islice(files, carried_count, None)
        for cf, f in zip(mine, content, strict=True):
            yield PayloadFile(cf.aip_path, f.fs_path, f.size, f.sha256, "content",
                              cf.original_name, cf.format)

    schemas = [write(staging, f"schemas/{name}", schema_file(name)) for name in SCHEMA_FILES]
    kept = spooled_payload(itertools.chain(producer_metadata(submission),
                                           submission_evidence(staging, submission)))
    desc = described(desc, files)
    premis_rep = write_streamed(staging, PREMIS_REP,
                            lambda path: write_premis_representation(path, desc, "rep1"))
    desc = replace(
        desc, schemas=tuple(_metadata(m) for m in schemas),
        submission=MappedSequence(kept, _metadata),  # kept is spooled: not a second spool
        metadata=(_metadata(premis_rep),))
    premis = write_streamed(staging, PREMIS_PATH, lambda path: write_premis_package(path, desc))
    mets = write_streamed(staging, "METS.xml",
                      lambda path: write_mets(path, desc, _metadata(premis)))
    return itertools.chain(content_payload(), kept, (premis, premis_rep), schemas, (mets,)), desc


def _several_representations(content: Sequence[SubmittedFile]) -> bool:
    """Whether the content comes from more than one representation (then original names are
    prefixed with it); stops at the second one."""
    iterator = iter(content)
    first = next(iterator, None)
    return first is not None and any(f.representation != first.representation
                                     for f in iterator)


def _carried_content(previous: PreviousVersion | None
                     ) -> Iterator[tuple[ContentFile, PayloadFile]]:
    """A supplement's content carried from the previous version, by reference (made anew on
    each call, in the same order and with the same UUIDs: derived from the stored keys)."""
    if previous is None or previous.mode != "supplement":
        return
    prefix = "data/" + _REP_DATA
    for f in previous.files:
        if f.role == "content" and f.bag_path.startswith(prefix):
            yield carried(f, f.bag_path.removeprefix(prefix))


def _metadata(item: PayloadFile) -> MetadataFile:
    return MetadataFile(item.aip_path, item.size, item.sha256, mime_of(item))


