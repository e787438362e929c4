"""A METS file read as a stream: a skeleton tree in memory, its repeated elements on disk.

A METS file of a package with many documents or files holds, per document, a ``dmdSec``, per
file a ``file`` and per document a structMap ``div`` (TT05's ``MetadataLink/File`` links):
thousands of elements whose libxml2 tree grows with the package (~8 KiB per TT05 document).
:func:`read_streamed` parses the file once, as a stream, and keeps:

- the *skeleton*: the tree without those elements (root, header, amdSec, fileSec and its
  groups, structMap, its main div and the divs the rules look for by LABEL: Metadata,
  Documentation, Schemas, Representations[/<name>], MetadataLink), small whatever the number
  of documents;
- every *streamed* element — each ``dmdSec`` child of the root, each ``file`` and each ``div``
  inside a div (but those named above) not inside another streamed element, with everything
  inside it — as a :class:`Record` appended to a temporary file
  (:class:`~preservation.findings_spool.RecordSpool`), read again, one at a time, by each rule
  that needs them.

A skeleton div among streamed divs keeps its readable XPath (``div[2]`` counts them all):
:func:`step_of`, which :func:`sip.eark_model.xpath_of` asks.

A :class:`Record` reads like an element (``tag``, ``get``, child records, ``iter``,
``sourceline``, ``getparent``) and knows its readable XPath, so every rule is written once, for
elements and records alike; :class:`StreamedMets` gives the rules what they used to take from
the tree: the children of an element (:meth:`StreamedMets.children`) and every element in
document order (:meth:`StreamedMets.walk`). A whole tree (a test's, or a file that only a
full parse can describe) is a skeleton without records (:meth:`StreamedMets.of_tree`).
"""

from __future__ import annotations

import heapq
import io
import weakref
from collections.abc import Iterator
from typing import Any

from lxml import etree

from preservation.findings_spool import RecordSpool
from preservation.spooled import SpoolError
from preservation.xmlsafe import parse_bytes

METS_NS = "http://www.loc.gov/METS/"
_DMDSEC = f"{{{METS_NS}}}dmdSec"
_FILE = f"{{{METS_NS}}}file"
_DIV = f"{{{METS_NS}}}div"
#: divs (case-folded LABEL) the rules look for by name: never streamed
_KEPT_DIVS = frozenset({"metadata", "documentation", "schemas", "representations",
                        "metadatalink"})


