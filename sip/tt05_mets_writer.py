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


def mets_tag(name: str) -> str:
    """The Clark-notation tag of METS element ``name``, e.g. ``{http://www.loc.gov/METS/}file``."""
    return f"{{{METS_NS}}}{name}"


def csip_tag(name: str) -> str:
    """The Clark-notation name of the E-ARK CSIP extension attribute ``name``."""
    return f"{{{CSIP_NS}}}{name}"


def xlink_tag(name: str) -> str:
    """The Clark-notation name of the XLink attribute ``name`` (type, href, title)."""
    return f"{{{XLINK_NS}}}{name}"


def _schema_location(prefix: str) -> str:
    return " ".join((
        f"{METS_NS} {prefix}schemas/mets1_12.xsd",
        f"{XLINK_NS} {prefix}schemas/xlink.xsd",
        f"{CSIP_NS} {prefix}schemas/DILCISExtensionMETS.xsd",
    ))


def root_attributes(objid: str, head: MetsHeader, schema_prefix: str) -> dict[str, str]:
    """The attributes of a TT05 ``mets`` root, in order: OBJID, LABEL (when known), TYPE, CSIP
    PROFILE, ``csip:CONTENTINFORMATIONTYPE`` and ``xsi:schemaLocation`` pointing at the
    package's ``schemas/`` (``schema_prefix`` leads there from the METS file's folder)."""
    attrib = {"OBJID": objid}
    if head.label:
        attrib["LABEL"] = head.label
    attrib.update({"TYPE": head.mets_type, "PROFILE": CSIP_PROFILE,
                   csip_tag("CONTENTINFORMATIONTYPE"): "MIXED",
                   f"{{{XSI_NS}}}schemaLocation": _schema_location(schema_prefix)})
    return attrib


def _root(objid: str, head: MetsHeader, schema_prefix: str) -> etree._Element:
    # lxml-stubs do not allow the None (default namespace) key that lxml accepts
    root = etree.Element(mets_tag("mets"), root_attributes(objid, head, schema_prefix),
                         nsmap=cast(Any, NSMAP))
    add_header(root, head)
    return root


def add_header(root: etree._Element, head: MetsHeader) -> etree._Element:
    """Append a SIP's ``metsHdr`` to ``root`` and return it: CREATEDATE, RECORDSTATUS NEW,
    ``csip:OAISPACKAGETYPE="SIP"``, the CREATOR/OTHER/SOFTWARE agent (fonds code and software
    version notes), the ARCHIVIST agent when the agency is known, and the SUBMISSIONAGREEMENT
    ``altRecordID`` (the fileCode)."""
    hdr = etree.SubElement(root, mets_tag("metsHdr"), CREATEDATE=head.created,
                           RECORDSTATUS="NEW")
    hdr.set(csip_tag("OAISPACKAGETYPE"), "SIP")
    creator = etree.SubElement(hdr, mets_tag("agent"), ROLE="CREATOR", TYPE="OTHER",
                               OTHERTYPE="SOFTWARE")
    etree.SubElement(creator, mets_tag("name")).text = head.software
    if head.fonds_code:
        note = etree.SubElement(creator, mets_tag("note"))
        note.set(csip_tag("NOTETYPE"), "IDENTIFICATIONCODE")
        note.text = head.fonds_code
    version = etree.SubElement(creator, mets_tag("note"))
    version.set(csip_tag("NOTETYPE"), "SOFTWARE VERSION")
    version.text = head.software_version
    if head.agency:
        archivist = etree.SubElement(hdr, mets_tag("agent"), ROLE="ARCHIVIST",
                                     TYPE="ORGANIZATION")
        etree.SubElement(archivist, mets_tag("name")).text = head.agency
    alt = etree.SubElement(hdr, mets_tag("altRecordID"), TYPE="SUBMISSIONAGREEMENT")
    alt.text = head.file_code
    return hdr


def checksums(item: WrittenFile, created: str) -> dict[str, str]:
    """MIMETYPE, SIZE, CREATED, CHECKSUM (upper-case SHA-256) and CHECKSUMTYPE, in that order:
    the attributes every ``file`` and ``mdRef`` carries."""
    return {"MIMETYPE": item.mime, "SIZE": str(item.size), "CREATED": created,
            "CHECKSUM": item.sha256.upper(), "CHECKSUMTYPE": "SHA-256"}


def set_link(el: etree._Element, rel: str) -> None:
    """Make ``el`` a simple XLink to the package path ``rel`` (percent-encoded as needed)."""
    el.set(xlink_tag("type"), "simple")
    el.set(xlink_tag("href"), href(rel))


def add_dmd_sec(root: etree._Element, sec_id: str, item: WrittenFile, created: str) -> None:
    """Append a ``dmdSec`` with one ``mdRef`` (DC 1.0.0, with checksums) to ``item``."""
    sec = etree.SubElement(root, mets_tag("dmdSec"), ID=sec_id, CREATED=created,
                           STATUS="CURRENT")
    ref = etree.SubElement(sec, mets_tag("mdRef"), LOCTYPE="URL", MDTYPE="DC",
                           MDTYPEVERSION="1.0.0")
    for key, value in checksums(item, created).items():
        ref.set(key, value)
    set_link(ref, item.rel)


