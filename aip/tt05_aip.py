"""A TT05 SIP_hoso / SIP_tailieu becomes an AIP_hoso / AIP_tailieu (../shared/spec/TT05.md).

Layout of the AIP package (the bag's ``data/``)::

    METS.xml                                    OBJID urn:<fonds code>:uuid-<UPPER UUID>
    metadata/descriptive/EAD.xml                AIP field set (arcFileCode …)
    metadata/preservation/PREMIS.xml
    representations/rep1/METS.xml
    representations/rep1/metadata/descriptive/EAD_DOC_<id>.xml     AIP field set
    representations/rep1/metadata/preservation/PREMIS_rep1.xml
    representations/rep1/data/<name>            the SIP's names when portable, else <n:06d><ext>
    schemas/  mets1_12.xsd xlink.xsd DILCISExtensionMETS.xsd premis-v3-0.xsd
              ead.xsd ead_doc.xsd ead_pic.xsd ead_media.xsd       (the AIP record schemas)
    submission/validation-report.json, submission/sip/…   our report, the producer's metadata

Names: a document keeps the SIP's file names (TT05 names them ``<docId>.pdf`` and
``EAD_DOC_<docId>.xml``) when its record name and every data file name are portable ASCII names
not already taken; otherwise all of its files get the sequence name ``<n:06d>`` (data
``<n:06d><ext>``, stubs ``<n:06d>.fetch.txt``, record ``EAD_DOC_<n:06d>.xml``), so a data file
and its record keep sharing a stem. The original names are in METS (``FLocat xlink:title``) and
PREMIS (``originalName``). The package directory name, where one is materialised (export,
DIP), is the OBJID with ':' replaced by '_' (:func:`package_directory_name`).

A supplement carries the previous version's content files and their TT05 records by reference
(their bytes are not stored again); a carried record is matched to its data files by stem
(``EAD_DOC_<stem>.xml`` ↔ ``<stem>.<ext>``). New documents are numbered after the carried ones
(``docOrdinal``), and the dossier's ``totalDoc`` counts both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from aip.model import AipDescription, ContentFile, FormatId, PayloadFile, PreviousVersion
from aip.premis import premis_package_bytes, premis_representation_bytes
from aip.tt05_aip_mets import FETCH_SUFFIX, AipDocument, AipHeader, aip_rep_mets, aip_root_mets
from aip.tt05_aip_records import (
    AIP_RECORD_SCHEMAS,
    arc_file_code,
    document_record,
    document_values,
    package_record,
    package_values,
    schema_bytes,
)
from aip.tt05_aip_staging import (
    carried,
    extension,
    mime_of,
    portable,
    producer_metadata,
    schema_file,
    submission_evidence,
    write,
)
from preservation import SOFTWARE_NAME, __version__
from preservation.errors import PreservationError
from preservation.fonds import MAX_CODE, code_is_valid
from preservation.timeutil import VIETNAM
from preservation.xmlsafe import xml_bytes
from sip.submission import Submission, SubmittedFile
from sip.tt05_mets_writer import MetsHeader, WrittenFile
from sip.tt05_model import PackageKind
from sip.tt05_xml import IdMaker, mime_type

REP = "representations/rep1"
REP_DATA = f"{REP}/data/"
REP_RECORDS = f"{REP}/metadata/descriptive/"
EAD = "metadata/descriptive/EAD.xml"
PREMIS = "metadata/preservation/PREMIS.xml"
PREMIS_REP = f"{REP}/metadata/preservation/PREMIS_rep1.xml"
#: AIP schemas/: name in the AIP → packaged file (the METS ones as the SIP writer ships them)
METS_SCHEMAS = {"mets1_12.xsd": "mets.xsd", "xlink.xsd": "xlink.xsd",
                "DILCISExtensionMETS.xsd": "DILCISExtensionMETS.xsd",
                "premis-v3-0.xsd": "premis-v3-0.xsd"}
_RECORD = re.compile(r"^EAD_(?:DOC|PIC|MEDIA)_(.+)\.xml$")
_XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


class FondsCodeError(PreservationError):
    """The fonds code cannot stand in a URN (METS OBJID)."""

    code = "AIP-FONDS-CODE"


def tt05_objid(fonds_code: str, aip_uuid: str) -> str:
    """``urn:<fonds code>:uuid-<UPPER UUID>``; ``urn:uuid:<uuid>`` without a fonds code."""
    canonical = str(uuid.UUID(aip_uuid))
    if not fonds_code:
        return f"urn:uuid:{canonical}"
    if not code_is_valid(fonds_code):
        raise FondsCodeError(f"fonds code {fonds_code!r} cannot be part of a METS OBJID (at most "
                             f"{MAX_CODE} letters, digits, '.', '_' and '-')", location=fonds_code)
    return f"urn:{fonds_code}:uuid-{canonical.upper()}"


def package_directory_name(objid: str) -> str:
    """The AIP/DIP directory name: the OBJID with ':' replaced by '_' (TT05 layout)."""
    return objid.replace(":", "_")


@dataclass(frozen=True)
class _Document:
    record: str  # AIP path of its record
    values: Mapping[str, str] | None  # the AIP record's values; None: carried by reference
    data: tuple[str, ...]  # AIP paths of its data files


@dataclass(frozen=True)
class Tt05Plan:
    """Names and records of a TT05 AIP, decided before anything is written."""

    kind: PackageKind
    arc_file_code: str
    file_code: str
    documents: tuple[_Document, ...]
    content: tuple[tuple[ContentFile, PayloadFile], ...]  # every data file, carried ones too
    carried_records: tuple[PayloadFile, ...]
    unlinked: tuple[str, ...]  # AIP paths of data files no record describes


class _Names:
    """AIP names already taken (compared case-folded: storage may be case-insensitive)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def free(self, paths: Sequence[str]) -> bool:
        folded = [p.casefold() for p in paths]
        return len(set(folded)) == len(folded) and not self._taken.intersection(folded)

    def take(self, paths: Sequence[str]) -> None:
        self._taken.update(p.casefold() for p in paths)


