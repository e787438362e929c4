"""CSIP17–CSIP57: the metadata sections (dmdSec, amdSec/digiprovMD, amdSec/rightsMD) and the
reference rules of techMD/sourceMD (EARK-*), one mutation of a valid E-ARK SIP per case (see
tests/sip/eark_mutations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Severity
from tests.sip.eark_mutations import (
    DIGIPROV,
    DIGIPROV_REF,
    DMD_REF,
    HREF,
    RIGHTS,
    RIGHTS_MD,
    RIGHTS_REF,
    XTYPE,
    Case,
    Mutation,
    add_admin_section,
    both,
    cases,
    check_case,
    delete,
    drop,
    metadata_div,
    put,
    remove,
)

SCHEMA = frozenset({"EARK-METS-SCHEMA"})
ORPHAN = frozenset({"EARK-FILE-ORPHAN"})
NOTHING: frozenset[str] = frozenset()
PREMIS = "metadata/preservation/premis.xml"


def _mutation(rule: str, path: str) -> tuple[Mutation, frozenset[str]]:
    """The mutation of the mdRef at ``path`` that breaks ``rule`` (a code without its
    requirement id, e.g. ``SIZE-MISMATCH``), and the other codes it must give."""
    return {
        "LOCTYPE-MISSING": (drop(path, "LOCTYPE"), SCHEMA),
        # a reference that is not a URL is not followed: its file is then unreferenced
        "LOCTYPE-NOT-URL": (put(path, "LOCTYPE", "URN"), ORPHAN),
        "XLINK-TYPE-MISSING": (drop(path, XTYPE), NOTHING),
        "XLINK-TYPE-NOT-SIMPLE": (put(path, XTYPE, "extended"), SCHEMA),
        "HREF-MISSING": (drop(path, HREF), ORPHAN),
        "HREF-UNSAFE": (put(path, HREF, "../../../etc/passwd"), ORPHAN),
        "HREF-NOT-LOCAL": (put(path, HREF, "https://example.org/md.xml"), ORPHAN),
        "HREF-NOT-FOUND": (put(path, HREF, "metadata/missing.xml"), ORPHAN),
        "MDTYPE-MISSING": (drop(path, "MDTYPE"), SCHEMA),
        "MIMETYPE-MISSING": (drop(path, "MIMETYPE"), NOTHING),
        "MIMETYPE-INVALID": (put(path, "MIMETYPE", "application/wrongmimetype"), NOTHING),
        "MIMETYPE-TOO-LONG": (put(path, "MIMETYPE", "application/x-" + "a" * 300), NOTHING),
        "SIZE-MISSING": (drop(path, "SIZE"), NOTHING),
        "SIZE-MISMATCH": (put(path, "SIZE", "999"), NOTHING),
        "CREATED-MISSING": (drop(path, "CREATED"), NOTHING),
        "CHECKSUM-MISSING": (drop(path, "CHECKSUM"), NOTHING),
        "CHECKSUM-MISMATCH": (put(path, "CHECKSUM", "0" * 64), NOTHING),
        "CHECKSUMTYPE-MISSING": (drop(path, "CHECKSUMTYPE"), NOTHING),
    }[rule]


def _reference_cases(section: str, path: str, xpath: str, codes: tuple[str, ...]
                     ) -> list[Case]:
    """One case per code: the mdRef of ``section`` at ``path`` broken for that rule."""
    table = []
    for code in codes:
        mutation, also = _mutation(code.split("-", 1)[1], path)
        table.append(Case(code, root=mutation, xpath=xpath, alone=True, also=also, name=section))
    return table


#: the same rules, one requirement id per section (CSIP22–30, CSIP36–44, CSIP49–57)
REFERENCES = cases(
    *_reference_cases("dmdSec", "dmdSec/mdRef", DMD_REF, (
        "CSIP22-LOCTYPE-MISSING", "CSIP22-LOCTYPE-NOT-URL", "CSIP23-XLINK-TYPE-MISSING",
        "CSIP23-XLINK-TYPE-NOT-SIMPLE", "CSIP24-HREF-MISSING", "CSIP24-HREF-UNSAFE",
        "CSIP24-HREF-NOT-LOCAL", "CSIP24-HREF-NOT-FOUND", "CSIP25-MDTYPE-MISSING",
        "CSIP26-MIMETYPE-MISSING", "CSIP26-MIMETYPE-INVALID", "CSIP26-MIMETYPE-TOO-LONG",
        "CSIP27-SIZE-MISSING", "CSIP27-SIZE-MISMATCH", "CSIP28-CREATED-MISSING",
        "CSIP29-CHECKSUM-MISSING", "CSIP29-CHECKSUM-MISMATCH", "CSIP30-CHECKSUMTYPE-MISSING")),
    *_reference_cases("digiprovMD", "amdSec/digiprovMD/mdRef", DIGIPROV_REF, (
        "CSIP36-LOCTYPE-MISSING", "CSIP36-LOCTYPE-NOT-URL", "CSIP37-XLINK-TYPE-MISSING",
        "CSIP37-XLINK-TYPE-NOT-SIMPLE", "CSIP38-HREF-MISSING", "CSIP38-HREF-UNSAFE",
        "CSIP38-HREF-NOT-LOCAL", "CSIP38-HREF-NOT-FOUND", "CSIP39-MDTYPE-MISSING",
        "CSIP40-MIMETYPE-MISSING", "CSIP40-MIMETYPE-INVALID", "CSIP40-MIMETYPE-TOO-LONG",
        "CSIP41-SIZE-MISSING", "CSIP41-SIZE-MISMATCH", "CSIP42-CREATED-MISSING",
        "CSIP43-CHECKSUM-MISSING", "CSIP43-CHECKSUM-MISMATCH", "CSIP44-CHECKSUMTYPE-MISSING")),
    *_reference_cases("rightsMD", "amdSec/rightsMD/mdRef", RIGHTS_REF, (
        "CSIP49-LOCTYPE-MISSING", "CSIP49-LOCTYPE-NOT-URL", "CSIP50-XLINK-TYPE-MISSING",
        "CSIP50-XLINK-TYPE-NOT-SIMPLE", "CSIP51-HREF-MISSING", "CSIP51-HREF-UNSAFE",
        "CSIP51-HREF-NOT-LOCAL", "CSIP51-HREF-NOT-FOUND", "CSIP52-MDTYPE-MISSING",
        "CSIP53-MIMETYPE-MISSING", "CSIP53-MIMETYPE-INVALID", "CSIP53-MIMETYPE-TOO-LONG",
        "CSIP54-SIZE-MISSING", "CSIP54-SIZE-MISMATCH", "CSIP55-CREATED-MISSING",
        "CSIP56-CHECKSUM-MISSING", "CSIP56-CHECKSUM-MISMATCH", "CSIP57-CHECKSUMTYPE-MISSING")),
)


def without_admin(*ids: str) -> Mutation:
    """The Metadata div's ADMID without ``ids``."""
    def mutate(mets: etree._Element) -> None:
        div = metadata_div(mets)
        div.set("ADMID", " ".join(t for t in (div.get("ADMID") or "").split() if t not in ids))
    return mutate