class _Fallback(Exception):
    """The stream cannot describe the file: parse it whole (for its exact error)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Record:
    """A streamed element: its tag, attributes, line, child elements and readable XPath (its
    children made when first asked for, its XPath when a finding needs it)."""

    __slots__ = ("_children", "_parent", "_raw", "_where", "_xpath", "attrib", "ordinal",
                 "sourceline", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int | None, xpath: str,
                 parent: etree._Element | Record | None) -> None:
        """A record without children (see :func:`_decoded` for the spooled ones)."""
        self.tag, self.attrib, self.sourceline = tag, attrib, line
        self._xpath: str | None = xpath
        self._parent = parent
        self._raw: tuple[Any, ...] = ()
        self._children: list[Record] | None = []
        #: a streamed element's (parent's XPath, ordinal, total of its tag); a child's position
        self._where: tuple[str, int, int] | int = 0
        #: the ordinal of a streamed element among its parent's children of its tag
        self.ordinal = 0

    @property
    def xpath(self) -> str:
        xpath = self._xpath
        if xpath is None:
            where, tag = self._where, self.tag
            if isinstance(where, tuple):
                base, ordinal, total = where
            else:  # counted among the parent's children of the same tag
                parent = self._parent
                assert isinstance(parent, Record)
                base = parent.xpath
                tags = [child[0] for child in parent._raw]
                total, ordinal = tags.count(tag), tags[:where + 1].count(tag)
            xpath = self._xpath = f"{base}/{_local(tag)}" + (f"[{ordinal}]" if total > 1
                                                             else "")
        return xpath

    def get(self, name: str, default: str | None = None) -> str | None:
        value: str | None = self.attrib.get(name, default)
        return value

    def _kids(self) -> list[Record]:
        kids = self._children
        if kids is None:
            kids = self._children = [_decoded(raw, self, i) for i, raw in enumerate(self._raw)]
        return kids

    def __iter__(self) -> Iterator[Record]:
        return iter(self._kids())

    def __len__(self) -> int:
        kids = self._children
        return len(self._raw) if kids is None else len(kids)

    def iter(self, *tags: str) -> Iterator[Record]:
        """This record and every record inside it, in document order (only ``tags``, if
        given: a child holding none of them is not made)."""
        if not tags or self.tag in tags:
            yield self
        kids = self._children
        if kids is not None or not tags:
            for kid in self._kids():
                yield from kid.iter(*tags)
            return
        for i, raw in enumerate(self._raw):
            if _holds(raw, tags):
                if kids is None:
                    kids = self._kids()
                yield from kids[i].iter(*tags)

    def getparent(self) -> etree._Element | Record | None:
        return self._parent

    @property
    def text(self) -> None:
        """Records keep no text (no rule reads the text of a streamed element)."""
        return None

    def itertext(self) -> Iterator[str]:
        return iter(())


def _decoded(values: tuple[Any, ...], parent: etree._Element | Record,
             where: tuple[str, int, int] | int) -> Record:
    """A spooled element as a :class:`Record` (its children made when asked for)."""
    record = object.__new__(Record)
    record.tag, record.sourceline, record.attrib, record._raw = values
    record._parent, record._children, record._xpath = parent, None, None
    record._where = where
    record.ordinal = where[1] if isinstance(where, tuple) else 0
    return record


def _holds(values: tuple[Any, ...], tags: tuple[str, ...]) -> bool:
    """Whether the encoded element ``values`` or one inside it has one of ``tags``."""
    return values[0] in tags or any(_holds(child, tags) for child in values[3])


def _encode(element: etree._Element, tags: set[str]) -> tuple[Any, ...]:
    """An element and its child elements as plain values: (tag, line, attributes, children);
    ``tags`` gets the tag of each."""
    line = element.sourceline
    tags.add(element.tag)
    return (element.tag, line if isinstance(line, int) else None,
            {str(key): str(value) for key, value in element.attrib.items()},
            tuple(_encode(child, tags) for child in element if isinstance(child.tag, str)))


class StreamedMets:
    """A METS file as a skeleton tree (:attr:`root`) and its streamed elements on disk."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self._spools: dict[str, RecordSpool] = {}
        self._inside: dict[str, set[str]] = {}  # per spool: every tag in its records
        #: the skeleton elements that have streamed children, and how many of each tag
        self._parents: list[etree._Element] = []
        self._parent_index: dict[etree._Element, int] = {}
        self._totals: list[dict[str, int]] = []  # streamed children, by tag
        #: per skeleton element that has or may have streamed children: every child of a
        #: streamable tag so far (skeleton and streamed), by tag
        self._siblings: dict[etree._Element, dict[str, int]] = {}
        #: skeleton elements among streamed siblings of their tag: (parent, their ordinal)
        self._placed: list[tuple[etree._Element, etree._Element, int]] = []
        #: skeleton element → how many records come before it in document order (only where
        #: that number changed since the skeleton element before it)
        self._marks: dict[etree._Element, int] = {}
        self._count = 0
        self._last_mark = 0
        self._xpaths: dict[int, str] = {}
        self._stepped: list[int] = []
        self._unregister = weakref.finalize(self, _unregister, self._stepped)

    @classmethod
    def of_tree(cls, root: etree._Element) -> StreamedMets:
        """A whole tree: every element is in the skeleton."""
        return cls(root)

    # --- building -----------------------------------------------------------------------------

    def _add(self, element: etree._Element, parent: etree._Element) -> None:
        index = self._parent_index.get(parent)
        if index is None:
            index = self._parent_index[parent] = len(self._parents)
            self._parents.append(parent)
            self._totals.append({})
        totals = self._totals[index]
        totals[element.tag] = totals.get(element.tag, 0) + 1
        ordinal = self._sibling(element, parent)
        spool = self._spools.get(element.tag)
        if spool is None:
            spool = self._spools[element.tag] = RecordSpool("METS element", SpoolError)
        spool.append((self._count, index, ordinal,
                      _encode(element, self._inside.setdefault(element.tag, set()))))
        self._count += 1

    def _sibling(self, element: etree._Element, parent: etree._Element) -> int:
        """Count ``element`` among its parent's children of its tag: its ordinal."""
        siblings = self._siblings.setdefault(parent, {})
        ordinal = siblings[element.tag] = siblings.get(element.tag, 0) + 1
        return ordinal

    def _mark(self, element: etree._Element, parent: etree._Element | None) -> None:
        """A skeleton element starts: where it stands among the records (and, for a div that
        may have streamed siblings, among its siblings)."""
        if self._count != self._last_mark:
            self._marks[element] = self._count
            self._last_mark = self._count
        if parent is not None and element.tag == _DIV and parent.tag == _DIV:
            self._placed.append((element, parent, self._sibling(element, parent)))

    def _finish(self) -> None:
        """Once read: the XPath steps of the skeleton elements that have streamed siblings of
        their tag (see :func:`step_of`)."""
        for element, parent, ordinal in self._placed:
            index = self._parent_index.get(parent)
            if index is not None and element.tag in self._totals[index]:
                total = self._siblings[parent][element.tag]
                _STEPS[id(element)] = (element, _local(element.tag)
                                       + (f"[{ordinal}]" if total > 1 else ""))
                self._stepped.append(id(element))
        self._placed = []

    # --- reading ------------------------------------------------------------------------------

    def _parent_xpath(self, index: int) -> str:
        xpath = self._xpaths.get(index)
        if xpath is None:
            from sip.eark_model import xpath_of  # the skeleton's own (no cycle at import)
            xpath = self._xpaths[index] = xpath_of(self._parents[index])
        return xpath

    def _records(self, tag: str, parents: set[int] | None = None
                 ) -> Iterator[tuple[int, Record]]:
        spool = self._spools.get(tag)
        if spool is None:
            return
        for sequence, index, ordinal, values in spool.read():
            if parents is not None and index not in parents:
                continue
            parent = self._parents[index]
            yield sequence, _decoded(values, parent, (self._parent_xpath(index), ordinal,
                                                      self._siblings[parent][tag]))

    def count(self, element: etree._Element, name: str) -> int:
        """How many children called ``name`` (a METS local name) ``element`` has."""
        tag = f"{{{METS_NS}}}{name}"
        index = self._parent_index.get(element)
        streamed = self._totals[index].get(tag, 0) if index is not None else 0
        return streamed + sum(1 for child in element if child.tag == tag)

    def children(self, element: etree._Element | Record, name: str
                 ) -> Iterator[etree._Element | Record]:
        """The children of ``element`` called ``name`` (a METS local name), in order."""
        tag = f"{{{METS_NS}}}{name}"
        if isinstance(element, Record):
            yield from (child for child in element if child.tag == tag)
            return
        index = self._parent_index.get(element)
        if index is None or tag not in self._totals[index]:
            yield from (child for child in element if child.tag == tag)
            return
        # the streamed ones and the skeleton's, in their order
        kept = [(ordinal, child) for child, parent, ordinal in self._kept_order(element)
                if child.tag == tag and parent is element]
        at = 0
        for _, record in self._records(tag, {index}):
            ordinal = record.ordinal
            while at < len(kept) and kept[at][0] < ordinal:
                yield kept[at][1]
                at += 1
            yield record
        yield from (child for _, child in kept[at:])

    def _kept_order(self, parent: etree._Element
                    ) -> Iterator[tuple[etree._Element, etree._Element, int]]:
        """The skeleton children of ``parent`` that have streamed siblings of their tag, each
        with its ordinal among them."""
        for child in parent:
            found = _STEPS.get(id(child))
            if found is not None and found[0] is child:
                yield child, parent, _ordinal(found[1])

    def walk(self, start: etree._Element | Record | None = None, *tags: str
             ) -> Iterator[etree._Element | Record]:
        """Every element of ``start`` (default: the root) and below, in document order
        (only ``tags``, if given); comments and processing instructions are left out."""
        if isinstance(start, Record):
            yield from start.iter(*tags)
            return
        top = self.root if start is None else start
        parents = None
        if top is not self.root:
            inside = set(top.iter())
            parents = {i for i, parent in enumerate(self._parents) if parent in inside}
        # only the spools that have records below ``top`` holding one of ``tags``
        streams = [self._records(tag, parents) for tag in self._spools
                   if (not tags or not self._inside[tag].isdisjoint(tags)) and (
                       parents is None or any(tag in self._totals[i] for i in parents))]
        pending = heapq.merge(*streams, key=lambda item: item[0]) if streams else iter(())
        upcoming = next(pending, None)
        for element in top.iter():
            if not isinstance(element.tag, str):
                continue
            mark = self._marks.get(element)
            while mark is not None and upcoming is not None and upcoming[0] < mark:
                yield from upcoming[1].iter(*tags)
                upcoming = next(pending, None)
            if not tags or element.tag in tags:
                yield element
        while upcoming is not None:
            yield from upcoming[1].iter(*tags)
            upcoming = next(pending, None)

    def close(self) -> None:
        """Delete the records' temporary files."""
        for spool in self._spools.values():
            spool.close()
        self._unregister()