def _stem(name: str) -> str:
    if name.endswith(FETCH_SUFFIX):
        return name[: -len(FETCH_SUFFIX)]
    return name.rsplit(".", 1)[0] if "." in name else name


def _carried_documents(previous: PreviousVersion | None, names: _Names
             ) -> tuple[list[_Document], list[tuple[ContentFile, PayloadFile]],
                        list[PayloadFile], list[str]]:
    """The previous version's documents a supplement carries by reference."""
    if previous is None or previous.mode != "supplement":
        return [], [], [], []
    data = [f for f in previous.files if f.bag_path.startswith("data/" + REP_DATA)]
    records = {}
    for f in previous.files:
        name = f.bag_path.removeprefix("data/" + REP_RECORDS)
        match = _RECORD.match(name) if f.bag_path.startswith("data/" + REP_RECORDS) else None
        if match and "/" not in name:
            records[match.group(1)] = f
    content: list[tuple[ContentFile, PayloadFile]] = []
    by_stem: dict[str, list[str]] = {}
    for f in data:
        name = f.bag_path.removeprefix("data/" + REP_DATA)
        content.append(carried(f, name))
        by_stem.setdefault(_stem(name), []).append(REP_DATA + name)
    documents, kept = [], []
    for stem, record in sorted(records.items()):
        if stem not in by_stem:
            continue  # a record without data: it stays in the previous version only
        path = record.bag_path.removeprefix("data/")
        documents.append(_Document(path, None, tuple(by_stem.pop(stem))))
        kept.append(PayloadFile(path, None, record.size, record.sha256.lower(), "metadata",
                                stored_key=record.stored_key))
    unlinked = sorted(p for paths in by_stem.values() for p in paths)
    names.take([d.record for d in documents] + [cf.aip_path for cf, _ in content])
    return documents, content, kept, unlinked


def plan_tt05(submission: Submission, *, archive_code: str,
              previous: PreviousVersion | None) -> Tt05Plan:
    """Decide every name and record of the AIP (nothing is written)."""
    record = submission.tt05
    if record is None:
        raise ValueError("not a TT05 submission")
    file_code = record.file_code or ""
    arc = arc_file_code(archive_code, file_code)
    names = _Names()
    documents, content, carried_records, unlinked = _carried_documents(previous, names)
    by_path = {f.path: f for f in submission.content()}
    prefix = f"{submission.package_prefix}/" if submission.package_prefix else ""
    used: set[str] = set()
    for doc in record.documents:
        ordinal = len(documents) + 1
        files = [by_path[prefix + rel] for rel in doc.data_files if prefix + rel in by_path]
        record_path, data_paths = _names(doc.ead_doc, [f.path for f in files], ordinal, names,
                                         prefix)
        documents.append(_Document(record_path, document_values(doc.fields, arc, ordinal),
                                   tuple(data_paths)))
        for f, path in zip(files, data_paths, strict=True):
            content.append(_content(submission, f, path))
            used.add(f.path)
    for f in submission.content():  # not described by any record (not expected when valid)
        if f.path not in used:
            path = _free_sequence_names(names, len(content) + 1, [f.path], "")[1][0]
            content.append(_content(submission, f, path))
            unlinked.append(path)
    return Tt05Plan(record.kind, arc, file_code, tuple(documents), tuple(content),
                    tuple(carried_records), tuple(unlinked))


