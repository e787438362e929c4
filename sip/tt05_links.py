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
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from preservation.diskmap import DiskMap
from preservation.findings import Report
from preservation.paths import printable
from preservation.spooled import KEEP as SPOOL_KEEP
from sip.package import PackageTree
from sip.sorted_lookup import SortedLookup
from sip.tt05_mets import DmdEntry, Element, FileRef, MetsFile, children, line_of, local, xpath_of

REP = "representations/rep1"
DATA = f"{REP}/data"
RECORDS = f"{REP}/metadata/descriptive"
#: a document record of rep1: EAD_DOC_<docId>.xml, and the photo / audio-video variants
RECORD_NAME = re.compile(r"EAD_(DOC|PIC|MEDIA)_(.+)\.xml")
LINK_LABEL = "MetadataLink"
FILE_LABEL = "File"
CONTENT_GROUPS = ("Data", "Holeyfile")
#: linked paths kept in memory (the rest in DiskMaps' databases); a test may lower it
KEEP = SPOOL_KEEP
#: past KEEP, entries written to the DiskMaps' databases a batch at a time
BUFFER = 1024


@dataclass
class Tie:
    """What the tie says: for each record path, the data file paths linked to it."""

    files_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the record paths of the package, sorted: those rep1's dmdSecs list (when its METS could
    #: not be read: those on disk)
    records: Collection[str] = field(default_factory=list)
    #: the DiskMaps behind the two, closed by :meth:`close`
    _maps: list[DiskMap[Any]] = field(default_factory=list)

    def close(self) -> None:
        """Delete the temporary files of a big tie."""
        for kept in self._maps:
            kept.close()


class _Links:
    """How often each path is linked, and where its second link is (a TWICE finding's place)."""

    def __init__(self) -> None:
        self.count: DiskMap[int] = DiskMap(keep=KEEP, order="key", what="linked path",
                                           buffer=BUFFER)
        self.second: DiskMap[tuple[int | None, str]] = DiskMap(keep=KEEP, what="linked path",
                                                               buffer=BUFFER)

    def add(self, path: str, div: Element) -> None:
        count = self.count.get(path, 0) + 1
        self.count[path] = count
        if count == 2:
            self.second[path] = (line_of(div), xpath_of(div))

    def close(self) -> None:
        self.count.close()
        self.second.close()


class _Positioned(Protocol):
    @property
    def position(self) -> int: ...


E = TypeVar("E", bound=_Positioned)


class _InOrder(Generic[E]):
    """``index.get`` (of :attr:`MetsFile.files` or :attr:`MetsFile.dmd`) for IDs asked mostly
    in the index's own order, document order, as the tie's divs name them: on disk, the entry
    after the last one found is read in a walk of the index and tried first, with no query.
    Another ID is looked up; when it is further on, the walk skips to it (positions grow in
    the index's order), so it reads each entry at most once."""

    def __init__(self, index: DiskMap[E]) -> None:
        self._index = index
        self._items = iter(index.items()) if index.on_disk else None
        self._next = None if self._items is None else next(self._items, None)

    def get(self, key: str) -> E | None:
        upcoming, items = self._next, self._items
        if upcoming is not None and upcoming[0] == key:
            assert items is not None
            self._next = next(items, None)
            return upcoming[1]
        found = self._index.get(key)
        if found is not None and upcoming is not None \
                and found.position > upcoming[1].position:
            assert items is not None
            while upcoming is not None and upcoming[1].position <= found.position:
                upcoming = next(items, None)
            self._next = upcoming
        return found


def _in_order(index: DiskMap[E]) -> Callable[[str], E | None]:
    """``index.get``, through an :class:`_InOrder` when the index is on disk."""
    return _InOrder(index).get if index.on_disk else index.get


def record_paths(tree: PackageTree) -> list[str]:
    """The document records on disk: representations/rep1/metadata/descriptive/EAD_*_*.xml."""
    return sorted(rel for rel in tree.under(RECORDS)
                  if posixpath.dirname(rel) == RECORDS
                  and RECORD_NAME.fullmatch(posixpath.basename(rel)))


def _link_divs(mets: MetsFile) -> Iterator[Element | None]:
    """The ``File`` divs of the tie, in order (read again from a streamed METS file on each
    pass); None for a MetadataLink div that holds none (it says the tie exists)."""
    for struct_map in mets.csip_struct_maps():
        for div in mets.mets.walk(struct_map):
            if local(div) != "div":
                continue
            label = (div.get("LABEL") or "").strip()
            if label == f"{LINK_LABEL}/{FILE_LABEL}":
                yield div
            elif label == LINK_LABEL:
                found = False
                for inner in mets.mets.walk(div):
                    if inner.getparent() is div and local(inner) == "div" \
                            and (inner.get("LABEL") or "").strip() == FILE_LABEL:
                        found = True
                        yield inner
                if not found:
                    yield None


def _is_content(entry: FileRef) -> bool:
    return entry.use in CONTENT_GROUPS or (entry.path or "").startswith(f"{DATA}/")


