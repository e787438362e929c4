"""CSIP rules on the representation divisions of the structural map and their METS pointers
(CSIP106–CSIP112).

A package whose representations have METS files of their own describes each one in a child div
of the main div labelled ``Representations/<name>`` (CSIP107: the value of the representation's
``fileGrp/@USE``, CSIP64) holding exactly one ``mptr`` to ``representations/<name>/METS.xml``
(CSIP109) whose ``xlink:title`` is the ID of the representation's file group (CSIP108). The mptr
itself carries ``xlink:href`` (CSIP110), ``xlink:type="simple"`` (CSIP111) and
``LOCTYPE="URL"`` (CSIP112).

A representation without a METS file of its own may also have such a div, pointing to its file
groups with ``fptr`` (the E-ARK test corpus does this): an mptr is required only when the METS
file references the representation's METS file. Every other child div of the main div needs an ID
(CSIP106; the Metadata, Documentation, Schemas and Representations divs have their own rules).
"""

from __future__ import annotations

from lxml import etree

from preservation.paths import printable
from sip.eark_attrs import check_locator
from sip.eark_model import (
    SECTION_RULES,
    XLINK_HREF,
    XLINK_TITLE,
    MetsDoc,
    Reference,
    children,
    m,
)
from sip.mets_stream import Record
from sip.package import resolve_href

MPTR_RULES = SECTION_RULES["mptr"]
#: the child divs of the main div that have requirements of their own (CSIP89, 94, 98, 102)
NAMED_DIVISIONS = frozenset({"Metadata", "Documentation", "Schemas", "Representations"})
_PREFIX = "representations/"


def check_mptrs(doc: MetsDoc, struct_map: etree._Element) -> None:
    """CSIP110–CSIP112 on every mptr of the structural map (its href becomes a reference)."""
    for mptr in doc.mets.walk(struct_map, m("mptr")):
        check_locator(doc, mptr, "mptr", MPTR_RULES)


def representation_name(value: str | None) -> str | None:
    """``rep1`` for a USE or LABEL ``Representations/rep1`` (or ``Representations/rep1/data``);
    None for anything else, including plain ``Representations``."""
    if value is None or not value.casefold().startswith(_PREFIX):
        return None
    name = value[len(_PREFIX):].split("/", 1)[0]
    return name or None


def check_representation_divs(doc: MetsDoc, main: etree._Element) -> None:
    """CSIP106 on the main div's other child divs and, in the root METS, CSIP107–CSIP109."""
    for div in doc.mets.children(main, "div"):  # one per document in a big METS: streamed
        if div.get("LABEL") not in NAMED_DIVISIONS and div.get("ID") is None:
            doc.add("CSIP106-ID-MISSING", div, label=div.get("LABEL") or "")
    if not doc.is_root:
        return
    # a Representations/<name> div is never streamed (sip.mets_stream): all in the skeleton
    divs = [d for d in children(main, "div") if d.get("LABEL") not in NAMED_DIVISIONS]
    targets = [(ref, resolve_href(doc.base, ref.href).path) for ref in doc.references]
    known = _described_representations(doc, targets)
    rep_mets = _referenced_representation_mets(targets)
    for div in divs:
        name = representation_name(div.get("LABEL"))
        if name is None:
            continue
        label = div.get("LABEL") or ""
        if name not in known:
            doc.add("CSIP107-LABEL-UNKNOWN", div, value=label, representation=name,
                    known=", ".join(sorted(known)) or "—")
        expected = f"representations/{name}/METS.xml"
        mptrs = children(div, "mptr")
        if not mptrs:
            if expected.casefold() in rep_mets:
                doc.add("CSIP109-MPTR-MISSING", div, label=label, mets=expected)
            continue
        if len(mptrs) > 1:
            doc.add("CSIP109-MPTR-REPEATED", mptrs[1], label=label, count=len(mptrs))
        for mptr in mptrs:
            _check_target(doc, mptr, expected if name in known else None)
    titled: list[tuple[etree._Element, str | None]] = []
    for div in children(main, "div"):
        # commons-ip checks CSIP108 in the Representations divs only
        name = representation_name(div.get("LABEL"))
        if name is None and div.get("LABEL") != "Representations":
            continue
        # a LABEL naming no described representation is CSIP107's alone
        titled.extend((mptr, name if name in known else None) for mptr in children(div, "mptr"))
    # the elements the titles name, found in one pass over the tree
    named = doc.elements_by_id({title for mptr, _ in titled
                                if (title := mptr.get(XLINK_TITLE) or "") in doc.ids})
    for mptr, name in titled:
        _check_title(doc, mptr, name, named)


def _described_representations(doc: MetsDoc,
                               targets: list[tuple[Reference, str | None]]) -> set[str]:
    """The representations the METS file describes: named by a file group's USE or holding a
    file it references (an mptr's target included: CSIP110 reports one that is missing)."""
    names = {representation_name(g.get("USE")) for g in doc.root.iter(m("fileGrp"))}
    names.update(representation_name(target) for _, target in targets)
    names.discard(None)
    return {name for name in names if name is not None}


def _referenced_representation_mets(targets: list[tuple[Reference, str | None]]) -> set[str]:
    """Case-folded package paths of the representation METS files referenced other than by an
    mptr (a fileSec FLocat, as commons-ip writes)."""
    found: set[str] = set()
    for ref, target in targets:
        if ref.section == "mptr" or target is None:
            continue
        parts = target.split("/")
        if len(parts) == 3 and parts[0].casefold() == "representations" \
                and parts[2].casefold() == "mets.xml":
            found.add(target.casefold())
    return found


def _check_target(doc: MetsDoc, mptr: etree._Element, expected: str | None) -> None:
    """CSIP109: the mptr points to the representation's METS file (any representation's when the
    div's LABEL names none the METS describes: CSIP107 reports that)."""
    href = mptr.get(XLINK_HREF)
    target = resolve_href(doc.base, href).path if href else None
    if href is None or target is None:
        return  # missing or unusable href: CSIP110 reports it
    parts = target.casefold().split("/")
    if expected is not None:
        wrong = target.casefold() != expected.casefold()
    else:
        wrong = not (len(parts) == 3 and parts[0] == "representations" and parts[2] == "mets.xml")
    if wrong:
        doc.add("CSIP109-MPTR-WRONG-TARGET", mptr, href=printable(href),
                expected=expected or "representations/<name>/METS.xml")


def _check_title(doc: MetsDoc, mptr: etree._Element, name: str | None,
                 groups: dict[str, etree._Element | Record]) -> None:
    """CSIP108: xlink:title is the ID of the representation's file group."""
    title = mptr.get(XLINK_TITLE)
    if title is None or not title.strip():
        doc.add("CSIP108-TITLE-MISSING", mptr)
        return
    group = groups.get(title)
    if group is None or group.tag != m("fileGrp"):
        if children(doc.root, "fileSec"):  # without one, CSIP58 says why no group is named
            doc.add("CSIP108-TITLE-NOT-GROUP", mptr, value=title)
        return
    use = group.get("USE") or ""
    named = representation_name(use)
    # the single Representations group of a CSIP 1.x-style package serves every representation;
    # an mptr outside a Representations/<name> div may name any representation's group
    if use.casefold() == "representations" or (named is not None and name in (None, named)):
        return
    expected = "Representations" if name is None else f"Representations/{name}"
    doc.add("CSIP108-TITLE-WRONG-GROUP", mptr, value=title, use=use, expected=expected)
