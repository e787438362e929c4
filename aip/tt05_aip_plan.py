"""The plan of a TT05 AIP: every name and record decided before anything is written.

Names: a document keeps the SIP's file names (TT05 names them ``<docId>.pdf`` and
``EAD_DOC_<docId>.xml``) when its record name and every data file name are portable ASCII names
not already taken; otherwise all of its files get the sequence name ``<n:06d>`` (data
``<n:06d><ext>``, stubs ``<n:06d>.fetch.txt``, record ``EAD_DOC_<n:06d>.xml``), so a data file
and its record keep sharing a stem. The original names are in METS (``FLocat xlink:title``) and
PREMIS (``originalName``).

A supplement carries the previous version's content files and their TT05 records by reference
(their bytes are not stored again); each carried record keeps exactly the data files the previous
version's rep1 METS ties to it (:class:`PreviousTt05`), or, when that METS was not read, those its
names give (``EAD_DOC_<stem>.xml`` ↔ ``<stem><ext>``, ``<stem>_<k><ext>``, stubs). New
documents are numbered after the carried ones (``docOrdinal``), and the dossier's ``totalDoc``
counts both.

:func:`aip.tt05_aip.write_tt05` writes the AIP a plan describes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from aip import model
from aip.model import (
    ContentFile,
    PayloadFile,
    PreviousVersion,
    ReusableFile,
    content_file_fields,
    content_file_from_fields,
    content_format,
    payload_fields,
    payload_from_fields,
)
from aip.tt05_aip_mets import FETCH_SUFFIX
from aip.tt05_aip_records import arc_file_code
from aip.tt05_aip_staging import carried, extension, portable
from preservation.diskmap import DiskMap
from preservation.spooled import fields_of, from_fields, spooled
from sip.submission import Submission, SubmittedFile, submitted_fields, submitted_from_fields
from sip.tt05 import Tt05DocumentRecord
from sip.tt05_model import PackageKind
from sip.tt05_xml import mime_type

REP = "representations/rep1"
REP_DATA = f"{REP}/data/"
REP_RECORDS = f"{REP}/metadata/descriptive/"
_RECORD = re.compile(r"^EAD_(?:DOC|PIC|MEDIA)_(.+)\.xml$")
_SEQUENCE_PART = re.compile(r"^(\d{6,})_\d+$")  # a sequence-named document's further files


#: a data file as rep1's METS lists it: (AIP path, size, SHA-256, MIME type, original name)
PlannedData = tuple[str, int, str, str, str]


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    record: str  # AIP path of its record
    #: index of its document in the SIP's record (``submission.tt05.documents``), whose AIP
    #: record values are made when the record is written; None: carried by reference
    source: int | None
    ordinal: int  # its docOrdinal
    data: tuple[PlannedData, ...]  # its data files


@dataclass(frozen=True)
class Tt05Plan:
    """Names and records of a TT05 AIP, decided before anything is written.

    ``documents`` and ``content`` have an entry per document and per data file: spooled
    sequences (:mod:`preservation.spooled`), read in several passes."""

    kind: PackageKind
    arc_file_code: str
    file_code: str
    documents: Sequence[PlannedDocument]
    content: Sequence[tuple[ContentFile, PayloadFile]]  # every data file, carried ones too
    carried_records: Sequence[PayloadFile]
    unlinked: Sequence[PlannedData]  # data files no record describes


@dataclass(frozen=True)
class PreviousTt05(PreviousVersion):
    """A previous TT05 version with its documents as its ``representations/rep1/METS.xml``
    ties them (read by :func:`aip.versions.previous_version`): a supplement carries each
    record with exactly its data files, whatever their names."""

    #: (record bag path, data bag paths) of each ``MetadataLink/File`` div, in METS order: a
    #: tuple, or (as :func:`aip.versions.previous_version` reads it) a spooled sequence
    documents: Sequence[tuple[str, tuple[str, ...]]] = ()


class _Names:
    """AIP names already taken (compared case-folded: storage may be case-insensitive); a
    :class:`~preservation.diskmap.DiskMap` past :data:`aip.model.KEEP` names."""

    def __init__(self) -> None:
        self._taken: DiskMap[None] = DiskMap(keep=model.KEEP, what="AIP name")

    def free(self, paths: Sequence[str]) -> bool:
        folded = [p.casefold() for p in paths]
        return len(set(folded)) == len(folded) and not any(p in self._taken for p in folded)

    def take(self, paths: Iterable[str]) -> None:
        self._taken.update((p.casefold(), None) for p in paths)

    def close(self) -> None:
        self._taken.close()


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
             ) -> tuple[Sequence[PlannedDocument], Sequence[tuple[ContentFile, PayloadFile]],
                        Sequence[PayloadFile], list[PlannedData]]:
    """The previous version's documents a supplement carries by reference, each with its
    record and every data file: as the previous version's rep1 METS ties them when it was read
    (:class:`PreviousTt05`), else by the names :func:`_names` gives. Data files no record
    claims are returned as unlinked.

    Documents, content files and records are spooled sequences; the previous version's records
    and data files by bag path, and the data files claimed, are DiskMaps (past
    :data:`aip.model.KEEP` in temporary files) while planning, so that a supplement of a large
    version keeps flat memory.
    """
    if previous is None or previous.mode != "supplement":
        return [], [], [], []
    records = _by_bag_path(f for f in previous.files
                           if f.bag_path.startswith("data/" + REP_RECORDS)
                           and _RECORD.match(f.bag_path.removeprefix("data/" + REP_RECORDS)))
    data = _by_bag_path(f for f in previous.files if f.bag_path.startswith("data/" + REP_DATA))
    claimed: DiskMap[None] = DiskMap(keep=model.KEEP, what="carried data file")
    content = spooled((_carried_data(f) for f in data.values()), _pair_fields,
                      _pair_from_fields, keep=model.KEEP, what="carried content file")

    def listed(path: str) -> PlannedData:  # what rep1's METS says of a carried data file
        return _data(_carried_data(data[path])[0])

    def planned() -> Iterator[PlannedDocument]:
        ties = (previous.documents if isinstance(previous, PreviousTt05)
                else _ties_by_name(records, data))
        count = 0
        for record_path, data_paths in ties:
            files = tuple(p for p in data_paths if p in data and p not in claimed)
            record = records.get(record_path)
            if record is None or not files:
                continue  # a record without data (or data without record): not a document here
            claimed.update((p, None) for p in files)
            count += 1
            yield PlannedDocument(record.bag_path.removeprefix("data/"), None, count,
                                  tuple(listed(p) for p in files))

    documents = spooled(planned(), fields_of, from_fields(PlannedDocument), keep=model.KEEP,
                        what="carried document")
    kept = spooled((_carried_record(records["data/" + d.record]) for d in documents),
                   payload_fields, payload_from_fields, keep=model.KEEP, what="carried record")
    unlinked = [listed(p) for p in sorted(p for p in data if p not in claimed)]
    names.take(chain((d.record for d in documents), (cf.aip_path for cf, _ in content)))
    for lookup in (records, data, claimed):
        lookup.close()
    return documents, content, kept, unlinked


def _by_bag_path(files: Iterable[ReusableFile]) -> DiskMap[ReusableFile]:
    return DiskMap(((f.bag_path, f) for f in files), encode=fields_of,
                   decode=from_fields(ReusableFile), keep=model.KEEP,
                   what="previous version file")


def _carried_data(f: ReusableFile) -> tuple[ContentFile, PayloadFile]:
    return carried(f, f.bag_path.removeprefix("data/" + REP_DATA))


def _carried_record(record: ReusableFile) -> PayloadFile:
    return PayloadFile(record.bag_path.removeprefix("data/"), None, record.size,
                       record.sha256.lower(), "metadata", stored_key=record.stored_key)


def _ties_by_name(records: Mapping[str, ReusableFile], data: Mapping[str, ReusableFile]
                  ) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(record bag path, data bag paths) of each carried record, by :func:`_owner`, in the
    records' order (DiskMaps past :data:`aip.model.KEEP` records)."""
    stems: DiskMap[str] = DiskMap(
        ((_RECORD.match(p.removeprefix("data/" + REP_RECORDS))[1], p)  # type: ignore[index]
         for p in records), keep=model.KEEP, what="carried record stem")
    files: DiskMap[tuple[str, ...]] = DiskMap(keep=model.KEEP, order="key",
                                              what="carried record")
    for path in data:
        stem = _owner(path.removeprefix("data/" + REP_DATA), stems)
        if stem is not None:
            files[stems[stem]] = (*files.get(stems[stem], ()), path)
    stems.close()
    try:
        yield from files.items()
    finally:
        files.close()


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
    # the keyed lookup of a document's files (held while planning only, a DiskMap past
    # aip.model.KEEP files): each with whether a document named it, so that those no document
    # names are known at the end, in their order
    files = _Files(submission.content())
    prefix = f"{submission.package_prefix}/" if submission.package_prefix else ""
    count = len(carried_content)  # data files named so far

    def files_of(doc: Tt05DocumentRecord) -> list[SubmittedFile]:
        return [f for f in map(files.use, (prefix + rel for rel in doc.data_files))
                if f is not None]

    def named() -> Iterator[PlannedDocument]:
        """Every document, its names decided (the carried ones, then the SIP's, in order)."""
        nonlocal count
        yield from carried_documents
        for source, doc in enumerate(record.documents):
            ordinal = len(carried_documents) + source + 1
            files = files_of(doc)
            record_path, data_paths = _names(doc.ead_doc, [f.path for f in files], ordinal,
                                             names, prefix)
            yield PlannedDocument(record_path, source, ordinal,
                            tuple(_data_of(submission, f, path)
                                  for f, path in zip(files, data_paths, strict=True)))
            count += len(files)

    documents = spooled(named(), fields_of, from_fields(PlannedDocument), keep=model.KEEP,
                        what="AIP document")
    loose: list[tuple[SubmittedFile, str]] = []
    for f in files.unused():  # not described by any record (not expected when valid)
        path = _free_sequence_names(names, count + len(loose) + 1, [f.path], "")[1][0]
        loose.append((f, path))
        unlinked.append(_data_of(submission, f, path))
    names.close()

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

    planned = spooled(content(), _pair_fields, _pair_from_fields, keep=model.KEEP,
                      what="AIP content file")
    files.close()
    return Tt05Plan(record.kind, arc, file_code, documents, planned, carried_records, unlinked)