def check_tie(tree: PackageTree, mets: MetsFile, report: Report) -> Tie:
    """Check that every data file and every document record of rep1 is linked exactly once.

    Only what the METS file declares is counted: a data file in its fileSec, a record in its
    dmdSecs (a file on disk that no METS file lists is the E-ARK validator's EARK-FILE-ORPHAN).
    An fptr naming no ID of the METS file is its EARK-FPTR-DANGLING; one naming something that
    is not a data file (a fileGrp, a schema, a dmdSec) is TT05-LINK-NOT-DATA-FILE here.
    """
    files_of: DiskMap[tuple[str, ...]] = DiskMap(encode=tuple, decode=tuple, keep=KEEP,
                                                 what="linked record", buffer=BUFFER)
    declared_records: DiskMap[int] = DiskMap(keep=KEEP, order="key", what="declared record",
                                             buffer=BUFFER)
    tie = Tie(files_of, declared_records.keys(), [files_of, declared_records])
    has_link = False
    others: list[set[str]] = []  # see _other_ids: made when first needed
    file_links, record_links = _Links(), _Links()
    lookups = _in_order(mets.dmd), _in_order(mets.files)
    try:
        for div in _link_divs(mets):
            has_link = True
            if div is not None:
                _check_link(mets, div, others, report, file_links, record_links, files_of,
                            lookups)
        if not has_link:  # no div: no finding above
            anchor = (mets.csip_struct_maps() or [mets.root])[0]
            report.add("TT05-LINK-NONE", mets.rel, line=line_of(anchor),
                       xpath=xpath_of(anchor))
        declared_files: DiskMap[int] = DiskMap(keep=KEEP, order="key", what="declared file",
                                               buffer=BUFFER)
        try:
            for file_entry in mets.files.values():
                if file_entry.path is not None and _is_content(file_entry) \
                        and file_entry.path not in declared_files:
                    declared_files[file_entry.path] = file_entry.position
            _count(report, mets, "FILE", declared_files, file_links, mets.file_elements)
        finally:
            declared_files.close()
        for dmd in mets.dmd.values():
            if dmd.path is not None and dmd.path not in declared_records:
                declared_records[dmd.path] = dmd.position
        _count(report, mets, "RECORD", declared_records, record_links, mets.dmd_elements)
    finally:
        file_links.close()
        record_links.close()
    # a record on disk that no dmdSec lists is not part of the package (EARK-FILE-ORPHAN)
    files_of.flush()
    declared_records.flush()
    return tie


def _other_ids(mets: MetsFile, made: list[set[str]]) -> set[str]:
    """The fptr targets of the tie that are no file of the index but some other element's ID
    (two passes over the METS file, once, when a target is no file)."""
    if not made:
        unknown = {target for div in _link_divs(mets) if div is not None
                   for f in children(div, "fptr")
                   if (target := f.get("FILEID") or "") not in mets.files}
        made.append(mets.existing_ids(unknown))
    return made[0]


def _check_link(mets: MetsFile, div: Element, others: list[set[str]], report: Report,
                file_links: _Links, record_links: _Links, files_of: DiskMap[tuple[str, ...]],
                lookups: tuple[Callable[[str], DmdEntry | None],
                               Callable[[str], FileRef | None]]) -> None:
    """One ``File`` div of the tie: one record, its data files (``lookups``: ``mets.dmd.get``
    and ``mets.files.get``)."""
    dmd_of, file_of = lookups
    dmd_ids = (div.get("DMDID") or "").split()
    file_ids = [f.get("FILEID") or "" for f in children(div, "fptr")]
    if len(dmd_ids) != 1 or not file_ids:
        report.add("TT05-LINK-MALFORMED", mets.rel, line=line_of(div), xpath=xpath_of(div),
                   records=len(dmd_ids), files=len(file_ids))
    records: list[str] = []
    for dmd_id in dmd_ids:
        entry = dmd_of(dmd_id)
        if entry is None:
            report.add("TT05-LINK-DANGLING", mets.rel, line=line_of(div),
                       xpath=xpath_of(div), attribute="DMDID", value=dmd_id)
        elif entry.path is not None:
            records.append(entry.path)
            record_links.add(entry.path, div)
    files: list[str] = []
    for file_id in file_ids:
        file_entry = file_of(file_id)
        if file_entry is None or not _is_content(file_entry):
            if file_entry is not None or file_id in _other_ids(mets, others):
                report.add("TT05-LINK-NOT-DATA-FILE", mets.rel, line=line_of(div),
                           xpath=xpath_of(div), value=file_id)
            continue  # an ID that is nowhere: the E-ARK validator's EARK-FPTR-DANGLING
        if file_entry.path is not None:
            files.append(file_entry.path)
            file_links.add(file_entry.path, div)
    for record in records:
        files_of[record] = files_of.get(record, ()) + tuple(files)


def _count(report: Report, mets: MetsFile, what: str, declared: DiskMap[int], links: _Links,
           elements: Callable[[set[int]], dict[int, Element]]) -> None:
    """For each declared path (in path order) linked other than once: UNLINKED (located at the
    element declaring it) or TWICE (at the second link)."""
    counts = SortedLookup(links.count)  # the paths in order: one walk of both on disk
    wrong = [path for path in declared if counts.get(path, 0) != 1]
    if not wrong:
        return
    declaring = {position: (line_of(element), xpath_of(element)) for position, element in
                 elements({declared[path] for path in wrong if path not in links.count}).items()}
    for path in wrong:
        count = links.count.get(path, 0)
        code = f"TT05-LINK-{what}-{'UNLINKED' if not count else 'TWICE'}"
        line, xpath = links.second[path] if count else declaring[declared[path]]
        report.add(code, mets.rel, line=line, xpath=xpath,
                   file=printable(path), links=count, mets=mets.rel)