def _names(ead_doc: str, data: list[str], ordinal: int, names: _Names, prefix: str
           ) -> tuple[str, list[str]]:
    """(record path, data paths) of one new document: the SIP's when portable and free."""
    below = [p.removeprefix(prefix + REP_DATA) for p in data]
    kept = [REP_RECORDS + ead_doc.rsplit("/", 1)[-1], *(REP_DATA + b for b in below)]
    if (all("/" not in b for b in below) and all(portable(p) for p in kept)
            and names.free(kept)):
        names.take(kept)
        return kept[0], kept[1:]
    return _free_sequence_names(names, ordinal, data, ead_doc)


def _free_sequence_names(names: _Names, n: int, data: list[str], record: str
                         ) -> tuple[str, list[str]]:
    while True:
        stem = f"{n:06d}"
        paths = [REP_DATA + stem + (FETCH_SUFFIX if p.endswith(FETCH_SUFFIX) else
                                    (f"_{k}" if k else "") + extension(p))
                 for k, p in enumerate(data)]
        record_path = REP_RECORDS + (f"EAD_DOC_{stem}.xml" if record else "")
        if names.free([*paths, record_path] if record else paths):
            names.take([*paths, record_path] if record else paths)
            return record_path, paths
        n += 1


def _content(submission: Submission, f: SubmittedFile, path: str
             ) -> tuple[ContentFile, PayloadFile]:
    fmt = submission.formats.get(f.path) or FormatId(None, basis="not identified")
    cf = ContentFile(str(uuid.uuid4()), path, f.original_name, f.size, f.sha256, fmt,
                     fmt.mime or mime_type(path))
    return cf, PayloadFile(path, f.fs_path, f.size, f.sha256, "content", f.original_name, fmt)


def _written(item: PayloadFile, base: str = "", mime: str | None = None) -> WrittenFile:
    return WrittenFile(item.aip_path.removeprefix(base), item.size, item.sha256,
                       mime or mime_of(item))


def write_tt05(plan: Tt05Plan, submission: Submission, desc: AipDescription,
               staging: Path) -> list[PayloadFile]:
    """Write every metadata file of the AIP into staging; return the whole payload."""
    title = desc.label
    ead = write(staging, EAD, package_record(
        plan.kind, package_values(plan.kind, submission.tt05.fields if submission.tt05 else {},
                                  plan.arc_file_code, len(plan.documents))))
    records = {d.record: write(staging, d.record, document_record(d.values))
               for d in plan.documents if d.values is not None}
    records.update({r.aip_path: r for r in plan.carried_records})
    schemas = [write(staging, f"schemas/{name}", schema_file(name, packaged))
               for name, packaged in METS_SCHEMAS.items()]
    schemas += [write(staging, f"schemas/{name}", schema_bytes(name))
                for name in AIP_RECORD_SCHEMAS]
    evidence = [*producer_metadata(submission), *submission_evidence(staging, submission)]
    premis = write(staging, PREMIS, premis_package_bytes(desc))
    premis_rep = write(staging, PREMIS_REP, premis_representation_bytes(desc, "rep1"))

    ids = IdMaker(uuid.UUID(desc.uuid))
    stamp = desc.created.astimezone(VIETNAM).isoformat(timespec="milliseconds")
    head = AipHeader(
        MetsHeader(objid=desc.objid, mets_type=plan.kind.mets_type, created=stamp,
                   software=SOFTWARE_NAME, software_version=__version__,
                   fonds_code=desc.fonds_code or None, agency=None, file_code=plan.file_code,
                   label=title),
        record_status=desc.record_status, custodian=desc.organisation)
    content = {cf.aip_path: (cf, p) for cf, p in plan.content}
    base = REP + "/"
    documents = [AipDocument(d.record, _written(records[d.record], base),
                             tuple(_written(content[p][1], base, content[p][0].mime)
                                   for p in d.data)) for d in plan.documents]
    unlinked = [_written(content[p][1], base, content[p][0].mime) for p in plan.unlinked]
    rep_root = aip_rep_mets(head, ids, documents, premis=_written(premis_rep, base),
                            unlinked=unlinked)
    _original_names(rep_root, {cf.aip_path.removeprefix(base): cf.original_name
                               for cf, _ in plan.content})
    rep = write(staging, f"{REP}/METS.xml", xml_bytes(rep_root))
    root = aip_root_mets(head, ids, ead=_written(ead), schemas=[_written(s) for s in schemas],
                         rep=_written(rep), premis=_written(premis),
                         documentation=[_written(e) for e in evidence])
    mets = write(staging, "METS.xml", xml_bytes(root))
    return [*(p for _, p in plan.content), *plan.carried_records,
            *(records[d.record] for d in plan.documents if d.values is not None),
            ead, *schemas, *evidence, premis, premis_rep, rep, mets]


def _original_names(root: etree._Element, names: Mapping[str, str]) -> None:
    """``FLocat xlink:title`` = the producer's name of each content file."""
    for flocat in root.iter("{http://www.loc.gov/METS/}FLocat"):
        original = names.get(flocat.get(_XLINK_HREF, ""))
        if original:
            flocat.set(_XLINK_TITLE, original)
