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
(their bytes are not stored again); each carried record keeps exactly the data files the previous
version's rep1 METS ties to it (:class:`PreviousTt05`), or, when that METS was not read, those its
names give (``EAD_DOC_<stem>.xml`` ↔ ``<stem><ext>``, ``<stem>_<k><ext>``, stubs). New
documents are numbered after the carried ones (``docOrdinal``), and the dossier's ``totalDoc``
counts both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, overload

from aip import model
from aip.model import (
    AipDescription,
    ContentFile,
    FormatId,
    PayloadFile,
    PreviousVersion,
    ReusableFile,
    content_file_fields,
    content_file_from_fields,
    payload_fields,
    payload_from_fields,
    spooled_payload,
)
from aip.premis import write_premis_package, write_premis_representation
from aip.tt05_aip_mets import (
    FETCH_SUFFIX,
    AipDocument,
    AipHeader,
    write_aip_rep_mets,
    write_aip_root_mets,
)
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
    write_streamed,
)
from preservation import SOFTWARE_NAME, __version__
from preservation.errors import PreservationError
from preservation.fonds import MAX_CODE, code_is_valid
from preservation.spooled import fields_of, from_fields, spooled
from preservation.timeutil import VIETNAM
from sip.submission import Submission, SubmittedFile
from sip.tt05 import Tt05DocumentRecord
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
_SEQUENCE_PART = re.compile(r"^(\d{6,})_\d+$")  # a sequence-named document's further files


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


#: a data file as rep1's METS lists it: (AIP path, size, SHA-256, MIME type, original name)
_Data = tuple[str, int, str, str, str]


@dataclass(frozen=True, slots=True)
class _Document:
    record: str  # AIP path of its record
    #: index of its document in the SIP's record (``submission.tt05.documents``), whose AIP
    #: record values are made when the record is written; None: carried by reference
    source: int | None
    ordinal: int  # its docOrdinal
    data: tuple[_Data, ...]  # its data files


@dataclass(frozen=True)
class Tt05Plan:
    """Names and records of a TT05 AIP, decided before anything is written.

    ``documents`` and ``content`` have an entry per document and per data file: spooled
    sequences (:mod:`preservation.spooled`), read in several passes."""

    kind: PackageKind
    arc_file_code: str
    file_code: str
    documents: Sequence[_Document]
    content: Sequence[tuple[ContentFile, PayloadFile]]  # every data file, carried ones too
    carried_records: Sequence[PayloadFile]
    unlinked: Sequence[_Data]  # data files no record describes


@dataclass(frozen=True)
class PreviousTt05(PreviousVersion):
    """A previous TT05 version with its documents as its ``representations/rep1/METS.xml``
    ties them (read by :func:`aip.versions.previous_version`): a supplement carries each
    record with exactly its data files, whatever their names."""

    #: (record bag path, data bag paths) of each ``MetadataLink/File`` div, in METS order
    documents: tuple[tuple[str, tuple[str, ...]], ...] = ()


