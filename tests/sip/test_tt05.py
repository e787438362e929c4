"""The TT05 SIP validator (sip/tt05.py): valid packages from the writer, and one damage per rule.

Tests assert finding codes and locations, never wording. Packages are written by
sip/tt05_writer.py in tmp_path and damaged in one way each (tests/sip/tt05_fixtures.py: CASES).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Finding, Report, Severity, catalogue
from sip.package import PackageTree
from sip.tt05 import Tt05Record, looks_like_tt05, validate_tt05
from sip.tt05_model import BATCH_FIELDS, PackageKind
from sip.tt05_records import Record, check_fields, parse_date, read_record
from tests.sip.tt05_fixtures import (
    BATCH_CODE,
    CASES,
    DATA,
    EAD,
    FILE_CODE,
    FONDS,
    METS,
    OBJID,
    RECORDS,
    REP_METS,
    ROOT_METS,
    Case,
    add_file,
    build,
    data,
    doc_id,
    edit_xml,
    link_divs,
    make_stub,
    one,
    record,
    remove,
    set_field,
)


def tree_state(root: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = (path.stat().st_mtime_ns,
                                                hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def run(pkg: Path, *, historical_archive: bool = True, package_name: str | None = None
        ) -> tuple[Report, Tt05Record]:
    """Validate, proving on the way that nothing was changed and every message renders."""
    before = tree_state(pkg)
    report = Report(subject=pkg.name)
    record_ = validate_tt05(PackageTree(pkg), report, historical_archive=historical_archive,
                            package_name=pkg.name if package_name is None else package_name)
    assert tree_state(pkg) == before, "validation modified the package"
    for finding in report.findings:
        for lang in ("en", "vi"):
            text = finding.message(lang)
            assert text and "{" not in text, (finding.code, text)
    return report, record_


def tt05(report: Report, severity: Severity | None = None) -> list[Finding]:
    return [f for f in report.findings if f.code.startswith("TT05-")
            and (severity is None or f.severity is severity)]


# --- valid packages -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(PackageKind))
def test_valid_package_has_no_findings(tmp_path: Path, kind: PackageKind) -> None:
    pkg = build(tmp_path, kind)
    report, _ = run(pkg)
    assert report.findings == []


def test_record_of_a_dossier(tmp_path: Path) -> None:
    _, rec = run(build(tmp_path))
    assert rec.kind is PackageKind.HOSO
    assert (rec.objid, rec.fonds_code, rec.file_code) == (OBJID, FONDS, FILE_CODE)
    assert rec.fields["confidenceLevel"] == "03"
    assert "riskRecoveryStatus" in rec.fields and "numberOfPaper" in rec.fields
    assert [d.doc_id for d in rec.documents] == [doc_id(n) for n in (1, 2, 3)]
    assert [d.ead_doc for d in rec.documents] == [record(n) for n in (1, 2, 3)]
    assert [d.data_files for d in rec.documents] == [(data(n),) for n in (1, 2, 3)]
    assert [d.confidence_level for d in rec.documents] == ["02", "01", "02"]
    assert [d.digitised for d in rec.documents] == [True, False, True]
    assert rec.documents[0].fields["docCode"] == f"{FILE_CODE}0000001"
    assert "process" not in rec.documents[0].fields  # empty optional fields are left out


def test_record_of_a_batch(tmp_path: Path) -> None:
    _, rec = run(build(tmp_path, PackageKind.TAILIEU))
    assert rec.kind is PackageKind.TAILIEU
    assert rec.file_code == BATCH_CODE and rec.fields["source"] == "1"
    assert [d.data_files for d in rec.documents] == [
        (data(n, PackageKind.TAILIEU),) for n in (1, 2)]


def test_document_inherits_the_dossier_confidence_level(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    set_field(pkg, record(2), "confidenceLevel", None)
    report, rec = run(pkg)
    assert rec.documents[1].confidence_level == "03"
    assert {f.code for f in tt05(report, Severity.ERROR)} == {"TT05-FIELD-MISSING"}


def test_valid_stub_in_holeyfile(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    stub = make_stub(pkg, 2)
    report, rec = run(pkg)
    assert tt05(report) == []
    assert rec.documents[1].data_files == (stub,)


def test_records_with_a_namespace_in_any_order(tmp_path: Path) -> None:
    pkg = build(tmp_path)

    def namespaced(root: etree._Element) -> None:
        fields = list(root)
        for child in fields:
            root.remove(child)
        for child in reversed(fields):
            child.tag = "{http://purl.org/dc/elements/1.1/}" + str(child.tag)
            root.append(child)
        root.tag = "{http://purl.org/dc/elements/1.1/}simpledc"
    edit_xml(pkg, EAD, namespaced)
    edit_xml(pkg, record(1), namespaced)
    report, rec = run(pkg)
    assert tt05(report) == []
    assert looks_like_tt05(PackageTree(pkg)) is PackageKind.HOSO
    assert rec.file_code == FILE_CODE


def test_lengths_count_characters_not_bytes(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    set_field(pkg, EAD, "description", "ệ" * 2000)  # 6000 bytes in UTF-8
    report, _ = run(pkg)
    assert tt05(report) == []


def test_several_languages_separated_by_commas(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    set_field(pkg, EAD, "language", "01, 02")
    set_field(pkg, record(1), "language", "06")
    report, _ = run(pkg)
    assert tt05(report) == []


def test_agency_archive_accepts_every_retention(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    set_field(pkg, EAD, "maintenance", "04")
    set_field(pkg, record(1), "maintenance", "07")
    assert tt05(run(pkg, historical_archive=False)[0]) == []
    assert {f.code for f in tt05(run(pkg)[0])} == {"TT05-MAINTENANCE-NOT-PERMANENT"}


def test_digitised_dossier_with_paper_code_is_valid(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    set_field(pkg, EAD, "confidenceLevel", "02")
    assert tt05(run(pkg)[0]) == []


# --- detection ------------------------------------------------------------------------------------

def test_detection(tmp_path: Path) -> None:
    hoso = build(tmp_path / "a")
    tailieu = build(tmp_path / "b", PackageKind.TAILIEU)
    assert looks_like_tt05(PackageTree(hoso)) is PackageKind.HOSO
    assert looks_like_tt05(PackageTree(tailieu)) is PackageKind.TAILIEU
    # the record decides when TYPE is wrong; TYPE decides when the record says nothing
    edit_xml(tailieu, ROOT_METS, lambda root: root.set("TYPE", "Mixed"))
    assert looks_like_tt05(PackageTree(tailieu)) is PackageKind.TAILIEU
    set_field(tailieu, EAD, "source", None)
    edit_xml(tailieu, ROOT_METS, lambda root: root.set("TYPE", "Collection"))
    assert looks_like_tt05(PackageTree(tailieu)) is PackageKind.TAILIEU


def test_not_tt05(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert looks_like_tt05(PackageTree(empty)) is None
    eark = tmp_path / "eark"
    (eark / "metadata/descriptive").mkdir(parents=True)
    (eark / "METS.xml").write_bytes(
        b'<mets xmlns="http://www.loc.gov/METS/" TYPE="Mixed" OBJID="x"/>')
    (eark / "metadata/descriptive/EAD.xml").write_bytes(
        b'<ead xmlns="urn:isbn:1-931666-22-9"><eadheader/></ead>')
    assert looks_like_tt05(PackageTree(eark)) is None
    (eark / "METS.xml").write_bytes(b"<not-xml")
    assert looks_like_tt05(PackageTree(eark)) is None


def test_empty_folder_is_all_findings_no_crash(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report, rec = run(empty)
    codes = {f.code for f in report.findings}
    assert {"TT05-LAYOUT-MISSING", "TT05-REPRESENTATIONS", "TT05-SCHEMA-MISSING"} <= codes
    assert rec.documents == () and rec.objid is None


# --- one damage per rule --------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_raises_its_code_where_expected(tmp_path: Path, case: Case) -> None:
    pkg = build(tmp_path, case.kind)
    case.mutate(pkg)
    report, _ = run(pkg, package_name=case.package_name)
    hits = [f for f in report.findings if f.code == case.code]
    assert hits, f"{case.code} not raised; got {sorted(report.codes())}"
    located = [f for f in hits if f.location.path == case.path
               and (case.xpath is None or f.location.xpath == case.xpath)]
    assert located, [(f.location.path, f.location.xpath) for f in hits]
    if case.xpath is not None and located[0].location.path is not None:
        assert located[0].location.line is not None or case.xpath == "/simpledc"
    assert located[0].severity is catalogue()[case.code].severity


def test_every_tt05_code_has_a_failing_fixture() -> None:
    codes = {code for code in catalogue() if code.startswith("TT05-")}
    assert codes - {c.code for c in CASES} == set()


def test_warnings_keep_the_package_valid(tmp_path: Path) -> None:
    warning_cases = [c for c in CASES if catalogue()[c.code].severity is Severity.WARNING
                     and c.name not in ("no-schemas-group", "structmap-label")]
    assert len(warning_cases) >= 8
    for n, case in enumerate(warning_cases):
        pkg = build(tmp_path / str(n), case.kind)
        case.mutate(pkg)
        report, _ = run(pkg, package_name=case.package_name)
        assert tt05(report, Severity.ERROR) == [], case.name


def test_sample_defects_each_have_their_own_code(tmp_path: Path) -> None:
    """The three known defects of the official sample package, all at once."""
    pkg = build(tmp_path)
    set_field(pkg, EAD, "confidenceLevel", "02")
    set_field(pkg, EAD, "paperFileCode", "")
    for n in (1, 2, 3):
        set_field(pkg, record(n), "docCode", f"H49.64.33.2002.160.{n:07d}")
    xsd = pkg / "schemas/ead_doc.xsd"
    xsd.write_text(xsd.read_text(encoding="utf-8").replace('name="docCode"',
                                                           'name="arcDocCode"'),
                   encoding="utf-8")
    report, _ = run(pkg)
    codes = [f.code for f in tt05(report, Severity.ERROR)]
    assert codes.count("TT05-DOCCODE-YEAR") == 3
    assert codes.count("TT05-PAPERFILECODE-EMPTY") == 1
    assert codes.count("TT05-EAD-DOC-XSD-ARCDOCCODE") == 1
    assert "TT05-DOCCODE-FORMAT" not in codes


# --- together with the E-ARK validator ------------------------------------------------------------

_EARK = importlib.util.find_spec("sip.eark") is not None


@pytest.mark.skipif(not _EARK, reason="sip/eark.py (the E-ARK validator) is not there yet")
@pytest.mark.parametrize("kind", list(PackageKind))
def test_valid_package_passes_eark_and_tt05(tmp_path: Path, kind: PackageKind) -> None:
    from sip.eark import validate_eark

    pkg = build(tmp_path, kind)
    tree = PackageTree(pkg)
    tree.hash_all(("sha256",))
    report = Report(subject=pkg.name)
    validate_eark(tree, report, tt05=True)
    validate_tt05(tree, report, package_name=pkg.name)
    assert report.errors == [], [(f.code, str(f.location)) for f in report.errors]


@pytest.mark.skipif(not _EARK, reason="sip/eark.py (the E-ARK validator) is not there yet")
def test_valid_stub_passes_eark_and_tt05(tmp_path: Path) -> None:
    from sip.eark import validate_eark

    pkg = build(tmp_path)
    make_stub(pkg, 2)
    tree = PackageTree(pkg)
    report = Report(subject=pkg.name)
    validate_eark(tree, report, tt05=True)
    validate_tt05(tree, report, package_name=pkg.name)
    assert report.errors == [], [(f.code, str(f.location)) for f in report.errors]



def _rename(pkg: Path) -> Path:
    return pkg.rename(pkg.parent / "ho-so-160")


def _fileid(value: str, *, replace: bool) -> Callable[[Path], None]:
    """The first link div names FILEID ``value`` (instead of, or besides, its data file)."""
    def mutate(pkg: Path) -> None:
        def change(root: etree._Element) -> None:
            div = link_divs(root)[0]
            if replace:
                one(div, "m:fptr").set("FILEID", value)
            else:
                etree.SubElement(div, f"{{{METS}}}fptr", FILEID=value)
        edit_xml(pkg, REP_METS, change)
    return mutate


_DANGLING = "ID-00000000-0000-0000-0000-000000000000"
#: one damage each → the exact codes the dispatcher's two validators give together
BOTH: list[tuple[str, Callable[[Path], object], set[str]]] = [
    ("folder-name", _rename, {"TT05-FOLDER-NAME"}),
    ("data-file-not-in-mets", lambda p: add_file(p, f"{DATA}/thua.pdf"), {"EARK-FILE-ORPHAN"}),
    ("record-not-in-mets", lambda p: add_file(p, f"{RECORDS}/EAD_DOC_x.xml",
                                              (p / record(1)).read_bytes()),
     {"EARK-FILE-ORPHAN"}),
    ("fileid-dangling-extra", _fileid(_DANGLING, replace=False), {"EARK-FPTR-DANGLING"}),
    # two problems: the fptr names nothing, and data file 1 is now tied to no record
    ("fileid-dangling", _fileid(_DANGLING, replace=True),
     {"EARK-FPTR-DANGLING", "TT05-LINK-FILE-UNLINKED"}),
    ("ead-removed", lambda p: remove(p, EAD), {"CSIP24-HREF-NOT-FOUND"}),
    ("schema-removed", lambda p: remove(p, "schemas/ead_pic.xsd"), {"CSIP79-HREF-NOT-FOUND"}),
    # the missing METS once; its folder's unreferenced files cannot be looked for
    ("rep-mets-removed", lambda p: remove(p, REP_METS),
     {"CSIP79-HREF-NOT-FOUND", "EARK-ORPHANS-NOT-CHECKED"}),
]


@pytest.mark.skipif(not _EARK, reason="sip/eark.py (the E-ARK validator) is not there yet")
@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _n, m, e in BOTH],
                         ids=[n for n, _m, _e in BOTH])
def test_each_problem_is_reported_once_by_eark_and_tt05(
        tmp_path: Path, mutate: Callable[[Path], object], expected: set[str]) -> None:
    from sip.eark import validate_eark

    def dispatch(pkg: Path) -> Report:
        tree = PackageTree(pkg)
        report = Report(subject=pkg.name)
        validate_eark(tree, report, tt05=True)
        validate_tt05(tree, report)
        return report

    pkg = build(tmp_path)
    clean = dispatch(pkg)  # a valid TT05 SIP has a few CSIP warnings (e.g. no LASTMODDATE)
    assert clean.errors == []
    moved = mutate(pkg)
    report = dispatch(moved if isinstance(moved, Path) else pkg)
    added = Counter(f.code for f in report.findings) - Counter(f.code for f in clean.findings)
    assert added == Counter(expected), [(f.code, str(f.location)) for f in report.findings
                                        if f.code in added]


def test_unlinked_and_twice_name_the_file_and_the_div(tmp_path: Path) -> None:
    pkg = build(tmp_path)
    next(c for c in CASES if c.name == "file-twice").mutate(pkg)
    report, _ = run(pkg)
    twice = next(f for f in report.findings if f.code == "TT05-LINK-FILE-TWICE")
    assert twice.params["file"] == data(1) and twice.params["links"] == "2"
    assert (twice.location.path, twice.location.xpath) == (REP_METS,
                                                            "/mets/structMap/div/div[4]")
    assert twice.location.line is not None
    unlinked = next(f for f in report.findings if f.code == "TT05-LINK-FILE-UNLINKED")
    assert unlinked.params["file"] == data(2)
    assert (unlinked.location.path, unlinked.location.xpath) == (
        REP_METS, "/mets/fileSec/fileGrp/file[2]")


# --- field rules on small records ---------------------------------------------------------------


def _snippet(tmp_path: Path, xml: str) -> tuple[Report, Record | None]:
    (tmp_path / "r.xml").write_text(xml, encoding="utf-8")
    report = Report(subject="snippet")
    return report, read_record(PackageTree(tmp_path), "r.xml", report)


@pytest.mark.parametrize(("value", "valid"), [
    ("05/03/2001", True), ("29/02/2024", True), ("29/02/2023", False), ("5/3/2001", False),
    ("2001-03-05", False), ("03/2001", False), ("2001", False), ("00/01/2001", False),
])
def test_dates_are_dd_mm_yyyy(value: str, valid: bool) -> None:
    assert (parse_date(value) is not None) is valid


def test_batch_record_snippet(tmp_path: Path) -> None:
    report, rec = _snippet(tmp_path, (
        '<dc:simpledc xmlns:dc="urn:x"><dc:totalDoc> 2 </dc:totalDoc><dc:source>0</dc:source>'
        "<dc:title>Lô tài liệu</dc:title><dc:fileCode>A.2024.01.0000001</dc:fileCode>"
        "<dc:extra>1</dc:extra></dc:simpledc>"))
    assert rec is not None and rec.get("totalDoc") == "2"
    check_fields(rec, BATCH_FIELDS, report, record_kind="EAD.xml")
    assert [(f.code, f.location.xpath) for f in report.findings] == [
        ("TT05-FIELD-UNKNOWN", "/simpledc/extra")]


def test_each_field_type_snippet(tmp_path: Path) -> None:
    report, rec = _snippet(tmp_path, (
        "<simpledc><fileCode>F</fileCode><title>T</title><source>2</source>"
        "<totalDoc>-1</totalDoc><description>" + "đ" * 2001 + "</description></simpledc>"))
    assert rec is not None
    check_fields(rec, BATCH_FIELDS, report, record_kind="EAD.xml")
    assert sorted((f.code, f.params["field"]) for f in report.findings) == [
        ("TT05-FIELD-CODE", "source"), ("TT05-FIELD-NUMBER", "totalDoc"),
        ("TT05-FIELD-TOO-LONG", "description")]
