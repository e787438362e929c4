"""A valid E-ARK SIP to break one requirement at a time, and the table-driven harness around it.

:func:`build_valid` writes a package that the validator accepts without a single finding: an
E-ARK SIP (or, with ``sip=False``, a CSIP) whose root METS (built by
:func:`tests.sip.eark_fixtures.mets_document`) also has a ``rightsMD`` and an ``mptr`` to the
representation's own METS, and whose ``representations/rep1/METS.xml`` is
:func:`tests.sip.eark_fixtures.representation_mets`. A :class:`Case` applies ONE mutation (to the
root METS, the representation METS, or the written folder), validates through
:func:`sip.validate.open_sip` and checks the expected code, its location and, where the case
says so, that no unrelated finding appears.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Finding, Report, Severity, catalogue
from sip.validate import ValidationOptions, open_sip
from tests.sip.eark_fixtures import (
    FILES,
    XLINK,
    _mdref,
    build_package,
    find,
    m,
    representation_mets,
)

SIP_NS = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
REP1 = "representations/rep1"
REP1_METS = f"{REP1}/METS.xml"
RIGHTS = "metadata/other/rights.xml"
RIGHTS_DATA = b"<rights><statement>Open</statement></rights>\n"
REPORT_DATA = FILES[f"{REP1}/data/report.txt"]
HREF = f"{{{XLINK}}}href"
XTYPE = f"{{{XLINK}}}type"

#: where the baseline's elements are (readable XPaths as the findings give them)
DMD_REF = "/mets/dmdSec/mdRef"
DIGIPROV = "/mets/amdSec/digiprovMD"
DIGIPROV_REF = f"{DIGIPROV}/mdRef"
RIGHTS_MD = "/mets/amdSec/rightsMD"
RIGHTS_REF = f"{RIGHTS_MD}/mdRef"
DOC_GROUP = "/mets/fileSec/fileGrp[1]"
DOC_FILE = f"{DOC_GROUP}/file"
REP_GROUP = "/mets/fileSec/fileGrp[3]"
MAIN_DIV = "/mets/structMap/div"
MD_DIV = f"{MAIN_DIV}/div[1]"
MPTR = f"{MAIN_DIV}/div[5]/mptr"

Mutation = Callable[[etree._Element], None]
DiskMutation = Callable[[Path], None]


def sip_attr(name: str) -> str:
    return f"{{{SIP_NS}}}{name}"


def _sip_file_formats(mets: etree._Element) -> None:
    for file in mets.iter(m("file")):
        file.set(sip_attr("FILEFORMATNAME"), "Plain Text File")
        file.set(sip_attr("FILEFORMATREGISTRY"), "PRONOM")


def alt_record(mets: etree._Element, kind: str, text: str) -> etree._Element:
    """Append a ``metsHdr/altRecordID`` of TYPE ``kind``."""
    record = etree.SubElement(find(mets, "metsHdr"), m("altRecordID"), TYPE=kind)
    record.text = text
    return record


def _sip_header(mets: etree._Element) -> None:
    mets.set("LABEL", "Records of 2024")
    alt_record(mets, "SUBMISSIONAGREEMENT", "SA-2024-01")
    alt_record(mets, "REFERENCECODE", "VN/AR-01")
    alt_record(mets, "PREVIOUSREFERENCECODE", "VN/AR-00")


def metadata_div(mets: etree._Element) -> etree._Element:
    return find(mets, "structMap/div/div")


def main_div(mets: etree._Element) -> etree._Element:
    return find(mets, "structMap/div")


def division(mets: etree._Element, label: str) -> etree._Element:
    """The child div of the main div with this LABEL."""
    found = [d for d in main_div(mets) if d.get("LABEL") == label]
    assert len(found) == 1, label
    return found[0]


def add_admin_section(mets: etree._Element, kind: str, section_id: str, href: str,
                      data: bytes, *, mdtype: str = "OTHER") -> etree._Element:
    """Add a ``kind`` section (techMD, rightsMD, sourceMD, digiprovMD) with one mdRef to the
    amdSec, in schema order, and list it in the Metadata div's ADMID; returns the mdRef."""
    amd = find(mets, "amdSec")
    order = ["techMD", "rightsMD", "sourceMD", "digiprovMD"]
    position = sum(1 for s in amd if etree.QName(s).localname in order[:order.index(kind)])
    section = etree.Element(m(kind), ID=section_id, STATUS="CURRENT")
    amd.insert(position, section)
    ref = _mdref(section, href, data, mdtype)
    if mdtype == "OTHER":
        ref.set("OTHERMDTYPE", "TEST")
    div = metadata_div(mets)
    div.set("ADMID", f"{div.get('ADMID', '')} {section_id}".strip())
    return ref


