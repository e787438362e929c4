"""Versions of an AIP: what ``ingest --supplement PREV`` / ``--replace PREV`` build on.

A new version is a new AIP (new UUID) that shares the package identifier of version 1. Only the
latest version of a package can be supplemented or replaced; the previous version's payload files
are offered to the builder as :class:`~aip.builder.ReusableFile` so that unchanged bytes are not
stored again (the new bag's ``fetch.txt`` points at the object that really holds them).

Versions of one package keep one kind of AIP (:func:`refuse_mixed_kinds`): a TT05 AIP_hoso
is supplemented or replaced only by a SIP_hoso, an AIP_tailieu only by a SIP_tailieu, and an
E-ARK-shaped AIP (from an E-ARK or a BagIt SIP) only by an E-ARK or BagIt SIP.

A supplement of a TT05 version carries its documents, each record with exactly the data files
the previous version's ``representations/rep1/METS.xml`` ties to it; given the configuration,
:func:`previous_version` reads that METS from storage (:func:`previous_documents`).

This module reads the catalog (and, for a TT05 supplement, that one METS); the refusals it
raises are :class:`RejectedError` with a report of one ``INGEST-*`` finding, raised before
anything is written.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from aip import model
from aip.builder import PreviousVersion, ReusableFile
from aip.model import spooled_reusable
from aip.tt05_aip_plan import PreviousTt05
from preservation.catalog import AipRecord, Catalog, FileRecord
from preservation.config import Config
from preservation.diskmap import DiskMap
from preservation.errors import RejectedError, StorageError, UsageError, XmlError
from preservation.findings import Report
from preservation.manifest import object_key
from preservation.spooled import spooled
from preservation.storage import StorageBackend
from preservation.storage.locations import open_locations
from preservation.xmlsafe import CountingReader, iterparse
from sip.submission import Submission

log = logging.getLogger(__name__)

SUPPLEMENT, REPLACE = "supplement", "replace"
#: roles of the previous version's files that a new version may reuse (payload, not tag files)
_REUSABLE_ROLES = ("content", "metadata")
#: the bag path of a TT05 AIP's representation METS, and the folder its hrefs are relative to
REP_METS = "data/representations/rep1/METS.xml"
_REP_BASE = "data/representations/rep1/"
_METS = "{http://www.loc.gov/METS/}"
_HREF = "{http://www.w3.org/1999/xlink}href"
_LINK = "MetadataLink/File"


@dataclass(frozen=True)
class VersionRequest:
    """What the archivist asked for: a mode and the AIP to build on."""

    mode: str  # SUPPLEMENT | REPLACE
    previous_id: str


def version_request(supplement: str | None, replace: str | None) -> VersionRequest | None:
    """The request made by ``--supplement`` / ``--replace`` (at most one), or None."""
    if supplement and replace:
        raise UsageError(f"--supplement {supplement} and --replace {replace} cannot be used "
                         "together: choose one", code="INGEST-VERSION-OPTIONS")
    if supplement:
        return VersionRequest(SUPPLEMENT, supplement.strip())
    if replace:
        return VersionRequest(REPLACE, replace.strip())
    return None


def refusal(code: str, message: str, **params: Any) -> RejectedError:
    """A refused ingest: one finding (so the CLI prints its fix), nothing written."""
    report = Report("ingest", kind="ingest")
    report.add(code, None, **params)
    return RejectedError(message, report, code=code)


def package_id(record: AipRecord) -> str:
    """The package identifier (version 1's UUID) of an AIP record."""
    return record.package_id


def previous_record(catalog: Catalog, request: VersionRequest) -> AipRecord:
    """The catalog record of the AIP to build on; it must exist and be the latest version."""
    record = catalog.aip(request.previous_id)
    if record is None:
        raise refusal("INGEST-UNKNOWN-AIP", f"no AIP {request.previous_id} in the catalog",
                      aip=request.previous_id)
    latest = catalog.latest(package_id(record))
    if latest is not None and latest.id != record.id:
        raise refusal(
            "INGEST-NOT-LATEST-VERSION",
            f"AIP {record.id} is version {record.version}; version {latest.version} "
            f"({latest.id}) is the latest", aip=record.id, version=record.version,
            latest=latest.version)
    return record


def reusable_files(record: AipRecord, files: Iterable[FileRecord]) -> Sequence[ReusableFile]:
    """The payload files of ``record`` with the object key that really holds each one (a
    read-only sequence of flat memory: past :data:`aip.model.KEEP` in a temporary file)."""
    return spooled_reusable(
        ReusableFile(bag_path=f.path, size=f.size, sha256=f.sha256,
                     stored_key=f.stored_key or object_key(record.id, f.path),
                     role=f.role, original_name=f.original_name, puid=f.puid,
                     format_name=f.format_name)
        for f in files if f.role in _REUSABLE_ROLES and f.path.startswith("data/"))


def previous_version(catalog: Catalog, request: VersionRequest, config: Config | None = None
                     ) -> tuple[PreviousVersion, str]:
    """What the builder needs about the version to build on, and that version's fonds code.

    With ``config``, a supplement of a TT05 version also gets its documents as its rep1 METS
    ties them (:class:`~aip.tt05_aip_plan.PreviousTt05`), read from the first location that has it;
    INGEST-PREVIOUS-METS-UNREADABLE when no location does. Without it, the TT05 builder ties
    the carried records to their files by name.
    """
    record = previous_record(catalog, request)
    previous = PreviousVersion(
        uuid=record.id, package_uuid=package_id(record), version=record.version,
        objid=record.objid or f"urn:uuid:{record.id}", mode=request.mode,
        files=reusable_files(record, catalog.files(record.id)), source_kind=record.source_kind)
    if config is None or request.mode != SUPPLEMENT or aip_kind(record.source_kind) not in (
            "tt05-hoso", "tt05-tailieu"):
        return previous, record.fonds_code
    with open_locations(config) as backends:
        documents = previous_documents(backends, previous)
    same = {f.name: getattr(previous, f.name) for f in dataclasses.fields(previous)}
    return PreviousTt05(**same, documents=documents), record.fonds_code


def previous_documents(backends: Sequence[StorageBackend], previous: PreviousVersion
                       ) -> Sequence[tuple[str, tuple[str, ...]]]:
    """(record bag path, data bag paths) of every ``MetadataLink/File`` div of the previous
    version's rep1 METS, read from the first location where it can be read, parsed within
    :data:`~preservation.xmlsafe.DEFAULT_MAX_BYTES` and has the SHA-256 and size the catalog
    records (a damaged copy that still parses would tie data files to the wrong records)."""
    mets = next((f for f in previous.files if f.bag_path == REP_METS), None)
    errors: list[str] = []
    for backend in backends:
        if mets is None:
            break
        try:
            with backend.open(mets.stored_key) as stream:
                reader = CountingReader(stream, source=f"{backend.describe()}:{REP_METS}")
                documents = _documents(reader)
                reader.drain()
            if reader.sha256 != mets.sha256.lower() or reader.size != mets.size:
                raise ValueError(f"the bytes read ({reader.size}, SHA-256 {reader.sha256}) "
                                 f"are not the recorded ones ({mets.size}, {mets.sha256})")
            return documents
        except (StorageError, OSError, XmlError, ValueError) as e:
            log.warning("rep1 METS of %s unreadable on %s: %s", previous.uuid,
                        backend.describe(), e)
            errors.append(f"{backend.describe()}: {e}")
    raise refusal("INGEST-PREVIOUS-METS-UNREADABLE",
                  f"the representation METS of AIP {previous.uuid} could not be read from any "
                  f"location ({'; '.join(errors) or 'not in the catalog'})",
                  aip=previous.uuid, error="; ".join(errors) or "not in the catalog")


def _documents(reader: CountingReader) -> Sequence[tuple[str, tuple[str, ...]]]:
    """Stream-parse a rep1 METS (:func:`preservation.xmlsafe.iterparse`) into documents (a
    spooled sequence), keeping in memory neither the tree (each section read is cleared and
    dropped from its parent) nor, past :data:`aip.model.KEEP`, the ID maps (DiskMaps) and
    links (spooled). ``huge_tree``: the ``Metadata`` div's DMDID lists every dmdSec
    (41 bytes per document) and passes libxml2's 10 MB value limit at ~240,000 documents; the
    reader's byte cap still bounds the document."""
    records: DiskMap[str] = DiskMap(keep=model.KEEP, what="previous METS dmdSec")  # ID -> href
    files: DiskMap[str] = DiskMap(keep=model.KEEP, what="previous METS file")  # ID -> href

    def links() -> Iterator[tuple[str, tuple[str, ...]]]:
        for _, element in iterparse(reader, huge_tree=True):
            tag = element.tag
            if tag == f"{_METS}mdRef":
                parent = element.getparent()
                if parent is not None and parent.tag == f"{_METS}dmdSec":
                    records[parent.get("ID", "")] = element.get(_HREF, "")
            elif tag == f"{_METS}FLocat":
                parent = element.getparent()
                if parent is not None:
                    files[parent.get("ID", "")] = element.get(_HREF, "")
            elif tag == f"{_METS}div" and element.get("LABEL") == _LINK:
                yield (element.get("DMDID", ""),
                       tuple(p.get("FILEID", "") for p in element.iterfind(f"{_METS}fptr")))
                _drop(element)
            elif tag in (f"{_METS}file", f"{_METS}dmdSec"):
                _drop(element)

    try:
        divs = spooled(links(), _document_fields, _document_from_fields, keep=model.KEEP,
                       what="previous METS document")

        def documents() -> Iterator[tuple[str, tuple[str, ...]]]:
            for dmd, fptrs in divs:
                href = records.get(dmd.split()[0] if dmd else "")
                if href:
                    yield (_REP_BASE + href, tuple(_REP_BASE + path for f in fptrs
                                                   if (path := files.get(f))))

        return spooled(documents(), _document_fields, _document_from_fields,
                       keep=model.KEEP, what="previous METS document")
    finally:
        records.close()
        files.close()


def _document_fields(document: tuple[str, tuple[str, ...]]) -> tuple[Any, ...]:
    return document


def _document_from_fields(values: tuple[Any, ...]) -> tuple[str, tuple[str, ...]]:
    return str(values[0]), tuple(values[1])


def _drop(element: etree._Element) -> None:
    """Clear a section that has been read and delete it and its earlier siblings (an emptied
    element still takes memory in its parent)."""
    element.clear()
    while element.getprevious() is not None:
        del element.getparent()[0]  # type: ignore[union-attr]


def aip_kind(kind_label: str) -> str:
    """The kind of AIP a submission of ``kind_label`` becomes: ``tt05-hoso`` (AIP_hoso),
    ``tt05-tailieu`` (AIP_tailieu) or ``eark`` (an E-ARK-shaped AIP, from an E-ARK or a BagIt
    SIP); a bag wrapping a package counts as that package."""
    kind = kind_label.removeprefix("bagit+")
    return "eark" if kind in ("eark", "bagit") else kind


def refuse_mixed_kinds(previous: PreviousVersion | None, submission: Submission) -> None:
    """INGEST-VERSION-KIND-MISMATCH when ``submission`` would make a version of another kind
    of AIP than ``previous`` (call after validation, before building: nothing is written).

    The kind is the ``source_kind`` :func:`previous_version` carried (the catalog is not read
    again). A previous version whose kind is not recorded (an AIP rebuilt from a bag without
    ``Source-Kind``) is refused too, with INGEST-VERSION-KIND-UNKNOWN: whether the new version
    would keep the package's kind cannot be told, and a version is never built on a guess.
    """
    if previous is None:
        return
    verb = "supplement" if previous.mode == SUPPLEMENT else "replace"
    if not previous.source_kind.strip():
        raise refusal(
            "INGEST-VERSION-KIND-UNKNOWN",
            f"the kind of AIP {previous.uuid} is not recorded (no Source-Kind); a "
            f"{submission.kind_label} submission cannot {verb} it",
            aip=previous.uuid, kind=submission.kind_label)
    before, now = aip_kind(previous.source_kind), aip_kind(submission.kind_label)
    if before != now:
        raise refusal(
            "INGEST-VERSION-KIND-MISMATCH",
            f"AIP {previous.uuid} is a {previous.source_kind} package; a "
            f"{submission.kind_label} submission cannot {verb} it (the versions of a package "
            "keep one kind of AIP)",
            aip=previous.uuid, previous=previous.source_kind, kind=submission.kind_label)
