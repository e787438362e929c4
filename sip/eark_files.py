"""CSIP rules on the file section (CSIP58–CSIP79) and the SIP file-format attributes
(SIP32, SIP34).

``fileGrp/@USE`` (CSIP64) names a folder of the package: one of the CSIP words (Documentation,
Schemas, Representations, and in a representation METS Data/Metadata), or a path such as
``Representations/rep1`` that must exist as a folder (compared without regard to case, as the
examples of the specification write ``Representations`` for ``representations/``).
"""

from __future__ import annotations

import posixpath

from lxml import etree

from sip.eark_attrs import SECTION_RULES, check_file_attributes, check_locator
from sip.eark_model import (
    CONTENT_INFORMATION_TYPES,
    MetsDoc,
    children,
    csip,
    m,
    sipattr,
)
from sip.mets_stream import Record
from sip.package import PackageTree

_USE_WORDS = frozenset({"documentation", "schemas", "representations", "data", "metadata"})
_TT05_USE_WORDS = frozenset({"holeyfile"})
_ADMIN_TAGS = frozenset(m(k) for k in ("amdSec", "techMD", "rightsMD", "sourceMD", "digiprovMD"))
_SIP_FORMAT_RULES = (("FILEFORMATNAME", "SIP32"), ("FILEFORMATREGISTRY", "SIP34"))


def check_file_section(doc: MetsDoc, tree: PackageTree) -> None:
    sections = children(doc.root, "fileSec")
    if not sections:
        doc.add("CSIP58-FILESEC-MISSING", doc.root)
        return
    file_sec = sections[0]
    if file_sec.get("ID") is None:
        doc.add("CSIP59-ID-MISSING", file_sec)
    admin_ids = {el.get("ID") for el in doc.mets.walk(None, *_ADMIN_TAGS)}
    folders = {d.casefold() for d in tree.tree.dirs}
    for group in file_sec.iter(m("fileGrp")):
        _check_group(doc, group, folders, admin_ids)
    #: per gap: the first file that has it, and how many do
    format_gaps: dict[tuple[str, str], tuple[etree._Element | Record, int]] = {}
    for element in doc.mets.walk(file_sec, m("file")):
        check_file_attributes(doc, element, SECTION_RULES["file"])
        for token in (element.get("ADMID") or "").split():
            if token not in admin_ids:
                doc.add("CSIP74-ADMID-NOT-AMD", element, value=token)
        locators = children(element, "FLocat")
        if len(locators) != 1:
            doc.add("CSIP76-FLOCAT-COUNT", element, count=len(locators))
        for locator in locators:
            check_locator(doc, locator, "file", SECTION_RULES["FLocat"])
        if doc.is_sip:
            for attribute, requirement in _SIP_FORMAT_RULES:
                value = element.get(sipattr(attribute))
                gap = "MISSING" if value is None else "EMPTY" if not value.strip() else ""
                if gap:
                    first, count = format_gaps.get((requirement, gap), (element, 0))
                    format_gaps[(requirement, gap)] = (first, count + 1)
    for (requirement, gap), (first, count) in format_gaps.items():
        attribute = dict((r, a) for a, r in _SIP_FORMAT_RULES)[requirement]
        doc.add(f"{requirement}-{attribute}-{gap}", first, count=count)


def _check_group(doc: MetsDoc, group: etree._Element, folders: set[str],
                 admin_ids: set[str | None]) -> None:
    use = group.get("USE")
    if use is None:
        doc.add("CSIP64-USE-MISSING", group)
    else:
        _check_use(doc, group, use, folders)
    if group.get("ID") is None:
        doc.add("CSIP65-ID-MISSING", group)
    if doc.is_root and use is not None and use.casefold().split("/", 1)[0] == "representations":
        value = group.get(csip("CONTENTINFORMATIONTYPE"))
        if value is None or not value.strip():
            doc.add("CSIP62-CONTENTINFORMATIONTYPE-MISSING", group)
        elif value not in CONTENT_INFORMATION_TYPES:
            doc.add("CSIP62-CONTENTINFORMATIONTYPE-UNKNOWN", group, value=value)
        elif value == "OTHER" and not (group.get(csip("OTHERCONTENTINFORMATIONTYPE"))
                                       or "").strip():
            doc.add("CSIP63-OTHERCONTENTINFORMATIONTYPE-MISSING", group)
    for token in (group.get("ADMID") or "").split():
        if token not in admin_ids:
            doc.add("CSIP61-ADMID-NOT-AMD", group, value=token)
    if not doc.mets.count(group, "file") and not children(group, "fileGrp"):
        doc.add("CSIP66-FILE-MISSING", group)


def _check_use(doc: MetsDoc, group: etree._Element, use: str, folders: set[str]) -> None:
    words = _USE_WORDS | _TT05_USE_WORDS if doc.tt05 else _USE_WORDS
    folded = use.strip().casefold()
    folder = (posixpath.normpath(posixpath.join(doc.base, folded)) if doc.base else
              posixpath.normpath(folded or ".")).casefold()
    if "/" in folded:
        if folder not in folders:
            doc.add("CSIP64-USE-FOLDER-MISSING", group, value=use)
        return
    if folded in words or folder in folders:
        return
    doc.add("CSIP64-USE-UNKNOWN", group, value=use)
