"""The AIP's root METS.xml: E-ARK CSIP 2.0.4 shaped, with the TT05 conventions.

TT05 conventions followed here: OBJID ``desc.objid`` (default ``urn:uuid:<uuid>``); IDs
``uuid-<UPPER UUID>`` except ``<file ID="ID-<UPPER UUID>">``; timestamps with milliseconds
and an explicit offset; SHA-256 checksums in upper-case hex with SIZE on every reference;
``structMap LABEL="CSIP" TYPE="PHYSICAL"`` in which every file is linked exactly once.
Structural IDs are derived from the AIP UUID (UUID v5), so the same description always gives
the same METS.

The document is described once against a :class:`~preservation.xmlstream.XmlSink`:
:func:`write_mets` streams it to a file one ``file`` and one ``div`` at a time (memory does not
grow with the number of files); :func:`mets_document` builds the same METS as an lxml tree.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Sequence
from urllib.parse import quote

from lxml import etree

from aip.model import AipDescription, ContentFile, MetadataFile
from aip.premis import timestamp
from preservation.xmlstream import Body, XmlSink, document_bytes, document_tree, write_document

METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"
CSIP_NS = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: METS_NS, "csip": CSIP_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
REPRESENTATION = "Representations/rep1"

#: where each namespace's schema lives when the AIP does not carry it in schemas/
_SCHEMA_URLS = {
    METS_NS: "http://www.loc.gov/standards/mets/mets.xsd",
    XLINK_NS: "http://www.loc.gov/standards/xlink/xlink.xsd",
    CSIP_NS: "https://earkcsip.dilcis.eu/schema/DILCISExtensionMETS.xsd",
}
#: schema file names (lower case) an AIP may carry, by namespace
_SCHEMA_NAMES = {
    METS_NS: {"mets.xsd", "mets1_12.xsd", "mets1_12_1.xsd", "mets1121.xsd"},
    XLINK_NS: {"xlink.xsd"},
    CSIP_NS: {"dilcisextensionmets.xsd"},
}
_HREF_SAFE = "/!$&'()*+,;=@-._~"  # RFC 3986 pchar minus ":" (a colon would read as a scheme)


def _m(name: str) -> str:
    return f"{{{METS_NS}}}{name}"


def _csip(name: str) -> str:
    return f"{{{CSIP_NS}}}{name}"


def _upper_uuid(value: str) -> str:
    return str(uuid.UUID(value)).upper()


class _Ids:
    """Deterministic METS IDs: ``uuid-`` + an upper-case UUID v5 of (AIP UUID, role)."""

    def __init__(self, aip_uuid: str) -> None:
        self._base = uuid.UUID(aip_uuid)

    def __call__(self, role: str) -> str:
        return "uuid-" + str(uuid.uuid5(self._base, role)).upper()

    def file(self, f: ContentFile | MetadataFile) -> str:
        """``ID-<UPPER UUID>``: the content file's own UUID, or one derived from its path."""
        if isinstance(f, ContentFile):
            return "ID-" + _upper_uuid(f.uuid)
        return "ID-" + str(uuid.uuid5(self._base, "file:" + f.aip_path)).upper()


def href(aip_path: str) -> str:
    """A relative URL for a path inside the AIP; percent-encodes only what must be."""
    parts = aip_path.split("/")
    if (
        not aip_path
        or aip_path.startswith("/")
        or "\\" in aip_path
        or any(p in ("", ".", "..") for p in parts)
        or posixpath.normpath(aip_path) != aip_path
    ):
        raise ValueError(f"not a clean relative AIP path: {aip_path!r}")
    return quote(aip_path, safe=_HREF_SAFE)


def _checksum_attrs(item: ContentFile | MetadataFile, created: str, mime: str) -> dict[str, str]:
    """MIMETYPE, SIZE, CREATED, CHECKSUM (upper-case hex), CHECKSUMTYPE, in that order."""
    return {
        "MIMETYPE": mime,
        "SIZE": str(item.size),
        "CREATED": created,
        "CHECKSUM": item.sha256.upper(),
        "CHECKSUMTYPE": "SHA-256",
    }


def _locator(parent: etree._Element, name: str, path: str, **attrib: str) -> etree._Element:
    """An mdRef or FLocat: LOCTYPE=URL, simple xlink to ``path``, then ``attrib``."""
    el = etree.SubElement(parent, _m(name), LOCTYPE="URL")
    el.set(f"{{{XLINK_NS}}}type", "simple")
    el.set(f"{{{XLINK_NS}}}href", href(path))
    for key, value in attrib.items():
        el.set(key, value)
    return el


