"""The two METS files of a TT05 AIP (AIP_hoso / AIP_tailieu), built on the SIP writer's METS.

The shapes are the SIP's (:mod:`sip.tt05_mets_writer`: same root attributes, groups, IDs,
checksums, structMap and ``MetadataLink/File`` tie, made by the same part builders
:func:`~sip.tt05_mets_writer.add_header`, :func:`~sip.tt05_mets_writer.add_file`, …), with what
makes them an AIP's (TT05.md, "METS conventions"):

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
  ``Holeyfile`` group (as in a SIP_hoso); each data file's ``FLocat`` has the producer's
  name as ``xlink:title``.

Both are described against a :class:`~preservation.xmlstream.XmlSink`: :func:`write_aip_root_mets`
and :func:`write_aip_rep_mets` stream them to a file one ``dmdSec``, ``file`` and ``div`` at a
time (memory does not grow with the number of documents); :func:`aip_root_mets` and
:func:`aip_rep_mets` build the same documents as lxml trees.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from lxml import etree

from preservation.xmlstream import Body, XmlSink, document_tree, write_document
from sip.tt05_mets_writer import (
    METADATA_LINK,
    NSMAP,
    REP_DIR,
    REPRESENTATION,
    MetsHeader,
    WrittenFile,
    add_div,
    add_dmd_sec,
    add_file,
    add_header,
    checksums,
    csip_tag,
    mets_tag,
    root_attributes,
    set_link,
    xlink_tag,
)
from sip.tt05_xml import IdMaker

FETCH_SUFFIX = ".fetch.txt"
DOCUMENTATION = "Documentation"
HOLEYFILE = "Holeyfile"
#: the producer's name of a data file (path relative to rep1), None when it has none
OriginalNames = Callable[[str], str | None]


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
    #: the producer's name of each data file (FLocat xlink:title), in ``data``'s order; None:
    #: asked of the writer's ``original_names``
    originals: tuple[str | None, ...] | None = None


def _aip_header(root: etree._Element, head: AipHeader) -> None:
    """The SIP writer's metsHdr turned into an AIP's: record status, package type AIP, and the
    CUSTODIAN agent before the altRecordID."""
    hdr = add_header(root, head.mets)
    hdr.set("RECORDSTATUS", head.record_status)
    hdr.set(csip_tag("OAISPACKAGETYPE"), "AIP")
    alt = hdr.find(mets_tag("altRecordID"))
    custodian = etree.Element(mets_tag("agent"), ROLE="CUSTODIAN", TYPE="ORGANIZATION")
    etree.SubElement(custodian, mets_tag("name")).text = head.custodian
    if alt is not None:
        alt.addprevious(custodian)
    else:
        hdr.append(custodian)


def _amd_sec(root: etree._Element, ids: IdMaker, role: str, premis: WrittenFile,
             created: str) -> str:
    """The amdSec with one digiprovMD → ``premis``; return the digiprovMD's ID."""
    amd = etree.SubElement(root, mets_tag("amdSec"), ID=ids(f"{role}amdSec"))
    md_id = ids(f"{role}digiprovMD:{premis.rel}")
    md = etree.SubElement(amd, mets_tag("digiprovMD"), ID=md_id, CREATED=created,
                          STATUS="CURRENT")
    ref = etree.SubElement(md, mets_tag("mdRef"), LOCTYPE="URL", MDTYPE="PREMIS",
                           MDTYPEVERSION="3.0")
    for key, value in checksums(premis, created).items():
        ref.set(key, value)
    set_link(ref, premis.rel)
    return md_id


def _fptr(div: etree._Element, file_id: str) -> None:
    etree.SubElement(div, mets_tag("fptr"), FILEID=file_id)