class _Files:
    """The submission's content files by path, each with whether a document named it (a
    :class:`~preservation.diskmap.DiskMap` past :data:`aip.model.KEEP` files)."""

    def __init__(self, content: Iterable[SubmittedFile]) -> None:
        self._files: DiskMap[tuple[SubmittedFile, bool]] = DiskMap(
            ((f.path, (f, False)) for f in content), encode=_file_fields,
            decode=_file_from_fields, keep=model.KEEP, what="AIP content file")

    def use(self, path: str) -> SubmittedFile | None:
        """The file at ``path`` (None: no content file), now named by a document."""
        entry = self._files.get(path)
        if entry is None:
            return None
        f, used = entry
        if not used:
            self._files[path] = (f, True)
        return f

    def unused(self) -> Iterator[SubmittedFile]:
        """The files no document named, in the submission's order."""
        return (f for f, used in self._files.values() if not used)

    def close(self) -> None:
        self._files.close()


def _file_fields(entry: tuple[SubmittedFile, bool]) -> tuple[Any, ...]:
    return submitted_fields(entry[0]), entry[1]


def _file_from_fields(values: tuple[Any, ...]) -> tuple[SubmittedFile, bool]:
    return submitted_from_fields(values[0]), values[1]


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




def _content(submission: Submission, f: SubmittedFile, path: str
             ) -> tuple[ContentFile, PayloadFile]:
    fmt = content_format(submission.formats, f.path)
    cf = ContentFile(str(uuid.uuid4()), path, f.original_name, f.size, f.sha256, fmt,
                     fmt.mime or mime_type(path))
    return cf, PayloadFile(path, f.fs_path, f.size, f.sha256, "content", f.original_name, fmt)


def _data_of(submission: Submission, f: SubmittedFile, path: str) -> PlannedData:
    """What rep1's METS says of the data file ``f`` named ``path`` (as :func:`_content`)."""
    mime = content_format(submission.formats, f.path).mime or mime_type(path)
    return path, f.size, f.sha256, mime, f.original_name


def _data(cf: ContentFile) -> PlannedData:
    return cf.aip_path, cf.size, cf.sha256, cf.mime, cf.original_name


def _pair_fields(pair: tuple[ContentFile, PayloadFile]) -> tuple[Any, ...]:
    """A content file and its payload file as plain values, for a spooled sequence."""
    return content_file_fields(pair[0]), payload_fields(pair[1])


def _pair_from_fields(values: tuple[Any, ...]) -> tuple[ContentFile, PayloadFile]:
    return content_file_from_fields(values[0]), payload_from_fields(values[1])
