"""Build an AIP from a validated BagIt SIP, in a private staging folder.

The AIP is a BagIt 1.0 bag whose payload is an E-ARK-shaped AIP::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    tagmanifest-sha256.txt.p7s              detached CMS signature over the tagmanifest
    data/METS.xml
    data/metadata/preservation/PREMIS.xml
    data/representations/rep1/data/000001.pdf …   content, named by sequence, not by producer
    data/schemas/*.xsd
    data/submission/…                       the producer's bag tag files and our validation report

Producer file names are metadata (METS div LABEL, PREMIS originalName), never paths or object
keys. Only metadata files are written to staging: content files are referenced where they are and
streamed to storage once, with the SHA-256 computed during validation.
"""

from __future__ import annotations

import getpass
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path, PurePosixPath

from aip.mets import mets_bytes
from aip.model import (
    EVENT_TYPES,
    Agent,
    AipDescription,
    ContentFile,
    Event,
    FormatId,
    MetadataFile,
)
from aip.premis import premis_bytes
from preservation import SOFTWARE_NAME, __version__
from preservation.hashing import sha256_bytes
from preservation.manifest import (
    BAGIT_TXT,
    MANIFEST,
    SIGNATURE,
    TAGMANIFEST,
    bag_info_text,
    manifest_text,
)
from preservation.signing import SigningIdentity, sign_detached
from preservation.timestamps import timestamp_signature
from sip.submission import FileRole, SipKind, Submission, SubmittedFile

SCHEMA_FILES = ("mets.xsd", "xlink.xsd", "premis-v3-0.xsd", "DILCISExtensionMETS.xsd")
PREMIS_PATH = "metadata/preservation/PREMIS.xml"
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_PORTABLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
_PRODUCER_TAG_FILE = re.compile(r"^(bagit|bag-info|(tag)?manifest-[a-z0-9]+|fetch)\.txt$")


@dataclass(frozen=True)
class StagedObject:
    """One file of the AIP bag: where its bytes are now, and what they must be."""

    bag_path: str  # path inside the bag, e.g. "data/METS.xml", "bagit.txt"
    source: Path
    size: int
    sha256: str
    role: str  # "content" | "metadata" | "tag" | "signature"
    original_name: str | None = None
    format: FormatId | None = None