def no_admid(mets: etree._Element) -> None:
    del metadata_div(mets).attrib["ADMID"]


SECTIONS = cases(
    # CSIP19 dmdSec/@CREATED, CSIP20/34/47 @STATUS, CSIP21/35/48 mdRef
    Case("CSIP19-CREATED-MISSING", root=drop("dmdSec", "CREATED"), xpath="/mets/dmdSec",
         alone=True),
    Case("CSIP20-STATUS-UNKNOWN", root=put("dmdSec", "STATUS", "OLD"), xpath="/mets/dmdSec",
         alone=True),
    Case("CSIP21-MDREF-MISSING", root=remove("dmdSec/mdRef"), xpath="/mets/dmdSec",
         alone=True, also=ORPHAN),
    Case("CSIP34-STATUS-MISSING", root=drop("amdSec/digiprovMD", "STATUS"), xpath=DIGIPROV,
         alone=True),
    Case("CSIP34-STATUS-UNKNOWN", root=put("amdSec/digiprovMD", "STATUS", "OLD"),
         xpath=DIGIPROV, alone=True),
    Case("CSIP35-MDREF-MISSING", root=remove("amdSec/digiprovMD/mdRef"), xpath=DIGIPROV,
         alone=True, also=ORPHAN | {"CSIP32-DIGIPROVMD-MISSING-WITH-FILES"}),
    Case("CSIP47-STATUS-MISSING", root=drop("amdSec/rightsMD", "STATUS"), xpath=RIGHTS_MD,
         alone=True),
    Case("CSIP47-STATUS-UNKNOWN", root=put("amdSec/rightsMD", "STATUS", "OLD"),
         xpath=RIGHTS_MD, alone=True),
    Case("CSIP48-MDREF-MISSING", root=remove("amdSec/rightsMD/mdRef"), xpath=RIGHTS_MD,
         alone=True, also=ORPHAN),
    # CSIP31 amdSec, CSIP32 digiprovMD: SHOULD, an error when metadata/preservation has files
    Case("CSIP31-AMDSEC-MISSING-WITH-FILES", root=both(remove("amdSec"), no_admid),
         xpath="/mets", alone=True,
         also=ORPHAN | {"CSIP32-DIGIPROVMD-MISSING-WITH-FILES"}),
    Case("CSIP31-AMDSEC-MISSING", root=both(remove("amdSec"), no_admid),
         disk=delete(PREMIS, RIGHTS), xpath="/mets", alone=True,
         also=frozenset({"CSIP32-DIGIPROVMD-MISSING"})),
    Case("CSIP32-DIGIPROVMD-MISSING-WITH-FILES",
         root=both(remove("amdSec/digiprovMD"), without_admin("digiprov-1")), xpath="/mets",
         alone=True, also=ORPHAN),
    Case("CSIP32-DIGIPROVMD-MISSING",
         root=both(remove("amdSec/digiprovMD"), without_admin("digiprov-1")),
         disk=delete(PREMIS), xpath="/mets", alone=True),
)


