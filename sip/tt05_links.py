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
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

from preservation.findings import Report
from preservation.paths import printable
from sip.package import PackageTree
from sip.tt05_mets import MetsFile, children, line_of, local, xpath_of

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

    files_of: dict[str, list[str]] = field(default_factory=dict)
    records: list[str] = field(default_factory=list)  # every record path, on disk or referenced


def record_paths(tree: PackageTree) -> list[str]:
    """The document records on disk: representations/rep1/metadata/descriptive/EAD_*_*.xml."""
    return sorted(rel for rel in tree.under(RECORDS)
                  if posixpath.dirname(rel) == RECORDS
                  and RECORD_NAME.fullmatch(posixpath.basename(rel)))


def data_paths(tree: PackageTree) -> list[str]:
    """The content files on disk: everything under representations/rep1/data/."""
    return sorted(tree.under(DATA))


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


def check_tie(tree: PackageTree, mets: MetsFile, report: Report) -> Tie:
    """Check that every data file and every document record of rep1 is linked exactly once."""
    tie = Tie()
    divs, has_link = _link_divs(mets)
    if not has_link:
        anchor = (mets.csip_struct_maps() or [mets.root])[0]
        report.add("TT05-LINK-NONE", mets.rel, line=line_of(anchor), xpath=xpath_of(anchor))
    file_links: Counter[str] = Counter()
    record_links: Counter[str] = Counter()
    first_div: dict[str, etree._Element] = {}
    for div in divs:
        line, xpath = line_of(div), xpath_of(div)
        dmd_ids = (div.get("DMDID") or "").split()
        file_ids = [f.get("FILEID") or "" for f in children(div, "fptr")]
        if len(dmd_ids) != 1 or not file_ids:
            report.add("TT05-LINK-MALFORMED", mets.rel, line=line, xpath=xpath,
                       records=len(dmd_ids), files=len(file_ids))
        records: list[str] = []
        for dmd_id in dmd_ids:
            entry = mets.dmd.get(dmd_id)
            if entry is None:
                report.add("TT05-LINK-DANGLING", mets.rel, line=line, xpath=xpath,
                           attribute="DMDID", value=dmd_id)
            elif entry.path is not None:
                records.append(entry.path)
                record_links[entry.path] += 1
                first_div.setdefault(entry.path, div)
        files: list[str] = []
        for file_id in file_ids:
            file_entry = mets.files.get(file_id)
            if file_entry is None:
                report.add("TT05-LINK-DANGLING", mets.rel, line=line, xpath=xpath,
                           attribute="FILEID", value=file_id)
            elif file_entry.path is not None:
                files.append(file_entry.path)
                file_links[file_entry.path] += 1
        for record in records:
            tie.files_of.setdefault(record, []).extend(files)
    content = set(data_paths(tree)) | {
        f.path for f in mets.files.values() if f.path is not None
        and (f.use in CONTENT_GROUPS or f.path.startswith(f"{DATA}/"))}
    for path in sorted(content):
        _count(report, mets, "FILE", path, file_links[path])
    records_all = set(record_paths(tree)) | {
        d.path for d in mets.dmd.values() if d.path is not None}
    for path in sorted(records_all):
        _count(report, mets, "RECORD", path, record_links[path])
    tie.records = sorted(records_all)
    return tie


def _count(report: Report, mets: MetsFile, what: str, path: str, links: int) -> None:
    if links == 1:
        return
    code = f"TT05-LINK-{what}-{'UNLINKED' if links == 0 else 'TWICE'}"
    report.add(code, path, file=printable(path), links=links, mets=mets.rel)
