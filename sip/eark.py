"""Validate an E-ARK information package: CSIP 2.0.4, and the E-ARK SIP rules when it is a SIP.

:func:`validate_eark` checks, collecting every finding (codes ``CSIP<n>-…``, ``CSIPSTR<n>-…``,
``SIP<n>-…`` named after the requirement they check, and ``EARK-…`` for checks that are not one
requirement):

1. the folder structure (:mod:`sip.eark_structure`);
2. the root ``METS.xml`` and every ``representations/<rep>/METS.xml`` the root METS references
   (``FLocat`` or ``mptr``; an unreferenced one is EARK-REPRESENTATION-NOT-REFERENCED and its
   representation is not part of the package), each against the official
   METS schema (with the CSIP extension) and the CSIP rules: root and header
   (:mod:`sip.eark_mets`), metadata sections (:mod:`sip.eark_mdsec`), file section
   (:mod:`sip.eark_files`), structural map (:mod:`sip.eark_structmap`);
3. every file reference — existence, SIZE, CHECKSUM — and orphan files (:mod:`sip.eark_refs`).
   Hrefs resolve from the folder of the METS file that holds them.

Whether the SIP rules apply is decided by :func:`sip.eark_mets.detect_sip` (the SIP profile, or
a document written with the SIP extension namespace whose profile is wrong).

TT05 packages (``tt05=True``) are CSIP extensions: the same checks run with the relaxations
listed in :mod:`sip.eark_mets` and :mod:`sip.eark_files`; the TT05 validator adds its own rules.
Every METS file is parsed once, as a stream (:func:`sip.xmlload.load_mets`): the rules read its
skeleton tree and, one at a time from disk, its dmdSecs, files and document divs
(:class:`sip.mets_stream.StreamedMets`); what they collect across elements (IDs, references,
referenced files) is kept in :class:`~preservation.diskmap.DiskMap` s and spools. Nothing in the
package is written.
"""

from __future__ import annotations

import logging
import re

from lxml import etree

from preservation.diskmap import DiskMap
from preservation.findings import Report
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.xmlsafe import validate
from sip.eark_files import check_file_section
from sip.eark_mdsec import check_metadata_sections
from sip.eark_mets import check_header, check_root, detect_sip
from sip.eark_model import (
    METS_NS,
    EarkFile,
    EarkPackage,
    MetsDoc,
    csip,
    line_of,
    m,
)
from sip.eark_refs import ReferenceCheck
from sip.eark_structmap import check_struct_map
from sip.eark_structure import check_structure, representation_folders
from sip.mets_stream import StreamedMets
from sip.package import PackageTree
from sip.xmlload import load_mets, release_xml

__all__ = ["EarkFile", "EarkPackage", "looks_like_eark", "validate_eark"]

log = logging.getLogger(__name__)

#: schema errors reported one by one per METS file; the rest are counted in one finding
MAX_SCHEMA_FINDINGS = 50
_LINE = re.compile(r"^line (\d+): (.*)$", re.DOTALL)
_PEEK_BYTES = 64 * 1024
#: IDs of a METS file kept in memory (the rest in a DiskMap's database); a test may lower it
KEEP = SPOOL_KEEP
#: METS elements whose content the METS schema declares element-only (mets.xsd has no mixed
#: content): their whitespace between elements is dropped when read (see
#: :func:`sip.xmlload.load_validated_xml`); the ones repeated per file and per document
ELEMENT_ONLY = frozenset(m(name) for name in (
    "mets", "dmdSec", "amdSec", "techMD", "rightsMD", "sourceMD", "digiprovMD", "fileSec",
    "fileGrp", "file", "structMap", "div"))


