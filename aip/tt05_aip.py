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

The names of the files and documents, the documents a supplement carries by reference and the
numbering are decided first (:func:`aip.tt05_aip_plan.plan_tt05`); :func:`write_tt05` then
writes the metadata files of that plan. The package directory name, where one is materialised
(export, DIP), is the OBJID with ':' replaced by '_' (:func:`package_directory_name`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import overload

from aip import model
from aip.model import (
    AipDescription,
    PayloadFile,
    payload_fields,
    payload_from_fields,
    spooled_payload,
)
from aip.premis import write_premis_package, write_premis_representation
from aip.tt05_aip_mets import (
    AipDocument,
    AipHeader,
    write_aip_rep_mets,
    write_aip_root_mets,
)
from aip.tt05_aip_plan import REP, PlannedData, PlannedDocument, Tt05Plan
from aip.tt05_aip_records import (
    AIP_RECORD_SCHEMAS,
    document_record,
    document_values,
    package_record,
    package_values,
    schema_bytes,
)
from aip.tt05_aip_staging import (
    mime_of,
    producer_metadata,
    schema_file,
    submission_evidence,
    write,
    write_streamed,
)
from preservation import SOFTWARE_NAME, __version__
from preservation.diskmap import DiskMap
from preservation.errors import PreservationError
from preservation.fonds import MAX_CODE, code_is_valid
from preservation.spooled import MappedSequence, spooled
from preservation.timeutil import VIETNAM
from sip.submission import Submission
from sip.tt05_mets_writer import MetsHeader, WrittenFile
from sip.tt05_xml import IdMaker

EAD = "metadata/descriptive/EAD.xml"
PREMIS = "metadata/preservation/PREMIS.xml"
PREMIS_REP = f"{REP}/metadata/preservation/PREMIS_rep1.xml"
#: AIP schemas/: name in the AIP → packaged file (the METS ones as the SIP writer ships them)
METS_SCHEMAS = {"mets1_12.xsd": "mets.xsd", "xlink.xsd": "xlink.xsd",
                "DILCISExtensionMETS.xsd": "DILCISExtensionMETS.xsd",
                "premis-v3-0.xsd": "premis-v3-0.xsd"}


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


def _written(item: PayloadFile, base: str = "", mime: str | None = None) -> WrittenFile:
    return WrittenFile(item.aip_path.removeprefix(base), item.size, item.sha256,
                       mime or mime_of(item))


def write_tt05(plan: Tt05Plan, submission: Submission, desc: AipDescription,
               staging: Path) -> Iterator[PayloadFile]:
    """Write every metadata file of the AIP into staging; return the whole payload (the content
    files, the carried records, the new records, then the other metadata files) as a single
    pass over the plan's and this function's spooled sequences: it is read once, by
    :func:`aip.tt05_aip_bag.staged`, so it is not spooled again here.

    PREMIS, both METS files and the document records are streamed or written one at a time
    (:func:`aip.tt05_aip_staging.write_streamed`): their number and size do not decide the
    memory an ingest needs.
    """
    title = desc.label
    ead = write(staging, EAD, package_record(
        plan.kind, package_values(plan.kind, submission.tt05.fields if submission.tt05 else {},
                                  plan.arc_file_code, len(plan.documents))))
    sip_documents = submission.tt05.documents if submission.tt05 else ()
    carried_records: DiskMap[PayloadFile] = DiskMap(
        ((r.aip_path, r) for r in plan.carried_records), encode=payload_fields,
        decode=payload_from_fields, keep=model.KEEP, what="carried AIP record")

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
    carried_records.close()
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
    loose_names: DiskMap[str] = DiskMap(((d[0].removeprefix(base), d[4]) for d in plan.unlinked),
                                        keep=model.KEEP, what="AIP data file name")

    def original_name(rel: str) -> str | None:
        """The producer's name of a data file no record describes (FLocat xlink:title); a
        document's data files bring theirs (:attr:`AipDocument.originals`)."""
        return loose_names.get(rel)

    rep = write_streamed(staging, f"{REP}/METS.xml", lambda path: write_aip_rep_mets(
        path, head, ids, documents, premis=_written(premis_rep, base), unlinked=unlinked,
        original_names=original_name))
    loose_names.close()
    mets = write_streamed(staging, "METS.xml", lambda path: write_aip_root_mets(
        path, head, ids, ead=_written(ead), schemas=[_written(s) for s in schemas],
        rep=_written(rep), premis=_written(premis),
        documentation=MappedSequence(evidence, _written)))
    new_records = (r for d, r in zip(plan.documents, records, strict=True)
                   if d.source is not None)
    return chain((p for _, p in plan.content), plan.carried_records, new_records, (ead,),
                 schemas, evidence, (premis, premis_rep, rep, mets))


class _Documents(Sequence[AipDocument]):
    """The rep1 METS documents of a plan, made when read (the METS writer reads them in several
    passes; a list of them would hold a few hundred bytes per document)."""

    def __init__(self, documents: Sequence[PlannedDocument], records: Sequence[PayloadFile],
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

    def _document(self, d: PlannedDocument, record: PayloadFile) -> AipDocument:
        base = self._base
        return AipDocument(d.record, _written(record, base),
                           tuple(_data_written(data, base) for data in d.data),
                           originals=tuple(data[4] for data in d.data))


def _data_written(data: PlannedData, base: str) -> WrittenFile:
    path, size, sha256, mime, _ = data
    return WrittenFile(path.removeprefix(base), size, sha256, mime)