def _root_body(head: AipHeader, ids: IdMaker, ead: WrittenFile, schemas: Sequence[WrittenFile],
               rep: WrittenFile, premis: WrittenFile,
               documentation: Sequence[WrittenFile]) -> Body:
    created = head.mets.created

    def body(sink: XmlSink) -> None:
        objid = head.mets.objid
        with sink.open(mets_tag("mets"), root_attributes(objid, head.mets, ""), NSMAP) as root:
            _aip_header(root, head)
            dmd_id = ids("dmdSec:" + ead.rel)
            add_dmd_sec(root, dmd_id, ead, created)
            md_id = _amd_sec(root, ids, "", premis, created)
            schemas_id = ids("fileGrp:Schemas")
            docs_id = ids("fileGrp:" + DOCUMENTATION)
            rep_id = ids("fileGrp:" + REPRESENTATION)
            with sink.open(mets_tag("fileSec"), {"ID": ids("fileSec")}) as sec:
                for grp_id, use, items in ((schemas_id, "Schemas", schemas),
                                           (docs_id, DOCUMENTATION, documentation)):
                    if use == DOCUMENTATION and not items:
                        continue
                    with sink.open(mets_tag("fileGrp"), {"ID": grp_id, "USE": use}) as grp:
                        for item in items:
                            add_file(grp, ids, item, created, item.rel)
                            sink.flush()
                grp = etree.SubElement(sec, mets_tag("fileGrp"), ID=rep_id, USE=REPRESENTATION)
                grp.set(csip_tag("CONTENTINFORMATIONTYPE"), "MIXED")
                add_file(grp, ids, rep, created, rep.rel)
            smap = etree.SubElement(root, mets_tag("structMap"), ID=ids("structMap"),
                                    TYPE="PHYSICAL", LABEL="CSIP")
            top = add_div(smap, ids, "root", objid)
            meta = add_div(top, ids, "Metadata", "Metadata")
            meta.set("DMDID", dmd_id)
            meta.set("ADMID", md_id)
            _fptr(add_div(top, ids, "Schemas", "Schemas"), schemas_id)
            if documentation:
                _fptr(add_div(top, ids, DOCUMENTATION, DOCUMENTATION), docs_id)
            rep_div = add_div(top, ids, REPRESENTATION, REPRESENTATION)
            mptr = etree.SubElement(rep_div, mets_tag("mptr"), LOCTYPE="URL")
            set_link(mptr, rep.rel)
            mptr.set(xlink_tag("title"), rep_id)
            _fptr(rep_div, rep_id)

    return body


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
    """The AIP's root METS.xml as a tree (paths relative to the package root)."""
    return document_tree(_root_body(head, ids, ead, schemas, rep, premis, documentation))


def write_aip_root_mets(
    path: str | os.PathLike[str],
    head: AipHeader,
    ids: IdMaker,
    *,
    ead: WrittenFile,
    schemas: Sequence[WrittenFile],
    rep: WrittenFile,
    premis: WrittenFile,
    documentation: Sequence[WrittenFile] = (),
) -> tuple[int, str]:
    """Stream the AIP's root METS.xml to ``path``; return its size and SHA-256."""
    return write_document(path, _root_body(head, ids, ead, schemas, rep, premis, documentation))


def _stub(item: WrittenFile) -> bool:
    return item.rel.endswith(FETCH_SUFFIX)


class _RepFiles:
    """The data files of rep1 in the order of its METS groups (several passes, no copies),
    each with its producer's name."""

    def __init__(self, documents: Sequence[AipDocument], unlinked: Sequence[WrittenFile],
                 original_names: OriginalNames) -> None:
        self.documents = documents
        self.unlinked = unlinked
        self.original_names = original_names

    def described(self) -> Iterator[AipDocument]:
        """The documents with at least one data file (each has a dmdSec and a link div)."""
        return (doc for doc in self.documents if doc.data)

    def _named(self, doc: AipDocument, start: int = 0) -> Iterator[tuple[WrittenFile,
                                                                         str | None]]:
        originals = doc.originals
        for k in range(start, len(doc.data)):
            item = doc.data[k]
            yield item, (originals[k] if originals is not None
                         else self.original_names(item.rel))

    def data(self) -> Iterator[tuple[WrittenFile, str | None]]:
        """The Data group: every document's first file, then the others, then the unlinked;
        ``X.fetch.txt`` stubs are in the Holeyfile group instead."""
        for doc in self.described():
            if not _stub(doc.data[0]):
                yield next(self._named(doc))
        for doc in self.documents:
            yield from (named for named in self._named(doc, 1) if not _stub(named[0]))
        yield from ((item, self.original_names(item.rel)) for item in self.unlinked)

    def holey(self) -> Iterator[tuple[WrittenFile, str | None]]:
        for doc in self.documents:
            yield from (named for named in self._named(doc) if _stub(named[0]))