def looks_like_eark(tree: PackageTree) -> bool:
    """A ``METS.xml`` at the package root whose root element is ``mets`` in the METS namespace.

    Reads only the start of the file (up to the root element's start tag).
    """
    if not tree.is_file("METS.xml"):
        return False
    try:
        with tree.opened("METS.xml") as stream:
            head = stream.read(_PEEK_BYTES)
    except Exception:  # unreadable: not recognisable as E-ARK
        log.debug("METS.xml unreadable while sniffing", exc_info=True)
        return False
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True,
                                 load_dtd=False)
    try:
        parser.feed(head)
        for _event, element in parser.read_events():
            return isinstance(element, etree._Element) and element.tag == m("mets")
    except etree.XMLSyntaxError:
        return False
    return False


def _schema(doc: MetsDoc) -> None:
    errors = doc.schema_errors
    doc.schema_errors = None
    if errors is None:  # the tree was parsed before (not by _load): validate it now
        errors = validate(doc.root.getroottree(), "mets")
    for error in errors[:MAX_SCHEMA_FINDINGS]:
        match = _LINE.match(error)
        line = int(match.group(1)) if match else None
        doc.report.add("EARK-METS-SCHEMA", doc.rel, line=line,
                       error=match.group(2) if match else error)
    if len(errors) > MAX_SCHEMA_FINDINGS:
        doc.report.add("EARK-METS-SCHEMA-MORE", doc.rel,
                       count=len(errors) - MAX_SCHEMA_FINDINGS)


def _load(tree: PackageTree, rel: str, report: Report
          ) -> tuple[StreamedMets | None, list[str] | None]:
    """A METS file read as a stream (its skeleton tree and, on disk, its repeated elements:
    :func:`sip.xmlload.load_mets`) and its schema errors (None: validate the tree), or None
    after a finding. The schema is checked apart from the tree every rule reads (and TT05 after
    them), which carries no ID tables."""
    mets, errors = load_mets(tree, rel, report, schema="mets", element_only=ELEMENT_ONLY)
    if mets is None:
        return None, None
    root = mets.root
    if root.tag != m("mets"):
        report.add("EARK-NOT-METS", rel, line=line_of(root), element=root.tag,
                   namespace=METS_NS)
        return None, None
    return mets, errors


def validate_eark(tree: PackageTree, report: Report, *, tt05: bool = False,
                  name: str | None = None, tolerate_line_endings: bool = False,
                  list_files: bool | None = None) -> EarkPackage:
    """Check the package in ``tree``, adding every finding to ``report``.

    ``name`` is the package's own name when ``tree.root`` is a work folder (an extracted ZIP);
    CSIP1 compares the root OBJID with it (default: the folder's name). With ``tt05`` that
    comparison, and CSIPSTR12 (a representation without METS.xml), are left to the TT05
    validator, whose own rules (TT05-FOLDER-NAME, TT05-LAYOUT-MISSING) are stricter.

    A representation is part of the package only when the root METS references its METS.xml
    (``FLocat`` or ``mptr``): an unreferenced one is EARK-REPRESENTATION-NOT-REFERENCED and is not
    read, so its files are orphans. A referenced representation METS that is missing (reported
    once, at the root METS's reference) or unreadable leaves its folder's orphans unchecked
    (EARK-ORPHANS-NOT-CHECKED) rather than reported one by one.

    A file whose declared size and checksum match only after converting its line endings (a text
    file changed in transit) is EARK-LINE-ENDINGS-CHANGED: an error, since the bytes are not the
    ones the producer declared; with ``tolerate_line_endings`` (an archive's explicit choice,
    ``[validation] line_endings = "tolerate"``) a warning.

    ``list_files`` (default: not ``tt05``): whether :attr:`EarkPackage.files` lists the files
    the METS files reference; a caller that does not need that list (TT05: the TT05 validator
    lists the documents) passes False, and ``files`` is empty, so no per-file objects are made.
    """
    check_structure(tree, report)
    references = ReferenceCheck(tree, report, tolerate_line_endings=tolerate_line_endings)
    mets, errors = _load(tree, "METS.xml", report) if tree.is_file("METS.xml") else (None, None)
    if mets is None:
        _representations(tree, report, None, references, tt05=tt05, is_sip=False)
        references.close()
        return EarkPackage(None, None, None, False, tuple(representation_folders(tree)), ())
    root = mets.root
    is_sip = detect_sip(root, mets)
    root_doc = MetsDoc("METS.xml", "", root, report, tt05=tt05, is_sip=is_sip,
                       schema_errors=errors, mets=mets)
    docs = [root_doc]
    try:
        _check_doc(root_doc, tree, name or tree.root.name)
        rep_docs, unchecked, exempt = _representations(tree, report, root_doc, references,
                                                       tt05=tt05, is_sip=is_sip)
        docs.extend(rep_docs)
        for doc in rep_docs:
            _check_doc(doc, tree, name or tree.root.name)
        files = references.run(docs, collect=not tt05 if list_files is None else list_files)
        for folder in unchecked:
            report.add("EARK-ORPHANS-NOT-CHECKED", folder)
        references.orphans({doc.rel for doc in docs} | exempt, unchecked)
    finally:
        for doc in docs:
            _close(doc)
        references.close()
    header = root.find(m("metsHdr"))
    if not tt05:  # the last validator to read them (TT05 reads them next)
        release_xml(tree, *list(tree.parsed_xml))
    return EarkPackage(
        objid=root.get("OBJID"),
        package_type=None if header is None else header.get(csip("OAISPACKAGETYPE")),
        profile=root.get("PROFILE"),
        is_sip=is_sip,
        representations=tuple(representation_folders(tree)),
        files=tuple(files),
    )


