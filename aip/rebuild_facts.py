"""Catalog rebuild, step two: the catalog's facts about one AIP, read from a complete copy.

The AIP record comes from bag-info.txt (the fields the builder writes for this purpose), the
signer from the CMS signature, the file list from the manifests, original names and formats from
the PREMIS records (the producer's kept metadata: from its path under ``submission/sip/``, or
for one kept under a sequence number from the signed tag file ``renamed-names.json``,
:mod:`aip.renamed_names`), the ingest events from PREMIS.xml. Every metadata file read here is
first checked against the signed manifest, so nothing unsigned reaches the catalog.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from lxml import etree

from aip.rebuild_copy import BAG_INFO, CopyCheck, Problem, StoredFile
from aip.renamed_names import RENAMED_NAMES, is_renamed, parse_renamed_names
from preservation import SOFTWARE_NAME
from preservation.catalog import AipRecord, EventRecord, FileRecord
from preservation.errors import StorageError, XmlError
from preservation.manifest import SIGNATURE
from preservation.storage import StorageBackend
from preservation.xmlsafe import DEFAULT_MAX_BYTES, parse_bytes

PREMIS_NS = "http://www.loc.gov/premis/v3"
METS_NS = "http://www.loc.gov/METS/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
PACKAGE_PREMIS = "data/metadata/preservation/PREMIS.xml"
ROOT_METS = "data/METS.xml"
_REP_PREMIS = re.compile(r"^data/representations/([^/]+)/metadata/preservation/PREMIS[^/]*\.xml$")
_CONTENT = re.compile(r"^data/representations/[^/]+/data/")
_KEPT_METADATA = "data/submission/sip/"
#: bag-info.txt fields every AIP carries (issue 4 contract §1); a missing one is reported
EXPECTED_FIELDS = ("Source-Organization", "External-Identifier", "External-Description",
                   "Internal-Sender-Identifier", "Created", "Package-Identifier",
                   "Package-Version", "Record-Status", "Fonds-Code", "Source-Kind",
                   "Package-OBJID")
#: PREMIS outcome labels back to the catalog's words
_OUTCOMES = {"fail": "failure"}
_NS = {"p": PREMIS_NS, "m": METS_NS}


@dataclass(frozen=True)
class FileFacts:
    """What PREMIS says about one file."""

    original_name: str | None
    size: int | None
    puid: str | None
    format_name: str | None


@dataclass(frozen=True)
class AipFacts:
    aip: AipRecord
    files: list[FileRecord]
    events: list[EventRecord]  # in document order; the rebuild orders them by instant


def role(path: str) -> str:
    """The catalog role of a bag path: content, metadata, tag or signature."""
    if path == SIGNATURE:
        return "signature"
    if not path.startswith("data/"):
        return "tag"
    return "content" if _CONTENT.match(path) else "metadata"


def read_facts(check: CopyCheck, backend: StorageBackend
               ) -> tuple[AipFacts | None, list[Problem], list[Problem]]:
    """(facts or None, problems that make this copy unusable, warnings)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    where = f"{check.location}:{check.aip_id}"
    info = check.bag_info
    for name in EXPECTED_FIELDS:
        if not info.get(name):
            warnings.append(Problem("REBUILD-BAG-INFO-FIELD-MISSING", f"{where}/{BAG_INFO}",
                                    {"field": name}))
    documents = [p for p in sorted(check.files) if p == PACKAGE_PREMIS or _REP_PREMIS.match(p)]
    if PACKAGE_PREMIS not in check.files:
        problems.append(Problem("REBUILD-METADATA-MISSING", f"{where}/{PACKAGE_PREMIS}",
                                {"file": PACKAGE_PREMIS}))
        return None, problems, warnings
    by_path: dict[str, FileFacts] = {}
    events: dict[str, EventRecord] = {}
    for path in documents:
        tree = _load(check, backend, path, problems)
        if tree is None:
            continue
        base = "data/" if path == PACKAGE_PREMIS else path.split("metadata/preservation/")[0]
        for aip_path, facts in _file_objects(tree, base, check.files):
            by_path.setdefault(aip_path, facts)
        for event in _events(tree, check.aip_id):
            events.setdefault(event.id, event)
    mets_created, mets_objid = "", ""
    if not info.get("Created") or not info.get("Package-OBJID"):
        mets = _load(check, backend, ROOT_METS, problems) if ROOT_METS in check.files else None
        if mets is not None:
            root = mets.getroot()
            mets_objid = root.get("OBJID") or ""
            header = root.find(f"{{{METS_NS}}}metsHdr")
            mets_created = header.get("CREATEDATE") or "" if header is not None else ""
    if problems:
        return None, problems, warnings

    files = []
    renamed = _renamed_names(check, where, warnings)
    for path, stored in sorted(check.files.items()):
        known = by_path.get(path)
        kind = role(path)
        if kind == "content" and known is not None and known.size not in (None, stored.size):
            problems.append(Problem("REBUILD-SIZE-MISMATCH", f"{where}/{path}", {
                "location": check.location, "file": path, "expected": str(known.size),
                "actual": str(stored.size)}))
        files.append(_file_record(check.aip_id, stored, kind, known, renamed))
    if problems:
        return None, problems, warnings
    nameless = sum(1 for f in files if f.role == "metadata" and is_renamed(f.path)
                   and f.original_name is None)
    if nameless and renamed is not None:
        warnings.append(Problem("REBUILD-RENAMED-NAMES-MISSING", f"{where}/{RENAMED_NAMES}", {
            "location": check.location, "file": RENAMED_NAMES, "count": str(nameless)}))
    content = [f for f in files if f.role == "content"]
    aip = _record(AipRecord, {
        "id": check.aip_id,
        "version": int(info["Package-Version"]) if info.get("Package-Version", "").isdigit()
        else 1,
        "label": info.get("External-Description", ""),
        "created": info.get("Created") or mets_created,
        "source_kind": info.get("Source-Kind", ""),
        "source_name": info.get("Internal-Sender-Identifier", ""),
        "file_count": len(content),
        "total_size": sum(f.size for f in content),
        "tagmanifest_sha256": check.tagmanifest_sha256,
        "signer": check.signer,
        "organisation": info.get("Source-Organization", ""),
        "package_id": _uuid_of(info.get("Package-Identifier", "")) or check.aip_id,
        "previous_id": _uuid_of(info.get("Previous-Version", "")) or None,
        "record_status": info.get("Record-Status") or "NEW",
        "fonds_code": info.get("Fonds-Code", ""),
        "objid": info.get("Package-OBJID") or mets_objid,
        "arc_file_code": info.get("Arc-File-Code", ""),
    })
    return AipFacts(aip, files, list(events.values())), problems, warnings