#: the readable XPath steps of skeleton elements that have streamed siblings of their tag
#: (``div[3]`` counts them), by id of the element, which is kept alive here with its step;
#: :func:`sip.eark_model.xpath_of` reads them (see :func:`step_of`)
_STEPS: dict[int, tuple[etree._Element, str]] = {}


def _unregister(ids: list[int]) -> None:
    for key in ids:
        _STEPS.pop(key, None)
    ids.clear()


def step_of(element: etree._Element) -> str | None:
    """The XPath step of a skeleton element among its streamed siblings (None: it has none;
    count its siblings in the tree)."""
    found = _STEPS.get(id(element))
    return found[1] if found is not None and found[0] is element else None


def _ordinal(step: str) -> int:
    return int(step[step.index("[") + 1:-1]) if step.endswith("]") else 1


def _streamed(element: etree._Element, parent: etree._Element | None,
              root: etree._Element | None) -> bool:
    if parent is None:
        return False
    if element.tag == _DIV:  # a div inside a div, unless a rule looks for it by its LABEL
        label = (element.get("LABEL") or "").strip().casefold()
        return parent.tag == _DIV and label not in _KEPT_DIVS and not label.startswith(
            "representations/")
    return element.tag == _FILE or (element.tag == _DMDSEC and parent is root)