def _md_type(item: MetadataFile) -> dict[str, str]:
    """MDTYPE (+ version) from the TT05 file naming: PREMIS*.xml, EAD*.xml (simpledc)."""
    name = posixpath.basename(item.aip_path).upper()
    if name.startswith("PREMIS"):
        return {"MDTYPE": "PREMIS", "MDTYPEVERSION": "3.0"}
    if name.startswith("EAD"):
        return {"MDTYPE": "DC", "MDTYPEVERSION": "1.0.0"}
    return {"MDTYPE": "OTHER"}


def _md_ref(parent: etree._Element, item: MetadataFile, created: str) -> None:
    attrs = {**_md_type(item), **_checksum_attrs(item, created, item.mime)}
    _locator(parent, "mdRef", item.aip_path, **attrs)


def _schema_location(desc: AipDescription) -> str:
    """xsi:schemaLocation: the AIP's own copy in schemas/ when present, else the official URL."""
    carried = {posixpath.basename(s.aip_path).lower(): s.aip_path for s in desc.schemas}
    pairs = []
    for ns, url in _SCHEMA_URLS.items():
        local = next((carried[n] for n in sorted(_SCHEMA_NAMES[ns]) if n in carried), None)
        pairs.append(f"{ns} {href(local) if local else url}")
    return " ".join(pairs)


def _header(root: etree._Element, desc: AipDescription) -> None:
    """metsHdr: creation time, record status, package type, creating software, custodian."""
    hdr = etree.SubElement(root, _m("metsHdr"), CREATEDATE=timestamp(desc.created))
    hdr.set("RECORDSTATUS", desc.record_status)
    hdr.set(_csip("OAISPACKAGETYPE"), "AIP")
    creator = etree.SubElement(hdr, _m("agent"), ROLE="CREATOR", TYPE="OTHER")
    creator.set("OTHERTYPE", "SOFTWARE")
    etree.SubElement(creator, _m("name")).text = desc.software_name
    if desc.fonds_code:  # TT05: the fonds code (mã phông) the AIP belongs to
        code = etree.SubElement(creator, _m("note"))
        code.set(_csip("NOTETYPE"), "IDENTIFICATIONCODE")
        code.text = desc.fonds_code
    note = etree.SubElement(creator, _m("note"))
    note.set(_csip("NOTETYPE"), "SOFTWARE VERSION")
    note.text = desc.software_version
    custodian = etree.SubElement(hdr, _m("agent"), ROLE="CUSTODIAN", TYPE="ORGANIZATION")
    etree.SubElement(custodian, _m("name")).text = desc.organisation


def _split_metadata(
    desc: AipDescription, premis: MetadataFile
) -> tuple[list[MetadataFile], list[MetadataFile]]:
    """(descriptive, administrative) metadata files; PREMIS first among the latter, once."""
    descriptive = [m for m in desc.metadata if m.aip_path.startswith("metadata/descriptive/")]
    others = [m for m in desc.metadata if m not in descriptive and m.aip_path != premis.aip_path]
    return descriptive, [premis, *others]


def _dmd_secs(
    root: etree._Element, items: list[MetadataFile], ids: _Ids, created: str
) -> list[str]:
    out = []
    for item in items:
        sec_id = ids("dmdSec:" + item.aip_path)
        sec = etree.SubElement(root, _m("dmdSec"), ID=sec_id, CREATED=created, STATUS="CURRENT")
        _md_ref(sec, item, created)
        out.append(sec_id)
    return out


def _amd_sec(root: etree._Element, items: list[MetadataFile], ids: _Ids, created: str) -> list[str]:
    """One amdSec with a digiprovMD per administrative file; returns their IDs (PREMIS first)."""
    amd = etree.SubElement(root, _m("amdSec"), ID=ids("amdSec"))
    out = []
    for item in items:
        md_id = ids("digiprovMD:" + item.aip_path)
        md = etree.SubElement(amd, _m("digiprovMD"), ID=md_id, CREATED=created, STATUS="CURRENT")
        _md_ref(md, item, created)
        out.append(md_id)
    return out


def _file(
    parent: etree._Element,
    item: ContentFile | MetadataFile,
    ids: _Ids,
    created: str,
    admid: str | None = None,
) -> None:
    el = etree.SubElement(parent, _m("file"), ID=ids.file(item))
    for key, value in _checksum_attrs(item, created, item.mime).items():
        el.set(key, value)
    if admid:
        el.set("ADMID", admid)
    _locator(el, "FLocat", item.aip_path)