def _record(cls: type[Any], values: dict[str, Any]) -> Any:
    """``cls(**values)`` keeping only the fields ``cls`` has (older catalog schemas lack some)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def _renamed_names(check: CopyCheck, where: str, warnings: list[Problem]
                   ) -> dict[str, str] | None:
    """The original names of the producer's renamed metadata files, from the signed tag file
    (empty for an AIP written before it existed); None, with a warning, when it is unreadable."""
    data = check.tag_bytes.get(RENAMED_NAMES)
    if data is None:
        return {}
    try:
        return parse_renamed_names(data)
    except ValueError as e:
        warnings.append(Problem("REBUILD-RENAMED-NAMES-UNREADABLE", f"{where}/{RENAMED_NAMES}", {
            "location": check.location, "file": RENAMED_NAMES, "error": str(e)}))
        return None


def _file_record(aip_id: str, stored: StoredFile, kind: str, facts: FileFacts | None,
                 renamed: dict[str, str] | None) -> FileRecord:
    original = facts.original_name if facts is not None else None
    if original is None and kind == "metadata" and stored.path.startswith(_KEPT_METADATA):
        kept = stored.path[len(_KEPT_METADATA):]
        original = (renamed or {}).get(stored.path) if is_renamed(stored.path) else kept
    record: FileRecord = _record(FileRecord, {
        "aip_id": aip_id, "path": stored.path, "role": kind, "size": stored.size,
        "sha256": stored.sha256, "original_name": original,
        "puid": facts.puid if facts is not None else None,
        "format_name": facts.format_name if facts is not None else None,
        "stored_key": stored.stored_key,
    })
    return record


def _uuid_of(urn: str) -> str:
    return urn[len("urn:uuid:"):] if urn.startswith("urn:uuid:") else ""


def _load(check: CopyCheck, backend: StorageBackend, path: str, problems: list[Problem]
          ) -> etree._ElementTree | None:
    """Read a metadata file of the copy, check it against the signed manifest, parse it."""
    stored = check.files[path]
    key = stored.stored_key or f"{check.aip_id}/{path}"
    place = f"{check.location}:{key}"
    try:
        with backend.open(key) as stream:
            data = stream.read(DEFAULT_MAX_BYTES + 1)
    except (StorageError, OSError) as e:
        problems.append(Problem("REBUILD-COPY-UNREADABLE", place,
                                {"location": check.location, "error": str(e)}))
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != stored.sha256:
        problems.append(Problem("REBUILD-CHECKSUM-MISMATCH", place, {
            "location": check.location, "file": path, "expected": stored.sha256,
            "actual": digest}))
        return None
    try:
        return parse_bytes(data, source=path)
    except XmlError as e:
        problems.append(Problem("REBUILD-METADATA-UNREADABLE", place,
                                {"file": path, "error": e.message}))
        return None


def _text(element: etree._Element, xpath: str) -> str | None:
    found = element.xpath(xpath, namespaces=_NS)
    if isinstance(found, list) and found:
        first = found[0]
        if isinstance(first, str):
            return first
        if isinstance(first, etree._Element):
            return first.text or ""
    return None


def _file_objects(tree: etree._ElementTree, base: str, stored: dict[str, StoredFile]
                  ) -> Iterator[tuple[str, FileFacts]]:
    """(bag path, facts) of every premis:file object; paths are relative to the AIP root
    (``representations/rep1/data/…``) or, in a representation's PREMIS, to the representation."""
    for obj in tree.getroot().iterfind("p:object", _NS):
        if not (obj.get(XSI_TYPE) or "").endswith("file"):
            continue
        value = _text(obj, "p:storage/p:contentLocation/p:contentLocationValue/text()")
        if not value:
            continue
        candidates = ("data/" + value, base + value)
        path = next((c for c in candidates if c in stored), None)
        if path is None:
            continue
        size = _text(obj, "p:objectCharacteristics/p:size/text()")
        puid = _text(obj, "p:objectCharacteristics/p:format/p:formatRegistry/"
                          "p:formatRegistryKey/text()")
        name = _text(obj, "p:objectCharacteristics/p:format/p:formatDesignation/"
                          "p:formatName/text()")
        if name == puid or (name == "unknown" and not puid):
            name = None  # the writer puts the PUID, or "unknown", where no name is known
        yield path, FileFacts(
            original_name=_text(obj, "p:originalName/text()"),
            size=int(size) if size and size.isdigit() else None, puid=puid or None,
            format_name=name)


