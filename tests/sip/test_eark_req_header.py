"""CSIP1–CSIP16, CSIP117 and SIP1–SIP8: the METS root element and its header, one mutation of a
valid E-ARK SIP per case (see tests/sip/eark_mutations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Severity
from tests.sip.eark_fixtures import CSIP
from tests.sip.eark_mutations import (
    REP1_METS,
    Case,
    Mutation,
    alt_record,
    both,
    cases,
    check_case,
    drop,
    put,
    remove,
    text,
)

SCHEMA = frozenset({"EARK-METS-SCHEMA"})
SOFTWARE_AGENT = frozenset({"CSIP11-SOFTWARE-AGENT-MISSING"})
HEADER = "/mets/metsHdr"
AGENT = f"{HEADER}/agent"
CIT = f"{{{CSIP}}}CONTENTINFORMATIONTYPE"
PACKAGE_TYPE = f"{{{CSIP}}}OAISPACKAGETYPE"


def drop_record(kind: str) -> Mutation:
    return remove(f"metsHdr/altRecordID[@TYPE='{kind}']")


def add_record(kind: str, value: str) -> Mutation:
    def mutate(mets: etree._Element) -> None:
        alt_record(mets, kind, value)
    return mutate


ROOT = cases(
    # CSIP1 mets/@OBJID
    Case("CSIP1-OBJID-EMPTY", root=put("", "OBJID", ""), xpath="/mets", alone=True),
    Case("CSIP1-OBJID-NOT-REPRESENTATION-NAME", path=REP1_METS, xpath="/mets", alone=True,
         rep=both(put("", "OBJID", "rep-one"), put("structMap/div", "LABEL", "rep-one"))),
    # CSIP2/CSIP3 mets/@TYPE and @csip:OTHERTYPE
    Case("CSIP2-TYPE-MISSING", root=drop("", "TYPE"), xpath="/mets", alone=True),
    Case("CSIP2-TYPE-MISSING", name="empty", root=put("", "TYPE", ""), xpath="/mets",
         alone=True),
    Case("CSIP2-OTHERTYPE-MISSING", root=put("", "TYPE", "OTHER"), xpath="/mets", alone=True),
    # CSIP4/CSIP5 mets/@csip:CONTENTINFORMATIONTYPE and @csip:OTHERCONTENTINFORMATIONTYPE
    Case("CSIP4-CONTENTINFORMATIONTYPE-UNKNOWN", root=put("", CIT, "PHOTOS"), xpath="/mets",
         alone=True, also=SCHEMA),
    Case("CSIP4-OTHERCONTENTINFORMATIONTYPE-MISSING", root=put("", CIT, "OTHER"),
         xpath="/mets", alone=True),
    # CSIP6 mets/@PROFILE (a CSIP package: the SIP profile rule SIP2 replaces it for a SIP)
    Case("CSIP6-PROFILE-MISSING", sip=False, root=drop("", "PROFILE"), xpath="/mets",
         alone=True),
    Case("CSIP6-PROFILE-OTHER", sip=False, root=put("", "PROFILE", "https://example.org/p.xml"),
         xpath="/mets", alone=True),
    # SIP1 mets/@LABEL
    Case("SIP1-LABEL-EMPTY", root=put("", "LABEL", ""), xpath="/mets", alone=True),
    # SIP2 mets/@PROFILE of a SIP (recognised by its SIP extension attributes)
    Case("SIP2-PROFILE-MISSING", root=drop("", "PROFILE"), xpath="/mets", alone=True),
    Case("SIP2-PROFILE-MISSING", name="empty", root=put("", "PROFILE", ""), xpath="/mets",
         alone=True),
    Case("SIP2-PROFILE-NOT-SIP", root=put("", "PROFILE", "https://example.org/sip.xml"),
         xpath="/mets", alone=True),
)

HEADER_CASES = cases(
    # CSIP117 metsHdr
    Case("CSIP117-METSHDR-MISSING", root=remove("metsHdr"), xpath="/mets", alone=True),
    Case("CSIP117-METSHDR-MISSING", name="representation", rep=remove("metsHdr"),
         path=REP1_METS, xpath="/mets", alone=True),
    # CSIP8 metsHdr/@LASTMODDATE
    Case("CSIP8-LASTMODDATE-MISSING", root=drop("metsHdr", "LASTMODDATE"), xpath=HEADER,
         alone=True),
    Case("CSIP8-LASTMODDATE-IN-FUTURE", xpath=HEADER, alone=True,
         root=put("metsHdr", "LASTMODDATE", "2999-01-01T00:00:00+07:00")),
    # CSIP9 metsHdr/@csip:OAISPACKAGETYPE, SIP4 its value for a SIP
    Case("CSIP9-OAISPACKAGETYPE-MISSING", sip=False, root=drop("metsHdr", PACKAGE_TYPE),
         xpath=HEADER, alone=True),
    Case("CSIP9-OAISPACKAGETYPE-MISSING", name="representation", path=REP1_METS, xpath=HEADER,
         rep=drop("metsHdr", PACKAGE_TYPE), alone=True),
    Case("CSIP9-OAISPACKAGETYPE-UNKNOWN", sip=False, root=put("metsHdr", PACKAGE_TYPE, "XIP"),
         xpath=HEADER, alone=True, also=SCHEMA),
    Case("SIP4-OAISPACKAGETYPE-MISSING", root=drop("metsHdr", PACKAGE_TYPE), xpath=HEADER,
         alone=True, also=frozenset({"CSIP9-OAISPACKAGETYPE-MISSING"})),
    # CSIP10–CSIP16 metsHdr/agent
    Case("CSIP10-AGENT-MISSING", root=remove("metsHdr/agent"), xpath=HEADER, alone=True),
    Case("CSIP12-AGENT-TYPE-NOT-OTHER", root=put("metsHdr/agent", "TYPE", "INDIVIDUAL"),
         xpath=AGENT, alone=True, also=SOFTWARE_AGENT),
    Case("CSIP13-AGENT-OTHERTYPE-MISSING", root=drop("metsHdr/agent", "OTHERTYPE"),
         xpath=AGENT, alone=True, also=SOFTWARE_AGENT),
    Case("CSIP14-AGENT-NAME-MISSING", root=remove("metsHdr/agent/name"), xpath=AGENT,
         alone=True, also=SCHEMA),
    Case("CSIP14-AGENT-NAME-EMPTY", root=text("metsHdr/agent/name", " "),
         xpath=f"{AGENT}/name", alone=True),
    Case("CSIP15-AGENT-NOTE-MISSING", root=remove("metsHdr/agent/note"), xpath=AGENT,
         alone=True),
    Case("CSIP16-NOTETYPE-MISSING", root=drop("metsHdr/agent/note", f"{{{CSIP}}}NOTETYPE"),
         xpath=f"{AGENT}/note", alone=True),
)

#: the baseline's altRecordIDs: [1] SUBMISSIONAGREEMENT, [2] REFERENCECODE,
#: [3] PREVIOUSREFERENCECODE; an added one is [4]
ALT = f"{HEADER}/altRecordID"
ALT_RECORDS = cases(
    # SIP5 altRecordID TYPE="SUBMISSIONAGREEMENT" (0..1)
    Case("SIP5-ALTRECORDID-MISSING", root=drop_record("SUBMISSIONAGREEMENT"), xpath=HEADER,
         alone=True),
    Case("SIP5-ALTRECORDID-REPEATED", root=add_record("SUBMISSIONAGREEMENT", "SA-2"),
         xpath=f"{ALT}[4]", alone=True),
    Case("SIP5-ALTRECORDID-EMPTY", root=text("metsHdr/altRecordID", ""), xpath=f"{ALT}[1]",
         alone=True),
    # SIP6 altRecordID TYPE="PREVIOUSSUBMISSIONAGREEMENT" (0..*)
    Case("SIP6-ALTRECORDID-EMPTY", root=add_record("PREVIOUSSUBMISSIONAGREEMENT", " "),
         xpath=f"{ALT}[4]", alone=True),
    # SIP7 altRecordID TYPE="REFERENCECODE" (0..1)
    Case("SIP7-ALTRECORDID-MISSING", root=drop_record("REFERENCECODE"), xpath=HEADER,
         alone=True),
    Case("SIP7-ALTRECORDID-REPEATED", root=add_record("REFERENCECODE", "VN/AR-02"),
         xpath=f"{ALT}[4]", alone=True),
    Case("SIP7-ALTRECORDID-EMPTY", root=text("metsHdr/altRecordID[2]", ""), xpath=f"{ALT}[2]",
         alone=True),
    # SIP8 altRecordID TYPE="PREVIOUSREFERENCECODE" (0..*)
    Case("SIP8-ALTRECORDID-MISSING", root=drop_record("PREVIOUSREFERENCECODE"), xpath=HEADER,
         alone=True),
    Case("SIP8-ALTRECORDID-EMPTY", root=text("metsHdr/altRecordID[3]", ""), xpath=f"{ALT}[3]",
         alone=True),
)


@pytest.mark.parametrize("case", ROOT)
def test_root_element(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", HEADER_CASES)
def test_header(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


@pytest.mark.parametrize("case", ALT_RECORDS)
def test_sip_alternative_record_ids(case: Case, tmp_path: Path) -> None:
    finding = check_case(case, tmp_path)
    assert finding.severity is Severity.INFO


def test_repeated_sip_alt_record_counts_them(tmp_path: Path) -> None:
    case = Case("SIP7-ALTRECORDID-REPEATED", xpath=f"{ALT}[4]", root=both(
        add_record("REFERENCECODE", "VN/AR-02"), add_record("REFERENCECODE", "VN/AR-03")))
    assert check_case(case, tmp_path).params["count"] == "3"


def test_a_sip_without_label_is_only_told(tmp_path: Path) -> None:
    # SIP1 is a MAY: the missing LABEL is the only finding, an INFO one
    case = Case("SIP1-LABEL-MISSING", root=drop("", "LABEL"), xpath="/mets", alone=True)
    assert check_case(case, tmp_path).severity is Severity.INFO