@dataclass(frozen=True)
class BuiltAip:
    uuid: str
    label: str
    source_name: str
    created: datetime
    staging: Path
    #: every object in the order it must be stored: content, metadata, tag files, signature last
    objects: tuple[StagedObject, ...]
    description: AipDescription
    tagmanifest_sha256: str
    signer: str

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
    return f"representations/rep1/data/{sequence:06d}{_extension(original)}"


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
) -> BuiltAip:
    """Write the AIP's metadata and tag files into the (empty) ``staging`` folder and sign.

    ``submission`` must be valid (see :func:`sip.validate.open_sip`): its content files become
    the representation, numbered; every other file the producer sent (METS, EAD, schemas, tag
    files) is kept under ``submission/`` next to our validation report.
    """
    if submission.root is None or not submission.valid:
        raise ValueError("build_aip needs a valid, opened submission")
    source_name = submission.name
    title = label or submission.title or source_name
    content = submission.content()
    representations = {f.representation for f in content}

    files = tuple(
        ContentFile(
            uuid=str(uuid.uuid4()),
            aip_path=content_path(n, f.path),
            original_name=(f.original_name if len(representations) <= 1
                           else f"{f.representation}/{f.original_name}"),
            size=f.size,
            sha256=f.sha256,
            format=_format(submission, f),
            mime=_format(submission, f).mime or "application/octet-stream",
        )
        for n, f in enumerate(content, 1)
    )
    schemas = tuple(_write_schema(staging, name) for name in SCHEMA_FILES)
    kept = _producer_metadata(submission)
    written = tuple(_write_submission(staging, submission))
    submission_files = (*(m for m, _ in kept), *written)
    agents, events = _provenance(submission, files, actors, created)

    desc = AipDescription(
        uuid=aip_uuid, label=title, created=created, organisation=actors.organisation,
        software_name=SOFTWARE_NAME, software_version=__version__, files=files,
        events=events, agents=agents, schemas=schemas, submission=submission_files,
        source_kind=submission.kind_label,
    )
    premis = _write(staging, PREMIS_PATH, premis_bytes(desc))
    mets = _write(staging, "METS.xml", mets_bytes(desc, premis))

    payload = [
        StagedObject("data/" + cf.aip_path, f.fs_path, cf.size, cf.sha256, "content",
                     original_name=cf.original_name, format=cf.format)
        for cf, f in zip(files, content, strict=True)
    ] + [
        StagedObject("data/" + m.aip_path, f.fs_path, m.size, m.sha256, "metadata",
                     original_name=f.path)
        for m, f in kept
    ] + [
        StagedObject("data/" + m.aip_path, staging / "data" / m.aip_path, m.size, m.sha256,
                     "metadata")
        for m in (premis, *schemas, *written, mets)
    ]

    oxum = f"{sum(p.size for p in payload)}.{len(payload)}"
    tag_texts = {
        "bagit.txt": BAGIT_TXT,
        "bag-info.txt": bag_info_text([
            ("Source-Organization", actors.organisation),
            ("Bagging-Date", created.date().isoformat()),
            ("Bag-Software-Agent", f"{SOFTWARE_NAME} {__version__}"),
            ("External-Identifier", f"urn:uuid:{aip_uuid}"),
            ("External-Description", title),
            ("Internal-Sender-Identifier", source_name),
            ("Payload-Oxum", oxum),
        ]),
        MANIFEST: manifest_text((p.bag_path, p.sha256) for p in payload),
    }
    tags = [_write_tag(staging, name, text) for name, text in tag_texts.items()]
    tagmanifest_body = manifest_text((t.bag_path, t.sha256) for t in tags).encode()
    tagmanifest = _write_tag(staging, TAGMANIFEST, tagmanifest_body.decode())
    signature_der = sign_detached(identity, tagmanifest_body)
    if tsa_url:  # before anything is stored: a TSA failure leaves nothing behind
        signature_der = timestamp_signature(signature_der, tsa_url)
    sig_path = staging / SIGNATURE
    sig_path.write_bytes(signature_der)
    signature = StagedObject(SIGNATURE, sig_path, len(signature_der), sha256_bytes(signature_der),
                             "signature")

    return BuiltAip(
        uuid=aip_uuid, label=title, source_name=source_name, created=created, staging=staging,
        objects=(*payload, *tags, tagmanifest, signature), description=desc,
        tagmanifest_sha256=tagmanifest.sha256, signer=identity.certificate.subject.rfc4514_string(),
    )


def _format(submission: Submission, f: SubmittedFile) -> FormatId:
    return submission.formats.get(f.path) or FormatId(puid=None, name=None, mime=None,
                                                      basis="not identified")


def _producer_metadata(submission: Submission) -> list[tuple[MetadataFile, SubmittedFile]]:
    """The producer's METS, EAD, schemas and documentation, kept under submission/sip/.

    Portable names keep their path (so the AIP stays readable without this software); any other
    name gets a sequence number, and its original path is recorded in METS and the catalog.
    """
    out = []
    for n, f in enumerate((f for f in submission.files if f.role is FileRole.METADATA), 1):
        name = f.path if _PORTABLE.match(f.path) and len(f.path) <= 200 else \
            f"renamed/{n:06d}{_extension(f.path)}"
        mime = "application/xml" if f.path.lower().endswith(".xml") else \
            "application/octet-stream"
        out.append((MetadataFile(f"submission/sip/{name}", f.size, f.sha256, mime), f))
    return out


def _extension(path: str) -> str:
    suffix = PurePosixPath(path).suffix
    return suffix.lower() if _EXTENSION.match(suffix) else ""


def _bag_title(info: Sequence[tuple[str, str]]) -> str | None:
    for label, value in info:
        if label.lower() in ("title", "external-description") and value.strip():
            return " ".join(value.split())
    return None