def _rep_body(head: AipHeader, ids: IdMaker, files: _RepFiles, premis: WrittenFile) -> Body:
    created = head.mets.created

    def file_group(sink: XmlSink, role: str, use: str,
                   items: Iterator[tuple[WrittenFile, str | None]], md_id: str) -> None:
        with sink.open(mets_tag("fileGrp"), {"ID": ids(f"rep1:fileGrp:{role}"), "USE": use}
                       ) as grp:
            for item, original in items:
                el = add_file(grp, ids, item, created, f"{REP_DIR}/{item.rel}")
                el.set("ADMID", md_id)
                if original:
                    el[0].set(xlink_tag("title"), original)
                sink.flush()

    def body(sink: XmlSink) -> None:
        has_data = next(files.data(), None) is not None
        has_holey = next(files.holey(), None) is not None
        with sink.open(mets_tag("mets"), root_attributes("rep1", head.mets, "../../"),
                       NSMAP) as root:
            _aip_header(root, head)
            # the Metadata div's DMDID lists every dmdSec: the one value of this document that
            # grows with it (41 bytes per document), kept as ASCII bytes, not a list of strings
            dmd_ids = bytearray()
            for doc in files.described():
                dmd_id = ids(f"rep1:dmdSec:{doc.record.rel}")
                dmd_ids += f" {dmd_id}".encode() if dmd_ids else dmd_id.encode()
                add_dmd_sec(root, dmd_id, doc.record, created)
                sink.flush()
            md_id = _amd_sec(root, ids, "rep1:", premis, created)
            with sink.open(mets_tag("fileSec"), {"ID": ids("rep1:fileSec")}):
                if has_data:
                    file_group(sink, "Data", "Data", files.data(), md_id)
                if has_holey:
                    file_group(sink, HOLEYFILE, HOLEYFILE, files.holey(), md_id)
            with sink.open(mets_tag("structMap"), {"ID": ids("rep1:structMap"),
                                                   "TYPE": "PHYSICAL", "LABEL": "CSIP"}), \
                    sink.open(mets_tag("div"), {"ID": ids("div:rep1:root"), "LABEL": "rep1"}
                              ) as top:
                meta = add_div(top, ids, "rep1:Metadata", "Metadata")
                if dmd_ids:
                    meta.set("DMDID", dmd_ids.decode())
                meta.set("ADMID", md_id)
                del dmd_ids
                for present, label in ((has_data, "Data"), (has_holey, HOLEYFILE)):
                    if present:
                        _fptr(add_div(top, ids, f"rep1:{label}", label),
                              ids(f"rep1:fileGrp:{label}"))
                for doc in files.described():
                    link = add_div(top, ids, f"rep1:{METADATA_LINK}:{doc.key}", METADATA_LINK)
                    link.set("DMDID", ids(f"rep1:dmdSec:{doc.record.rel}"))
                    for item in doc.data:
                        _fptr(link, ids.file(f"{REP_DIR}/{item.rel}"))
                    sink.flush()

    return body


def _no_names(rel: str) -> str | None:
    return None


def aip_rep_mets(
    head: AipHeader,
    ids: IdMaker,
    documents: Sequence[AipDocument],
    *,
    premis: WrittenFile,
    unlinked: Sequence[WrittenFile] = (),
    original_names: OriginalNames = _no_names,
) -> etree._Element:
    """representations/rep1/METS.xml as a tree (paths relative to representations/rep1/).

    ``unlinked`` are data files no record describes (carried from a previous version whose
    records could not be matched to them): listed in the Data group, in no MetadataLink div.
    ``original_names`` gives a data file's producer name (its FLocat ``xlink:title``).
    """
    return document_tree(_rep_body(head, ids, _RepFiles(documents, unlinked, original_names),
                                   premis))


def write_aip_rep_mets(
    path: str | os.PathLike[str],
    head: AipHeader,
    ids: IdMaker,
    documents: Sequence[AipDocument],
    *,
    premis: WrittenFile,
    unlinked: Sequence[WrittenFile] = (),
    original_names: OriginalNames = _no_names,
) -> tuple[int, str]:
    """Stream representations/rep1/METS.xml (see :func:`aip_rep_mets`) to ``path``, one
    document at a time; ``documents`` is read several times (one pass per METS section), so
    it may be a lazy sequence. Returns the file's size and SHA-256."""
    return write_document(path, _rep_body(head, ids,
                                          _RepFiles(documents, unlinked, original_names), premis))


__all__ = ["AipDocument", "AipHeader", "OriginalNames", "aip_rep_mets", "aip_root_mets",
           "write_aip_rep_mets", "write_aip_root_mets"]
