"""A TT05 METS file read into an index: its files, its dmdSecs, and where every element is.

Both METS files of a TT05 SIP (the package root's and ``representations/rep1/METS.xml``) are read
once into a :class:`MetsFile`; the convention checks (:mod:`sip.tt05_conventions`) and the
``MetadataLink/File`` tie (:mod:`sip.tt05_links`) work on that index. ``xlink:href`` values are
resolved from the folder of the METS file that holds them (TT05.md, "Validation decisions"),
through :meth:`sip.package.PackageTree.resolve`, never against the file system.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from lxml import etree

from sip.eark_model import CSIP_NS, METS_NS, XLINK_HREF, line_of, xpath_of
from sip.package import PackageTree

__all__ = ["HREF", "DmdEntry", "FileEntry", "MetsFile", "children",
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


@dataclass(frozen=True)
class FileEntry:
    """A ``<file>`` of the fileSec: its ID, group, element and the package path it points to."""

    file_id: str
    use: str  # USE of the enclosing fileGrp ("" if none)
    element: etree._Element
    href: str | None
    path: str | None  # package-relative, None when missing or unresolvable


@dataclass(frozen=True)
class DmdEntry:
    """A ``<dmdSec>`` with its mdRef and the package path the mdRef points to."""

    dmd_id: str
    element: etree._Element
    md_ref: etree._Element | None
    href: str | None
    path: str | None


@dataclass
class MetsFile:
    """One METS file of the package, parsed and indexed."""

    rel: str  # package path of the METS file
    root: etree._Element
    files: dict[str, FileEntry] = field(default_factory=dict)
    dmd: dict[str, DmdEntry] = field(default_factory=dict)
    #: package paths every FLocat, mdRef and mptr names (resolved; missing files included)
    references: set[str] = field(default_factory=set)
    #: every ID in the document, whatever element carries it
    ids: set[str] = field(default_factory=set)

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
        return [f for f in self.files.values() if f.use in uses]


def _href(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    value = element.get(HREF)
    return value.strip() if value is not None else None


def index_mets(tree: PackageTree, rel: str, root: etree._Element) -> MetsFile:
    """Index the fileSec and dmdSecs of a parsed METS file at package path ``rel``."""
    mets = MetsFile(rel, root)
    base = mets.base

    def resolve(href: str | None) -> str | None:
        if not href:
            return None
        resolved = tree.resolve(base, href)
        if resolved.path is None:
            return None
        return tree.find_nfc(resolved.path) or resolved.path

    for element in descendants(root, "file"):
        file_id = element.get("ID")
        if not file_id or file_id in mets.files:
            continue
        group = element.getparent()
        use = group.get("USE", "") if group is not None and local(group) == "fileGrp" else ""
        flocats = children(element, "FLocat")
        href = _href(flocats[0]) if flocats else None
        mets.files[file_id] = FileEntry(file_id, (use or "").strip(), element, href,
                                        resolve(href))
    for element in children(root, "dmdSec"):
        dmd_id = element.get("ID")
        if not dmd_id or dmd_id in mets.dmd:
            continue
        refs = children(element, "mdRef")
        md_ref = refs[0] if refs else None
        href = _href(md_ref)
        mets.dmd[dmd_id] = DmdEntry(dmd_id, element, md_ref, href, resolve(href))
    for element in root.iter(f"{{{METS_NS}}}FLocat", f"{{{METS_NS}}}mdRef",
                             f"{{{METS_NS}}}mptr"):
        path = resolve(_href(element))
        if path is not None:
            mets.references.add(path)
    mets.ids = {str(el.get("ID")) for el in root.iter()
                if isinstance(el.tag, str) and el.get("ID") is not None}
    return mets
