"""The shared vocabulary of the E-ARK validator: namespaces, CSIP vocabularies, results, context.

:class:`MetsDoc` is one parsed METS file of the package (the root one or a representation's) with
what every rule module needs to report on it: its package path, the folder its hrefs resolve from,
and a reporter that locates a finding at an element (file, line, readable XPath).
:class:`Reference` is one file reference collected from a ``mdRef``, ``file/FLocat`` or ``mptr``;
:mod:`sip.eark_refs` checks them all in one pass once the METS rules have run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

from preservation.findings import Report, Severity
from preservation.findings_spool import RecordSpool
from preservation.spooled import SpoolError
from sip.mets_stream import Record, StreamedMets, step_of

METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"
CSIP_NS = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP_NS = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"

CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
#: profiles of the E-ARK family (and of TT05's DIP) that a root METS may name
KNOWN_PROFILES = frozenset({
    CSIP_PROFILE, SIP_PROFILE,
    "https://earkaip.dilcis.eu/profile/E-ARK-AIP.xml",
    "https://earkdip.dilcis.eu/profile/E-ARK-DIP.xml",
})


def m(name: str) -> str:
    """Clark name of a METS element."""
    return f"{{{METS_NS}}}{name}"


XLINK_HREF = f"{{{XLINK_NS}}}href"
XLINK_TYPE = f"{{{XLINK_NS}}}type"
XLINK_TITLE = f"{{{XLINK_NS}}}title"


def csip(name: str) -> str:
    return f"{{{CSIP_NS}}}{name}"


def sipattr(name: str) -> str:
    return f"{{{SIP_NS}}}{name}"


#: CSIP vocabulary "Content Category" (mets/@TYPE, CSIP2), as of CSIP 2.0.4 / 2.1.0
CONTENT_CATEGORIES = frozenset({
    "Textual works – Print", "Textual works – Digital", "Textual works – Electronic Serials",
    "Digital Musical Composition (score-based representations)", "Photographs – Print",
    "Photographs – Digital", "Other Graphic Images – Print", "Other Graphic Images – Digital",
    "Microforms", "Audio – On Tangible Medium (digital or analog)",
    "Audio – Media-independent (digital)", "Motion Pictures – Digital and Physical Media",
    "Video – File-based and Physical Media", "Software", "Software – Physical Media",
    "Software – Digital", "Datasets", "Geospatial Data", "Databases", "Websites", "Collection",
    "Event", "Interactive resource", "Physical object", "Service", "Sound", "Still image",
    "Text", "Mixed", "Other", "OTHER",
})

#: CSIP vocabulary "Content Information Type Specification" (CSIP4, CSIP62), 2.0.4 and later
CONTENT_INFORMATION_TYPES = frozenset({
    "ERMS", "SIARD1", "SIARD2", "SIARDDK", "GeoVectorGML", "GeoRasterGeotiff", "MIXED", "OTHER",
    "SMURFERMS", "SMURFSFSB", "SIARD", "DeliverableUnits", "Geospatial", "eHealth1", "eHealth2",
    "ELN", "OLAPCube",
})

OAIS_PACKAGE_TYPES = frozenset({"SIP", "AIP", "DIP", "AIU", "AIC"})
STATUS_VALUES = frozenset({"CURRENT", "SUPERSEDED"})
NOTE_TYPES = frozenset({"SOFTWARE VERSION", "IDENTIFICATIONCODE"})

#: IANA top-level media types (RFC 6838 and later registrations)
MEDIA_TOP_LEVEL = frozenset({
    "application", "audio", "example", "font", "haptics", "image", "message", "model",
    "multipart", "text", "video",
})
MEDIA_TYPE_SYNTAX = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*$")
MIMETYPE_MAX = 256

SectionKind = Literal["dmdSec", "digiprovMD", "rightsMD", "techMD", "sourceMD", "file", "mptr"]


@dataclass(frozen=True)
class EarkFile:
    """One file the package's METS files reference (fileSec ``FLocat`` or ``mdRef``)."""

    path: str  # "/"-separated, relative to the package root, as listed
    mets: str  # the METS file that references it
    section: SectionKind
    size: int | None  # the actual size on disk (None: missing)
    declared_size: int | None
    checksum: str | None  # as declared
    checksum_type: str | None
    mimetype: str | None
    content: bool  # True for representations/<rep>/data/..., False for metadata, schemas, docs