def _file_sec(
    sink: XmlSink, desc: AipDescription, ids: _Ids, created: str, premis_id: str
) -> None:
    """fileSec: Schemas, Submission and Representations/rep1 groups (empty groups omitted)."""
    candidates: list[tuple[str, Sequence[ContentFile | MetadataFile]]] = [
        ("Schemas", desc.schemas),
        ("Submission", desc.submission),
        (REPRESENTATION, desc.files),
    ]
    groups = [(use, items) for use, items in candidates if items]
    if not groups:
        return
    with sink.open(_m("fileSec"), {"ID": ids("fileSec")}):
        for use, items in groups:
            attrib = {"ID": ids("fileGrp:" + use), "USE": use}
            if use == REPRESENTATION:
                attrib[_csip("CONTENTINFORMATIONTYPE")] = "MIXED"
            with sink.open(_m("fileGrp"), attrib) as grp:
                for item in items:
                    _file(grp, item, ids, created,
                          premis_id if isinstance(item, ContentFile) else None)
                    sink.flush()


def _div(parent: etree._Element, ids: _Ids, label: str, role: str) -> etree._Element:
    return etree.SubElement(parent, _m("div"), ID=ids("div:" + role), LABEL=label)


def _fptr(div: etree._Element, ids: _Ids, item: ContentFile | MetadataFile) -> None:
    etree.SubElement(div, _m("fptr"), FILEID=ids.file(item))


def _struct_map(
    sink: XmlSink,
    desc: AipDescription,
    ids: _Ids,
    objid: str,
    adm_ids: list[str],
    dmd_ids: list[str],
) -> None:
    """The CSIP physical structMap; every file of the fileSec is linked exactly once."""
    smap = {"ID": ids("structMap"), "TYPE": "PHYSICAL", "LABEL": "CSIP"}
    # CSIP86: the root div's LABEL is the package id
    with sink.open(_m("structMap"), smap), \
            sink.open(_m("div"), {"ID": ids("div:root"), "LABEL": objid}) as top:
        meta = _div(top, ids, "Metadata", "Metadata")
        meta.set("ADMID", " ".join(adm_ids))
        if dmd_ids:
            meta.set("DMDID", " ".join(dmd_ids))
        for label, items in (("Schemas", desc.schemas), ("Submission", desc.submission)):
            if items:
                with sink.open(_m("div"), {"ID": ids("div:" + label), "LABEL": label}) as div:
                    for item in items:
                        _fptr(div, ids, item)
                        sink.flush()
        if desc.files:
            rep = {"ID": ids("div:" + REPRESENTATION), "LABEL": REPRESENTATION}
            with sink.open(_m("div"), rep) as div:
                for f in desc.files:
                    _fptr(_div(div, ids, f.original_name, "file:" + f.uuid.lower()), ids, f)
                    sink.flush()


def _body(desc: AipDescription, premis: MetadataFile) -> Body:
    """The AIP's root METS; ``premis`` is the written PREMIS.xml."""
    ids = _Ids(desc.uuid)
    created = timestamp(desc.created)  # a naive datetime is refused before anything is written
    objid = desc.objid or f"urn:uuid:{uuid.UUID(desc.uuid)}"
    attrib = {"OBJID": objid, "LABEL": desc.label, "TYPE": "Mixed", "PROFILE": CSIP_PROFILE,
              _csip("CONTENTINFORMATIONTYPE"): "MIXED",
              f"{{{XSI_NS}}}schemaLocation": _schema_location(desc)}

    def body(sink: XmlSink) -> None:
        with sink.open(_m("mets"), attrib, NSMAP) as root:
            _header(root, desc)
            descriptive, administrative = _split_metadata(desc, premis)
            dmd_ids = _dmd_secs(root, descriptive, ids, created)
            adm_ids = _amd_sec(root, administrative, ids, created)
            _file_sec(sink, desc, ids, created, adm_ids[0])
            _struct_map(sink, desc, ids, objid, adm_ids, dmd_ids)

    return body


def mets_document(desc: AipDescription, premis: MetadataFile) -> etree._Element:
    """The AIP's root METS as an lxml element; ``premis`` is the written PREMIS.xml."""
    return document_tree(_body(desc, premis))


def write_mets(path: str | os.PathLike[str], desc: AipDescription,
               premis: MetadataFile) -> tuple[int, str]:
    """Stream METS.xml (UTF-8, pretty printed, NFC) to ``path``; return its size and SHA-256."""
    return write_document(path, _body(desc, premis))


def mets_bytes(desc: AipDescription, premis: MetadataFile) -> bytes:
    """METS.xml as bytes: UTF-8, pretty printed, NFC-normalised."""
    return document_bytes(_body(desc, premis))
