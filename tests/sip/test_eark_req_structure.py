"""CSIPSTR5–CSIPSTR15 (the folder structure) and the checks of whole METS files (EARK-NOT-METS,
EARK-METS-SCHEMA-MORE, XML-UNREADABLE, EARK-FILE-UNREADABLE), one mutation of a valid E-ARK SIP
per case (see tests/sip/eark_mutations.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Report, Severity
from sip.eark import validate_eark
from sip.package import PackageTree
from tests.sip.eark_fixtures import find, m
from tests.sip.eark_mutations import (
    REP1,
    REP1_METS,
    Case,
    both,
    build_valid,
    cases,
    check_case,
    delete_tree,
    describe,
    remove,
    rename,
    validate,
    write,
)

ORPHAN = frozenset({"EARK-FILE-ORPHAN"})
CASE_MISMATCH = frozenset({"EARK-HREF-CASE-MISMATCH"})


STRUCTURE = cases(
    # CSIPSTR5 metadata/ (SHOULD): a near miss is named
    Case("CSIPSTR5-METADATA-MISNAMED", disk=rename("metadata", "Metadata"), path="metadata/",
         alone=True, also=CASE_MISMATCH),
    # CSIPSTR10 representations/ holds representation folders only
    # (the METS files still name the representation: its group's folder and files are missing)
    Case("CSIPSTR10-NO-REPRESENTATION", disk=delete_tree(REP1), path="representations",
         alone=True, also=frozenset({"CSIP64-USE-FOLDER-MISSING", "CSIP79-HREF-NOT-FOUND"})),
    Case("CSIPSTR10-FILE-OUTSIDE-REPRESENTATION", disk=write("representations/notes.txt", b"x"),
         path="representations/notes.txt", alone=True, also=ORPHAN),
    # CSIPSTR11 representations/<rep>/data
    Case("CSIPSTR11-DATA-MISSING", disk=rename(f"{REP1}/data", f"{REP1}/content"),
         path=f"{REP1}/data/", alone=True,
         also=ORPHAN | {"CSIP79-HREF-NOT-FOUND"}),
    Case("CSIPSTR11-DATA-MISNAMED", disk=rename(f"{REP1}/data", f"{REP1}/Data"),
         path=f"{REP1}/data/", alone=True, also=CASE_MISMATCH),
    # CSIPSTR15 schemas/ (SHOULD): a package without schemas and without a Schemas group
    Case("CSIPSTR15-SCHEMAS-MISSING", disk=delete_tree("schemas"), path="schemas/", alone=True,
         root=both(remove("fileSec/fileGrp[2]"), remove("structMap/div/div[3]"))),
)


def not_mets(mets: etree._Element) -> None:
    mets.tag = "{urn:example:records}mets"


def many_schema_errors(mets: etree._Element) -> None:
    """60 header records with an attribute the METS schema does not allow, an error each."""
    header = find(mets, "metsHdr")
    for index in range(60):
        record = etree.SubElement(header, m("altRecordID"), TYPE="LOCAL", UNEXPECTED="yes")
        record.text = str(index)


FILES = cases(
    # a representation METS.xml whose root element is not METS: not read, its orphans unchecked
    Case("EARK-NOT-METS", rep=not_mets, path=REP1_METS, xpath=None, alone=True,
         also=frozenset({"EARK-ORPHANS-NOT-CHECKED"})),
    # schema errors beyond the first 50 are counted in one finding
    Case("EARK-METS-SCHEMA-MORE", root=many_schema_errors, alone=True,
         also=frozenset({"EARK-METS-SCHEMA"})),
)


@pytest.mark.parametrize("case", STRUCTURE)
def test_folder_structure(case: Case, tmp_path: Path) -> None:
    finding = check_case(case, tmp_path)
    assert finding.location.xpath is None
    assert finding.severity is Severity.WARNING  # every CSIPSTR rule but CSIPSTR4 is a SHOULD


@pytest.mark.parametrize("case", FILES)
def test_mets_files(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


def test_misnamed_folder_names_what_was_found(tmp_path: Path) -> None:
    finding = check_case(Case("CSIPSTR11-DATA-MISNAMED", path=f"{REP1}/data/",
                              disk=rename(f"{REP1}/data", f"{REP1}/DATA")), tmp_path)
    assert finding.params["found"] == "DATA"


def test_schema_errors_are_listed_up_to_fifty(tmp_path: Path) -> None:
    report = validate(build_valid(tmp_path / "in", root=many_schema_errors), tmp_path / "work")
    listed = [f for f in report.findings if f.code == "EARK-METS-SCHEMA"]
    more = [f for f in report.findings if f.code == "EARK-METS-SCHEMA-MORE"]
    assert len(listed) == 50
    assert [int(f.params["count"]) for f in more] == [10]


def test_a_root_mets_that_is_not_mets(tmp_path: Path) -> None:
    package = build_valid(tmp_path / "in", root=not_mets)
    # the one validator does not recognise it as an E-ARK package at all ...
    assert validate(package, tmp_path / "work").codes() == {"SIP-KIND-UNKNOWN"}
    # ... and the E-ARK validator, asked directly, says why
    report = Report(str(package))
    validate_eark(PackageTree(package), report)
    finding = next(f for f in report.findings if f.code == "EARK-NOT-METS")
    assert finding.location.path == "METS.xml" and finding.location.line == 2
    assert finding.params["element"] == "{urn:example:records}mets"


def _changed_after_listing(package: Path, rel: str) -> Report:
    """Validate a listing of ``package`` taken before ``rel`` changed (its mtime moves on):
    the file is no longer the one listed, so it is not read."""
    tree = PackageTree(package)
    stat = (package / rel).stat()
    os.utime(package / rel, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = Report(str(package))
    validate_eark(tree, report)
    return report


def test_a_file_that_cannot_be_read_is_not_verified(tmp_path: Path) -> None:
    package = build_valid(tmp_path / "in")
    report = _changed_after_listing(package, f"{REP1}/data/report.txt")
    unreadable = [(f.location.path, f.location.xpath) for f in report.findings
                  if f.code == "EARK-FILE-UNREADABLE"]
    # both METS files reference it: each reference is reported
    assert unreadable == [("METS.xml", "/mets/fileSec/fileGrp[3]/file[1]"),
                          (REP1_METS, "/mets/fileSec/fileGrp/file")]
    assert report.codes() == {"EARK-FILE-UNREADABLE"}, describe(report)


def test_a_mets_file_that_cannot_be_read(tmp_path: Path) -> None:
    package = build_valid(tmp_path / "in")
    report = _changed_after_listing(package, REP1_METS)
    finding = next(f for f in report.findings if f.code == "XML-UNREADABLE")
    assert finding.location.path == REP1_METS
    assert finding.severity is Severity.ERROR
    # the root METS's reference to it cannot be verified either, and what lies under the
    # representation is not judged orphan
    assert report.codes() == {"XML-UNREADABLE", "EARK-FILE-UNREADABLE",
                              "EARK-ORPHANS-NOT-CHECKED"}, describe(report)