def _root_extras(mets: etree._Element) -> None:
    """What the baseline adds to mets_document: a rightsMD, and an mptr to rep1's METS."""
    add_admin_section(mets, "rightsMD", "rights-1", RIGHTS, RIGHTS_DATA, mdtype="PREMIS:RIGHTS")
    div = etree.SubElement(main_div(mets), m("div"), ID="div-rep1", LABEL="Representations/rep1")
    mptr = etree.SubElement(div, m("mptr"), LOCTYPE="URL")
    mptr.set(XTYPE, "simple")
    mptr.set(HREF, REP1_METS)
    mptr.set(f"{{{XLINK}}}title", "grp-rep1")


def build_valid(base: Path, *, sip: bool = True, root: Mutation | None = None,
                rep: Mutation | None = None, folder: str = "uuid-0001") -> Path:
    """Write the valid baseline package under ``base/<folder>``; ``root`` and ``rep`` may change
    the root and the representation METS before they are written (the root METS then declares
    the representation METS's size and checksum as mutated)."""
    rep_root = etree.fromstring(representation_mets("rep1", {"data/report.txt": REPORT_DATA}))
    if sip:
        _sip_file_formats(rep_root)
    if rep is not None:
        rep(rep_root)
    files = {**FILES, RIGHTS: RIGHTS_DATA,
             REP1_METS: etree.tostring(rep_root, xml_declaration=True, encoding="UTF-8",
                                       pretty_print=True)}

    def mutate(mets: etree._Element) -> None:
        _root_extras(mets)
        if sip:
            _sip_header(mets)
            _sip_file_formats(mets)
        if root is not None:
            root(mets)

    return build_package(base, objid="uuid-0001", folder=folder, files=files, mutate=mutate,
                         profile=SIP_PROFILE if sip else None)


def validate(package: Path, work: Path) -> Report:
    """The one SIP validator (kind detection included), without the content checks."""
    with open_sip(package, work, ValidationOptions(check_content=False)) as submission:
        return submission.report


def describe(report: Report) -> list[tuple[str, str]]:
    return [(f.code, str(f.location)) for f in report.findings]


# --- small mutations used by several tables ---------------------------------------------------

def at(mets: etree._Element, path: str) -> etree._Element:
    """The element at a METS path such as ``fileSec/fileGrp`` ("" is the root element)."""
    return find(mets, path) if path else mets


def drop(path: str, attribute: str) -> Mutation:
    """Remove ``attribute`` (a Clark name for namespaced ones) of the element at ``path``."""
    def mutate(mets: etree._Element) -> None:
        del at(mets, path).attrib[attribute]
    return mutate


def put(path: str, attribute: str, value: str) -> Mutation:
    """Set ``attribute`` of the element at ``path`` to ``value``."""
    def mutate(mets: etree._Element) -> None:
        at(mets, path).set(attribute, value)
    return mutate


def text(path: str, value: str) -> Mutation:
    """Set the text of the element at ``path``."""
    def mutate(mets: etree._Element) -> None:
        at(mets, path).text = value
    return mutate


def remove(path: str) -> Mutation:
    """Remove the element at ``path`` from its parent."""
    def mutate(mets: etree._Element) -> None:
        element = find(mets, path)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
    return mutate


