"""CSIP rules on the structural map (CSIP80–CSIP104, CSIP116–CSIP119).

The CSIP ``structMap`` (``LABEL="CSIP"``, exactly one) has one main ``div`` labelled with the
package's OBJID, holding a ``Metadata`` div that points to every metadata section (ADMID, DMDID)
and ``Documentation``, ``Schemas`` and ``Representations`` divs, each with an ID, whose
``fptr/@FILEID`` point to the file groups of the same use. A representation may instead have its
own div ``Representations/<name>`` with an ``mptr`` to its METS file (the form commons-ip writes):
:mod:`sip.eark_repdivs` checks those (CSIP106–CSIP112).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from preservation.diskmap import DiskMap
from preservation.findings import Severity
from preservation.spooled import KEEP as SPOOL_KEEP
from sip.eark_model import XLINK_TITLE, MetsDoc, children, m
from sip.eark_repdivs import check_mptrs, check_representation_divs, representation_name
from sip.mets_stream import Record
from sip.sorted_lookup import SortedLookup

_ADMIN_TAGS = tuple(m(k) for k in ("techMD", "rightsMD", "sourceMD", "digiprovMD"))
#: metadata section IDs kept in memory (the rest in a DiskMap's database); a test may lower it
KEEP = SPOOL_KEEP


@dataclass(frozen=True)
class _Division:
    label: str
    div: str  # requirement of the div itself
    ident: str  # requirement: the div has an ID
    fptr: str  # requirement: the div points to the groups
    fileid: str  # requirement: each fptr/@FILEID names a group of this use
    missing: Severity  # severity when the groups exist but the div does not


_DIVISIONS = (
    _Division("Documentation", "CSIP93", "CSIP94", "CSIP96", "CSIP116", Severity.ERROR),
    _Division("Schemas", "CSIP97", "CSIP98", "CSIP100", "CSIP118", Severity.WARNING),
    _Division("Representations", "CSIP101", "CSIP102", "CSIP104", "CSIP119", Severity.ERROR),
)


def check_struct_map(doc: MetsDoc) -> None:
    maps = children(doc.root, "structMap")
    csip_maps = [s for s in maps if s.get("LABEL") == "CSIP"]
    if not csip_maps:
        # CSIP 1.x wrote LABEL="CSIP StructMap": accept it with a warning rather than
        # reporting the whole structural map as missing
        csip_maps = [s for s in maps if (s.get("LABEL") or "").upper().startswith("CSIP")][:1]
        if not csip_maps:
            doc.add("CSIP80-STRUCTMAP-MISSING", doc.root)
            return
        doc.add("CSIP82-LABEL-NOT-CSIP", csip_maps[0], value=csip_maps[0].get("LABEL"))
    if len(csip_maps) > 1:
        doc.add("CSIP80-STRUCTMAP-REPEATED", csip_maps[1], count=len(csip_maps))
    struct_map = csip_maps[0]
    if struct_map.get("TYPE") != "PHYSICAL":
        doc.add("CSIP81-TYPE-NOT-PHYSICAL", struct_map, value=struct_map.get("TYPE") or "")
    if struct_map.get("ID") is None:
        doc.add("CSIP83-ID-MISSING", struct_map)
    check_mptrs(doc, struct_map)
    for fptr in doc.mets.walk(struct_map, m("fptr")):
        target = fptr.get("FILEID")
        if target is not None and target not in doc.ids:
            doc.add("EARK-FPTR-DANGLING", fptr, value=target)
    divs = children(struct_map, "div")
    if len(divs) != 1:
        doc.add("CSIP84-DIV-COUNT", struct_map, count=len(divs))
    if not divs:
        return
    main = divs[0]
    if main.get("ID") is None:
        doc.add("CSIP85-ID-MISSING", main)
    label = main.get("LABEL")
    objid = doc.root.get("OBJID")
    if label is None:
        doc.add("CSIP86-LABEL-MISSING", main)
    elif objid and label != objid:
        doc.add("CSIP86-LABEL-NOT-OBJID", main, value=label, objid=objid)
    _check_metadata_div(doc, main)
    named: list[set[str]] = []  # see _named: made once for the three divisions
    for division in _DIVISIONS:
        _check_division(doc, main, division, named)
    check_representation_divs(doc, main)


def _check_metadata_div(doc: MetsDoc, main: etree._Element) -> None:
    divs = [d for d in children(main, "div") if d.get("LABEL") == "Metadata"]
    if not divs:
        doc.add("CSIP88-METADATA-DIV-MISSING", main)
        return
    if len(divs) > 1:
        doc.add("CSIP88-METADATA-DIV-REPEATED", divs[1], count=len(divs))
    for div in divs:
        if div.get("ID") is None:
            doc.add("CSIP89-ID-MISSING", div)
    div = divs[0]
    for attribute, requirement, tags in (("ADMID", "CSIP91", _ADMIN_TAGS),
                                         ("DMDID", "CSIP92", None)):
        # one per metadata section (a dmdSec per document): sorted, in a DiskMap
        wanted: DiskMap[None] = DiskMap(keep=KEEP, order="key", what="metadata section ID")
        listed: DiskMap[None] = DiskMap(keep=KEEP, order="key", what="metadata section ID")
        try:
            sections = (doc.mets.walk(None, *tags) if tags is not None
                        else doc.mets.children(doc.root, "dmdSec"))
            wanted.update((str(value), None) for section in sections
                          if (value := section.get("ID")))
            _check_listed(doc, div, attribute, requirement, wanted, listed)
        finally:
            wanted.close()
            listed.close()


def _check_listed(doc: MetsDoc, div: etree._Element, attribute: str, requirement: str,
                  wanted: DiskMap[None], listed: DiskMap[None]) -> None:
    """CSIP91 / CSIP92: ``div/@attribute`` lists exactly the IDs ``wanted``."""
    value = div.get(attribute)
    if value is None:
        if wanted:
            doc.add(f"{requirement}-{attribute}-MISSING", div, count=len(wanted))
        return
    listed.update((token, None) for token in value.split())
    # both sorted: on disk, one walk of each answers the lookups of the other (no query each)
    in_listed = SortedLookup(listed)
    missing = [token for token in wanted if token not in in_listed]
    if missing:
        doc.add(f"{requirement}-{attribute}-INCOMPLETE", div, missing=" ".join(missing))
    if listed.on_disk:
        in_wanted = SortedLookup(wanted)
        unwanted = {token for token in listed if token not in in_wanted}
        extra = [token for token in value.split() if token in unwanted]
    else:
        extra = [token for token in value.split() if token not in wanted]
    if extra:
        doc.add(f"{requirement}-{attribute}-WRONG-TARGET", div, value=" ".join(extra))


def _uses_of(doc: MetsDoc, targets: set[str]) -> dict[str, str | None]:
    """USE of the file group that each ID of ``targets`` is (or of the group holding that file)."""
    uses: dict[str, str | None] = {}
    for target, found in doc.elements_by_id(targets).items():
        element: etree._Element | Record | None = found
        while element is not None and element.tag != m("fileGrp"):
            element = element.getparent()
        uses[target] = None if element is None else element.get("USE")
    return uses


def _matches(use: str | None, label: str) -> bool:
    if use is None:
        return False
    folded = use.casefold()
    return folded == label.casefold() or (
        label == "Representations" and representation_name(use) is not None)


def _named(doc: MetsDoc, main: etree._Element, made: list[set[str]]) -> set[str]:
    """What any fptr inside the main div names, and any mptr's xlink:title (the ID of the
    representation's file group, CSIP108): read in one walk, kept in ``made``."""
    if not made:
        fptr = m("fptr")
        made.append({(element.get("FILEID") if element.tag == fptr
                      else element.get(XLINK_TITLE)) or ""
                     for element in doc.mets.walk(main, fptr, m("mptr"))})
    return made[0]