@dataclass(frozen=True)
class EarkPackage:
    """What ingest needs from a validated E-ARK package (also for TT05, which extends CSIP)."""

    objid: str | None
    package_type: str | None  # metsHdr/@csip:OAISPACKAGETYPE
    profile: str | None
    is_sip: bool  # the E-ARK SIP rules applied (see :func:`sip.eark_mets.detect_sip`)
    representations: tuple[str, ...]  # folder names under representations/
    files: tuple[EarkFile, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference to a file, collected while checking a METS file, checked by eark_refs.

    One per mdRef / FLocat / mptr of the package (thousands in a big METS): it holds only the
    element; its owner and href are read from the (unchanging) tree when asked for. A METS
    file's references are kept on disk (:class:`References`)."""

    doc: MetsDoc
    #: the element carrying the href (mdRef, FLocat, mptr)
    element: etree._Element | Record
    section: SectionKind

    @property
    def owner(self) -> etree._Element | Record:
        """The element carrying SIZE/CHECKSUM: a FLocat's file, else the element itself."""
        if self.section == "file":
            parent = self.element.getparent()
            if parent is not None:
                return parent
        return self.element

    @property
    def href(self) -> str:
        """The ``xlink:href`` as written (only elements that have one become references)."""
        return self.element.get(XLINK_HREF) or ""


@dataclass(frozen=True)
class AttributeRules:
    """Requirement ids of one section's attribute rules ("" = not checked for this section)."""

    loctype: str = ""
    xlink_type: str = ""
    href: str = ""
    mdtype: str = ""
    mimetype: str = ""
    size: str = ""
    created: str = ""
    checksum: str = ""
    checksumtype: str = ""


SECTION_RULES: dict[str, AttributeRules] = {
    "dmdSec": AttributeRules("CSIP22", "CSIP23", "CSIP24", "CSIP25", "CSIP26", "CSIP27",
                             "CSIP28", "CSIP29", "CSIP30"),
    "digiprovMD": AttributeRules("CSIP36", "CSIP37", "CSIP38", "CSIP39", "CSIP40", "CSIP41",
                                 "CSIP42", "CSIP43", "CSIP44"),
    "rightsMD": AttributeRules("CSIP49", "CSIP50", "CSIP51", "CSIP52", "CSIP53", "CSIP54",
                               "CSIP55", "CSIP56", "CSIP57"),
    "techMD": AttributeRules(),
    "sourceMD": AttributeRules(),
    "file": AttributeRules(mimetype="CSIP68", size="CSIP69", created="CSIP70",
                           checksum="CSIP71", checksumtype="CSIP72"),
    "FLocat": AttributeRules(loctype="CSIP77", xlink_type="CSIP78", href="CSIP79"),
    "mptr": AttributeRules(loctype="CSIP112", xlink_type="CSIP111", href="CSIP110"),
}

def _reference_rules(section: str) -> tuple[str, str, str]:
    """Code prefixes of ``section``'s reference rules (href, size, checksum) from
    :data:`SECTION_RULES` (a file's href is its FLocat's): "EARK" where CSIP has no requirement
    (techMD, sourceMD), "EARK-MPTR" for an mptr (whose METS schema allows no SIZE or CHECKSUM:
    the findings name the element)."""
    rules = SECTION_RULES[section]
    fallback = "EARK-MPTR" if section == "mptr" else "EARK"
    href = SECTION_RULES["FLocat" if section == "file" else section].href
    return href or "EARK", rules.size or fallback, rules.checksum or fallback


REFERENCE_RULES: dict[str, tuple[str, str, str]] = {
    section: _reference_rules(section) for section in SECTION_RULES if section != "FLocat"}


def _snapshot(element: etree._Element | Record | None) -> tuple[Any, ...] | None:
    """What a reference needs of an element: tag, line, XPath, attributes."""
    if element is None:
        return None
    attributes: list[str] = []
    for key, value in element.attrib.items():
        attributes.extend((str(key), str(value)))
    return (element.tag, line_of(element), xpath_of(element), tuple(attributes))


def _restored(values: tuple[Any, ...], parent: Record | None) -> Record:
    tag, line, xpath, attributes = values
    return Record(tag, dict(zip(attributes[::2], attributes[1::2], strict=True)), line, xpath,
                  parent)


class References:
    """The references of one METS file, in the order the rules found them, kept on disk:
    each read back as a :class:`Reference` to a :class:`~sip.mets_stream.Record` of its element
    (and, for a FLocat, of its file)."""

    def __init__(self, doc: MetsDoc) -> None:
        self._doc = doc
        self._spool: RecordSpool | None = None

    def append(self, ref: Reference) -> None:
        if self._spool is None:
            self._spool = RecordSpool("METS reference", SpoolError)
        owner = ref.owner if ref.section == "file" else None
        self._spool.append((ref.section, _snapshot(ref.element),
                            _snapshot(owner if owner is not ref.element else None)))

    def __len__(self) -> int:
        return 0 if self._spool is None else len(self._spool)

    def __iter__(self) -> Iterator[Reference]:
        if self._spool is None:
            return
        for section, element, owner in self._spool.read():
            parent = _restored(owner, None) if owner is not None else None
            yield Reference(self._doc, _restored(element, parent), section)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


@dataclass
class MetsDoc:
    """One parsed METS file of the package and how to report on it."""

    rel: str  # package path of the METS file, e.g. "representations/rep1/METS.xml"
    base: str  # folder its hrefs resolve from ("" for the root METS)
    root: etree._Element  # the skeleton of :attr:`mets` (or a whole tree)
    report: Report
    rep_name: str | None = None  # representation folder name for a representation METS
    tt05: bool = False
    is_sip: bool = False
    #: every ID of the document (the elements themselves: :meth:`element_by_id`)
    ids: Collection[str] = field(default_factory=set)
    #: the schema errors found when the file was read (None: not validated yet)
    schema_errors: list[str] | None = None
    #: the METS file read as a stream (default: :attr:`root` is the whole tree)
    mets: StreamedMets = field(default=None)  # type: ignore[assignment]
    references: References = field(init=False)

    def __post_init__(self) -> None:
        if self.mets is None:
            self.mets = StreamedMets.of_tree(self.root)
        self.references = References(self)

    @property
    def is_root(self) -> bool:
        return self.rep_name is None

    def elements_by_id(self, wanted: set[str]) -> dict[str, etree._Element | Record]:
        """The element carrying each ID of ``wanted`` (the last one when an ID is repeated), in
        one pass over the document."""
        found: dict[str, etree._Element | Record] = {}
        if not wanted:
            return found
        for element in self.mets.walk():
            value = element.get("ID")
            if value is not None and value in wanted:
                found[value] = element
        return found

    def add(self, code: str, element: etree._Element | Record | None = None, *,
            severity: Severity | None = None, **params: object) -> None:
        """Report ``code`` located at ``element`` (or at the METS file itself)."""
        values: dict[str, Any] = dict(params)
        if element is None:
            self.report.add(code, self.rel, severity=severity, **values)
            return
        self.report.add(code, self.rel, line=line_of(element), xpath=xpath_of(element),
                        severity=severity, **values)


def line_of(element: etree._Element | Record) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def xpath_of(element: etree._Element | Record) -> str:
    """A readable XPath such as ``/mets/metsHdr/agent[2]`` (prefix-free local names)."""
    if isinstance(element, Record):
        return element.xpath
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is None:
            steps.append(name)
            break
        step = step_of(node)  # counting the siblings a streamed METS file has on disk
        if step is None:
            same = [s for s in parent if isinstance(s.tag, str) and s.tag == node.tag]
            step = f"{name}[{same.index(node) + 1}]" if len(same) > 1 else name
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def children(element: etree._Element | Record, name: str) -> list[Any]:
    """Direct METS children called ``name`` (of an element of the skeleton: those it holds;
    :meth:`sip.mets_stream.StreamedMets.children` gives the streamed ones too)."""
    return [c for c in element if c.tag == m(name)]


def text_of(element: etree._Element | Record | None) -> str:
    return "" if element is None else "".join(str(t) for t in element.itertext()).strip()
