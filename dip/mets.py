"""The METS.xml of an access copy (DIP): which files it holds, their checksums, and the AIP
they come from. E-ARK DIP shaped: OBJID ``uuid-<UUID>``, OAISPACKAGETYPE DIP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from aip.mets import CSIP_NS, METS_NS, NSMAP, XLINK_NS, XSI_NS, href
from preservation import SOFTWARE_NAME, __version__
from preservation.timeutil import iso
from preservation.xmlsafe import xml_bytes

DIP_PROFILE = "https://earkdip.dilcis.eu/profile/E-ARK-DIP.xml"
_SCHEMA_LOCATION = (f"{METS_NS} http://www.loc.gov/standards/mets/mets.xsd "
                    f"{XLINK_NS} http://www.loc.gov/standards/xlink/xlink.xsd "
                    f"{CSIP_NS} https://earkcsip.dilcis.eu/schema/DILCISExtensionMETS.xsd")


@dataclass(frozen=True)
class DipFile:
    """A file of the DIP; ``path`` is relative to the DIP root (original names for content)."""

    path: str
    size: int
    sha256: str
    puid: str | None = None
    format_name: str | None = None


def _m(name: str) -> str:
    return f"{{{METS_NS}}}{name}"


def _id(base: uuid.UUID, role: str) -> str:
    return "uuid-" + str(uuid.uuid5(base, role)).upper()


def _file(parent: etree._Element, base: uuid.UUID, item: DipFile, created: str) -> str:
    file_id = "ID-" + str(uuid.uuid5(base, "file:" + item.path)).upper()
    el = etree.SubElement(parent, _m("file"), ID=file_id, MIMETYPE="application/octet-stream",
                          SIZE=str(item.size), CREATED=created, CHECKSUM=item.sha256.upper(),
                          CHECKSUMTYPE="SHA-256")
    loc = etree.SubElement(el, _m("FLocat"), LOCTYPE="URL")
    loc.set(f"{{{XLINK_NS}}}type", "simple")
    loc.set(f"{{{XLINK_NS}}}href", href(item.path))
    return file_id


def _digiprov(amd: etree._Element, md_id: str, premis: DipFile, stamp: str) -> None:
    digiprov = etree.SubElement(amd, _m("digiprovMD"), ID=md_id)
    ref = etree.SubElement(digiprov, _m("mdRef"), LOCTYPE="URL")
    ref.set(f"{{{XLINK_NS}}}type", "simple")
    ref.set(f"{{{XLINK_NS}}}href", href(premis.path))
    for key, value in (("MDTYPE", "PREMIS"), ("MDTYPEVERSION", "3.0"),
                       ("MIMETYPE", "application/xml"), ("SIZE", str(premis.size)),
                       ("CREATED", stamp), ("CHECKSUM", premis.sha256.upper()),
                       ("CHECKSUMTYPE", "SHA-256")):
        ref.set(key, value)


def dip_mets_bytes(*, dip_id: str, aip_id: str, label: str, created: datetime,
                   organisation: str, files: tuple[DipFile, ...], premis: DipFile,
                   representation_premis: DipFile | None = None) -> bytes:
    """Serialise the DIP's METS.xml; the AIP's PREMIS (and its rep1 PREMIS) are its digiprov."""
    base = uuid.UUID(dip_id)
    stamp = iso(created)
    root = etree.Element(_m("mets"), nsmap=NSMAP)  # type: ignore[arg-type]
    root.set("OBJID", "uuid-" + str(base).upper())
    root.set("LABEL", label)
    root.set("TYPE", "MIXED")
    root.set("PROFILE", DIP_PROFILE)
    root.set(f"{{{CSIP_NS}}}CONTENTINFORMATIONTYPE", "MIXED")
    root.set(f"{{{XSI_NS}}}schemaLocation", _SCHEMA_LOCATION)

    hdr = etree.SubElement(root, _m("metsHdr"), CREATEDATE=stamp, RECORDSTATUS="NEW")
    hdr.set(f"{{{CSIP_NS}}}OAISPACKAGETYPE", "DIP")
    creator = etree.SubElement(hdr, _m("agent"), ROLE="CREATOR", TYPE="OTHER",
                               OTHERTYPE="SOFTWARE")
    etree.SubElement(creator, _m("name")).text = SOFTWARE_NAME
    note = etree.SubElement(creator, _m("note"))
    note.text = __version__
    note.set(f"{{{CSIP_NS}}}NOTETYPE", "SOFTWARE VERSION")
    custodian = etree.SubElement(hdr, _m("agent"), ROLE="CUSTODIAN", TYPE="ORGANIZATION")
    etree.SubElement(custodian, _m("name")).text = organisation
    etree.SubElement(hdr, _m("altRecordID"), TYPE="AIP").text = f"urn:uuid:{aip_id}"

    amd = etree.SubElement(root, _m("amdSec"), ID=_id(base, "amdSec"))
    digiprov_id = _id(base, "digiprovMD")
    _digiprov(amd, digiprov_id, premis, stamp)
    rep_admid = digiprov_id
    if representation_premis is not None:
        rep_id = _id(base, "digiprovMD-rep1")
        _digiprov(amd, rep_id, representation_premis, stamp)
        rep_admid = f"{digiprov_id} {rep_id}"

    file_sec = etree.SubElement(root, _m("fileSec"), ID=_id(base, "fileSec"))
    group = etree.SubElement(file_sec, _m("fileGrp"), ID=_id(base, "fileGrp-rep1"),
                             USE="Representations/rep1", ADMID=rep_admid)
    file_ids = [_file(group, base, f, stamp) for f in files]

    smap = etree.SubElement(root, _m("structMap"), ID=_id(base, "structMap"), TYPE="PHYSICAL",
                            LABEL="CSIP")
    top = etree.SubElement(smap, _m("div"), ID=_id(base, "div-root"), LABEL=label,
                           ADMID=digiprov_id)
    rep = etree.SubElement(top, _m("div"), ID=_id(base, "div-rep1"), LABEL="Representations/rep1")
    for f, file_id in zip(files, file_ids, strict=True):
        div = etree.SubElement(rep, _m("div"), ID=_id(base, "div:" + f.path),
                               LABEL=f.path.rsplit("/", 1)[-1])
        etree.SubElement(div, _m("fptr"), FILEID=file_id)
    return xml_bytes(root)
