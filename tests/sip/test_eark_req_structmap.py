"""CSIP80–CSIP119: the structural map of the root METS (divs, fptr, mptr), one mutation of a
valid E-ARK SIP per case (see tests/sip/eark_mutations.py).

Requirement ids are CSIP 2.0.4's: for the mptr, CSIP108 is its xlink:title (the representation's
file group), CSIP109 the mptr itself (one, pointing to the representation's METS), CSIP110
xlink:href, CSIP111 xlink:type and CSIP112 LOCTYPE.

The baseline's main div holds, in order: [1] Metadata, [2] Documentation, [3] Schemas,
[4] Representations (fptr to the rep1 group) and [5] Representations/rep1 (mptr to its METS).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Severity
from tests.sip.eark_fixtures import METS, XLINK, find
from tests.sip.eark_mutations import (
    HREF,
    MAIN_DIV,
    MD_DIV,
    MPTR,
    REP1_METS,
    XTYPE,
    Case,
    Mutation,
    both,
    build_valid,
    cases,
    check_case,
    check_clean,
    describe,
    division,
    drop,
    duplicate,
    put,
    remove,
    validate,
)

SCHEMA = frozenset({"EARK-METS-SCHEMA"})
MD = "structMap/div/div[1]"
DOC = "structMap/div/div[2]"
SCHEMAS = "structMap/div/div[3]"
REPS = "structMap/div/div[4]"
REP_DIV = "structMap/div/div[5]"
REP_DIV_XPATH = f"{MAIN_DIV}/div[5]"
MPTR_PATH = f"{REP_DIV}/mptr"
TITLE = f"{{{XLINK}}}title"


def twin(path: str) -> Mutation:
    """A copy of the element at ``path`` right after it (IDs suffixed to stay unique)."""
    def mutate(mets: etree._Element) -> None:
        duplicate(find(mets, path), "-2")
    return mutate


def relabel(label: str, new: str) -> Mutation:
    def mutate(mets: etree._Element) -> None:
        division(mets, label).set("LABEL", new)
    return mutate


def representations_div_mptr(mets: etree._Element) -> None:
    """The older form (corpus CSIP4 rep_mets_csip_CONTENTINFORMATIONTYPE_not_exist): no
    Representations/rep1 div; the Representations div points with an mptr, not an fptr."""
    remove(REP_DIV)(mets)
    fptr = find(mets, f"{REPS}/fptr")
    mptr = etree.Element(f"{{{METS}}}mptr", LOCTYPE="URL")
    mptr.set(XTYPE, "simple")
    mptr.set(HREF, REP1_METS)
    mptr.set(TITLE, "grp-rep1")
    fptr.addprevious(mptr)
    remove(f"{REPS}/fptr")(mets)


def second_dmd_sec(mets: etree._Element) -> None:
    """A second dmdSec (dmd-1-2) that the Metadata div does not list."""
    duplicate(find(mets, "dmdSec"), "-2")


MAP = cases(
    # CSIP80 one structMap LABEL="CSIP", CSIP81 TYPE, CSIP82 LABEL, CSIP83 ID
    Case("CSIP80-STRUCTMAP-MISSING", root=remove("structMap"), xpath="/mets", alone=True,
         also=SCHEMA),
    Case("CSIP80-STRUCTMAP-MISSING", name="representation", rep=remove("structMap"),
         path=REP1_METS, xpath="/mets", alone=True, also=SCHEMA),
    Case("CSIP80-STRUCTMAP-REPEATED", root=twin("structMap"), xpath="/mets/structMap[2]",
         alone=True),
    Case("CSIP81-TYPE-NOT-PHYSICAL", root=put("structMap", "TYPE", "LOGICAL"),
         xpath="/mets/structMap", alone=True),
    Case("CSIP82-LABEL-NOT-CSIP", root=put("structMap", "LABEL", "CSIP StructMap"),
         xpath="/mets/structMap", alone=True),
    Case("CSIP83-ID-MISSING", root=drop("structMap", "ID"), xpath="/mets/structMap",
         alone=True),
    # CSIP84 one main div, CSIP85 its ID, CSIP86 its LABEL
    Case("CSIP84-DIV-COUNT", root=twin("structMap/div"), xpath="/mets/structMap", alone=True,
         also=SCHEMA),
    Case("CSIP85-ID-MISSING", root=drop("structMap/div", "ID"), xpath=MAIN_DIV, alone=True),
    Case("CSIP86-LABEL-MISSING", root=drop("structMap/div", "LABEL"), xpath=MAIN_DIV,
         alone=True),
)

METADATA_DIV = cases(
    # CSIP88 one Metadata div, CSIP89 its ID, CSIP91 ADMID and CSIP92 DMDID list every section
    Case("CSIP88-METADATA-DIV-MISSING", root=relabel("Metadata", "Meta"), xpath=MAIN_DIV,
         alone=True),
    Case("CSIP88-METADATA-DIV-REPEATED", root=twin(MD), xpath=f"{MAIN_DIV}/div[2]",
         alone=True),
    Case("CSIP89-ID-MISSING", root=drop(MD, "ID"), xpath=MD_DIV, alone=True),
    Case("CSIP89-ID-MISSING", name="second-div", root=both(twin(MD), drop(DOC, "ID")),
         xpath=f"{MAIN_DIV}/div[2]", also=frozenset({"CSIP88-METADATA-DIV-REPEATED"}),
         alone=True),
    Case("CSIP91-ADMID-MISSING", root=drop(MD, "ADMID"), xpath=MD_DIV, alone=True),
    Case("CSIP91-ADMID-INCOMPLETE", root=put(MD, "ADMID", "digiprov-1"), xpath=MD_DIV,
         alone=True),
    Case("CSIP92-DMDID-MISSING", root=drop(MD, "DMDID"), xpath=MD_DIV, alone=True),
    Case("CSIP92-DMDID-INCOMPLETE", root=second_dmd_sec, xpath=MD_DIV, alone=True),
    Case("CSIP92-DMDID-WRONG-TARGET", root=put(MD, "DMDID", "dmd-1 digiprov-1"), xpath=MD_DIV,
         alone=True),
)

DIVISIONS = cases(
    # Documentation: CSIP93 div, CSIP96 fptr, CSIP116 FILEID
    Case("CSIP93-DIV-MISSING", root=remove(DOC), xpath=MAIN_DIV,
         also=frozenset({"CSIP96-FPTR-MISSING", "CSIP116-FILEID-MISSING"}), alone=True),
    Case("CSIP93-DIV-REPEATED", root=twin(DOC), xpath=f"{MAIN_DIV}/div[3]", alone=True),
    Case("CSIP94-ID-MISSING", root=drop(DOC, "ID"), xpath=f"{MAIN_DIV}/div[2]", alone=True),
    Case("CSIP96-FPTR-MISSING", root=remove(f"{DOC}/fptr"), xpath=f"{MAIN_DIV}/div[2]",
         also=frozenset({"CSIP116-FILEID-MISSING"}), alone=True),
    # (the Documentation group is then pointed to by no fptr)
    Case("CSIP116-FILEID-WRONG-GROUP", root=put(f"{DOC}/fptr", "FILEID", "grp-schemas"),
         xpath=f"{MAIN_DIV}/div[2]/fptr", alone=True,
         also=frozenset({"CSIP96-FPTR-MISSING", "CSIP116-FILEID-MISSING"})),
    Case("CSIP116-FILEID-MISSING", root=twin("fileSec/fileGrp"),
         xpath="/mets/fileSec/fileGrp[2]", alone=True),
    # Schemas: CSIP97 div (SHOULD), CSIP100 fptr, CSIP118 FILEID
    Case("CSIP97-DIV-MISSING", root=remove(SCHEMAS), xpath=MAIN_DIV,
         also=frozenset({"CSIP100-FPTR-MISSING", "CSIP118-FILEID-MISSING"}), alone=True),
    Case("CSIP97-DIV-REPEATED", root=twin(SCHEMAS), xpath=f"{MAIN_DIV}/div[4]", alone=True),
    Case("CSIP98-ID-MISSING", root=drop(SCHEMAS, "ID"), xpath=f"{MAIN_DIV}/div[3]", alone=True),
    Case("CSIP118-FILEID-WRONG-GROUP", root=put(f"{SCHEMAS}/fptr", "FILEID", "grp-doc"),
         xpath=f"{MAIN_DIV}/div[3]/fptr", alone=True,
         also=frozenset({"CSIP100-FPTR-MISSING", "CSIP118-FILEID-MISSING"})),
    # Representations: CSIP101 div, CSIP104 fptr, CSIP119 FILEID (an mptr div covers it too)
    Case("CSIP101-DIV-MISSING", root=both(remove(REP_DIV), remove(REPS)), xpath=MAIN_DIV,
         also=frozenset({"CSIP104-FPTR-MISSING", "CSIP119-FILEID-MISSING"}), alone=True),
    Case("CSIP101-DIV-REPEATED", root=twin(REPS), xpath=f"{MAIN_DIV}/div[5]", alone=True),
    Case("CSIP102-ID-MISSING", root=drop(REPS, "ID"), xpath=f"{MAIN_DIV}/div[4]", alone=True),
    Case("CSIP104-FPTR-MISSING", root=both(remove(REP_DIV), remove(f"{REPS}/fptr")),
         xpath=f"{MAIN_DIV}/div[4]", also=frozenset({"CSIP119-FILEID-MISSING"}), alone=True),
    # (the representation group stays covered by the Representations/rep1 div's mptr)
    Case("CSIP119-FILEID-WRONG-GROUP", root=put(f"{REPS}/fptr", "FILEID", "grp-doc"),
         xpath=f"{MAIN_DIV}/div[4]/fptr", alone=True),
    Case("CSIP119-FILEID-MISSING", root=both(remove(REP_DIV), remove(f"{REPS}/fptr")),
         xpath="/mets/fileSec/fileGrp[3]", also=frozenset({"CSIP104-FPTR-MISSING"}),
         alone=True),
)

MPTRS = cases(
    # CSIP110 mptr/@xlink:href, CSIP111 @xlink:type, CSIP112 @LOCTYPE
    Case("CSIP112-LOCTYPE-MISSING", root=drop(MPTR_PATH, "LOCTYPE"), xpath=MPTR, alone=True,
         also=SCHEMA),
    Case("CSIP112-LOCTYPE-NOT-URL", root=put(MPTR_PATH, "LOCTYPE", "URN"), xpath=MPTR,
         alone=True),
    Case("CSIP111-XLINK-TYPE-MISSING", root=drop(MPTR_PATH, XTYPE), xpath=MPTR, alone=True),
    Case("CSIP111-XLINK-TYPE-NOT-SIMPLE", root=put(MPTR_PATH, XTYPE, "resource"), xpath=MPTR,
         alone=True, also=SCHEMA),
    Case("CSIP110-HREF-MISSING", root=drop(MPTR_PATH, HREF), xpath=MPTR, alone=True),
    Case("CSIP110-HREF-UNSAFE", root=put(MPTR_PATH, HREF, "../rep1/METS.xml"), xpath=MPTR,
         alone=True),
    Case("CSIP110-HREF-NOT-LOCAL", root=put(MPTR_PATH, HREF, "https://example.org/METS.xml"),
         xpath=MPTR, alone=True),
    # (a target in another representation's folder, missing: also the wrong target for rep1)
    Case("CSIP110-HREF-NOT-FOUND", root=put(MPTR_PATH, HREF, "representations/rep9/METS.xml"),
         xpath=MPTR, also=frozenset({"CSIP109-MPTR-WRONG-TARGET"}), alone=True),
    # CSIP106 the representation div's ID, CSIP107 its LABEL names a described representation
    Case("CSIP106-ID-MISSING", root=drop(REP_DIV, "ID"), xpath=REP_DIV_XPATH, alone=True),
    Case("CSIP106-ID-MISSING", name="other-div",
         root=both(put(REP_DIV, "LABEL", "Extra"), drop(REP_DIV, "ID")), xpath=REP_DIV_XPATH,
         alone=True),
    Case("CSIP107-LABEL-UNKNOWN", root=put(REP_DIV, "LABEL", "Representations/rep7"),
         xpath=REP_DIV_XPATH, alone=True),
    # CSIP108 mptr/@xlink:title is the ID of the representation's file group
    Case("CSIP108-TITLE-MISSING", root=drop(MPTR_PATH, TITLE), xpath=MPTR, alone=True),
    Case("CSIP108-TITLE-NOT-GROUP", root=put(MPTR_PATH, TITLE, "div-rep1"), xpath=MPTR,
         alone=True),
    Case("CSIP108-TITLE-WRONG-GROUP", root=put(MPTR_PATH, TITLE, "grp-doc"), xpath=MPTR,
         alone=True),
    # the Representations div's mptr names the group (the older form): its title is checked and
    # covers the group for CSIP104/CSIP119
    Case("", name="representations-div-mptr", root=representations_div_mptr),
    Case("CSIP108-TITLE-MISSING", name="representations-div",
         root=both(representations_div_mptr, drop(f"{REPS}/mptr", TITLE)),
         xpath=f"{MAIN_DIV}/div[4]/mptr", alone=True,
         also=frozenset({"CSIP104-FPTR-MISSING", "CSIP119-FILEID-MISSING"})),
    # an mptr outside the Representations divs (a parent package's METS) names no group
    Case("", name="parent-div-mptr",
         root=both(put(REP_DIV, "LABEL", "Parent"), drop(MPTR_PATH, TITLE))),
    # CSIP109 exactly one mptr, to the representation's METS file
    Case("CSIP109-MPTR-MISSING", root=remove(MPTR_PATH), xpath=REP_DIV_XPATH, alone=True),
    Case("CSIP109-MPTR-REPEATED", root=twin(MPTR_PATH), xpath=f"{REP_DIV_XPATH}/mptr[2]",
         alone=True),
    Case("CSIP109-MPTR-WRONG-TARGET", root=put(MPTR_PATH, HREF, "METS.xml"), xpath=MPTR,
         alone=True),
    # METS allows no SIZE or CHECKSUM on an mptr; when present they are still compared
    Case("EARK-MPTR-SIZE-MISMATCH", root=put(MPTR_PATH, "SIZE", "1"), xpath=MPTR, also=SCHEMA,
         alone=True),
    Case("EARK-MPTR-CHECKSUM-MISMATCH",
         root=both(put(MPTR_PATH, "CHECKSUMTYPE", "SHA-256"), put(MPTR_PATH, "CHECKSUM", "0" * 64)),
         xpath=MPTR, also=SCHEMA, alone=True),
)


@pytest.mark.parametrize("case", MAP)
def test_struct_map(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", METADATA_DIV)
def test_metadata_div(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", DIVISIONS)
def test_content_divisions(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", MPTRS)
def test_mptr(case: Case, tmp_path: Path) -> None:
    if case.code:
        check_case(case, tmp_path)
    else:
        check_clean(case, tmp_path)


def _no_representation_mets(mets: etree._Element) -> None:
    """The representation's METS file left out: no mptr, no file entry for it."""
    remove(MPTR_PATH)(mets)
    for locator in list(mets.iter(f"{{{METS}}}FLocat")):
        if locator.get(HREF) == REP1_METS:
            file = locator.getparent()
            group = None if file is None else file.getparent()
            assert file is not None and group is not None
            group.remove(file)


