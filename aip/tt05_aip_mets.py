"""The two METS files of a TT05 AIP (AIP_hoso / AIP_tailieu), built on the SIP writer's METS.

The shapes are the SIP's (:mod:`sip.tt05_mets_writer`: same root attributes, groups, IDs,
checksums, structMap and ``MetadataLink/File`` tie), so both files are made by the SIP writer's
:func:`~sip.tt05_mets_writer.root_mets` and :func:`~sip.tt05_mets_writer.rep_mets` and then
turned into an AIP's (TT05.md, "METS conventions"):

- ``metsHdr``: ``csip:OAISPACKAGETYPE="AIP"``, ``RECORDSTATUS`` NEW / SUPPLEMENT / REPLACEMENT,
  the CREATOR/OTHER/SOFTWARE agent named after our software whose IDENTIFICATIONCODE note is the
  fonds code, a CUSTODIAN agent (the archive), ``altRecordID TYPE="SUBMISSIONAGREEMENT"`` = the
  SIP's fileCode;
- ``amdSec``: one ``digiprovMD`` → ``metadata/preservation/PREMIS.xml`` (root) or
  ``metadata/preservation/PREMIS_rep1.xml`` (rep1), MDTYPE PREMIS 3.0, with SIZE and SHA-256;
  the ``Metadata`` div and every data file point to it with ``ADMID``;
- root ``fileSec``: an optional ``Documentation`` group (our validation report and the
  producer's original metadata, kept under ``submission/``);
- rep1: a document may have more than one data file (each gets an ``fptr`` in its
  ``MetadataLink/File`` div); ``X.fetch.txt`` stubs of documents transferred earlier are in the
  ``Holeyfile`` group (as in a SIP_hoso).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from sip.tt05_mets_writer import (
    METADATA_LINK,
    REP_DIR,
    DocumentEntry,
    MetsHeader,
    WrittenFile,
    _csip,
    _file,
    _link,
    _m,
    _sums,
    rep_mets,
    root_mets,
)
from sip.tt05_xml import IdMaker

FETCH_SUFFIX = ".fetch.txt"
DOCUMENTATION = "Documentation"
HOLEYFILE = "Holeyfile"


@dataclass(frozen=True)
class AipHeader:
    """What an AIP's METS headers add to the SIP writer's :class:`MetsHeader`."""

    mets: MetsHeader  # objid = the AIP OBJID, software = our name, fonds_code = mã phông
    record_status: str  # NEW | SUPPLEMENT | REPLACEMENT
    custodian: str  # the archive (organisation) keeping the AIP


@dataclass(frozen=True)
class AipDocument:
    """One document of rep1: its record and its data files (paths relative to rep1)."""

    key: str  # unique per document (its record path), for deterministic IDs
    record: WrittenFile
    data: tuple[WrittenFile, ...]


def _as_aip(root: etree._Element, head: AipHeader) -> None:
    """Turn the SIP writer's metsHdr into an AIP's."""
    hdr = root.find(_m("metsHdr"))
    assert hdr is not None  # root_mets/rep_mets always write one
    hdr.set("RECORDSTATUS", head.record_status)
    hdr.set(_csip("OAISPACKAGETYPE"), "AIP")
    alt = hdr.find(_m("altRecordID"))
    custodian = etree.Element(_m("agent"), ROLE="CUSTODIAN", TYPE="ORGANIZATION")
    etree.SubElement(custodian, _m("name")).text = head.custodian
    if alt is not None:
        alt.addprevious(custodian)
    else:
        hdr.append(custodian)


def _digiprov(root: etree._Element, ids: IdMaker, role: str, premis: WrittenFile,
              created: str) -> str:
    """Fill the (empty) amdSec with one digiprovMD → ``premis``; return its ID."""
    amd = root.find(_m("amdSec"))
    assert amd is not None
    md_id = ids(f"{role}digiprovMD:{premis.rel}")
    md = etree.SubElement(amd, _m("digiprovMD"), ID=md_id, CREATED=created, STATUS="CURRENT")
    ref = etree.SubElement(md, _m("mdRef"), LOCTYPE="URL", MDTYPE="PREMIS", MDTYPEVERSION="3.0")
    for key, value in _sums(premis, created).items():
        ref.set(key, value)
    _link(ref, premis.rel)
    return md_id


def _metadata_div(root: etree._Element) -> etree._Element:
    smap = root.find(_m("structMap"))
    assert smap is not None
    div = smap[0].find(_m("div"))  # the first child of the package div is "Metadata"
    assert div is not None and div.get("LABEL") == "Metadata"
    return div


def aip_root_mets(
    head: AipHeader,
    ids: IdMaker,
    *,
    ead: WrittenFile,
    schemas: Sequence[WrittenFile],
    rep: WrittenFile,
    premis: WrittenFile,
    documentation: Sequence[WrittenFile] = (),
) -> etree._Element:
    """The AIP's root METS.xml (paths relative to the package root)."""
    root = root_mets(head.mets, ids, ead, schemas, rep)
    _as_aip(root, head)
    created = head.mets.created
    md_id = _digiprov(root, ids, "", premis, created)
    _metadata_div(root).set("ADMID", md_id)
    if documentation:
        sec = root.find(_m("fileSec"))
        assert sec is not None
        rep_grp = sec[-1]  # Representations/rep1
        grp_id = ids("fileGrp:" + DOCUMENTATION)
        grp = etree.Element(_m("fileGrp"), ID=grp_id, USE=DOCUMENTATION)
        rep_grp.addprevious(grp)
        for item in documentation:
            _file(grp, ids, item, created, item.rel)
        top = root.find(_m("structMap"))[0]  # type: ignore[index]
        div = etree.Element(_m("div"), ID=ids("div:" + DOCUMENTATION), LABEL=DOCUMENTATION)
        etree.SubElement(div, _m("fptr"), FILEID=grp_id)
        top[-1].addprevious(div)  # before the Representations/rep1 div
    return root


