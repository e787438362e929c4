"""Turn a verified TT05 AIP (AIP_hoso / AIP_tailieu) back into a TT05 SIP another archive ingests.

TT05 Art. 17: a transfer from another system is a SIP_hoso / SIP_tailieu. The package written
here is what :func:`sip.validate.open_sip` (and so ``preservation ingest`` of any archive running
this software) accepts:

- the content files under their SIP names in ``representations/rep1/data/``;
- the descriptive records in the **SIP** field set: the producer's own ``EAD.xml`` and
  ``EAD_DOC_*.xml`` byte for byte when the AIP kept them (``data/submission/sip/``) and they still
  describe exactly the exported documents, else records regenerated from the AIP's records
  (``arcFileCode`` → ``fileCode`` without the archive's prefix, ``docOrdinal`` and
  ``arcFileCode`` dropped, ``docId`` and the dossier's retention / backup regime restored);
- both METS files and ``schemas/`` written by :mod:`sip.tt05_mets_writer` and :mod:`sip.tt05_xml`;
- ``documentation/PREMIS.xml`` and ``documentation/PREMIS_rep1.xml``: the AIP's provenance,
  byte for byte, listed in the root METS ``Documentation`` group (a SIP has no PREMIS of its own
  under metadata/preservation/, TT05.md "Layout").

The SIP OBJID is ``uuid-<UPPER-CASE AIP UUID>``: the package is named after the AIP it came from.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from lxml import etree

from preservation import SOFTWARE_NAME, __version__
from preservation.errors import PreservationError
from preservation.findings import Report
from preservation.hashing import CHUNK, sha256_file
from preservation.paths import path_problems
from preservation.timeutil import VIETNAM
from preservation.xmlsafe import xml_bytes
from sip.package import PackageTree
from sip.tt05 import Tt05DocumentRecord, Tt05Record, looks_like_tt05, validate_tt05
from sip.tt05_links import RECORD_NAME
from sip.tt05_mets_writer import (
    METS_NS,
    REP_DIR,
    DocumentEntry,
    MetsHeader,
    WrittenFile,
    rep_mets,
    root_mets,
)
from sip.tt05_model import DOCUMENT_FIELDS, PackageKind
from sip.tt05_xml import (
    PACKAGE_SCHEMAS,
    IdMaker,
    base_uuid,
    href,
    mime_type,
    schema_bytes,
    simpledc,
)

ORIGINAL_SIP = "submission/sip"  # where the builder keeps the producer's records (in data/)
PREMIS = "metadata/preservation/PREMIS.xml"
PREMIS_REP = f"{REP_DIR}/metadata/preservation/PREMIS_rep1.xml"
DOCUMENTATION = "documentation"
EAD = "metadata/descriptive/EAD.xml"
_DOC_FIELD_NAMES = frozenset(spec.name for spec in DOCUMENT_FIELDS)
#: fields a document inherits from its dossier when its own record does not say (TT05.md)
_INHERITED = ("maintenance", "riskRecovery", "riskRecoveryStatus")


@dataclass(frozen=True)
class SipDocument:
    """One document of the exported SIP, for the handover list."""

    doc_id: str
    doc_code: str
    title: str  # the record's subject (trích yếu)
    path: str  # in the package, e.g. representations/rep1/data/x.pdf
    size: int
    sha256: str


@dataclass(frozen=True)
class ExportedSip:
    """What was written: the package folder and what the handover list says about it."""

    folder: Path
    objid: str
    kind: PackageKind
    file_code: str
    arc_file_code: str
    title: str
    fonds_code: str
    documents: tuple[SipDocument, ...]
    reused_records: int  # producer's records carried byte for byte


@dataclass(frozen=True)
class _Doc:
    doc_id: str
    fields: Mapping[str, str]  # SIP field set
    original: Path | None  # the producer's EAD_DOC bytes, reused when set
    source: Path  # the content bytes (verified)
    name: str  # file name under rep1/data/


class ExportError(PreservationError):
    """The AIP cannot be written as a TT05 SIP; ``aip`` and ``target`` fill the message."""

    def __init__(self, message: str, code: str, target: str | None = None, aip: str = ""):
        super().__init__(message, code=code, location=target)
        self.aip = aip


def write_sip(bag: Path, content: Mapping[str, Path], out_dir: Path, *, objid: str,
              archive_code: str, fonds_code: str, organisation: str,
              created: datetime, verified: Mapping[Path, tuple[int, str]] | None = None
              ) -> ExportedSip:
    """Write ``out_dir/<objid>/`` from the verified AIP bag at ``bag``.

    ``content``: the AIP's content files by their original name (the name below rep1/data/ in
    the SIP), each a verified file under ``bag``. ``verified``: (size, SHA-256) of the files
    under ``bag`` already proved intact; those are linked into the package, not re-read (the
    others are hashed once).
    """
    known = verified or {}
    data = bag / "data"
    own = _read(data)
    original = _read(data / ORIGINAL_SIP)
    record = own or original
    if record is None:
        raise ExportError("the AIP holds no TT05 records", "EXPORT-NOT-TT05")
    base = data if own is not None else data / ORIGINAL_SIP
    package_fields = dict(record.fields)
    arc_file_code = package_fields.get("arcFileCode", "")
    file_code = package_fields.get("fileCode") or _file_code(arc_file_code, archive_code,
                                                             record.documents)
    if original is not None and original.file_code:
        file_code = original.file_code
    if not arc_file_code:
        arc_file_code = f"{archive_code}.{file_code}" if archive_code else file_code
    if not file_code:
        raise ExportError("the AIP's package record has no arcFileCode or fileCode",
                           "EXPORT-NO-FILE-CODE", EAD)
    originals = {d.doc_id: d for d in original.documents} if original is not None else {}
    docs = [_document(base, doc, record, file_code, content, originals,
                      data / ORIGINAL_SIP)
            for doc in record.documents]
    _check_names(docs)

    reuse_package = (original is not None
                     and set(originals) == {d.doc_id for d in docs}
                     and original.fields.get("totalDoc", str(len(docs))) == str(len(docs)))
    sip_fields = {k: v for k, v in package_fields.items() if k != "arcFileCode"}
    sip_fields["fileCode"] = file_code
    sip_fields["totalDoc"] = str(len(docs))
    sip_fields = {spec.name: sip_fields.get(spec.name, "")
                  for spec in record.kind.package_fields}
    title = sip_fields.get("title", "")
    fonds = fonds_code or record.fonds_code or (original.fonds_code if original else None) or ""

    target = out_dir / objid
    target.mkdir(parents=True)
    stamp = created.astimezone(VIETNAM).isoformat(timespec="milliseconds")
    head = MetsHeader(objid=objid, mets_type=record.kind.mets_type, created=stamp,
                      software=SOFTWARE_NAME, software_version=__version__,
                      fonds_code=fonds or None, agency=organisation or None,
                      file_code=file_code, label=title or None)
    ids = IdMaker(base_uuid(objid))
    schemas = [_write(target, f"schemas/{name}", schema_bytes(name)) for name in PACKAGE_SCHEMAS]
    ead_source = data / ORIGINAL_SIP / EAD
    ead = (_copy(ead_source, target, EAD, known) if reuse_package
           else _write(target, EAD, xml_bytes(simpledc(record.kind.package_fields, sip_fields,
                                                       "../../schemas/ead.xsd"))))
    entries, documents = [], []
    for doc in docs:
        rel = f"metadata/descriptive/EAD_DOC_{doc.doc_id}.xml"
        written = (_copy(doc.original, target, f"{REP_DIR}/{rel}", known)
                   if doc.original is not None
                   else _write(target, f"{REP_DIR}/{rel}", xml_bytes(simpledc(
                       DOCUMENT_FIELDS, doc.fields, "../../../../schemas/ead_doc.xsd"))))
        content_file = _copy(doc.source, target, f"{REP_DIR}/data/{doc.name}", known)
        entries.append(DocumentEntry(doc.doc_id, _rebase(written), _rebase(content_file)))
        documents.append(SipDocument(doc.doc_id, doc.fields.get("docCode", ""),
                                     doc.fields.get("subject", ""), content_file.rel,
                                     content_file.size, content_file.sha256))
    provenance = [_copy(data / rel, target, f"{DOCUMENTATION}/{posixpath.basename(rel)}",
                        known)
                  for rel in (PREMIS, PREMIS_REP) if (data / rel).is_file()]
    rep = _write(target, f"{REP_DIR}/METS.xml", xml_bytes(rep_mets(head, ids, entries)))
    root = root_mets(head, ids, ead, schemas, rep)
    _add_documentation(root, ids, provenance, stamp)
    _write(target, "METS.xml", xml_bytes(root))
    return ExportedSip(
        folder=target, objid=objid, kind=record.kind, file_code=file_code,
        arc_file_code=arc_file_code, title=title, fonds_code=fonds,
        documents=tuple(documents),
        reused_records=int(reuse_package) + sum(d.original is not None for d in docs))


def _read(folder: Path) -> Tt05Record | None:
    """The TT05 record of the package at ``folder``; findings about it are not ours to judge."""
    if not (folder / "METS.xml").is_file():
        return None
    tree = PackageTree(folder)
    if looks_like_tt05(tree) is None:
        return None
    return validate_tt05(tree, Report(subject=str(folder)), historical_archive=False)


def _file_code(arc_file_code: str, archive_code: str,
               documents: Sequence[Tt05DocumentRecord]) -> str:
    """The SIP fileCode: arcFileCode without ``<archive code>.`` — unless the documents' codes
    (fileCode + 7 digits) show that the fileCode itself began with the archive code."""
    prefix = f"{archive_code}." if archive_code else ""
    if not prefix or not arc_file_code.startswith(prefix):
        return arc_file_code
    codes = [d.fields.get("docCode", "") for d in documents]
    if codes and all(c[:-7] == arc_file_code and c[-7:].isdigit() for c in codes):
        return arc_file_code
    return arc_file_code.removeprefix(prefix)


def _document(base: Path, doc: Tt05DocumentRecord, record: Tt05Record, file_code: str,
              content: Mapping[str, Path], originals: Mapping[str | None, Tt05DocumentRecord],
              original_base: Path) -> _Doc:
    if len(doc.data_files) != 1:
        raise ExportError(f"document {doc.ead_doc} has {len(doc.data_files)} data files; an "
                           "export writes exactly one per document", "EXPORT-DOCUMENT-FILES",
                           doc.ead_doc)
    data_rel = doc.data_files[0]
    name = data_rel.removeprefix(f"{REP_DIR}/data/")
    source = base / data_rel if (base / data_rel).is_file() else content.get(name)
    if source is None:
        raise ExportError(f"the content of {doc.ead_doc} ({name}) is not in the AIP",
                           "EXPORT-CONTENT-MISSING", data_rel)
    fields = dict(doc.fields)
    match = RECORD_NAME.fullmatch(posixpath.basename(doc.ead_doc))
    doc_id = (doc.doc_id or (match.group(2) if match else "")
              or f"{file_code}.{fields.get('docOrdinal', '')}")
    kept = originals.get(doc_id)
    original = (original_base / kept.ead_doc if kept is not None
                and kept.data_files and kept.data_files[0].endswith("/" + name) else None)
    fields["docId"] = doc_id
    for name_ in _INHERITED:
        if not fields.get(name_) and record.fields.get(name_):
            fields[name_] = record.fields[name_]
    sip_fields = {k: v for k, v in fields.items() if k in _DOC_FIELD_NAMES}
    return _Doc(doc_id, sip_fields, original, source, unicodedata.normalize("NFC", name))


def _check_names(docs: Sequence[_Doc]) -> None:
    seen: set[str] = set()
    for doc in docs:
        for part in (f"EAD_DOC_{doc.doc_id}.xml", doc.name):
            problems = path_problems(part)
            if problems or "/" in doc.doc_id:
                raise ExportError(f"{part!r} cannot be a file name ({', '.join(problems)})",
                                   "EXPORT-UNSAFE-PATH", part)
        key = doc.name.casefold()
        if key in seen or f"id:{doc.doc_id}".casefold() in seen:
            raise ExportError(f"two documents share {doc.name} or {doc.doc_id}",
                               "EXPORT-UNSAFE-PATH", doc.name)
        seen |= {key, f"id:{doc.doc_id}".casefold()}


def _write(root: Path, rel: str, data: bytes) -> WrittenFile:
    path = root.joinpath(*PurePosixPath(rel).parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)
    return WrittenFile(rel, len(data), hashlib.sha256(data).hexdigest(), mime_type(rel))


def _copy(source: Path, root: Path, rel: str, known: Mapping[Path, tuple[int, str]]
          ) -> WrittenFile:
    """Put a verified file into the package: a hard link (the staging folder is one filesystem),
    else a copy. Its size and SHA-256 are the verified ones when known, else read once."""
    path = root.joinpath(*PurePosixPath(rel).parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, path)
    except FileExistsError:
        raise
    except OSError:  # another filesystem, or links not allowed
        with source.open("rb") as src, open(path, "xb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    size_digest = known.get(source)
    if size_digest is None:
        digest, size = sha256_file(path)
    else:
        size, digest = size_digest
    return WrittenFile(rel, size, digest, mime_type(rel))


def _rebase(item: WrittenFile) -> WrittenFile:
    return WrittenFile(item.rel.removeprefix(REP_DIR + "/"), item.size, item.sha256, item.mime)


def _m(name: str) -> str:
    return f"{{{METS_NS}}}{name}"


def _add_documentation(root: etree._Element, ids: IdMaker, files: Sequence[WrittenFile],
                       created: str) -> None:
    """A ``Documentation`` file group and structMap div for the carried provenance files."""
    if not files:
        return
    file_sec = root.find(_m("fileSec"))
    top = root.find(f"{_m('structMap')}/{_m('div')}")
    assert file_sec is not None and top is not None  # root_mets always writes both
    group_id = ids("fileGrp:Documentation")
    group = etree.Element(_m("fileGrp"), ID=group_id, USE="Documentation")
    file_sec.insert(0, group)
    for item in files:
        element = etree.SubElement(group, _m("file"), ID=ids.file(item.rel))
        for key, value in (("MIMETYPE", item.mime), ("SIZE", str(item.size)),
                           ("CREATED", created), ("CHECKSUM", item.sha256.upper()),
                           ("CHECKSUMTYPE", "SHA-256")):
            element.set(key, value)
        locator = etree.SubElement(element, _m("FLocat"), LOCTYPE="URL")
        locator.set("{http://www.w3.org/1999/xlink}type", "simple")
        locator.set("{http://www.w3.org/1999/xlink}href", href(item.rel))
    div = etree.Element(_m("div"), ID=ids("div:Documentation"), LABEL="Documentation")
    etree.SubElement(div, _m("fptr"), FILEID=group_id)
    schemas = [d for d in top if d.get("LABEL") == "Schemas"]
    top.insert(top.index(schemas[0]) if schemas else len(top), div)
