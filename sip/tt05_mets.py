"""A TT05 METS file read into an index: its files, its dmdSecs, and where every element is.

Both METS files of a TT05 SIP (the package root's and ``representations/rep1/METS.xml``) are read
once into a :class:`MetsFile`; the convention checks (:mod:`sip.tt05_conventions`) and the
``MetadataLink/File`` tie (:mod:`sip.tt05_links`) work on that index. ``xlink:href`` values are
resolved from the folder of the METS file that holds them (TT05.md, "Validation decisions"),
through :meth:`sip.package.PackageTree.resolve`, never against the file system. The METS file
is the one the E-ARK validator read as a stream (:class:`sip.mets_stream.StreamedMets`): the
index walks its elements in document order, the streamed ones read back from disk.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lxml import etree

from preservation.diskmap import DiskMap
from preservation.spooled import KEEP as SPOOL_KEEP
from sip.eark_model import CSIP_NS, METS_NS, XLINK_HREF, line_of, xpath_of
from sip.mets_stream import Record, StreamedMets
from sip.package import PackageTree

__all__ = ["HREF", "DmdEntry", "FileEntry", "FileRef", "MetsFile", "children",
           "csip_attr", "descendants", "index_mets", "line_of", "local", "xpath_of"]

HREF = XLINK_HREF
#: index entries kept in memory (the rest in a DiskMap's database); a test may lower it
KEEP = SPOOL_KEEP
#: past KEEP, entries written to the index's databases a batch at a time
BUFFER = 1024
_FILE = f"{{{METS_NS}}}file"
_DMDSEC = f"{{{METS_NS}}}dmdSec"

Element = etree._Element | Record


def local(element: Element) -> str:
    """The local name of an element (no namespace); "" for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def csip_attr(element: Element, name: str) -> str | None:
    """A ``csip:`` attribute (also accepted without a namespace, as some producers write it)."""
    value = element.get(f"{{{CSIP_NS}}}{name}")
    return value if value is not None else element.get(name)


def children(element: Element, name: str) -> list[Any]:
    """Direct children with local name ``name`` in the METS namespace (of an element of the
    skeleton: those it holds; :meth:`MetsFile.children` gives the streamed ones too)."""
    return [c for c in element if c.tag == f"{{{METS_NS}}}{name}"]


def descendants(element: Element, name: str) -> list[Any]:
    """Every descendant with local name ``name`` in the METS namespace (see :func:`children`)."""
    return list(element.iter(f"{{{METS_NS}}}{name}"))


class FileRef(NamedTuple):
    """What the index keeps of a ``<file>`` (one per file of the package): plain values."""

    use: str  # USE of the enclosing fileGrp ("" if none)
    path: str | None  # package-relative, None when missing or unresolvable
    position: int  # position among the document's ``<file>`` elements (see MetsFile.file_elements)


class DmdEntry(NamedTuple):
    """What the index keeps of a ``<dmdSec>`` (one per document record): plain values."""

    path: str | None  # package path its (first) mdRef points to
    position: int  # position among the root's ``<dmdSec>`` children (see MetsFile.dmd_elements)


@dataclass(frozen=True)
class FileEntry:
    """A ``<file>`` of the fileSec: its ID, group, element and the package path it points to
    (made on demand for a few groups by :meth:`MetsFile.files_in`)."""

    file_id: str
    use: str  # USE of the enclosing fileGrp ("" if none)
    element: Element
    href: str | None
    path: str | None  # package-relative, None when missing or unresolvable


def _file_ref(values: tuple[Any, ...]) -> FileRef:
    return FileRef(*values)


def _dmd_entry(values: tuple[Any, ...]) -> DmdEntry:
    return DmdEntry(*values)


