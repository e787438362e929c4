"""CSIP58–CSIP79 and SIP32/SIP34: the file section of the root and representation METS, one
mutation of a valid E-ARK SIP per case (see tests/sip/eark_mutations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Severity
from tests.sip.eark_fixtures import CSIP, find
from tests.sip.eark_mutations import (
    DOC_FILE,
    DOC_GROUP,
    HREF,
    REP1_METS,
    REP_GROUP,
    XTYPE,
    Case,
    Mutation,
    cases,
    check_case,
    drop,
    duplicate,
    put,
    remove,
    sip_attr,
)

SCHEMA = frozenset({"EARK-METS-SCHEMA"})
ORPHAN = frozenset({"EARK-FILE-ORPHAN"})
DANGLING = frozenset({"EARK-FPTR-DANGLING"})
FILE = "fileSec/fileGrp/file"
FLOCAT = f"{FILE}/FLocat"
REP_GRP = "fileSec/fileGrp[3]"
CIT = f"{{{CSIP}}}CONTENTINFORMATIONTYPE"


def _file_cases(xpath: str, *, in_rep: bool) -> list[Case]:
    """The attribute rules of the first file and its ``FLocat`` (CSIP68–CSIP79) in the root
    METS or (``in_rep``) in the representation METS."""
    at = f"{xpath}/FLocat"
    where = "representation" if in_rep else "root"
    # the root METS lists the representation's data files too: a file the representation METS
    # does not reach is still referenced, no orphan
    orphan = frozenset() if in_rep else ORPHAN

    def case(code: str, mutation: Mutation, element: str, *,
             also: frozenset[str] = frozenset(), name: str = "") -> Case:
        return Case(code, root=None if in_rep else mutation, rep=mutation if in_rep else None,
                    path=REP1_METS if in_rep else "METS.xml", xpath=element, alone=True,
                    also=also, name=f"{where}{name}")

    return [
        # CSIP68 MIMETYPE (IANA media type), CSIP69 SIZE, CSIP71 CHECKSUM, CSIP72 CHECKSUMTYPE
        case("CSIP68-MIMETYPE-MISSING", drop(FILE, "MIMETYPE"), xpath),
        case("CSIP68-MIMETYPE-INVALID", put(FILE, "MIMETYPE", "text/wrongmimetype"), xpath),
        case("CSIP68-MIMETYPE-TOO-LONG", put(FILE, "MIMETYPE", "text/x-" + "a" * 300), xpath),
        case("CSIP69-SIZE-MISSING", drop(FILE, "SIZE"), xpath),
        case("CSIP71-CHECKSUM-MISSING", drop(FILE, "CHECKSUM"), xpath),
        case("CSIP72-CHECKSUMTYPE-MISSING", drop(FILE, "CHECKSUMTYPE"), xpath),
        # CSIP77 FLocat/@LOCTYPE, CSIP78 @xlink:type, CSIP79 @xlink:href
        case("CSIP77-LOCTYPE-MISSING", drop(FLOCAT, "LOCTYPE"), at, also=SCHEMA),
        case("CSIP77-LOCTYPE-NOT-URL", put(FLOCAT, "LOCTYPE", "URN"), at, also=orphan),
        case("CSIP78-XLINK-TYPE-MISSING", drop(FLOCAT, XTYPE), at),
        case("CSIP78-XLINK-TYPE-NOT-SIMPLE", put(FLOCAT, XTYPE, "locator"), at, also=SCHEMA),
        case("CSIP79-HREF-MISSING", drop(FLOCAT, HREF), at, also=orphan),
        case("CSIP79-HREF-MISSING", put(FLOCAT, HREF, "  "), at, also=orphan, name="-blank"),
    ]


FILE_ATTRIBUTES = cases(
    *_file_cases(DOC_FILE, in_rep=False),
    *_file_cases("/mets/fileSec/fileGrp/file", in_rep=True),
)


def second_file(mets: etree._Element) -> None:
    """A second FLocat in the first file (CSIP76: exactly one)."""
    duplicate(find(mets, FLOCAT), "")


SECTION = cases(
    # CSIP58 fileSec, CSIP59 its ID
    # without a fileSec the structMap's fptrs point nowhere and the files are unreferenced
    Case("CSIP58-FILESEC-MISSING", root=remove("fileSec"), xpath="/mets", alone=True,
         also=ORPHAN | DANGLING),
    Case("CSIP58-FILESEC-MISSING", name="representation", rep=remove("fileSec"),
         path=REP1_METS, xpath="/mets", alone=True, also=DANGLING),
    Case("CSIP59-ID-MISSING", root=drop("fileSec", "ID"), xpath="/mets/fileSec", alone=True),
    # CSIP61 fileGrp/@ADMID and CSIP74 file/@ADMID name administrative sections only
    Case("CSIP61-ADMID-NOT-AMD", root=put("fileSec/fileGrp", "ADMID", "dmd-1"),
         xpath=DOC_GROUP, alone=True),
    Case("CSIP74-ADMID-NOT-AMD", root=put(FILE, "ADMID", "dmd-1"), xpath=DOC_FILE, alone=True),
    # CSIP62/CSIP63 the representation group's content information type
    Case("CSIP62-CONTENTINFORMATIONTYPE-UNKNOWN", root=put(REP_GRP, CIT, "PHOTOS"),
         xpath=REP_GROUP, alone=True, also=SCHEMA),
    Case("CSIP63-OTHERCONTENTINFORMATIONTYPE-MISSING", root=put(REP_GRP, CIT, "OTHER"),
         xpath=REP_GROUP, alone=True),
    # CSIP64 fileGrp/@USE, CSIP65 @ID, CSIP66 at least one file
    # (the Documentation div's fptr then points to a group of another use)
    Case("CSIP64-USE-MISSING", root=drop("fileSec/fileGrp", "USE"), xpath=DOC_GROUP,
         alone=True, also=frozenset({"CSIP116-FILEID-WRONG-GROUP"})),
    Case("CSIP64-USE-UNKNOWN", root=put("fileSec/fileGrp", "USE", "Miscellaneous"),
         xpath=DOC_GROUP, alone=True, also=frozenset({"CSIP116-FILEID-WRONG-GROUP"})),
    Case("CSIP64-USE-UNKNOWN", name="representation", rep=put("fileSec/fileGrp", "USE", "Misc"),
         path=REP1_METS, xpath="/mets/fileSec/fileGrp", alone=True),
    # (the Documentation div's fptr then points nowhere and the group is not pointed to)
    Case("CSIP65-ID-MISSING", root=drop("fileSec/fileGrp", "ID"), xpath=DOC_GROUP, alone=True,
         also=DANGLING | {"CSIP96-FPTR-MISSING", "CSIP116-FILEID-MISSING"}),
    Case("CSIP66-FILE-MISSING", root=remove(FILE), xpath=DOC_GROUP, alone=True, also=ORPHAN),
    Case("CSIP76-FLOCAT-COUNT", root=second_file, xpath=DOC_FILE, alone=True),
)

SIP_FORMATS = cases(
    # SIP32 file/@sip:FILEFORMATNAME, SIP34 file/@sip:FILEFORMATREGISTRY (one finding per METS
    # file, at the first file, counting them)
    Case("SIP32-FILEFORMATNAME-EMPTY", root=put(FILE, sip_attr("FILEFORMATNAME"), " "),
         xpath=DOC_FILE, alone=True),
    Case("SIP34-FILEFORMATREGISTRY-MISSING", root=drop(FILE, sip_attr("FILEFORMATREGISTRY")),
         xpath=DOC_FILE, alone=True),
    Case("SIP34-FILEFORMATREGISTRY-EMPTY", rep=put(FILE, sip_attr("FILEFORMATREGISTRY"), ""),
         path=REP1_METS, xpath="/mets/fileSec/fileGrp/file", alone=True),
)


@pytest.mark.parametrize("case", FILE_ATTRIBUTES)
def test_file_attributes(case: Case, tmp_path: Path) -> None:
    finding = check_case(case, tmp_path)
    assert finding.requirement == case.code.split("-", 1)[0]
    # an over-long media type is a warning (eark.toml); the other attribute rules are errors
    too_long = case.code.endswith("-TOO-LONG")
    assert finding.severity is (Severity.WARNING if too_long else Severity.ERROR)


@pytest.mark.parametrize("case", SECTION)
def test_file_section(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", SIP_FORMATS)
def test_sip_file_format_attributes(case: Case, tmp_path: Path) -> None:
    finding = check_case(case, tmp_path)
    assert finding.params["count"] == "1"