def test_representation_div_without_own_mets_needs_no_mptr(tmp_path: Path) -> None:
    """A Representations/<name> div of a representation without its own METS file (the E-ARK
    test corpus's SIP packages) breaks no CSIP106–CSIP109 rule."""
    package = build_valid(tmp_path / "in", root=_no_representation_mets)
    (package / REP1_METS).unlink()
    report = validate(package, tmp_path / "work")
    assert report.codes() == {"CSIPSTR12-METS-MISSING"}, describe(report)


def test_missing_schemas_div_is_a_warning_the_others_errors(tmp_path: Path) -> None:
    schemas = check_case(Case("CSIP97-DIV-MISSING", root=remove(SCHEMAS), xpath=MAIN_DIV),
                         tmp_path / "a")
    assert schemas.severity is Severity.WARNING
    documentation = check_case(Case("CSIP93-DIV-MISSING", root=remove(DOC), xpath=MAIN_DIV),
                               tmp_path / "b")
    assert documentation.severity is Severity.ERROR


def test_incomplete_admid_names_the_missing_sections(tmp_path: Path) -> None:
    finding = check_case(Case("CSIP91-ADMID-INCOMPLETE", root=put(MD, "ADMID", "rights-1"),
                              xpath=MD_DIV), tmp_path)
    assert finding.params["missing"] == "digiprov-1"
