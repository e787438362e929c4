"""The E-ARK CSIP/SIP validator on small packages built in tmp_path (codes and locations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Finding, Report, Severity
from sip.eark import EarkPackage, looks_like_eark, validate_eark
from sip.package import PackageTree
from tests.sip.eark_fixtures import (
    CSIP,
    FILES,
    NSMAP,
    XLINK,
    build_package,
    find,
    m,
    representation_mets,
    write_mets,
)

SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
REP1_METS = "representations/rep1/METS.xml"


def run(root: Path, *, tt05: bool = False) -> tuple[Report, EarkPackage]:
    report = Report(str(root))
    package = validate_eark(PackageTree(root), report, tt05=tt05)
    return report, package


def only(report: Report, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, (code, [str(f.location) for f in found], report.codes())
    return found[0]


def errors(report: Report) -> set[str]:
    return {f.code for f in report.errors}


def test_minimal_csip_sip_is_valid(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    report, package = run(root)
    assert report.errors == [], [(f.code, str(f.location), f.params) for f in report.errors]
    assert looks_like_eark(PackageTree(root))
    assert package.objid == "uuid-0001"
    assert package.package_type == "SIP"
    assert not package.is_sip  # CSIP profile: the SIP-specific rules do not apply
    assert package.representations == ("rep1",)
    by_path = {f.path: f for f in package.files}
    assert set(by_path) == set(FILES)
    assert by_path["representations/rep1/data/report.txt"].content
    assert not by_path["metadata/descriptive/dc.xml"].content
    assert by_path["metadata/descriptive/dc.xml"].section == "dmdSec"
    assert by_path["schemas/example.xsd"].checksum_type == "SHA-256"


def test_looks_like_eark_needs_a_mets_root(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other/METS.xml").write_bytes(b"<mets/>")  # no METS namespace
    assert not looks_like_eark(PackageTree(tmp_path / "other"))
    (tmp_path / "empty").mkdir()
    assert not looks_like_eark(PackageTree(tmp_path / "empty"))


def test_checksum_mismatch(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "representations/rep1/data/report.txt").write_bytes(b"The annual rep0rt.\n")
    report, _ = run(root)
    finding = only(report, "CSIP71-CHECKSUM-MISMATCH")
    assert finding.severity is Severity.ERROR
    assert finding.requirement == "CSIP71"
    assert finding.location.path == "METS.xml"
    assert finding.location.xpath == "/mets/fileSec/fileGrp[3]/file"
    assert finding.location.line is not None
    assert "CSIP69-SIZE-MISMATCH" not in report.codes()


def test_size_mismatch(tmp_path: Path) -> None:
    root = build_package(tmp_path, mutate=lambda mets: find(
        mets, "fileSec/fileGrp/file").set("SIZE", "999"))
    report, _ = run(root)
    finding = only(report, "CSIP69-SIZE-MISMATCH")
    assert finding.location.xpath == "/mets/fileSec/fileGrp[1]/file"
    assert finding.params["expected"] == "999"


def test_metadata_checksum_mismatch_names_its_section(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "metadata/preservation/premis.xml").write_bytes(b"<premiS/>\n")
    report, _ = run(root)
    assert only(report, "CSIP43-CHECKSUM-MISMATCH").location.xpath == \
        "/mets/amdSec/digiprovMD/mdRef"


def test_missing_referenced_file(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "documentation/readme.txt").unlink()
    report, package = run(root)
    finding = only(report, "CSIP79-HREF-NOT-FOUND")
    assert finding.location.xpath == "/mets/fileSec/fileGrp[1]/file/FLocat"
    assert "documentation/readme.txt" not in {f.path for f in package.files}


def test_orphan_file(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "representations/rep1/data/extra.pdf").write_bytes(b"%PDF-1.7\n")
    report, _ = run(root)
    finding = only(report, "EARK-FILE-ORPHAN")
    assert finding.location.path == "representations/rep1/data/extra.pdf"
    assert finding.severity is Severity.ERROR


@pytest.mark.parametrize(("href", "code"), [
    ("../../etc/passwd", "CSIP79-HREF-UNSAFE"),
    ("/etc/passwd", "CSIP79-HREF-UNSAFE"),
    ("C:/Windows/win.ini", "CSIP79-HREF-UNSAFE"),
    ("http://example.org/report.txt", "CSIP79-HREF-NOT-LOCAL"),
])
def test_hostile_file_href(tmp_path: Path, href: str, code: str) -> None:
    root = build_package(tmp_path, mutate=lambda mets: find(
        mets, "fileSec/fileGrp/file/FLocat").set(f"{{{XLINK}}}href", href))
    report, _ = run(root)
    finding = only(report, code)
    assert finding.location.xpath == "/mets/fileSec/fileGrp[1]/file/FLocat"
    # the real documentation file is now unreferenced: reported, never followed
    assert only(report, "EARK-FILE-ORPHAN").location.path == "documentation/readme.txt"


def test_hostile_mdref_href(tmp_path: Path) -> None:
    root = build_package(tmp_path, mutate=lambda mets: find(
        mets, "dmdSec/mdRef").set(f"{{{XLINK}}}href", "../../../etc/passwd"))
    report, _ = run(root)
    assert only(report, "CSIP24-HREF-UNSAFE").location.xpath == "/mets/dmdSec/mdRef"


def test_root_and_header_rules(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        del mets.attrib["OBJID"]
        mets.set("TYPE", "Spreadsheets")
        agent = find(mets, "metsHdr/agent")
        agent.set("OTHERTYPE", "HUMAN")
        del find(mets, "metsHdr").attrib["CREATEDATE"]
    report, _ = run(build_package(tmp_path, mutate=mutate))
    assert {"CSIP1-OBJID-MISSING", "CSIP2-TYPE-UNKNOWN", "CSIP7-CREATEDATE-MISSING",
            "CSIP11-SOFTWARE-AGENT-MISSING",
            "CSIP13-AGENT-OTHERTYPE-NOT-SOFTWARE"} <= errors(report)
    assert only(report, "CSIP1-OBJID-MISSING").location.xpath == "/mets"
    assert only(report, "CSIP13-AGENT-OTHERTYPE-NOT-SOFTWARE").location.xpath == \
        "/mets/metsHdr/agent"


def test_objid_not_folder_name_is_a_warning(tmp_path: Path) -> None:
    report, _ = run(build_package(tmp_path, folder="renamed"))
    assert only(report, "CSIP1-OBJID-NOT-FOLDER-NAME").severity is Severity.WARNING
    assert report.valid


def test_tt05_relaxations(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        find(mets, "metsHdr/agent/note").set(f"{{{CSIP}}}NOTETYPE", "IDENTIFICATIONCODE")
        mets.set("TYPE", "MIXED")
    root = build_package(tmp_path, objid="urn:uuid:0001", folder="urn_uuid_0001", mutate=mutate)
    csip_report, _ = run(root)
    assert "CSIP16-NOTETYPE-WRONG" in errors(csip_report)
    assert "CSIP2-TYPE-CASE" in csip_report.codes()
    tt05_report, _ = run(root, tt05=True)
    assert tt05_report.valid, [(f.code, str(f.location)) for f in tt05_report.errors]
    assert not {"CSIP1-OBJID-NOT-FOLDER-NAME", "CSIP2-TYPE-CASE"} & tt05_report.codes()


def test_metadata_section_rules(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        del find(mets, "dmdSec").attrib["STATUS"]
        ref = find(mets, "dmdSec/mdRef")
        ref.set("LOCTYPE", "url")
        ref.set("MIMETYPE", "application/wrongmimetype")
        del find(mets, "amdSec/digiprovMD/mdRef").attrib["CHECKSUMTYPE"]
    report, _ = run(build_package(tmp_path, mutate=mutate))
    assert only(report, "CSIP20-STATUS-MISSING").severity is Severity.WARNING
    assert {"CSIP22-LOCTYPE-NOT-URL", "CSIP26-MIMETYPE-INVALID",
            "CSIP44-CHECKSUMTYPE-MISSING"} <= errors(report)
    assert only(report, "CSIP26-MIMETYPE-INVALID").location.xpath == "/mets/dmdSec/mdRef"


def test_descriptive_files_without_dmdsec(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        mets.remove(find(mets, "dmdSec"))
        find(mets, "structMap/div/div").attrib.pop("DMDID")
    report, _ = run(build_package(tmp_path, mutate=mutate))
    assert "CSIP17-DMDSEC-MISSING" in errors(report)
    assert only(report, "EARK-FILE-ORPHAN").location.path == "metadata/descriptive/dc.xml"


def test_file_section_rules(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        group = find(mets, "fileSec/fileGrp")
        group.set("USE", "Representations/rep9")
        file = find(mets, "fileSec/fileGrp/file")
        etree.SubElement(file, m("FLocat"), LOCTYPE="URL")
        del file.attrib["CREATED"]
    report, _ = run(build_package(tmp_path, mutate=mutate))
    assert {"CSIP64-USE-FOLDER-MISSING", "CSIP76-FLOCAT-COUNT", "CSIP70-CREATED-MISSING",
            "CSIP62-CONTENTINFORMATIONTYPE-MISSING"} <= errors(report)
    assert only(report, "CSIP76-FLOCAT-COUNT").params["count"] == "2"


def test_struct_map_rules(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        schemas_div = find(mets, "structMap/div/div[3]")
        schemas_div.remove(find(schemas_div, "fptr"))
        find(mets, "structMap/div").set("LABEL", "something else")
        find(mets, "structMap/div/div").set("ADMID", "digiprov-1 grp-doc")
    report, _ = run(build_package(tmp_path, mutate=mutate))
    assert {"CSIP100-FPTR-MISSING", "CSIP118-FILEID-MISSING", "CSIP86-LABEL-NOT-OBJID",
            "CSIP91-ADMID-WRONG-TARGET"} <= errors(report)
    assert only(report, "CSIP118-FILEID-MISSING").location.xpath == "/mets/fileSec/fileGrp[2]"


def test_missing_mets_and_folders(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "METS.xml").rename(root / "Mets.xml")
    report, package = run(root)
    finding = only(report, "CSIPSTR4-METS-MISSING")
    assert finding.severity is Severity.ERROR
    assert finding.params["found"] == "Mets.xml"
    assert package.objid is None


def test_metadata_folder_missing_is_a_warning(tmp_path: Path) -> None:
    files = {k: v for k, v in FILES.items() if not k.startswith("metadata/")}
    root = tmp_path / "pkg"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    full = build_package(tmp_path / "tmp")
    mets = etree.parse(str(full / "METS.xml")).getroot()
    mets.remove(find(mets, "dmdSec"))
    mets.remove(find(mets, "amdSec"))
    mets.set("OBJID", "pkg")
    find(mets, "structMap/div").set("LABEL", "pkg")
    metadata_div = find(mets, "structMap/div/div")
    del metadata_div.attrib["ADMID"], metadata_div.attrib["DMDID"]
    write_mets(root, mets)
    report, _ = run(root)
    finding = only(report, "CSIPSTR5-METADATA-MISSING")
    assert finding.severity is Severity.WARNING
    assert finding.location.path == "metadata/"
    assert finding.params == {}  # nothing was found instead: nothing to name
    assert report.valid, [(f.code, str(f.location)) for f in report.errors]


def test_misnamed_folders_are_named_at_the_expected_folder(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "representations").rename(root / "Representations")
    report, _ = run(root)
    finding = only(report, "CSIPSTR9-REPRESENTATIONS-MISNAMED")
    assert finding.location.path == "representations/"
    assert finding.params["found"] == "Representations"
    assert finding.severity is Severity.WARNING
    assert "CSIPSTR9-REPRESENTATIONS-MISSING" not in report.codes()
    (root / "Representations").rename(root / "other")
    report, _ = run(root)
    assert only(report, "CSIPSTR9-REPRESENTATIONS-MISSING").location.path == "representations/"
    for finding in report.findings:
        for lang in ("en", "vi"):
            assert "{" not in finding.message(lang) and "(found" not in finding.message(lang)


def test_sip_profile_applies_sip_rules(tmp_path: Path) -> None:
    root = build_package(tmp_path, profile=SIP_PROFILE, mutate=lambda mets: find(
        mets, "metsHdr").set(f"{{{CSIP}}}OAISPACKAGETYPE", "AIP"))
    report, package = run(root)
    assert package.is_sip
    assert "SIP4-OAISPACKAGETYPE-NOT-SIP" in errors(report)
    assert only(report, "SIP1-LABEL-MISSING").severity is Severity.INFO
    assert only(report, "SIP32-FILEFORMATNAME-MISSING").params["count"] == "3"


def test_schema_violation(tmp_path: Path) -> None:
    def mutate(mets: etree._Element) -> None:
        etree.SubElement(find(mets, "metsHdr"), m("unexpected"))
    report, _ = run(build_package(tmp_path, mutate=mutate))
    finding = next(f for f in report.findings if f.code == "EARK-METS-SCHEMA")
    assert finding.location.path == "METS.xml" and finding.location.line is not None


def test_line_endings_changed_in_transit_are_named_and_rejected_unless_tolerated(
        tmp_path: Path) -> None:
    files = dict(FILES)
    files["documentation/readme.txt"] = b"line one\r\nline two\r\n"
    root = build_package(tmp_path, files=files)
    (root / "documentation/readme.txt").write_bytes(b"line one\nline two\n")
    report, _ = run(root)
    finding = only(report, "EARK-LINE-ENDINGS-CHANGED")
    assert finding.params["change"] == "LF → CRLF"
    assert finding.severity is Severity.ERROR and not report.valid
    assert not {"CSIP69-SIZE-MISMATCH", "CSIP71-CHECKSUM-MISMATCH"} & report.codes()

    tolerant = Report(str(root))
    validate_eark(PackageTree(root), tolerant, tolerate_line_endings=True)
    assert only(tolerant, "EARK-LINE-ENDINGS-CHANGED").severity is Severity.WARNING
    assert tolerant.valid


def test_href_differing_in_case_is_a_warning(tmp_path: Path) -> None:
    root = build_package(tmp_path, mutate=lambda mets: find(
        mets, "fileSec/fileGrp/file/FLocat").set(f"{{{XLINK}}}href", "documentation/README.txt"))
    report, _ = run(root)
    assert only(report, "EARK-HREF-CASE-MISMATCH").severity is Severity.WARNING
    assert "EARK-FILE-ORPHAN" not in report.codes()


def test_representation_mets_resolves_from_its_folder(tmp_path: Path) -> None:
    rep = etree.Element(m("mets"), nsmap=NSMAP, OBJID="rep1", TYPE="Mixed",
                        PROFILE="https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml")
    # a representation METS whose (relative) href resolves from its own folder; its checksum is
    # deliberately wrong so the finding shows which METS file it came from
    header = etree.SubElement(rep, m("metsHdr"), CREATEDATE="2024-05-01T10:00:00")
    header.set(f"{{{CSIP}}}OAISPACKAGETYPE", "SIP")
    file_sec = etree.SubElement(rep, m("fileSec"), ID="fs")
    group = etree.SubElement(file_sec, m("fileGrp"), USE="Data", ID="g")
    file = etree.SubElement(group, m("file"), ID="f", MIMETYPE="text/plain", SIZE="19",
                            CREATED="2024-05-01T10:00:00", CHECKSUMTYPE="SHA-256",
                            CHECKSUM="0" * 64)
    locator = etree.SubElement(file, m("FLocat"), LOCTYPE="URL")
    locator.set(f"{{{XLINK}}}type", "simple")
    locator.set(f"{{{XLINK}}}href", "data/report.txt")
    # the root METS lists it in the rep1 group (with its right checksum)
    files = {**FILES, REP1_METS: etree.tostring(rep, xml_declaration=True, encoding="UTF-8")}
    report, _ = run(build_package(tmp_path, files=files))
    mismatch = [f for f in report.findings if f.code == "CSIP71-CHECKSUM-MISMATCH"]
    assert [f.location.path for f in mismatch] == [REP1_METS]
    assert "CSIP4-CONTENTINFORMATIONTYPE-MISSING-REPRESENTATION" in errors(report)
    assert "EARK-FILE-ORPHAN" not in report.codes()  # the rep METS itself is not an orphan


def _with_rep2(tmp_path: Path) -> Path:
    """A valid package plus a valid representations/rep2 the root METS never mentions."""
    root = build_package(tmp_path)
    evil = b"Not part of the package.\n"
    (root / "representations/rep2/data").mkdir(parents=True)
    (root / "representations/rep2/data/evil.txt").write_bytes(evil)
    (root / "representations/rep2/METS.xml").write_bytes(
        representation_mets("rep2", {"data/evil.txt": evil}))
    return root


def test_representation_the_root_mets_does_not_reference_is_not_part_of_the_package(
        tmp_path: Path) -> None:
    report, package = run(_with_rep2(tmp_path))
    assert not report.valid
    finding = only(report, "EARK-REPRESENTATION-NOT-REFERENCED")
    assert finding.location.path == "representations/rep2/METS.xml"
    assert finding.severity is Severity.ERROR
    assert finding.params["representation"] == "rep2"
    assert only(report, "EARK-FILE-ORPHAN").location.path == "representations/rep2/data/evil.txt"
    assert {f.code for f in report.findings} == {"EARK-REPRESENTATION-NOT-REFERENCED",
                                                 "EARK-FILE-ORPHAN", "CSIPSTR12-METS-MISSING"}
    assert "representations/rep2/data/evil.txt" not in {f.path for f in package.files}


def test_representation_mets_referenced_by_an_mptr_is_part_of_the_package(
        tmp_path: Path) -> None:
    root = _with_rep2(tmp_path)
    mets = etree.parse(str(root / "METS.xml")).getroot()
    div = etree.SubElement(find(mets, "structMap/div"), m("div"), ID="div-rep2",
                           LABEL="Representations/rep2")
    mptr = etree.SubElement(div, m("mptr"), LOCTYPE="URL")
    mptr.set(f"{{{XLINK}}}type", "simple")
    mptr.set(f"{{{XLINK}}}href", "representations/rep2/METS.xml")
    mptr.set(f"{{{XLINK}}}title", "rep2")
    write_mets(root, mets)
    report, package = run(root)
    assert not {"EARK-REPRESENTATION-NOT-REFERENCED", "EARK-FILE-ORPHAN"} & report.codes()
    assert "representations/rep2/data/evil.txt" in {f.path for f in package.files}


def test_missing_representation_mets_is_reported_once(tmp_path: Path) -> None:
    files = {**FILES, REP1_METS: representation_mets(
        "rep1", {"data/report.txt": FILES["representations/rep1/data/report.txt"]})}
    def mutate(mets: etree._Element) -> None:  # an mptr too: two references, one file
        div = etree.SubElement(find(mets, "structMap/div"), m("div"), ID="div-rep1",
                               LABEL="Representations/rep1")
        mptr = etree.SubElement(div, m("mptr"), LOCTYPE="URL")
        mptr.set(f"{{{XLINK}}}type", "simple")
        mptr.set(f"{{{XLINK}}}href", REP1_METS)
        mptr.set(f"{{{XLINK}}}title", "grp-rep1")
    root = build_package(tmp_path, files=files, mutate=mutate)
    clean, _ = run(root)
    assert clean.findings == [], [(f.code, str(f.location)) for f in clean.findings]
    (root / REP1_METS).unlink()
    (root / "representations/rep1/data/more.txt").write_bytes(b"more\n")
    report, _ = run(root)
    assert sorted(f.code for f in report.findings) == ["CSIP79-HREF-NOT-FOUND",
                                                       "EARK-ORPHANS-NOT-CHECKED"]
    assert only(report, "EARK-ORPHANS-NOT-CHECKED").location.path == "representations/rep1"


def test_unreadable_representation_mets_leaves_its_orphans_unchecked(tmp_path: Path) -> None:
    files = {**FILES, REP1_METS: b"<mets xmlns='http://www.loc.gov/METS/'><metsHdr>"}
    root = build_package(tmp_path, files=files)
    (root / "representations/rep1/data/more.txt").write_bytes(b"more\n")
    report, _ = run(root)
    assert sorted(f.code for f in report.findings) == ["EARK-ORPHANS-NOT-CHECKED",
                                                       "XML-MALFORMED"]


def test_malformed_mets_is_reported_not_raised(tmp_path: Path) -> None:
    root = build_package(tmp_path)
    (root / "METS.xml").write_bytes(b"<mets xmlns='http://www.loc.gov/METS/'><metsHdr>")
    report, package = run(root)
    assert "XML-MALFORMED" in errors(report)
    assert package.files == ()