def read_streamed(data: bytes, *, max_bytes: int, source: str) -> StreamedMets:
    """Parse ``data`` as :func:`preservation.xmlsafe.parse_bytes` does (same limits, same
    :class:`~preservation.errors.XmlError` on malformed or unsafe XML: such a file is parsed
    again by it, for its exact error), keeping the streamed elements on disk."""
    if len(data) > max_bytes:
        parse_bytes(data, max_bytes=max_bytes, source=source)  # raises XML-TOO-LARGE
    mets: StreamedMets | None = None
    try:
        events = etree.iterparse(
            io.BytesIO(data), events=("start", "end"), resolve_entities=False,
            no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=False)
        inside: etree._Element | None = None  # the streamed element being read
        root: etree._Element | None = None
        for event, element in events:
            if not isinstance(element.tag, str):
                continue
            if event == "start":
                if root is None:
                    root = element
                    mets = StreamedMets(root)
                if inside is not None:
                    continue
                parent = element.getparent()
                if _streamed(element, parent, root):
                    inside = element
                elif mets is not None:
                    mets._mark(element, parent)
            elif inside is not None and element is inside:
                parent = inside.getparent()
                assert parent is not None and mets is not None
                mets._add(inside, parent)
                parent.remove(inside)
                inside = None
        if mets is None or root is None:
            raise _Fallback
        mets._finish()
        docinfo = root.getroottree().docinfo
        if docinfo.internalDTD is not None or docinfo.doctype:
            raise _Fallback
    except (etree.XMLSyntaxError, _Fallback):
        if mets is not None:
            mets.close()
        # the exact error (or, should the full parse succeed, the whole tree)
        return StreamedMets.of_tree(parse_bytes(data, max_bytes=max_bytes,
                                                source=source).getroot())
    return mets
