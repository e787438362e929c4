"""The two METS files of a TT05 SIP: the package's root METS.xml and representations/rep1/METS.xml.

Shapes (TT05.md, "METS conventions", on top of E-ARK CSIP 2.0.4):

root ``METS.xml``
    ``mets`` OBJID ``uuid-<UUID>``, TYPE Mixed (hoso) / Collection (tailieu), CSIP PROFILE,
    ``csip:CONTENTINFORMATIONTYPE="MIXED"``; ``metsHdr`` CREATEDATE (ms, +07:00), RECORDSTATUS
    NEW, ``csip:OAISPACKAGETYPE="SIP"``, the CREATOR/OTHER/SOFTWARE agent whose notes give the
    fonds code (``csip:NOTETYPE="IDENTIFICATIONCODE"``) and the software version, an ARCHIVIST
    organisation agent when the agency is known, ``altRecordID TYPE="SUBMISSIONAGREEMENT"`` =
    fileCode; one ``dmdSec`` → metadata/descriptive/EAD.xml; an empty ``amdSec``; ``fileSec``
    groups ``Schemas`` (schemas/*.xsd) and ``Representations/rep1`` (the rep1 METS.xml);
    ``structMap LABEL="CSIP" TYPE="PHYSICAL"``: div(OBJID) → div Metadata (DMDID), div Schemas
    (fptr → the Schemas group), div Representations/rep1 (mptr → rep1 METS.xml, xlink:title = the
    group ID; fptr → the group).

``representations/rep1/METS.xml`` (hrefs relative to representations/rep1/)
    ``mets`` OBJID ``rep1``, same TYPE and PROFILE, ``csip:CONTENTINFORMATIONTYPE="MIXED"``; the
    same ``metsHdr``; one ``dmdSec`` per document → metadata/descriptive/EAD_DOC_<docId>.xml; an
    empty ``amdSec``; ``fileSec`` group ``Data`` (data/*); ``structMap LABEL="CSIP"
    TYPE="PHYSICAL"``: div(rep1) → div Metadata (DMDID: every EAD_DOC), div Data (fptr → the Data
    group), then one ``div LABEL="MetadataLink/File"`` per document whose DMDID is the document's
    dmdSec and whose single ``fptr`` FILEID is the document's data file: each data file and each
    EAD_DOC appears in exactly one MetadataLink/File div.

Every ``file`` and ``mdRef`` has MIMETYPE, SIZE, CREATED, CHECKSUM (SHA-256, upper-case hex) and
CHECKSUMTYPE="SHA-256"; IDs are ``uuid-<UPPER UUID>``, file IDs ``ID-<UPPER UUID>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

from sip.eark_model import CSIP_NS, CSIP_PROFILE, XLINK_NS
from sip.eark_model import METS_NS as METS_NS  # re-exported: aip.export_sip uses it
from sip.tt05_xml import XSI_NS, IdMaker, href

NSMAP = {None: METS_NS, "csip": CSIP_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
REPRESENTATION = "Representations/rep1"
REP_DIR = "representations/rep1"
METADATA_LINK = "MetadataLink/File"


@dataclass(frozen=True)
class WrittenFile:
    """A file already written into the package: its path (from the METS file's folder) and sums."""

    rel: str
    size: int
    sha256: str  # hex, any case
    mime: str


@dataclass(frozen=True)
class DocumentEntry:
    """One document of rep1: its EAD_DOC record and its data file."""

    doc_id: str
    record: WrittenFile  # metadata/descriptive/EAD_DOC_<docId>.xml (relative to rep1)
    data: WrittenFile  # data/<name> (relative to rep1)


@dataclass(frozen=True)
class MetsHeader:
    """What both METS headers say."""

    objid: str  # the package OBJID
    mets_type: str  # Mixed | Collection
    created: str  # ISO 8601 with milliseconds and +07:00
    software: str
    software_version: str
    fonds_code: str | None
    agency: str | None
    file_code: str
    label: str | None


def _m(name: str) -> str:
    return f"{{{METS_NS}}}{name}"


def _csip(name: str) -> str:
    return f"{{{CSIP_NS}}}{name}"


def _xlink(name: str) -> str:
    return f"{{{XLINK_NS}}}{name}"


def _schema_location(prefix: str) -> str:
    return " ".join((
        f"{METS_NS} {prefix}schemas/mets1_12.xsd",
        f"{XLINK_NS} {prefix}schemas/xlink.xsd",
        f"{CSIP_NS} {prefix}schemas/DILCISExtensionMETS.xsd",
    ))


def _root(objid: str, head: MetsHeader, schema_prefix: str) -> etree._Element:
    # lxml-stubs do not allow the None (default namespace) key that lxml accepts
    root = etree.Element(_m("mets"), nsmap=cast(Any, NSMAP))
    root.set("OBJID", objid)
    if head.label:
        root.set("LABEL", head.label)
    root.set("TYPE", head.mets_type)
    root.set("PROFILE", CSIP_PROFILE)
    root.set(_csip("CONTENTINFORMATIONTYPE"), "MIXED")
    root.set(f"{{{XSI_NS}}}schemaLocation", _schema_location(schema_prefix))
    _header(root, head)
    return root


def _header(root: etree._Element, head: MetsHeader) -> None:
    hdr = etree.SubElement(root, _m("metsHdr"), CREATEDATE=head.created, RECORDSTATUS="NEW")
    hdr.set(_csip("OAISPACKAGETYPE"), "SIP")
    creator = etree.SubElement(hdr, _m("agent"), ROLE="CREATOR", TYPE="OTHER",
                               OTHERTYPE="SOFTWARE")
    etree.SubElement(creator, _m("name")).text = head.software
    if head.fonds_code:
        note = etree.SubElement(creator, _m("note"))
        note.set(_csip("NOTETYPE"), "IDENTIFICATIONCODE")
        note.text = head.fonds_code
    version = etree.SubElement(creator, _m("note"))
    version.set(_csip("NOTETYPE"), "SOFTWARE VERSION")
    version.text = head.software_version
    if head.agency:
        archivist = etree.SubElement(hdr, _m("agent"), ROLE="ARCHIVIST", TYPE="ORGANIZATION")
        etree.SubElement(archivist, _m("name")).text = head.agency
    alt = etree.SubElement(hdr, _m("altRecordID"), TYPE="SUBMISSIONAGREEMENT")
    alt.text = head.file_code


def _sums(item: WrittenFile, created: str) -> dict[str, str]:
    return {"MIMETYPE": item.mime, "SIZE": str(item.size), "CREATED": created,
            "CHECKSUM": item.sha256.upper(), "CHECKSUMTYPE": "SHA-256"}


def _link(el: etree._Element, rel: str) -> None:
    el.set(_xlink("type"), "simple")
    el.set(_xlink("href"), href(rel))


def _dmd_sec(root: etree._Element, sec_id: str, item: WrittenFile, created: str) -> None:
    sec = etree.SubElement(root, _m("dmdSec"), ID=sec_id, CREATED=created, STATUS="CURRENT")
    ref = etree.SubElement(sec, _m("mdRef"), LOCTYPE="URL", MDTYPE="DC", MDTYPEVERSION="1.0.0")
    for key, value in _sums(item, created).items():
        ref.set(key, value)
    _link(ref, item.rel)


def _file(grp: etree._Element, ids: IdMaker, item: WrittenFile, created: str, id_key: str) -> str:
    file_id = ids.file(id_key)
    el = etree.SubElement(grp, _m("file"), ID=file_id)
    for key, value in _sums(item, created).items():
        el.set(key, value)
    _link(etree.SubElement(el, _m("FLocat"), LOCTYPE="URL"), item.rel)
    return file_id


def _div(parent: etree._Element, ids: IdMaker, role: str, label: str) -> etree._Element:
    return etree.SubElement(parent, _m("div"), ID=ids("div:" + role), LABEL=label)


def root_mets(
    head: MetsHeader,
    ids: IdMaker,
    ead: WrittenFile,
    schemas: Sequence[WrittenFile],
    rep_mets: WrittenFile,
) -> etree._Element:
    """The package's root METS.xml (paths relative to the package root)."""
    root = _root(head.objid, head, "")
    dmd_id = ids("dmdSec:" + ead.rel)
    _dmd_sec(root, dmd_id, ead, head.created)
    etree.SubElement(root, _m("amdSec"), ID=ids("amdSec"))
    sec = etree.SubElement(root, _m("fileSec"), ID=ids("fileSec"))
    schemas_grp_id = ids("fileGrp:Schemas")
    grp = etree.SubElement(sec, _m("fileGrp"), ID=schemas_grp_id, USE="Schemas")
    for item in schemas:
        _file(grp, ids, item, head.created, item.rel)
    rep_grp_id = ids("fileGrp:" + REPRESENTATION)
    rep = etree.SubElement(sec, _m("fileGrp"), ID=rep_grp_id, USE=REPRESENTATION)
    rep.set(_csip("CONTENTINFORMATIONTYPE"), "MIXED")
    _file(rep, ids, rep_mets, head.created, rep_mets.rel)

    smap = etree.SubElement(root, _m("structMap"), ID=ids("structMap"), TYPE="PHYSICAL",
                            LABEL="CSIP")
    top = _div(smap, ids, "root", head.objid)
    _div(top, ids, "Metadata", "Metadata").set("DMDID", dmd_id)
    etree.SubElement(_div(top, ids, "Schemas", "Schemas"), _m("fptr"), FILEID=schemas_grp_id)
    rep_div = _div(top, ids, REPRESENTATION, REPRESENTATION)
    mptr = etree.SubElement(rep_div, _m("mptr"), LOCTYPE="URL")
    _link(mptr, rep_mets.rel)
    mptr.set(_xlink("title"), rep_grp_id)
    etree.SubElement(rep_div, _m("fptr"), FILEID=rep_grp_id)
    return root


def rep_mets(head: MetsHeader, ids: IdMaker, documents: Sequence[DocumentEntry]) -> etree._Element:
    """representations/rep1/METS.xml (paths relative to representations/rep1/)."""
    root = _root("rep1", head, "../../")
    dmd_ids = []
    for doc in documents:
        dmd_id = ids(f"rep1:dmdSec:{doc.record.rel}")
        _dmd_sec(root, dmd_id, doc.record, head.created)
        dmd_ids.append(dmd_id)
    etree.SubElement(root, _m("amdSec"), ID=ids("rep1:amdSec"))
    sec = etree.SubElement(root, _m("fileSec"), ID=ids("rep1:fileSec"))
    data_grp_id = ids("rep1:fileGrp:Data")
    grp = etree.SubElement(sec, _m("fileGrp"), ID=data_grp_id, USE="Data")
    file_ids = [_file(grp, ids, doc.data, head.created, f"{REP_DIR}/{doc.data.rel}")
                for doc in documents]

    smap = etree.SubElement(root, _m("structMap"), ID=ids("rep1:structMap"), TYPE="PHYSICAL",
                            LABEL="CSIP")
    top = _div(smap, ids, "rep1:root", "rep1")
    meta = _div(top, ids, "rep1:Metadata", "Metadata")
    if dmd_ids:
        meta.set("DMDID", " ".join(dmd_ids))
    if documents:
        etree.SubElement(_div(top, ids, "rep1:Data", "Data"), _m("fptr"), FILEID=data_grp_id)
    for doc, dmd_id, file_id in zip(documents, dmd_ids, file_ids, strict=True):
        link = _div(top, ids, f"rep1:{METADATA_LINK}:{doc.doc_id}", METADATA_LINK)
        link.set("DMDID", dmd_id)
        etree.SubElement(link, _m("fptr"), FILEID=file_id)
    return root