def aip_rep_mets(
    head: AipHeader,
    ids: IdMaker,
    documents: Sequence[AipDocument],
    *,
    premis: WrittenFile,
    unlinked: Sequence[WrittenFile] = (),
) -> etree._Element:
    """representations/rep1/METS.xml (paths relative to representations/rep1/).

    ``unlinked`` are data files no record describes (carried from a previous version whose
    records could not be matched to them): listed in the Data group, in no MetadataLink div.
    """
    entries = [DocumentEntry(doc.key, doc.record, doc.data[0]) for doc in documents if doc.data]
    root = rep_mets(head.mets, ids, entries)
    _as_aip(root, head)
    created = head.mets.created
    md_id = _digiprov(root, ids, "rep1:", premis, created)
    _metadata_div(root).set("ADMID", md_id)
    sec = root.find(_m("fileSec"))
    assert sec is not None
    data_grp = sec[0]
    top = root.find(_m("structMap"))[0]  # type: ignore[index]
    links = {div.get("ID"): div for div in top if div.get("LABEL") == METADATA_LINK}
    holey: etree._Element | None = None
    by_id = {el.get("ID"): el for el in data_grp}
    for doc in documents:
        link = links.get(ids(f"rep1:{METADATA_LINK}:{doc.key}"))
        for n, item in enumerate(doc.data):
            if n == 0:
                el = by_id[ids.file(f"{REP_DIR}/{item.rel}")]
            else:
                _file(data_grp, ids, item, created, f"{REP_DIR}/{item.rel}")
                el = data_grp[-1]
                if link is not None:
                    etree.SubElement(link, _m("fptr"), FILEID=el.get("ID", ""))
            if item.rel.endswith(FETCH_SUFFIX):
                if holey is None:
                    holey = etree.SubElement(sec, _m("fileGrp"), ID=ids("rep1:fileGrp:Holeyfile"),
                                             USE=HOLEYFILE)
                holey.append(el)
    for item in unlinked:
        _file(data_grp, ids, item, created, f"{REP_DIR}/{item.rel}")
    for group in sec:
        for el in group:
            el.set("ADMID", md_id)
    _group_divs(root, ids, top, data_grp, holey)
    return root


def _group_divs(root: etree._Element, ids: IdMaker, top: etree._Element,
                data_grp: etree._Element, holey: etree._Element | None) -> None:
    """One div per non-empty group (Data, Holeyfile) right after Metadata; empty groups go."""
    for div in [d for d in top if d.get("LABEL") == "Data"]:
        top.remove(div)
    anchor = _metadata_div(root)
    for group, label in ((data_grp, "Data"), (holey, HOLEYFILE)):
        if group is None:
            continue
        if len(group) == 0:
            group.getparent().remove(group)  # type: ignore[union-attr]
            continue
        div = etree.Element(_m("div"), ID=ids(f"div:rep1:{label}"), LABEL=label)
        etree.SubElement(div, _m("fptr"), FILEID=group.get("ID", ""))
        anchor.addnext(div)
        anchor = div


__all__ = ["AipDocument", "AipHeader", "aip_rep_mets", "aip_root_mets"]
