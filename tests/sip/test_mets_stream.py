"""METS files read as a stream (sip.mets_stream): a skeleton tree in memory, every dmdSec, file
and document div on disk, and the same findings, at the same lines and XPaths, as the same rules
give on the whole tree.

Every test lowers the KEEP of the validators' DiskMaps, so their databases are used too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

import sip.eark
import sip.eark_refs
import sip.eark_structmap
import sip.tt05 as tt05
import sip.tt05_links
import sip.tt05_mets
import sip.xmlload
from preservation.findings import Report
from preservation.xmlsafe import parse_bytes
from sip.eark import validate_eark
from sip.eark_model import line_of, xpath_of
from sip.mets_stream import Record as Streamed
from sip.mets_stream import StreamedMets, read_streamed
from sip.package import PackageTree
from sip.tt05 import validate_tt05
from sip.tt05_records import Record, read_record
from tests.sip.eark_fixtures import m
from tests.sip.tt05_fixtures import REP_METS, build, edit_xml, link_divs, parse, remove

Row = tuple[str, str | None, int | None, str | None, str]


def _findings(pkg: Path) -> tuple[list[Row], list[tuple[object, ...]]]:  # findings, documents
    report = Report(pkg.name)
    tree = PackageTree(pkg)
    validate_eark(tree, report, tt05=True)
    record = validate_tt05(tree, report, package_name=pkg.name)
    documents: list[tuple[object, ...]] = [(d.doc_id, d.ead_doc, d.data_files, dict(d.fields))
                                           for d in record.documents]
    return [(f.code, f.location.path, f.location.line, f.location.xpath, f.message("en"))
            for f in report.findings], documents


@pytest.fixture(autouse=True)
def _small_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (sip.eark, sip.eark_refs, sip.eark_structmap, sip.tt05_mets, sip.tt05_links,
                   sip.xmlload, tt05):
        monkeypatch.setattr(module, "KEEP", 1)


def _streamed_and_whole(pkg: Path, monkeypatch: pytest.MonkeyPatch
                        ) -> tuple[list[Row], list[Row], list[StreamedMets]]:
    """The findings with the METS files streamed, then read whole (every element in the
    skeleton); the streamed files."""
    read: list[StreamedMets] = []

    def streamed(data: bytes, *, max_bytes: int, source: str) -> StreamedMets:
        read.append(read_streamed(data, max_bytes=max_bytes, source=source))
        return read[-1]

    monkeypatch.setattr(sip.xmlload, "read_streamed", streamed)
    got, documents = _findings(pkg)

    def whole(data: bytes, *, max_bytes: int, source: str) -> StreamedMets:
        return StreamedMets.of_tree(parse_bytes(data, max_bytes=max_bytes,
                                                source=source).getroot())

    monkeypatch.setattr(sip.xmlload, "read_streamed", whole)
    expected, whole_documents = _findings(pkg)
    assert documents == whole_documents and documents
    return got, expected, read


def _damaged(tmp_path: Path, damage: Callable[[etree._Element], object]) -> Path:
    pkg = build(tmp_path / "in")
    edit_xml(pkg, REP_METS, damage)
    return pkg


def _at(rows: list[Row], code: str) -> list[tuple[str | None, int | None, str | None]]:
    return [(path, line, xpath) for found, path, line, xpath, _ in rows if found == code]


def test_the_skeleton_holds_no_document_and_the_records_read_as_the_tree(
        tmp_path: Path) -> None:
    data = (build(tmp_path / "in") / REP_METS).read_bytes()
    streamed = read_streamed(data, max_bytes=1 << 30, source=REP_METS)
    whole = parse_bytes(data).getroot()
    try:
        kept = {element.tag for element in streamed.root.iter()}
        assert not kept & {m("dmdSec"), m("mdRef"), m("file"), m("FLocat"), m("fptr")}
        assert len(link_divs(streamed.root)) == 0 < len(link_divs(whole))
        walked = [(e.tag, line_of(e), xpath_of(e), dict(e.attrib)) for e in streamed.walk()]
        assert walked == [(e.tag, line_of(e), xpath_of(e), dict(e.attrib))
                          for e in whole.iter() if isinstance(e.tag, str)]
        assert any(isinstance(e, Streamed) for e in streamed.walk())
        main = streamed.root.find(f"{m('structMap')}/{m('div')}")
        assert main is not None
        whole_main = whole.find(f"{m('structMap')}/{m('div')}")
        assert whole_main is not None
        assert [xpath_of(d) for d in streamed.children(main, "div")] == [
            xpath_of(d) for d in whole_main.iterchildren(m("div"))]
        assert streamed.count(streamed.root, "dmdSec") == len(whole.findall(m("dmdSec")))
    finally:
        streamed.close()


def test_a_dangling_fileid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def dangle(root: etree._Element) -> None:
        fptr = link_divs(root)[1].find(m("fptr"))
        assert fptr is not None
        fptr.set("FILEID", "ID-00000000-0000-0000-0000-000000000000")

    pkg = _damaged(tmp_path, dangle)
    got, expected, read = _streamed_and_whole(pkg, monkeypatch)
    assert got == expected
    assert len(read) == 2  # METS.xml and rep1's, each read once, as a stream
    fptr = link_divs(parse(pkg / REP_METS).getroot())[1].find(m("fptr"))
    assert fptr is not None
    assert _at(got, "EARK-FPTR-DANGLING") == [(REP_METS, line_of(fptr), xpath_of(fptr))]
    assert xpath_of(fptr) == "/mets/structMap/div/div[4]/fptr"
    # the data file it no longer links
    file_element = list(parse(pkg / REP_METS).getroot().iter(m("file")))[1]
    assert _at(got, "TT05-LINK-FILE-UNLINKED") == [
        (REP_METS, line_of(file_element), xpath_of(file_element))]


def test_a_duplicate_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def duplicate(root: etree._Element) -> None:
        sections = list(root.iter(m("dmdSec")))
        sections[1].set("ID", sections[0].get("ID") or "")

    pkg = _damaged(tmp_path, duplicate)
    got, expected, _ = _streamed_and_whole(pkg, monkeypatch)
    assert got == expected
    root = parse(pkg / REP_METS).getroot()
    second = list(root.iter(m("dmdSec")))[1]
    assert [(path, line) for path, line, _ in _at(got, "EARK-METS-SCHEMA")] == [
        (REP_METS, line_of(second))]
    # the ID the second document's link names is gone; the Metadata div (among the streamed
    # document divs: div[1]) lists it
    link = link_divs(root)[1]
    metadata = next(d for d in root.iter(m("div")) if d.get("LABEL") == "Metadata")
    assert _at(got, "TT05-LINK-DANGLING") == [(REP_METS, line_of(link), xpath_of(link))]
    assert _at(got, "CSIP92-DMDID-WRONG-TARGET") == [
        (REP_METS, line_of(metadata), "/mets/structMap/div/div[1]")]
    assert xpath_of(link) == "/mets/structMap/div/div[4]"


def test_a_missing_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = build(tmp_path / "in")
    flocat = next(parse(pkg / REP_METS).getroot().iter(m("FLocat")))
    remove(pkg, f"representations/rep1/{flocat.get('{http://www.w3.org/1999/xlink}href')}")
    got, expected, _ = _streamed_and_whole(pkg, monkeypatch)
    assert got == expected
    assert _at(got, "CSIP79-HREF-NOT-FOUND") == [
        (REP_METS, line_of(flocat), "/mets/fileSec/fileGrp/file[1]/FLocat")]
    assert xpath_of(flocat) == "/mets/fileSec/fileGrp/file[1]/FLocat"


def test_findings_on_every_streamed_kind(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A dmdSec without STATUS, a file without MIMETYPE, a document div without ID, a
    timestamp without milliseconds: each found where the whole tree finds it."""
    def damage(root: etree._Element) -> None:
        sections = list(root.iter(m("dmdSec")))
        del sections[-1].attrib["STATUS"]
        files = list(root.iter(m("file")))
        del files[-1].attrib["MIMETYPE"]
        del link_divs(root)[-1].attrib["ID"]
        sections[0].set("CREATED", "2024-01-01T00:00:00+07:00")

    pkg = _damaged(tmp_path, damage)
    got, expected, _ = _streamed_and_whole(pkg, monkeypatch)
    assert got == expected
    root = parse(pkg / REP_METS).getroot()
    sections, files = list(root.iter(m("dmdSec"))), list(root.iter(m("file")))
    div = link_divs(root)[-1]
    for code, element in (("CSIP20-STATUS-MISSING", sections[-1]),
                          ("CSIP68-MIMETYPE-MISSING", files[-1]),
                          ("CSIP106-ID-MISSING", div),
                          ("TT05-TIMESTAMP-FORMAT", sections[0])):
        assert _at(got, code) == [(REP_METS, line_of(element), xpath_of(element))], code


def test_the_mets_files_are_freed_before_the_document_records_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = build(tmp_path / "in")
    tree = PackageTree(pkg)
    report = Report(pkg.name)
    validate_eark(tree, report, tt05=True)
    assert set(sip.xmlload._STREAMED[tree]) == {"METS.xml", REP_METS}
    held: list[bool] = []
    real = read_record

    def spy(package: PackageTree, rel: str, into: Report) -> Record | None:
        if "EAD_DOC_" in rel:
            held.append(bool(sip.xmlload._STREAMED.get(package)))
        return real(package, rel, into)

    monkeypatch.setattr(tt05, "read_record", spy)
    record = validate_tt05(tree, report, package_name=pkg.name)
    assert held and not any(held)
    assert len(record.documents) == len(held)
