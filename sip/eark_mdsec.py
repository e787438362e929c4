"""CSIP rules on the metadata sections: ``dmdSec`` (CSIP17–CSIP30) and ``amdSec`` with its
``digiprovMD`` and ``rightsMD`` (CSIP31–CSIP57).

A section that should exist is a warning when absent (CSIP17, CSIP31 and CSIP32 are SHOULD
rules) but an error when the package holds metadata files it does not describe: files in
``metadata/descriptive`` without a ``dmdSec``, files in ``metadata/preservation`` without an
``amdSec``/``digiprovMD``.
"""

from __future__ import annotations

import posixpath

from lxml import etree

from sip.eark_attrs import SECTION_RULES, check_file_attributes, check_locator
from sip.eark_model import STATUS_VALUES, MetsDoc, SectionKind, children, m
from sip.mets_stream import Record
from sip.package import PackageTree

_ADMIN_SECTIONS: tuple[SectionKind, ...] = ("techMD", "rightsMD", "sourceMD", "digiprovMD")
#: requirement ids of (STATUS, mdRef) per section
_SECTION_IDS = {"dmdSec": ("CSIP20", "CSIP21"), "digiprovMD": ("CSIP34", "CSIP35"),
                "rightsMD": ("CSIP47", "CSIP48")}


def _has_files(tree: PackageTree, doc: MetsDoc, folder: str) -> bool:
    path = posixpath.join(doc.base, folder) if doc.base else folder
    return next(tree.under(path), None) is not None


def check_metadata_sections(doc: MetsDoc, tree: PackageTree) -> None:
    root = doc.root
    if not doc.mets.count(root, "dmdSec") and _has_files(tree, doc, "metadata/descriptive"):
        doc.add("CSIP17-DMDSEC-MISSING", root, folder=_folder(doc, "metadata/descriptive"))
    for section in doc.mets.children(root, "dmdSec"):
        if section.get("CREATED") is None:
            doc.add("CSIP19-CREATED-MISSING", section)
        _check_section(doc, section, "dmdSec")

    admin = [s for amd in children(root, "amdSec") for s in amd
             if isinstance(s.tag, str) and s.tag in {m(k) for k in _ADMIN_SECTIONS}]
    preservation_files = _has_files(tree, doc, "metadata/preservation")
    if not admin:
        if preservation_files:
            doc.add("CSIP31-AMDSEC-MISSING-WITH-FILES", root,
                    folder=_folder(doc, "metadata/preservation"))
        elif doc.is_root:
            doc.add("CSIP31-AMDSEC-MISSING", root)
    digiprov = [s for s in admin if s.tag == m("digiprovMD")]
    if not any(children(s, "mdRef") or children(s, "mdWrap") for s in digiprov):
        if preservation_files:
            doc.add("CSIP32-DIGIPROVMD-MISSING-WITH-FILES", root,
                    folder=_folder(doc, "metadata/preservation"))
        elif doc.is_root:
            doc.add("CSIP32-DIGIPROVMD-MISSING", root)
    for section in admin:
        kind = etree.QName(section).localname
        _check_section(doc, section, kind)  # type: ignore[arg-type]


def _folder(doc: MetsDoc, folder: str) -> str:
    return posixpath.join(doc.base, folder) if doc.base else folder


def _check_section(doc: MetsDoc, section: etree._Element | Record, kind: SectionKind) -> None:
    ids = _SECTION_IDS.get(kind)
    if ids is not None:
        status_id, mdref_id = ids
        status = section.get("STATUS")
        if status is None:
            doc.add(f"{status_id}-STATUS-MISSING", section)
        elif status not in STATUS_VALUES:
            doc.add(f"{status_id}-STATUS-UNKNOWN", section, value=status)
        if not children(section, "mdRef") and not children(section, "mdWrap"):
            doc.add(f"{mdref_id}-MDREF-MISSING", section)
    rules = SECTION_RULES[kind]
    for ref in children(section, "mdRef"):
        check_locator(doc, ref, kind, rules)
        check_file_attributes(doc, ref, rules)