def _check_doc(doc: MetsDoc, tree: PackageTree, folder_name: str) -> None:
    """The METS rules on one METS file (they also collect its references)."""
    ids: DiskMap[None] = DiskMap(keep=KEEP, what="METS ID")
    doc.ids = ids
    ids.update((str(value), None) for element in doc.mets.walk()
               if (value := element.get("ID")) is not None)
    _schema(doc)
    check_root(doc, folder_name)
    check_header(doc)
    check_metadata_sections(doc, tree)
    check_file_section(doc, tree)
    check_struct_map(doc)


def _close(doc: MetsDoc) -> None:
    """Delete the temporary files of what the rules collected on ``doc``."""
    doc.references.close()
    if isinstance(doc.ids, DiskMap):
        doc.ids.close()


def _representations(tree: PackageTree, report: Report, root_doc: MetsDoc | None,
                     references: ReferenceCheck, *, tt05: bool, is_sip: bool
                     ) -> tuple[list[MetsDoc], list[str], set[str]]:
    """Read the representation METS files the root METS references.

    Returns their documents, the folders whose orphans cannot be checked (the referenced METS
    is missing or unreadable) and the METS files exempt from the orphan check because they
    were already reported as not referenced.
    """
    targets = references.targets(root_doc) if root_doc is not None else set()
    docs: list[MetsDoc] = []
    unchecked: list[str] = []
    exempt: set[str] = set()
    for rep in representation_folders(tree):
        folder = f"representations/{rep}"
        rel = f"{folder}/METS.xml"
        referenced = rel in targets
        if not tree.is_file(rel):
            if referenced:
                unchecked.append(folder)  # the root METS's reference reports it missing
            elif not tt05:
                report.add("CSIPSTR12-METS-MISSING", folder)
            continue
        if root_doc is None:
            continue  # no root METS to reference it: its files are orphans anyway
        if not referenced:
            report.add("EARK-REPRESENTATION-NOT-REFERENCED", rel, representation=rep)
            exempt.add(rel)
            continue
        rep_mets, errors = _load(tree, rel, report)
        if rep_mets is None:
            unchecked.append(folder)
            continue
        docs.append(MetsDoc(rel, folder, rep_mets.root, report, rep_name=rep, tt05=tt05,
                            is_sip=is_sip, schema_errors=errors, mets=rep_mets))
    return docs, unchecked, exempt