def _events(tree: etree._ElementTree, aip_id: str) -> Iterator[EventRecord]:
    root = tree.getroot()
    agent = _software_agent(root)
    for ev in root.iterfind("p:event", _NS):
        identifier = _text(ev, "p:eventIdentifier/p:eventIdentifierValue/text()")
        if not identifier:
            continue
        outcome = _text(ev, "p:eventOutcomeInformation/p:eventOutcome/text()") or ""
        yield EventRecord(
            id=identifier, aip_id=aip_id, type=_text(ev, "p:eventType/text()") or "",
            datetime=_text(ev, "p:eventDateTime/text()") or "",
            outcome=_OUTCOMES.get(outcome, outcome),
            detail=_text(ev, "p:eventDetailInformation/p:eventDetail/text()") or "",
            outcome_detail=_text(ev, "p:eventOutcomeInformation/p:eventOutcomeDetail/"
                                     "p:eventOutcomeDetailNote/text()") or "",
            location=None, agent=agent)


def _software_agent(root: etree._Element) -> str:
    """``"<name> <version>"`` of this software as the PREMIS record names it (the catalog's
    ``agent`` of every ingest event)."""
    for agent in root.iterfind("p:agent", _NS):
        if _text(agent, "p:agentType/text()") == "software" \
                and _text(agent, "p:agentName/text()") == SOFTWARE_NAME:
            version = _text(agent, "p:agentVersion/text()")
            return f"{SOFTWARE_NAME} {version}" if version else SOFTWARE_NAME
    return _text(root, "p:object/p:objectCharacteristics/p:fixity/"
                       "p:messageDigestOriginator/text()") or ""