def rename(old: str, new: str) -> DiskMutation:
    """Rename the package's ``old`` (file or folder) to ``new``."""
    def mutate(package: Path) -> None:
        (package / old).rename(package / new)
    return mutate


def write(rel: str, data: bytes) -> DiskMutation:
    """Write ``data`` to the package's ``rel``."""
    def mutate(package: Path) -> None:
        (package / rel).write_bytes(data)
    return mutate


def delete(*rels: str) -> DiskMutation:
    """Delete the package's files ``rels``."""
    def mutate(package: Path) -> None:
        for rel in rels:
            (package / rel).unlink()
    return mutate


def delete_tree(rel: str) -> DiskMutation:
    """Delete the package's folder ``rel`` and everything under it."""
    def mutate(package: Path) -> None:
        shutil.rmtree(package / rel)
    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(mets: etree._Element) -> None:
        for mutation in mutations:
            mutation(mets)
    return mutate


def duplicate(element: etree._Element, suffix: str) -> etree._Element:
    """A copy of ``element`` placed after it, every ID (and IDREF to a copied ID) suffixed."""
    twin = copy.deepcopy(element)
    ids = {el.get("ID") for el in twin.iter() if el.get("ID") is not None}
    for el in twin.iter():
        for key in ("ID", "FILEID", "ADMID", "DMDID"):
            value = el.get(key)
            if value is not None:
                el.set(key, " ".join(f"{v}{suffix}" if v in ids else v for v in value.split()))
    element.addnext(twin)
    return twin


# --- the table-driven harness ------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One mutation of the valid baseline and the finding it must give.

    ``path``/``xpath``: where the finding must be (``xpath=None``: not compared). ``alone``:
    the report holds ``code`` and the codes of ``also`` and nothing else; otherwise ``also`` are
    codes that must be present too. ``severity``: the finding's, when the validator overrides
    the one the message catalogue gives the code. An empty ``code`` is a variant of the
    baseline that must still give no finding at all (:func:`check_clean`).
    """

    code: str
    root: Mutation | None = None
    rep: Mutation | None = None
    disk: DiskMutation | None = None
    sip: bool = True
    path: str | None = "METS.xml"
    xpath: str | None = None
    alone: bool = False
    also: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    xfail: str = ""  # a validator bug: the reason (the case shows what should happen)
    severity: Severity | None = None

    def param(self) -> object:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        code = self.code or "clean"
        return pytest.param(self, id=f"{code}{'-' + self.name if self.name else ''}",
                            marks=marks)


def cases(*table: Case) -> list[object]:
    return [case.param() for case in table]


def run_case(case: Case, tmp_path: Path) -> Report:
    package = build_valid(tmp_path / "in", sip=case.sip, root=case.root, rep=case.rep)
    if case.disk is not None:
        case.disk(package)
    return validate(package, tmp_path / "work")


def check_clean(case: Case, tmp_path: Path) -> None:
    """Run a case without a code: the variant of the baseline gives no finding at all."""
    assert not case.code, case.code
    report = run_case(case, tmp_path)
    assert report.codes() == set(), describe(report)


def check_case(case: Case, tmp_path: Path) -> Finding:
    """Run ``case`` and assert its expectations; returns the finding at the expected place."""
    assert case.code, "a case without a code goes to check_clean"
    report = run_case(case, tmp_path)
    found = [f for f in report.findings if f.code == case.code]
    assert found, (case.code, describe(report))
    at = [f for f in found if f.location.path == case.path
          and (case.xpath is None or f.location.xpath == case.xpath)]
    assert at, (case.code, case.path, case.xpath, [str(f.location) for f in found])
    severity = case.severity or catalogue()[case.code].severity
    assert all(f.severity is severity for f in at), (severity, [f.severity for f in at])
    if case.alone:
        assert report.codes() == {case.code} | case.also, describe(report)
    else:
        assert case.also <= report.codes(), (case.also, describe(report))
    return at[0]

