"""Write a TT05 SIP (Circular 05/2025/TT-BNV, SIP_hoso / SIP_tailieu) as a folder.

:func:`write_tt05_sip` writes ``out_dir/<OBJID>/`` exactly as ../shared/spec/TT05.md lays it out:

- ``METS.xml`` — the root METS (shape in :mod:`sip.tt05_mets_writer`);
- ``metadata/descriptive/EAD.xml`` — the package record (``<simpledc>``: the 18 dossier fields
  for hoso, the 5 batch fields for tailieu);
- ``representations/rep1/METS.xml`` — OBJID rep1, one dmdSec per document, the Data group and a
  ``MetadataLink/File`` div per document tying its EAD_DOC to its data file;
- ``representations/rep1/metadata/descriptive/EAD_DOC_<docId>.xml`` — one record per document;
- ``representations/rep1/data/<docId><ext>`` (or the document's ``file_name``) — the content,
  streamed from :attr:`Tt05Document.source` and hashed while copied;
- ``schemas/`` — mets1_12.xsd, xlink.xsd, DILCISExtensionMETS.xsd, DILCISExtensionSIPMETS.xsd,
  ead.xsd, ead_doc.xsd, ead_pic.xsd, ead_media.xsd (the packaged copies).

No PREMIS (a SIP has none) and no documentation/. The package is built in a hidden sibling folder
and renamed into place at the end: either the whole package appears or nothing does. An existing
``out_dir/<OBJID>`` is never overwritten. The writer does not judge the metadata (that is the
TT05 validator's job) beyond what it needs to write safe file names.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from preservation import SOFTWARE_NAME, __version__
from preservation.errors import PreservationError
from preservation.hashing import CHUNK
from preservation.paths import collisions, path_problems
from preservation.timeutil import VIETNAM
from preservation.xmlsafe import xml_bytes
from sip.tt05_mets_writer import (
    REP_DIR,
    DocumentEntry,
    MetsHeader,
    WrittenFile,
    rep_mets,
    root_mets,
)
from sip.tt05_model import DOCUMENT_FIELDS, Tt05Document, Tt05Package
from sip.tt05_xml import PACKAGE_SCHEMAS, IdMaker, base_uuid, mime_type, schema_bytes, simpledc

log = logging.getLogger(__name__)

EAD = "metadata/descriptive/EAD.xml"
REP_RECORDS = "metadata/descriptive"  # inside representations/rep1
DATA = "data"  # inside representations/rep1


class Tt05WriteError(PreservationError):
    """The package cannot be written as asked (bad name, missing source, target exists…)."""

    code = "TT05-WRITE"


@dataclass(frozen=True)
class _Plan:
    """The names of one document inside rep1, checked before anything is written."""

    document: Tt05Document
    record: str  # metadata/descriptive/EAD_DOC_<docId>.xml
    data: str  # data/<name>


def new_objid() -> str:
    """A fresh SIP OBJID: ``uuid-<UPPER-CASE UUID>``."""
    return "uuid-" + str(uuid.uuid4()).upper()


def _safe_name(name: str, what: str) -> str:
    """``name`` as one safe path segment in NFC, or :class:`Tt05WriteError`."""
    nfc = unicodedata.normalize("NFC", name)
    problems = path_problems(nfc)
    if "/" in nfc or nfc in (".", "..") or problems:
        raise Tt05WriteError(f"{what} {name!r} cannot be used as a file name "
                             f"({', '.join(problems) or 'contains /'})")
    return nfc


def _plan(package: Tt05Package) -> list[_Plan]:
    plans = []
    for doc in package.documents:
        doc_id = doc.fields.get("docId", "")
        if not doc_id:
            raise Tt05WriteError("a document has no docId")
        record = f"{REP_RECORDS}/{_safe_name(f'EAD_DOC_{doc_id}.xml', 'docId')}"
        if doc.source is None:
            raise Tt05WriteError(f"document {doc_id} has no content file", location=doc_id)
        name = doc.file_name or f"{doc_id}{doc.source.suffix}"
        plans.append(_Plan(doc, record, f"{DATA}/{_safe_name(name, 'data file name')}"))
    for paths in ([p.record for p in plans], [p.data for p in plans]):
        seen: set[str] = set()
        for path in paths:
            if path in seen:
                raise Tt05WriteError(f"two documents would both be written to {path}")
            seen.add(path)
        for a, b, kind in collisions(paths):
            raise Tt05WriteError(f"{a} and {b} collide ({kind}) on some file systems")
    return plans


def _write_bytes(root: Path, rel: str, data: bytes) -> WrittenFile:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)
    return WrittenFile(rel, len(data), hashlib.sha256(data).hexdigest(), mime_type(rel))


def _write_xml(root: Path, rel: str, element: etree._Element) -> WrittenFile:
    written = _write_bytes(root, rel, xml_bytes(element))
    return WrittenFile(written.rel, written.size, written.sha256, "application/xml")


def _copy(source: Path, root: Path, rel: str) -> WrittenFile:
    """Stream ``source`` into the package, hashing it on the way; regular files only."""
    if source.is_symlink() or not source.is_file():
        raise Tt05WriteError(f"content file {source} is not a regular file",
                             location=str(source))
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(source, flags)
    except OSError as e:
        raise Tt05WriteError(f"cannot read {source}: {e.strerror}", location=str(source)) from e
    with os.fdopen(fd, "rb") as src, open(target, "xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return WrittenFile(rel, size, digest.hexdigest(), mime_type(rel))


def _rebase(item: WrittenFile, prefix: str) -> WrittenFile:
    return WrittenFile(item.rel.removeprefix(prefix), item.size, item.sha256, item.mime)


def _build(package: Tt05Package, root: Path, objid: str, created: datetime,
           plans: list[_Plan]) -> None:
    ids = IdMaker(base_uuid(objid))
    stamp = created.astimezone(VIETNAM).isoformat(timespec="milliseconds")
    head = MetsHeader(
        objid=objid, mets_type=package.kind.mets_type, created=stamp,
        software=package.software or SOFTWARE_NAME, software_version=__version__,
        fonds_code=package.fonds_code, agency=package.agency,
        file_code=package.fields.get("fileCode", ""), label=package.fields.get("title") or None,
    )
    schemas = [_write_bytes(root, f"schemas/{name}", schema_bytes(name))
               for name in PACKAGE_SCHEMAS]
    ead = _write_xml(root, EAD, simpledc(package.kind.package_fields, package.fields,
                                         "../../schemas/ead.xsd"))
    prefix = REP_DIR + "/"
    entries = []
    for plan in plans:
        data = _copy(plan.document.source, root, prefix + plan.data)  # type: ignore[arg-type]
        record = _write_xml(root, prefix + plan.record, simpledc(
            DOCUMENT_FIELDS, plan.document.fields, "../../../../schemas/ead_doc.xsd"))
        entries.append(DocumentEntry(plan.document.doc_id, _rebase(record, prefix),
                                     _rebase(data, prefix)))
    rep = _write_xml(root, f"{REP_DIR}/METS.xml", rep_mets(head, ids, entries))
    _write_xml(root, "METS.xml", root_mets(head, ids, ead, schemas, rep))


def write_tt05_sip(
    package: Tt05Package,
    out_dir: Path,
    *,
    objid: str | None = None,
    created: datetime | None = None,
) -> Path:
    """Write ``package`` as the folder ``out_dir/<OBJID>`` and return that folder.

    ``objid`` defaults to a fresh ``uuid-<UPPER UUID>``; ``created`` (the METS CREATEDATE and every
    CREATED) to now, written in Vietnam time with milliseconds. Raises :class:`Tt05WriteError`
    if a name is unsafe, a content file is missing or the target already exists; nothing is left
    behind in that case.
    """
    objid = objid or new_objid()
    _safe_name(objid, "OBJID")
    moment = created or datetime.now(VIETNAM)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Tt05WriteError("the creation time needs an explicit time zone")
    plans = _plan(package)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / objid
    if target.exists() or target.is_symlink():
        raise Tt05WriteError(f"{target} already exists; it is never overwritten",
                             location=str(target))
    staging = out_dir / f".{objid}.partial-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        _build(package, staging, objid, moment, plans)
        if target.exists() or target.is_symlink():
            raise Tt05WriteError(f"{target} appeared while the package was written",
                                 location=str(target))
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("TT05 SIP %s written with %d documents", target, len(plans))
    return target
