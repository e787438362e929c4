"""What the METS validators keep in memory per file or document, and that keeping less changes no
finding: a big METS file schema-validated on a throwaway tree, plain values in the TT05 index,
no E-ARK file list for TT05, shared strings in the document records."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import sip.xmlload
from preservation.findings import Report
from sip.eark import validate_eark
from sip.eark_model import MetsDoc, Reference, line_of
from sip.package import PackageTree
from sip.tt05 import validate_tt05
from sip.tt05_links import check_tie
from sip.tt05_mets import FileRef, index_mets
from sip.tt05_model import PackageKind
from sip.tt05_records import read_record
from sip.xmlload import load_validated_xml, load_xml
from tests.sip.eark_fixtures import build_package, find, m
from tests.sip.tt05_fixtures import CASES, REP_METS, build, edit_xml, link_divs, record

Row = tuple[str, str, str | None, int | None, str | None, str]


def _findings(report: Report) -> list[Row]:
    return [(f.code, str(f.severity), f.location.path, f.location.line, f.location.xpath,
             f.message("en")) for f in report.findings]


def _both(pkg: Path, *, tt05: bool) -> list[Row]:
    report = Report(pkg.name)
    tree = PackageTree(pkg)
    validate_eark(tree, report, tt05=tt05)
    if tt05:
        validate_tt05(tree, report, package_name=pkg.name)
    return _findings(report)


def _schema_broken(mets: etree._Element) -> None:
    etree.SubElement(find(mets, "metsHdr"), m("unexpected"))
    etree.SubElement(mets, m("unexpected"))


@pytest.mark.parametrize("tt05", [False, True])
def test_schema_errors_of_a_throwaway_tree_are_the_findings_of_the_kept_tree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tt05: bool) -> None:
    if tt05:
        pkg = build(tmp_path / "in")
        edit_xml(pkg, REP_METS, lambda root: root.append(etree.Element(m("unexpected"))))
    else:
        pkg = build_package(tmp_path / "in", mutate=_schema_broken)
    small = _both(pkg, tt05=tt05)  # below VALIDATE_APART_BYTES: the kept tree is validated
    monkeypatch.setattr(sip.xmlload, "VALIDATE_APART_BYTES", 0)
    apart = _both(pkg, tt05=tt05)
    assert apart == small
    assert any(row[0] == "EARK-METS-SCHEMA" for row in apart)


def test_tt05_cases_find_the_same_with_the_schema_checked_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [c for c in CASES if c.path in ("METS.xml", REP_METS)][:12]
    assert cases
    for n, case in enumerate(cases):
        pkg = build(tmp_path / str(n), case.kind)
        case.mutate(pkg)
        monkeypatch.setattr(sip.xmlload, "VALIDATE_APART_BYTES", 1 << 40)
        kept = _both(pkg, tt05=True)
        monkeypatch.setattr(sip.xmlload, "VALIDATE_APART_BYTES", 0)
        assert _both(pkg, tt05=True) == kept, case.name


def test_the_kept_tree_has_no_id_tables(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip.xmlload, "VALIDATE_APART_BYTES", 0)
    pkg = build_package(tmp_path / "in")
    tree = PackageTree(pkg)
    parsed, errors = load_validated_xml(tree, "METS.xml", Report("t"), "mets")
    assert parsed is not None and errors == []
    some_id = next(str(e.get("ID")) for e in parsed.iter() if e.get("ID"))
    # a validated tree would find it: libxml2 registers every xs:ID while validating
    assert parsed.xpath("id($v)", v=some_id) == []
    # parsed before: the caller validates the returned tree itself
    again, errors = load_validated_xml(tree, "METS.xml", Report("t"), "mets")
    assert again is parsed and errors is None
    assert load_xml(tree, "METS.xml", Report("t")) is parsed


def test_tt05_gets_no_eark_file_list(tmp_path: Path) -> None:
    pkg = build(tmp_path / "in")
    assert validate_eark(PackageTree(pkg), Report("t"), tt05=True).files == ()
    listed = validate_eark(PackageTree(pkg), Report("t"), tt05=True, list_files=True).files
    assert any(f.path == REP_METS for f in listed)
    assert validate_eark(PackageTree(pkg), Report("t"), list_files=False).files == ()


def test_a_reference_keeps_only_its_element(tmp_path: Path) -> None:
    pkg = build(tmp_path / "in")
    tree = PackageTree(pkg)
    parsed = load_xml(tree, REP_METS, Report("t"))
    assert parsed is not None
    doc = MetsDoc(REP_METS, "representations/rep1", parsed.getroot(), Report("t"))
    flocat = next(parsed.getroot().iter(m("FLocat")))
    md_ref = next(parsed.getroot().iter(m("mdRef")))
    file_ref = Reference(doc, flocat, "file")
    assert file_ref.owner is flocat.getparent() and file_ref.owner.tag == m("file")
    assert file_ref.href == flocat.get("{http://www.w3.org/1999/xlink}href")
    assert Reference(doc, md_ref, "dmdSec").owner is md_ref
    assert not hasattr(file_ref, "__dict__")


def test_tt05_index_holds_plain_values_and_finds_elements_again(tmp_path: Path) -> None:
    pkg = build(tmp_path / "in")
    tree = PackageTree(pkg)
    parsed = load_xml(tree, REP_METS, Report("t"))
    assert parsed is not None
    mets = index_mets(tree, REP_METS, parsed.getroot())
    assert mets.files and all(isinstance(v, FileRef) for v in mets.files.values())
    assert all(isinstance(value, str | int | None) for v in mets.files.values() for value in v)
    assert all(isinstance(value, str | int | None) for v in mets.dmd.values() for value in v)
    data = mets.files_in("Data")
    assert data and all(e.element.tag == m("file") and e.path == mets.files[e.file_id].path
                        for e in data)
    # paths shared by the index and the references, not one copy each
    assert all(any(p is path for p in mets.references) for path in
               (v.path for v in mets.files.values()) if path is not None)


def test_a_data_file_linked_twice_and_one_unlinked_are_located(tmp_path: Path) -> None:
    pkg = build(tmp_path / "in")

    def relink(root: etree._Element) -> None:
        first, second = (div.find(m("fptr")) for div in link_divs(root)[:2])
        assert first is not None and second is not None
        second.set("FILEID", first.get("FILEID") or "")

    edit_xml(pkg, REP_METS, relink)
    tree = PackageTree(pkg)
    parsed = load_xml(tree, REP_METS, Report("t"))
    assert parsed is not None
    report = Report("t")
    check_tie(tree, index_mets(tree, REP_METS, parsed.getroot()), report)
    twice = next(f for f in report.findings if f.code == "TT05-LINK-FILE-TWICE")
    unlinked = next(f for f in report.findings if f.code == "TT05-LINK-FILE-UNLINKED")
    divs = link_divs(parsed.getroot())
    assert twice.location.line == line_of(divs[1])
    assert unlinked.location.xpath is not None and "/fileSec/" in unlinked.location.xpath


def test_records_share_field_names_and_short_values(tmp_path: Path) -> None:
    pkg = build(tmp_path / "in")
    tree = PackageTree(pkg)
    first = read_record(tree, record(1), Report("t"))
    second = read_record(tree, record(2), Report("t"))
    assert first is not None and second is not None
    for (name_1, value_1), (name_2, value_2) in zip(first.values.items(),
                                                    second.values.items(), strict=False):
        assert name_1 is name_2
        if value_1 == value_2 and len(value_1) <= 16:
            assert value_1 is value_2


def test_the_tt05_validation_is_unchanged_by_a_small_keep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sip.tt05
    pkg = build(tmp_path / "in", PackageKind.HOSO)
    before = _both(pkg, tt05=True)
    monkeypatch.setattr(sip.tt05, "KEEP", 1)
    monkeypatch.setattr(sip.xmlload, "VALIDATE_APART_BYTES", 0)
    assert _both(pkg, tt05=True) == before
