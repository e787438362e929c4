"""The ``MetadataLink/File`` tie of a TT05 representation: each document's record to its content.

In ``representations/rep1/METS.xml`` the CSIP structMap holds, for each document, a ``File`` div
under the ``MetadataLink`` div (also accepted: one div labelled ``MetadataLink/File``) whose DMDID
names the dmdSec of the document's ``EAD_DOC_<docId>.xml`` and whose fptr FILEID names the
document's data file. TT05.md requires every data file and every EAD_DOC to be linked exactly once:
a data file or record linked nowhere, linked twice, or a link naming an ID that does not exist is
an error. Checksums, sizes and references that point outside the listing are the E-ARK
validator's findings, not repeated here.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from preservation.findings import Report
from preservation.paths import printable
from sip.package import PackageTree
from sip.tt05_mets import FileRef, MetsFile, children, line_of, local, xpath_of

REP = "representations/rep1"
DATA = f"{REP}/data"
RECORDS = f"{REP}/metadata/descriptive"
#: a document record of rep1: EAD_DOC_<docId>.xml, and the photo / audio-video variants
RECORD_NAME = re.compile(r"EAD_(DOC|PIC|MEDIA)_(.+)\.xml")
LINK_LABEL = "MetadataLink"
FILE_LABEL = "File"
CONTENT_GROUPS = ("Data", "Holeyfile")


@dataclass
class Tie:
    """What the tie says: for each record path, the data file paths linked to it."""

    files_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the record paths of the package: those rep1's dmdSecs list (when its METS could not be
    #: read: those on disk)
    records: list[str] = field(default_factory=list)


class _Links:
    """How often each path is linked, and the second link (where a TWICE finding is located)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.second: dict[str, etree._Element] = {}

    def add(self, path: str, div: etree._Element) -> None:
        count = self.count.get(path, 0) + 1
        self.count[path] = count
        if count == 2:
            self.second[path] = div


def record_paths(tree: PackageTree) -> list[str]:
    """The document records on disk: representations/rep1/metadata/descriptive/EAD_*_*.xml."""
    return sorted(rel for rel in tree.under(RECORDS)
                  if posixpath.dirname(rel) == RECORDS
                  and RECORD_NAME.fullmatch(posixpath.basename(rel)))


def _link_divs(mets: MetsFile) -> tuple[list[etree._Element], bool]:
    """The ``File`` divs of the tie, and whether a MetadataLink div exists at all."""
    found: list[etree._Element] = []
    has_link = False
    for struct_map in mets.csip_struct_maps():
        for div in struct_map.iter():
            if local(div) != "div":
                continue
            label = (div.get("LABEL") or "").strip()
            if label == f"{LINK_LABEL}/{FILE_LABEL}":
                has_link = True
                found.append(div)
            elif label == LINK_LABEL:
                has_link = True
                inner = [c for c in div if local(c) == "div"
                         and (c.get("LABEL") or "").strip() == FILE_LABEL]
                found.extend(inner)
    return found, has_link


def _is_content(entry: FileRef) -> bool:
    return entry.use in CONTENT_GROUPS or (entry.path or "").startswith(f"{DATA}/")


def check_tie(tree: PackageTree, mets: MetsFile, report: Report) -> Tie:
    """Check that every data file and every document record of rep1 is linked exactly once.

    Only what the METS file declares is counted: a data file in its fileSec, a record in its
    dmdSecs (a file on disk that no METS file lists is the E-ARK validator's EARK-FILE-ORPHAN).
    An fptr naming no ID of the METS file is its EARK-FPTR-DANGLING; one naming something that
    is not a data file (a fileGrp, a schema, a dmdSec) is TT05-LINK-NOT-DATA-FILE here.
    """
    tie = Tie()
    divs, has_link = _link_divs(mets)
    if not has_link:
        anchor = (mets.csip_struct_maps() or [mets.root])[0]
        report.add("TT05-LINK-NONE", mets.rel, line=line_of(anchor), xpath=xpath_of(anchor))
    # the fptr targets that are no file of the index but some other element's ID (one pass)
    other_ids = mets.existing_ids({f.get("FILEID") or "" for div in divs
                                   for f in children(div, "fptr")} - mets.files.keys())
    file_links, record_links = _Links(), _Links()
    for div in divs:
        dmd_ids = (div.get("DMDID") or "").split()
        file_ids = [f.get("FILEID") or "" for f in children(div, "fptr")]
        if len(dmd_ids) != 1 or not file_ids:
            report.add("TT05-LINK-MALFORMED", mets.rel, line=line_of(div), xpath=xpath_of(div),
                       records=len(dmd_ids), files=len(file_ids))
        records: list[str] = []
        for dmd_id in dmd_ids:
            entry = mets.dmd.get(dmd_id)
            if entry is None:
                report.add("TT05-LINK-DANGLING", mets.rel, line=line_of(div),
                           xpath=xpath_of(div), attribute="DMDID", value=dmd_id)
            elif entry.path is not None:
                records.append(entry.path)
                record_links.add(entry.path, div)
        files: list[str] = []
        for file_id in file_ids:
            file_entry = mets.files.get(file_id)
            if file_entry is None or not _is_content(file_entry):
                if file_entry is not None or file_id in other_ids:
                    report.add("TT05-LINK-NOT-DATA-FILE", mets.rel, line=line_of(div),
                               xpath=xpath_of(div), value=file_id)
                continue  # an ID that is nowhere: the E-ARK validator's EARK-FPTR-DANGLING
            if file_entry.path is not None:
                files.append(file_entry.path)
                file_links.add(file_entry.path, div)
        for record in records:
            tie.files_of[record] = tie.files_of.get(record, ()) + tuple(files)
    del divs
    declared_files: dict[str, int] = {}
    for file_entry in mets.files.values():
        if file_entry.path is not None and _is_content(file_entry):
            declared_files.setdefault(file_entry.path, file_entry.position)
    _count(report, mets, "FILE", declared_files, file_links, mets.file_elements)
    del declared_files
    declared_records: dict[str, int] = {}
    for dmd in mets.dmd.values():
        if dmd.path is not None:
            declared_records.setdefault(dmd.path, dmd.position)
    _count(report, mets, "RECORD", declared_records, record_links, mets.dmd_elements)
    # a record on disk that no dmdSec lists is not part of the package (EARK-FILE-ORPHAN)
    tie.records = sorted(declared_records)
    return tie


def _count(report: Report, mets: MetsFile, what: str, declared: dict[str, int], links: _Links,
           elements: Callable[[set[int]], dict[int, etree._Element]]) -> None:
    """For each declared path (in path order) linked other than once: UNLINKED (located at the
    element declaring it) or TWICE (at the second link)."""
    wrong = sorted(path for path in declared if links.count.get(path, 0) != 1)
    if not wrong:
        return
    declaring = elements({declared[path] for path in wrong if path not in links.count})
    for path in wrong:
        count = links.count.get(path, 0)
        code = f"TT05-LINK-{what}-{'UNLINKED' if not count else 'TWICE'}"
        where = links.second[path] if count else declaring[declared[path]]
        report.add(code, mets.rel, line=line_of(where), xpath=xpath_of(where),
                   file=printable(path), links=count, mets=mets.rel)
