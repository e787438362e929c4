"""A TT05 METS file read into an index: its files, its dmdSecs, and where every element is.

Both METS files of a TT05 SIP (the package root's and ``representations/rep1/METS.xml``) are read
once into a :class:`MetsFile`; the convention checks (:mod:`sip.tt05_conventions`) and the
``MetadataLink/File`` tie (:mod:`sip.tt05_links`) work on that index. ``xlink:href`` values are
resolved from the folder of the METS file that holds them (TT05.md, "Validation decisions"),
through :meth:`sip.package.PackageTree.resolve`, never against the file system.
"""

from __future__ import annotations

import posixpath
import sys
from dataclasses import dataclass, field
from typing import NamedTuple

from lxml import etree

from sip.eark_model import CSIP_NS, METS_NS, XLINK_HREF, line_of, xpath_of
from sip.package import PackageTree

__all__ = ["HREF", "DmdEntry", "FileEntry", "FileRef", "MetsFile", "children",
           "csip_attr", "descendants", "index_mets", "line_of", "local", "xpath_of"]

HREF = XLINK_HREF


def local(element: etree._Element) -> str:
    """The local name of an element (no namespace); "" for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def csip_attr(element: etree._Element, name: str) -> str | None:
    """A ``csip:`` attribute (also accepted without a namespace, as some producers write it)."""
    value = element.get(f"{{{CSIP_NS}}}{name}")
    return value if value is not None else element.get(name)


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Direct children with local name ``name`` in the METS namespace."""
    return [c for c in element if c.tag == f"{{{METS_NS}}}{name}"]


def descendants(element: etree._Element, name: str) -> list[etree._Element]:
    """Every descendant with local name ``name`` in the METS namespace."""
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
    element: etree._Element
    href: str | None
    path: str | None  # package-relative, None when missing or unresolvable


@dataclass
class MetsFile:
    """One METS file of the package, parsed and indexed.

    The index holds plain values (a METS file of many thousand documents has as many files and
    dmdSecs); the elements are found again in the tree, in one pass, when a finding needs them.
    """

    rel: str  # package path of the METS file
    root: etree._Element
    #: file ID → its use, path and position (the first ``<file>`` with that ID)
    files: dict[str, FileRef] = field(default_factory=dict)
    #: dmdSec ID → the path of its record and its position (the first dmdSec with that ID)
    dmd: dict[str, DmdEntry] = field(default_factory=dict)
    #: package paths every FLocat, mdRef and mptr names (resolved; missing files included)
    references: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        return posixpath.dirname(self.rel)

    def header(self) -> etree._Element | None:
        found = children(self.root, "metsHdr")
        return found[0] if found else None

    def csip_struct_maps(self) -> list[etree._Element]:
        return [s for s in children(self.root, "structMap")
                if (s.get("LABEL") or "").strip() == "CSIP"]

    def files_in(self, *uses: str) -> list[FileEntry]:
        """The indexed files of the groups ``uses``, in the order of the index."""
        found: list[FileEntry] = []
        for index, element in enumerate(descendants(self.root, "file")):
            file_id = element.get("ID")
            ref = self.files.get(file_id) if file_id else None
            if file_id and ref is not None and ref.position == index and ref.use in uses:
                flocats = children(element, "FLocat")
                found.append(FileEntry(file_id, ref.use, element,
                                       _href(flocats[0]) if flocats else None, ref.path))
        return found

    def file_elements(self, indexes: set[int]) -> dict[int, etree._Element]:
        """The ``<file>`` elements at positions ``indexes`` (see :attr:`FileRef.position`)."""
        if not indexes:
            return {}
        return {i: el for i, el in enumerate(descendants(self.root, "file")) if i in indexes}

    def dmd_elements(self, indexes: set[int]) -> dict[int, etree._Element]:
        """The ``<dmdSec>`` elements at positions ``indexes`` (see :attr:`DmdEntry.position`)."""
        if not indexes:
            return {}
        return {i: el for i, el in enumerate(children(self.root, "dmdSec")) if i in indexes}

    def existing_ids(self, wanted: set[str]) -> set[str]:
        """The values of ``wanted`` that are the ID of some element of the document."""
        if not wanted:
            return set()
        return {value for el in self.root.iter() if isinstance(el.tag, str)
                and (value := el.get("ID")) is not None and value in wanted}


def _href(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    value = element.get(HREF)
    return value.strip() if value is not None else None


def index_mets(tree: PackageTree, rel: str, root: etree._Element) -> MetsFile:
    """Index the fileSec and dmdSecs of a parsed METS file at package path ``rel``."""
    mets = MetsFile(rel, root)
    base = mets.base
    shared: dict[str, str] = {}  # one string per path for the index and the references

    def resolve(href: str | None) -> str | None:
        if not href:
            return None
        resolved = tree.resolve(base, href)
        if resolved.path is None:
            return None
        path = tree.find_nfc(resolved.path) or resolved.path
        return shared.setdefault(path, path)

    for index, element in enumerate(descendants(root, "file")):
        file_id = element.get("ID")
        if not file_id or file_id in mets.files:
            continue
        group = element.getparent()
        use = group.get("USE", "") if group is not None and local(group) == "fileGrp" else ""
        flocats = children(element, "FLocat")
        href = _href(flocats[0]) if flocats else None
        mets.files[file_id] = FileRef(sys.intern((use or "").strip()), resolve(href), index)
    for index, element in enumerate(children(root, "dmdSec")):
        dmd_id = element.get("ID")
        if not dmd_id or dmd_id in mets.dmd:
            continue
        refs = children(element, "mdRef")
        mets.dmd[dmd_id] = DmdEntry(resolve(_href(refs[0] if refs else None)), index)
    for element in root.iter(f"{{{METS_NS}}}FLocat", f"{{{METS_NS}}}mdRef",
                             f"{{{METS_NS}}}mptr"):
        path = resolve(_href(element))
        if path is not None:
            mets.references.add(path)
    return mets