def add_file(grp: etree._Element, ids: IdMaker, item: WrittenFile, created: str,
             id_key: str) -> etree._Element:
    """Append a ``file`` (ID from ``id_key``, checksums, one FLocat to ``item.rel``) to the
    file group ``grp``; return it (its ``ID`` attribute is the file ID)."""
    el = etree.SubElement(grp, mets_tag("file"), ID=ids.file(id_key))
    for key, value in checksums(item, created).items():
        el.set(key, value)
    set_link(etree.SubElement(el, mets_tag("FLocat"), LOCTYPE="URL"), item.rel)
    return el


def add_div(parent: etree._Element, ids: IdMaker, role: str, label: str) -> etree._Element:
    """Append a structMap ``div`` whose ID derives from ``role``, labelled ``label``."""
    return etree.SubElement(parent, mets_tag("div"), ID=ids("div:" + role), LABEL=label)


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
    add_dmd_sec(root, dmd_id, ead, head.created)
    etree.SubElement(root, mets_tag("amdSec"), ID=ids("amdSec"))
    sec = etree.SubElement(root, mets_tag("fileSec"), ID=ids("fileSec"))
    schemas_grp_id = ids("fileGrp:Schemas")
    grp = etree.SubElement(sec, mets_tag("fileGrp"), ID=schemas_grp_id, USE="Schemas")
    for item in schemas:
        add_file(grp, ids, item, head.created, item.rel)
    rep_grp_id = ids("fileGrp:" + REPRESENTATION)
    rep = etree.SubElement(sec, mets_tag("fileGrp"), ID=rep_grp_id, USE=REPRESENTATION)
    rep.set(csip_tag("CONTENTINFORMATIONTYPE"), "MIXED")
    add_file(rep, ids, rep_mets, head.created, rep_mets.rel)

    smap = etree.SubElement(root, mets_tag("structMap"), ID=ids("structMap"), TYPE="PHYSICAL",
                            LABEL="CSIP")
    top = add_div(smap, ids, "root", head.objid)
    add_div(top, ids, "Metadata", "Metadata").set("DMDID", dmd_id)
    etree.SubElement(add_div(top, ids, "Schemas", "Schemas"), mets_tag("fptr"),
                     FILEID=schemas_grp_id)
    rep_div = add_div(top, ids, REPRESENTATION, REPRESENTATION)
    mptr = etree.SubElement(rep_div, mets_tag("mptr"), LOCTYPE="URL")
    set_link(mptr, rep_mets.rel)
    mptr.set(xlink_tag("title"), rep_grp_id)
    etree.SubElement(rep_div, mets_tag("fptr"), FILEID=rep_grp_id)
    return root


def rep_mets(head: MetsHeader, ids: IdMaker, documents: Sequence[DocumentEntry]) -> etree._Element:
    """representations/rep1/METS.xml (paths relative to representations/rep1/)."""
    root = _root("rep1", head, "../../")
    dmd_ids = []
    for doc in documents:
        dmd_id = ids(f"rep1:dmdSec:{doc.record.rel}")
        add_dmd_sec(root, dmd_id, doc.record, head.created)
        dmd_ids.append(dmd_id)
    etree.SubElement(root, mets_tag("amdSec"), ID=ids("rep1:amdSec"))
    sec = etree.SubElement(root, mets_tag("fileSec"), ID=ids("rep1:fileSec"))
    data_grp_id = ids("rep1:fileGrp:Data")
    grp = etree.SubElement(sec, mets_tag("fileGrp"), ID=data_grp_id, USE="Data")
    file_ids = [add_file(grp, ids, doc.data, head.created, f"{REP_DIR}/{doc.data.rel}"
                         ).get("ID", "")
                for doc in documents]

    smap = etree.SubElement(root, mets_tag("structMap"), ID=ids("rep1:structMap"), TYPE="PHYSICAL",
                            LABEL="CSIP")
    top = add_div(smap, ids, "rep1:root", "rep1")
    meta = add_div(top, ids, "rep1:Metadata", "Metadata")
    if dmd_ids:
        meta.set("DMDID", " ".join(dmd_ids))
    if documents:
        etree.SubElement(add_div(top, ids, "rep1:Data", "Data"), mets_tag("fptr"),
                         FILEID=data_grp_id)
    for doc, dmd_id, file_id in zip(documents, dmd_ids, file_ids, strict=True):
        link = add_div(top, ids, f"rep1:{METADATA_LINK}:{doc.doc_id}", METADATA_LINK)
        link.set("DMDID", dmd_id)
        etree.SubElement(link, mets_tag("fptr"), FILEID=file_id)
    return root