def _check_division(doc: MetsDoc, main: etree._Element, division: _Division,
                    named: list[set[str]]) -> None:
    label = division.label
    groups = [g for g in doc.root.iter(m("fileGrp")) if _matches(g.get("USE"), label)]
    divs = [d for d in children(main, "div") if d.get("LABEL") == label]
    own_divs = [d for d in children(main, "div")
                if label == "Representations" and representation_name(d.get("LABEL")) is not None]
    if len(divs) > 1:
        doc.add(f"{division.div}-DIV-REPEATED", divs[1], count=len(divs))
    for div in divs:
        if div.get("ID") is None:
            doc.add(f"{division.ident}-ID-MISSING", div)
    # only an fptr directly in the div must point to a group of its use; nested divs (e.g. a
    # representation's own schemas inside Representations) may point anywhere
    direct = [f for d in divs + own_divs for f in children(d, "fptr")]
    pointed: set[str] = set()
    uses = _uses_of(doc, {target for fptr in direct
                          if (target := fptr.get("FILEID") or "") in doc.ids})
    for fptr in direct:
        target = fptr.get("FILEID") or ""
        if target not in doc.ids:
            continue  # EARK-FPTR-DANGLING already
        use = uses.get(target)
        if not _matches(use, label):
            doc.add(f"{division.fileid}-FILEID-WRONG-GROUP", fptr, value=target,
                    use=use or "")
        else:
            pointed.add(target)
    if not groups:
        return
    anywhere = _named(doc, main, named)
    uncovered = [g for g in groups
                 if g.get("ID") not in anywhere and not _covered(doc, g, anywhere)]
    if not divs and not own_divs:
        doc.add(f"{division.div}-DIV-MISSING", main, severity=division.missing)
    if uncovered and not pointed:
        doc.add(f"{division.fptr}-FPTR-MISSING", (divs or [main])[0])
    for group in uncovered:
        doc.add(f"{division.fileid}-FILEID-MISSING", group, group_id=group.get("ID") or "",
                use=group.get("USE") or "")


def _covered(doc: MetsDoc, group: etree._Element, pointed: set[str]) -> bool:
    """A group counts as pointed to when an fptr names it, one of its files, or a parent group."""
    if any(f.get("ID") in pointed for f in doc.mets.walk(group, m("file"))):
        return True
    parent = group.getparent()
    while parent is not None and parent.tag == m("fileGrp"):
        if parent.get("ID") in pointed:
            return True
        parent = parent.getparent()
    return False