class _Names:
    """AIP names already taken (compared case-folded: storage may be case-insensitive)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def free(self, paths: Sequence[str]) -> bool:
        folded = [p.casefold() for p in paths]
        return len(set(folded)) == len(folded) and not self._taken.intersection(folded)

    def take(self, paths: Sequence[str]) -> None:
        self._taken.update(p.casefold() for p in paths)


def _owner(name: str, records: Collection[str]) -> str | None:
    """The record stem a carried data file belongs to, by the naming rules of :func:`_names`
    (used only when the previous version's METS was not read): ``<stem><ext>``,
    ``<stem><ext>.fetch.txt`` (a SIP's stub name) or ``<stem>.fetch.txt``, and the sequence
    names ``<n:06d>_<k><ext>`` / ``<n:06d>_<k>.fetch.txt`` of a document's further files."""
    base = name.removesuffix(FETCH_SUFFIX)
    for stem in dict.fromkeys((base.rsplit(".", 1)[0], base)):
        if stem in records:
            return stem
        sequence = _SEQUENCE_PART.match(stem)
        if sequence and sequence[1] in records:
            return sequence[1]
    return None


def _carried_documents(previous: PreviousVersion | None, names: _Names
             ) -> tuple[list[_Document], list[tuple[ContentFile, PayloadFile]],
                        list[PayloadFile], list[_Data]]:
    """The previous version's documents a supplement carries by reference, each with its
    record and every data file: as the previous version's rep1 METS ties them when it was read
    (:class:`PreviousTt05`), else by the names :func:`_names` gives. Data files no record
    claims are returned as unlinked."""
    if previous is None or previous.mode != "supplement":
        return [], [], [], []
    records = {f.bag_path: f for f in previous.files
               if f.bag_path.startswith("data/" + REP_RECORDS)
               and _RECORD.match(f.bag_path.removeprefix("data/" + REP_RECORDS))}
    data = {f.bag_path: f for f in previous.files if f.bag_path.startswith("data/" + REP_DATA)}
    content = [carried(f, f.bag_path.removeprefix("data/" + REP_DATA)) for f in data.values()]
    listed = {"data/" + cf.aip_path: _data(cf) for cf, _ in content}
    ties = (previous.documents if isinstance(previous, PreviousTt05)
            else _ties_by_name(records, data))
    documents: list[_Document] = []
    kept: list[PayloadFile] = []
    claimed: set[str] = set()
    for record_path, data_paths in ties:
        files = tuple(p for p in data_paths if p in data and p not in claimed)
        record = records.get(record_path)
        if record is None or not files:
            continue  # a record without data (or data without record): not a document here
        claimed.update(files)
        path = record.bag_path.removeprefix("data/")
        documents.append(_Document(path, None, len(documents) + 1,
                                   tuple(listed[p] for p in files)))
        kept.append(PayloadFile(path, None, record.size, record.sha256.lower(), "metadata",
                                stored_key=record.stored_key))
    unlinked = [listed[p] for p in sorted(p for p in data if p not in claimed)]
    names.take([d.record for d in documents] + [cf.aip_path for cf, _ in content])
    return documents, content, kept, unlinked


def _ties_by_name(records: Mapping[str, ReusableFile], data: Mapping[str, ReusableFile]
                  ) -> list[tuple[str, tuple[str, ...]]]:
    """(record bag path, data bag paths) of each carried record, by :func:`_owner`."""
    stems = {_RECORD.match(p.removeprefix("data/" + REP_RECORDS))[1]: p  # type: ignore[index]
             for p in records}
    files: dict[str, list[str]] = {}
    for path in data:
        stem = _owner(path.removeprefix("data/" + REP_DATA), stems)
        if stem is not None:
            files.setdefault(stems[stem], []).append(path)
    return [(record, tuple(files[record])) for record in sorted(files)]


def plan_tt05(submission: Submission, *, archive_code: str,
              previous: PreviousVersion | None) -> Tt05Plan:
    """Decide every name and record of the AIP (nothing is written)."""
    record = submission.tt05
    if record is None:
        raise ValueError("not a TT05 submission")
    file_code = record.file_code or ""
    arc = arc_file_code(archive_code, file_code)
    names = _Names()
    carried_documents, carried_content, carried_records, unlinked = _carried_documents(
        previous, names)
    # the keyed lookup of a document's files (held while planning only): a file a document
    # names moves from ``unused`` to ``used``, so what stays in ``unused`` is no record's
    unused = {f.path: f for f in submission.content()}
    used: dict[str, SubmittedFile] = {}
    prefix = f"{submission.package_prefix}/" if submission.package_prefix else ""
    count = len(carried_content)  # data files named so far

    def files_of(doc: Tt05DocumentRecord) -> list[SubmittedFile]:
        files = []
        for rel in doc.data_files:
            f = used.get(prefix + rel) or unused.pop(prefix + rel, None)
            if f is not None:
                used[f.path] = f
                files.append(f)
        return files

    def named() -> Iterator[_Document]:
        """Every document, its names decided (the carried ones, then the SIP's, in order)."""
        nonlocal count
        yield from carried_documents
        for source, doc in enumerate(record.documents):
            ordinal = len(carried_documents) + source + 1
            files = files_of(doc)
            record_path, data_paths = _names(doc.ead_doc, [f.path for f in files], ordinal,
                                             names, prefix)
            yield _Document(record_path, source, ordinal,
                            tuple(_data_of(submission, f, path)
                                  for f, path in zip(files, data_paths, strict=True)))
            count += len(files)

    documents = spooled(named(), fields_of, from_fields(_Document), keep=model.KEEP,
                        what="AIP document")
    loose: list[tuple[SubmittedFile, str]] = []
    for f in unused.values():  # not described by any record (not expected when valid)
        path = _free_sequence_names(names, count + len(loose) + 1, [f.path], "")[1][0]
        loose.append((f, path))
        unlinked.append(_data_of(submission, f, path))
    unused.clear()

    def content() -> Iterator[tuple[ContentFile, PayloadFile]]:
        """Every data file: the carried ones, each new document's, then the loose ones."""
        yield from carried_content
        for d in documents:
            if d.source is not None:
                files = files_of(record.documents[d.source])
                for f, data in zip(files, d.data, strict=True):
                    yield _content(submission, f, data[0])
        for f, path in loose:
            yield _content(submission, f, path)

    return Tt05Plan(record.kind, arc, file_code, documents,
                    spooled(content(), _pair_fields, _pair_from_fields, keep=model.KEEP,
                            what="AIP content file"),
                    carried_records, unlinked)


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
    """The first free sequence stem from ``n``: record ``EAD_DOC_<stem>.xml``, data files
    ``<stem><ext>`` then ``<stem>_<k><ext>`` (stubs ``<stem>[_<k>].fetch.txt``)."""
    while True:
        stem = f"{n:06d}"
        paths = [REP_DATA + stem + (f"_{k}" if k else "")
                 + (FETCH_SUFFIX if p.endswith(FETCH_SUFFIX) else extension(p))
                 for k, p in enumerate(data)]
        record_path = REP_RECORDS + (f"EAD_DOC_{stem}.xml" if record else "")
        if names.free([*paths, record_path] if record else paths):
            names.take([*paths, record_path] if record else paths)
            return record_path, paths
        n += 1


def _format(submission: Submission, f: SubmittedFile) -> FormatId:
    return submission.formats.get(f.path) or FormatId(None, basis="not identified")


def _content(submission: Submission, f: SubmittedFile, path: str
             ) -> tuple[ContentFile, PayloadFile]:
    fmt = _format(submission, f)
    cf = ContentFile(str(uuid.uuid4()), path, f.original_name, f.size, f.sha256, fmt,
                     fmt.mime or mime_type(path))
    return cf, PayloadFile(path, f.fs_path, f.size, f.sha256, "content", f.original_name, fmt)


def _data_of(submission: Submission, f: SubmittedFile, path: str) -> _Data:
    """What rep1's METS says of the data file ``f`` named ``path`` (as :func:`_content`)."""
    return path, f.size, f.sha256, _format(submission, f).mime or mime_type(path), \
        f.original_name


def _data(cf: ContentFile) -> _Data:
    return cf.aip_path, cf.size, cf.sha256, cf.mime, cf.original_name


def _pair_fields(pair: tuple[ContentFile, PayloadFile]) -> tuple[Any, ...]:
    """A content file and its payload file as plain values, for a spooled sequence."""
    return content_file_fields(pair[0]), payload_fields(pair[1])


def _pair_from_fields(values: tuple[Any, ...]) -> tuple[ContentFile, PayloadFile]:
    return content_file_from_fields(values[0]), payload_from_fields(values[1])


def _written(item: PayloadFile, base: str = "", mime: str | None = None) -> WrittenFile:
    return WrittenFile(item.aip_path.removeprefix(base), item.size, item.sha256,
                       mime or mime_of(item))


def write_tt05(plan: Tt05Plan, submission: Submission, desc: AipDescription,
               staging: Path) -> Sequence[PayloadFile]:
    """Write every metadata file of the AIP into staging; return the whole payload (the content
    files, the carried records, the new records, then the other metadata files), spooled.

    PREMIS, both METS files and the document records are streamed or written one at a time
    (:func:`aip.tt05_aip_staging.write_streamed`): their number and size do not decide the
    memory an ingest needs.
    """
    title = desc.label
    ead = write(staging, EAD, package_record(
        plan.kind, package_values(plan.kind, submission.tt05.fields if submission.tt05 else {},
                                  plan.arc_file_code, len(plan.documents))))
    sip_documents = submission.tt05.documents if submission.tt05 else ()
    carried_records = {r.aip_path: r for r in plan.carried_records}

    def record_files() -> Iterator[PayloadFile]:
        """Each document's record, in order: written now (its values made and dropped one
        document at a time), or carried by reference."""
        for d in plan.documents:
            if d.source is None:
                yield carried_records[d.record]
            else:
                values = document_values(sip_documents[d.source].fields, plan.arc_file_code,
                                         d.ordinal)
                yield write(staging, d.record, document_record(values))

    records = spooled(record_files(), payload_fields, payload_from_fields, keep=model.KEEP,
                      what="AIP record")
    schemas = [write(staging, f"schemas/{name}", schema_file(name, packaged))
               for name, packaged in METS_SCHEMAS.items()]
    schemas += [write(staging, f"schemas/{name}", schema_bytes(name))
                for name in AIP_RECORD_SCHEMAS]
    evidence = spooled_payload(chain(producer_metadata(submission),
                                     submission_evidence(staging, submission)))
    premis = write_streamed(staging, PREMIS, lambda path: write_premis_package(path, desc))
    premis_rep = write_streamed(staging, PREMIS_REP,
                            lambda path: write_premis_representation(path, desc, "rep1"))

    ids = IdMaker(uuid.UUID(desc.uuid))
    stamp = desc.created.astimezone(VIETNAM).isoformat(timespec="milliseconds")
    head = AipHeader(
        MetsHeader(objid=desc.objid, mets_type=plan.kind.mets_type, created=stamp,
                   software=SOFTWARE_NAME, software_version=__version__,
                   fonds_code=desc.fonds_code or None, agency=None, file_code=plan.file_code,
                   label=title),
        record_status=desc.record_status, custodian=desc.organisation)
    base = REP + "/"
    documents = _Documents(plan.documents, records, base)
    unlinked = [_data_written(d, base) for d in plan.unlinked]
    loose_names = {d[0].removeprefix(base): d[4] for d in plan.unlinked}

    def original_name(rel: str) -> str | None:
        """The producer's name of a data file no record describes (FLocat xlink:title); a
        document's data files bring theirs (:attr:`AipDocument.originals`)."""
        return loose_names.get(rel)

    rep = write_streamed(staging, f"{REP}/METS.xml", lambda path: write_aip_rep_mets(
        path, head, ids, documents, premis=_written(premis_rep, base), unlinked=unlinked,
        original_names=original_name))
    mets = write_streamed(staging, "METS.xml", lambda path: write_aip_root_mets(
        path, head, ids, ead=_written(ead), schemas=[_written(s) for s in schemas],
        rep=_written(rep), premis=_written(premis),
        documentation=_WrittenFiles(evidence)))
    new_records = (r for d, r in zip(plan.documents, records, strict=True)
                   if d.source is not None)
    return spooled_payload(chain((p for _, p in plan.content), plan.carried_records,
                                 new_records, (ead,), schemas, evidence,
                                 (premis, premis_rep, rep, mets)))


class _Documents(Sequence[AipDocument]):
    """The rep1 METS documents of a plan, made when read (the METS writer reads them in several
    passes; a list of them would hold a few hundred bytes per document)."""

    def __init__(self, documents: Sequence[_Document], records: Sequence[PayloadFile],
                 base: str) -> None:
        self._documents = documents
        self._records = records
        self._base = base

    def __len__(self) -> int:
        return len(self._documents)

    def __iter__(self) -> Iterator[AipDocument]:
        for d, record in zip(self._documents, self._records, strict=True):
            yield self._document(d, record)

    @overload
    def __getitem__(self, index: int) -> AipDocument: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AipDocument]: ...

    def __getitem__(self, index: int | slice) -> AipDocument | Sequence[AipDocument]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._document(self._documents[index], self._records[index])

    def _document(self, d: _Document, record: PayloadFile) -> AipDocument:
        base = self._base
        return AipDocument(d.record, _written(record, base),
                           tuple(_data_written(data, base) for data in d.data),
                           originals=tuple(data[4] for data in d.data))


class _WrittenFiles(Sequence[WrittenFile]):
    """The METS file entries of payload files, made when read."""

    def __init__(self, items: Sequence[PayloadFile]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[WrittenFile]:
        return map(_written, self._items)

    @overload
    def __getitem__(self, index: int) -> WrittenFile: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[WrittenFile]: ...

    def __getitem__(self, index: int | slice) -> WrittenFile | Sequence[WrittenFile]:
        if isinstance(index, slice):
            return [_written(item) for item in self._items[index]]
        return _written(self._items[index])


def _data_written(data: _Data, base: str) -> WrittenFile:
    path, size, sha256, mime, _ = data
    return WrittenFile(path.removeprefix(base), size, sha256, mime)