def _write(staging: Path, aip_path: str, data: bytes, mime: str = "application/xml"
           ) -> MetadataFile:
    target = staging / "data" / aip_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return MetadataFile(aip_path=aip_path, size=len(data), sha256=sha256_bytes(data), mime=mime)


def _write_tag(staging: Path, name: str, text: str) -> StagedObject:
    data = text.encode("utf-8")
    target = staging / name
    target.write_bytes(data)
    return StagedObject(name, target, len(data), sha256_bytes(data), "tag")


def _write_schema(staging: Path, name: str) -> MetadataFile:
    data = (resources.files("preservation") / "schemas" / name).read_bytes()
    return _write(staging, f"schemas/{name}", data, mime="application/octet-stream")


def _write_submission(staging: Path, submission: Submission) -> list[MetadataFile]:
    """Keep the producer's evidence: its standard bag tag files and our validation report."""
    out = []
    root = submission.root
    if root is not None and (submission.kind is SipKind.BAGIT or submission.wrapped_in_bag):
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if (_PRODUCER_TAG_FILE.match(entry.name) and entry.is_file()
                    and not entry.is_symlink()):
                out.append(_write(staging, f"submission/{entry.name}", entry.read_bytes(),
                                  mime="text/plain"))
    data = json.dumps(submission.report.to_dict("en"), ensure_ascii=False, indent=2).encode()
    out.append(_write(staging, "submission/validation-report.json", data,
                      mime="application/json"))
    return out


_KIND_DESCRIPTION = {
    SipKind.BAGIT: "BagIt (RFC 8493)",
    SipKind.EARK: "E-ARK CSIP 2.0.4 / SIP",
    SipKind.TT05_HOSO: "TT05 SIP_hoso (Circular 05/2025/TT-BNV) and E-ARK CSIP",
    SipKind.TT05_TAILIEU: "TT05 SIP_tailieu (Circular 05/2025/TT-BNV) and E-ARK CSIP",
}


def _provenance(
    submission: Submission, files: Sequence[ContentFile], actors: Actors, when: datetime,
) -> tuple[tuple[Agent, ...], tuple[Event, ...]]:
    report = submission.report
    fido_version, signatures = submission.fido_version, submission.signature_version
    software = Agent(str(uuid.uuid4()), SOFTWARE_NAME, "software", __version__,
                     "executing program")
    fido = Agent(str(uuid.uuid4()), "fido", "software", fido_version or None, "executing program")
    org = Agent(str(uuid.uuid4()), actors.organisation, "organization", role="implementer")
    agents = [software, fido, org]
    if actors.person:
        agents.append(Agent(str(uuid.uuid4()), actors.person, "person", role="implementer"))
    people = tuple(a.uuid for a in agents if a.type != "software")
    file_ids = tuple(f.uuid for f in files)
    warnings = sorted({f.code for f in report.findings})
    identified = sum(1 for f in files if f.format.puid)

    def event(kind: str, detail: str, outcome_detail: str, agents: tuple[str, ...],
              objects: tuple[str, ...] = ()) -> Event:
        return Event(uuid=str(uuid.uuid4()), type=kind, type_uri=EVENT_TYPES[kind], datetime=when,
                     outcome="success", detail=detail, outcome_detail=outcome_detail,
                     agent_uuids=agents, object_uuids=objects)

    events = (
        event("validation",
              f"{_KIND_DESCRIPTION.get(submission.kind, submission.kind_label)} validation of "
              f"the submitted {submission.kind_label} package"
              + (" (in a BagIt bag)" if submission.wrapped_in_bag else ""),
              "accepted" + (f"; findings: {', '.join(warnings)}" if warnings else ""),
              (software.uuid, *people)),
        event("format identification",
              f"PRONOM identification with fido {fido_version}, signatures {signatures}",
              f"{identified} of {len(files)} files identified", (fido.uuid,), file_ids),
        event("message digest calculation", "SHA-256 of every content file, verified against "
              "the producer's manifests or METS checksums", f"{len(files)} files",
              (software.uuid,), file_ids),
        event("ingestion", "AIP created from the submission; stored and verified on every "
              "configured location before registration", "", (software.uuid, *people)),
    )
    return tuple(agents), events