@dataclass
class MetsFile:
    """One METS file of the package, read and indexed.

    The index holds plain values (a METS file of many thousand documents has as many files and
    dmdSecs), in :class:`~preservation.diskmap.DiskMap` s past :data:`KEEP` entries; the
    elements are found again, in one pass, when a finding needs them. :meth:`close` deletes
    the index's temporary files.
    """

    rel: str  # package path of the METS file
    root: etree._Element  # the skeleton of :attr:`mets` (or a whole tree)
    #: file ID → its use, path and position (the first ``<file>`` with that ID)
    files: DiskMap[FileRef] = field(default_factory=lambda: DiskMap(
        encode=tuple, decode=_file_ref, keep=KEEP, what="METS file entry", buffer=BUFFER))
    #: dmdSec ID → the path of its record and its position (the first dmdSec with that ID)
    dmd: DiskMap[DmdEntry] = field(default_factory=lambda: DiskMap(
        encode=tuple, decode=_dmd_entry, keep=KEEP, what="METS dmdSec entry", buffer=BUFFER))
    #: package paths every FLocat, mdRef and mptr names (resolved; missing files included)
    references: DiskMap[None] = field(default_factory=lambda: DiskMap(
        keep=KEEP, what="METS reference", buffer=BUFFER))
    #: the METS file read as a stream (default: :attr:`root` is the whole tree)
    mets: StreamedMets = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.mets is None:
            self.mets = StreamedMets.of_tree(self.root)

    @property
    def base(self) -> str:
        return posixpath.dirname(self.rel)

    def header(self) -> etree._Element | None:
        found = children(self.root, "metsHdr")
        return found[0] if found else None

    def csip_struct_maps(self) -> list[etree._Element]:
        return [s for s in children(self.root, "structMap")
                if (s.get("LABEL") or "").strip() == "CSIP"]

    def children(self, element: Element, name: str) -> Iterator[Element]:
        """The children of ``element`` called ``name``, streamed ones included."""
        return self.mets.children(element, name)

    def walk(self, *names: str) -> Iterator[Element]:
        """Every element (called one of ``names``, if given) in document order."""
        return self.mets.walk(None, *(f"{{{METS_NS}}}{name}" for name in names))

    def files_in(self, *uses: str) -> list[FileEntry]:
        """The indexed files of the groups ``uses``, in the order of the index."""
        found: list[FileEntry] = []
        for index, element in enumerate(self.walk("file")):
            file_id = element.get("ID")
            ref = self.files.get(file_id) if file_id else None
            if file_id and ref is not None and ref.position == index and ref.use in uses:
                flocats = children(element, "FLocat")
                found.append(FileEntry(file_id, ref.use, element,
                                       _href(flocats[0]) if flocats else None, ref.path))
        return found

    def file_elements(self, indexes: set[int]) -> dict[int, Element]:
        """The ``<file>`` elements at positions ``indexes`` (see :attr:`FileRef.position`)."""
        if not indexes:
            return {}
        return {i: el for i, el in enumerate(self.walk("file")) if i in indexes}

    def dmd_elements(self, indexes: set[int]) -> dict[int, Element]:
        """The ``<dmdSec>`` elements at positions ``indexes`` (see :attr:`DmdEntry.position`)."""
        if not indexes:
            return {}
        return {i: el for i, el in enumerate(self.children(self.root, "dmdSec"))
                if i in indexes}

    def existing_ids(self, wanted: set[str]) -> set[str]:
        """The values of ``wanted`` that are the ID of some element of the document."""
        if not wanted:
            return set()
        return {value for el in self.walk()
                if (value := el.get("ID")) is not None and value in wanted}

    def close(self) -> None:
        """Delete the index's temporary files."""
        self.files.close()
        self.dmd.close()
        self.references.close()


def _href(element: Element | None) -> str | None:
    if element is None:
        return None
    value = element.get(HREF)
    return value.strip() if value is not None else None


def index_mets(tree: PackageTree, rel: str, root: etree._Element,
               mets: StreamedMets | None = None) -> MetsFile:
    """Index the fileSec and dmdSecs of a METS file at package path ``rel``: ``root`` is its
    whole tree, or the skeleton of ``mets``, the file read as a stream."""
    index = MetsFile(rel, root, mets=mets)  # type: ignore[arg-type]
    base = index.base
    shared: dict[str, str] = {}  # one string per path for the index and the references

    def resolve(href: str | None) -> str | None:
        if not href:
            return None
        resolved = tree.resolve(base, href)
        if resolved.path is None:
            return None
        path = tree.listed_or_same(resolved.path)
        if len(shared) < KEEP:
            return shared.setdefault(path, path)
        return path

    files = dmds = 0  # positions: among the <file> elements, among the root's dmdSecs
    resolved: tuple[str | None, str | None] = (None, None)  # a file's FLocat href, resolved
    # one pass, in document order, over the elements all three need
    for element in index.walk("file", "dmdSec", "FLocat", "mdRef", "mptr"):
        tag = element.tag
        if tag == _FILE:
            position, files = files, files + 1
            file_id = element.get("ID")
            if not file_id or file_id in index.files:
                continue
            group = element.getparent()
            use = group.get("USE", "") if group is not None and local(group) == "fileGrp" \
                else ""
            flocats = children(element, "FLocat")
            href = _href(flocats[0]) if flocats else None
            resolved = (href, resolve(href))
            index.files[file_id] = FileRef(sys.intern((use or "").strip()), resolved[1],
                                           position)
        elif tag == _DMDSEC:
            if element.getparent() is not root:
                continue
            position, dmds = dmds, dmds + 1
            dmd_id = element.get("ID")
            if not dmd_id or dmd_id in index.dmd:
                continue
            refs = children(element, "mdRef")
            index.dmd[dmd_id] = DmdEntry(resolve(_href(refs[0] if refs else None)), position)
        else:  # FLocat, mdRef, mptr: every path the file names
            href = _href(element)
            path = resolved[1] if href is not None and href == resolved[0] else resolve(href)
            if path is not None:
                index.references[path] = None
    index.files.flush()
    index.dmd.flush()
    index.references.flush()
    return index