def tech_md(*mutations: Mutation, kind: str = "techMD") -> Mutation:
    """Add a ``kind`` section referencing the PREMIS file, then apply ``mutations`` to it."""
    def mutate(mets: etree._Element) -> None:
        add_admin_section(mets, kind, "other-1", PREMIS, b"<premis/>\n")
        for mutation in mutations:
            mutation(mets)
    return mutate


TECH = "amdSec/techMD/mdRef"
SOURCE = "amdSec/sourceMD/mdRef"
OTHER_SECTIONS = cases(
    # techMD and sourceMD have no CSIP requirement of their own: their references are still
    # resolved and verified (EARK-*)
    Case("EARK-HREF-MISSING", root=tech_md(drop(TECH, HREF)), xpath="/mets/amdSec/techMD/mdRef",
         alone=True),
    Case("EARK-HREF-UNSAFE", root=tech_md(put(TECH, HREF, "../premis.xml")),
         xpath="/mets/amdSec/techMD/mdRef", alone=True),
    Case("EARK-HREF-NOT-LOCAL", root=tech_md(put(SOURCE, HREF, "https://example.org/s.xml"),
                                             kind="sourceMD"),
         xpath="/mets/amdSec/sourceMD/mdRef", alone=True),
    Case("EARK-HREF-NOT-FOUND", root=tech_md(put(SOURCE, HREF, "metadata/source.xml"),
                                             kind="sourceMD"),
         xpath="/mets/amdSec/sourceMD/mdRef", alone=True),
    Case("EARK-SIZE-MISMATCH", root=tech_md(put(TECH, "SIZE", "11")),
         xpath="/mets/amdSec/techMD/mdRef", alone=True),
    Case("EARK-CHECKSUM-MISMATCH", root=tech_md(put(TECH, "CHECKSUM", "F" * 64)),
         xpath="/mets/amdSec/techMD/mdRef", alone=True),
    # a checksum algorithm the validator cannot compute: not checked, said so
    Case("EARK-CHECKSUM-NOT-CHECKED", root=put("dmdSec/mdRef", "CHECKSUMTYPE", "CRC32"),
         xpath=DMD_REF, alone=True),
)


@pytest.mark.parametrize("case", REFERENCES)
def test_metadata_reference(case: Case, tmp_path: Path) -> None:
    finding = check_case(case, tmp_path)
    assert finding.requirement == case.code.split("-", 1)[0]


@pytest.mark.parametrize("case", SECTIONS)
def test_metadata_section(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", OTHER_SECTIONS)
def test_technical_and_source_metadata_references(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


def test_metadata_section_shoulds_are_warnings_and_musts_errors(tmp_path: Path) -> None:
    missing = check_case(Case("CSIP32-DIGIPROVMD-MISSING", root=both(
        remove("amdSec/digiprovMD"), without_admin("digiprov-1")), disk=delete(PREMIS),
        xpath="/mets"), tmp_path / "a")
    assert missing.severity is Severity.WARNING
    with_files = check_case(Case("CSIP32-DIGIPROVMD-MISSING-WITH-FILES", root=both(
        remove("amdSec/digiprovMD"), without_admin("digiprov-1")), xpath="/mets"),
        tmp_path / "b")
    assert with_files.severity is Severity.ERROR
    assert with_files.params["folder"] == "metadata/preservation"


def test_checksum_not_checked_names_the_algorithm(tmp_path: Path) -> None:
    finding = check_case(Case("EARK-CHECKSUM-NOT-CHECKED", root=put(
        "dmdSec/mdRef", "CHECKSUMTYPE", "CRC32"), xpath=DMD_REF), tmp_path)
    assert finding.severity is Severity.NOT_CHECKED
    assert finding.params == {"file": "metadata/descriptive/dc.xml", "algorithm": "CRC32"}

