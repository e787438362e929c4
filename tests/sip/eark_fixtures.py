"""Small E-ARK CSIP packages built in tmp_path for the E-ARK validator's tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
#: namespace map with METS as default namespace (lxml-stubs do not allow the None key)
NSMAP: Any = {None: METS, "xlink": XLINK, "csip": CSIP}

FILES: dict[str, bytes] = {
    "documentation/readme.txt": b"About this transfer.\n",
    "schemas/example.xsd": b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'/>\n",
    "metadata/descriptive/dc.xml": b"<dc><title>Records of 2024</title></dc>\n",
    "metadata/preservation/premis.xml": b"<premis/>\n",
    "representations/rep1/data/report.txt": b"The annual report.\n",
}


def m(name: str) -> str:
    return f"{{{METS}}}{name}"


def _ref_attrs(data: bytes, mimetype: str) -> dict[str, str]:
    return {"MIMETYPE": mimetype, "SIZE": str(len(data)), "CREATED": "2024-05-01T10:00:00+07:00",
            "CHECKSUM": hashlib.sha256(data).hexdigest().upper(), "CHECKSUMTYPE": "SHA-256"}


def _mdref(parent: etree._Element, href: str, data: bytes, mdtype: str) -> etree._Element:
    ref = etree.SubElement(parent, m("mdRef"), LOCTYPE="URL", MDTYPE=mdtype)
    ref.set(f"{{{XLINK}}}type", "simple")
    ref.set(f"{{{XLINK}}}href", href)
    for key, value in _ref_attrs(data, "application/xml").items():
        ref.set(key, value)
    return ref


def _group(parent: etree._Element, use: str, gid: str, files: dict[str, bytes],
           mimetype: str) -> etree._Element:
    group = etree.SubElement(parent, m("fileGrp"), USE=use, ID=gid)
    for index, (href, data) in enumerate(files.items(), 1):
        file = etree.SubElement(group, m("file"), ID=f"{gid}-file-{index}")
        for key, value in _ref_attrs(data, mimetype).items():
            file.set(key, value)
        locator = etree.SubElement(file, m("FLocat"), LOCTYPE="URL")
        locator.set(f"{{{XLINK}}}type", "simple")
        locator.set(f"{{{XLINK}}}href", href)
    return group


def _mets_root(objid: str, profile: str) -> etree._Element:
    """A METS root with the CSIP header every fixture shares (creator agent = these tests)."""
    root = etree.Element(m("mets"), nsmap=NSMAP, OBJID=objid, TYPE="Mixed", PROFILE=profile)
    root.set(f"{{{CSIP}}}CONTENTINFORMATIONTYPE", "MIXED")
    header = etree.SubElement(root, m("metsHdr"), CREATEDATE="2024-05-01T10:00:00+07:00",
                              LASTMODDATE="2024-05-01T10:00:00+07:00")
    header.set(f"{{{CSIP}}}OAISPACKAGETYPE", "SIP")
    agent = etree.SubElement(header, m("agent"), ROLE="CREATOR", TYPE="OTHER",
                             OTHERTYPE="SOFTWARE")
    etree.SubElement(agent, m("name")).text = "preservation tests"
    note = etree.SubElement(agent, m("note"))
    note.text = "1.0"
    note.set(f"{{{CSIP}}}NOTETYPE", "SOFTWARE VERSION")
    return root


def mets_document(objid: str, files: dict[str, bytes], *, profile: str | None = None
                  ) -> etree._Element:
    """A CSIP 2.0.4 root METS describing ``files`` (paths as in :data:`FILES`)."""
    root = _mets_root(objid, profile or "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml")
    dmd = etree.SubElement(root, m("dmdSec"), ID="dmd-1", CREATED="2024-05-01T10:00:00+07:00",
                           STATUS="CURRENT")
    _mdref(dmd, "metadata/descriptive/dc.xml", files["metadata/descriptive/dc.xml"], "DC")
    amd = etree.SubElement(root, m("amdSec"), ID="amd-1")
    digiprov = etree.SubElement(amd, m("digiprovMD"), ID="digiprov-1", STATUS="CURRENT")
    _mdref(digiprov, "metadata/preservation/premis.xml",
           files["metadata/preservation/premis.xml"], "PREMIS")
    file_sec = etree.SubElement(root, m("fileSec"), ID="filesec")

    def pick(prefix: str) -> dict[str, bytes]:
        return {k: v for k, v in files.items() if k.startswith(prefix)}

    _group(file_sec, "Documentation", "grp-doc", pick("documentation/"), "text/plain")
    _group(file_sec, "Schemas", "grp-schemas", pick("schemas/"), "application/xml")
    rep = _group(file_sec, "Representations/rep1", "grp-rep1", pick("representations/rep1/"),
                 "text/plain")
    rep.set(f"{{{CSIP}}}CONTENTINFORMATIONTYPE", "MIXED")
    struct = etree.SubElement(root, m("structMap"), ID="struct", TYPE="PHYSICAL", LABEL="CSIP")
    main = etree.SubElement(struct, m("div"), ID="div-main", LABEL=objid)
    etree.SubElement(main, m("div"), ID="div-md", LABEL="Metadata", ADMID="digiprov-1",
                     DMDID="dmd-1")
    for label, group in (("Documentation", "grp-doc"), ("Schemas", "grp-schemas"),
                         ("Representations", "grp-rep1")):
        div = etree.SubElement(main, m("div"), ID=f"div-{label.lower()}", LABEL=label)
        etree.SubElement(div, m("fptr"), FILEID=group)
    return root


def write_mets(folder: Path, root: etree._Element) -> None:
    (folder / "METS.xml").write_bytes(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def build_package(base: Path, *, objid: str = "uuid-0001", folder: str | None = None,
                  files: dict[str, bytes] | None = None,
                  mutate: Callable[[etree._Element], None] | None = None,
                  profile: str | None = None) -> Path:
    """Write a valid minimal CSIP SIP under ``base/<folder or objid>``; ``mutate`` may change
    the METS before it is written."""
    files = dict(FILES if files is None else files)
    root_dir = base / (folder or objid)
    for rel, data in files.items():
        path = root_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    mets = mets_document(objid, files, profile=profile)
    if mutate is not None:
        mutate(mets)
    write_mets(root_dir, mets)
    return root_dir


def find(root: etree._Element, path: str) -> etree._Element:
    """The first element at a METS-namespace path such as ``fileSec/fileGrp/file``."""
    element = root.find("/".join(f"m:{step}" for step in path.split("/")), {"m": METS})
    assert element is not None, path
    return element


def representation_mets(name: str, files: dict[str, bytes]) -> bytes:
    """A valid CSIP representation METS (OBJID ``name``) whose Data group lists ``files``
    (hrefs relative to the representation folder, e.g. ``data/report.txt``)."""
    root = _mets_root(name, "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml")
    file_sec = etree.SubElement(root, m("fileSec"), ID=f"{name}-filesec")
    _group(file_sec, "Data", f"{name}-grp-data", files, "text/plain")
    struct = etree.SubElement(root, m("structMap"), ID=f"{name}-struct", TYPE="PHYSICAL",
                              LABEL="CSIP")
    main = etree.SubElement(struct, m("div"), ID=f"{name}-div-main", LABEL=name)
    etree.SubElement(main, m("div"), ID=f"{name}-div-md", LABEL="Metadata")
    data = etree.SubElement(main, m("div"), ID=f"{name}-div-data", LABEL="Data")
    etree.SubElement(data, m("fptr"), FILEID=f"{name}-grp-data")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
