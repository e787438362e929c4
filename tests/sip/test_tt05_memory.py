"""TT05 validation in flat memory: document records are not kept, documents spool past KEEP.

The checks across documents (totals, docId / docCode uniqueness, the EAD_DOC schema) work from a
:class:`~sip.tt05_rules.DocumentTally` filled as each record is read; the documents handed to
ingest are a spooled sequence; the METS trees are released once TT05 validation ends. Each
test compares the flat-memory path (a tiny KEEP) with the in-memory one (the default).
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

import sip.tt05 as tt05
from preservation.findings import Report
from sip.package import PackageTree
from sip.tt05 import Tt05Record, validate_tt05
from sip.tt05_model import PackageKind
from sip.tt05_records import Record
from sip.tt05_rules import DocumentTally, check_totals, check_unique
from tests.sip.tt05_fixtures import EAD, FILE_CODE, build, doc_id, record, set_field


def _validate(pkg: Path) -> tuple[list[tuple[object, ...]], Tt05Record, PackageTree]:
    tree = PackageTree(pkg)
    report = Report(subject=pkg.name)
    rec = validate_tt05(tree, report, package_name=pkg.name)
    findings: list[tuple[object, ...]] = [
        (f.code, f.location.path, f.location.line, f.location.xpath, f.message("en"))
        for f in report.findings]
    return findings, rec, tree


def _documents(rec: Tt05Record) -> list[tuple[object, ...]]:
    return [(d.doc_id, d.ead_doc, d.data_files, dict(d.fields), d.confidence_level,
             d.digitised) for d in rec.documents]


def _expected_duplicates(records: list[Record]) -> list[tuple[str, str, str, str]]:
    """What the uniqueness rule reported when it held every record: by field, then by value
    in the order of its first holder, then by record."""
    out: list[tuple[str, str, str, str]] = []
    for name, code in (("docId", "TT05-DOCID-DUPLICATE"), ("docCode", "TT05-DOCCODE-DUPLICATE")):
        seen: dict[str, list[Record]] = defaultdict(list)
        for document in records:
            if document.has(name):
                seen[document.get(name)].append(document)
        for value, holders in seen.items():
            out.extend((code, d.rel, value, holders[0].rel) for d in holders[1:])
    return out


@pytest.mark.parametrize("keep", [1, 3, 10_000])
def test_duplicates_in_the_order_of_the_whole_list(keep: int) -> None:
    rng = random.Random(keep)
    records = [Record(f"r/EAD_DOC_{i}.xml", values={"docId": f"id{rng.randrange(6)}",
                                                   "docCode": rng.choice(["", "a", "b", "c"])})
               for i in range(40)]
    tally = DocumentTally(keep=keep)
    try:
        for document in records:
            tally.add(document)
        report = Report(subject="x")
        check_unique(tally, report)
    finally:
        tally.close()
    got = [(f.code, f.location.path, f.params["value"], f.params["other"])
           for f in report.findings]
    assert got == _expected_duplicates(records)
    assert len(got) > 10  # the random values do repeat, across both fields


def test_totals_from_the_tally() -> None:
    package = Record(EAD, values={"totalDoc": "3", "numberOfPage": "7"})
    tally = DocumentTally(keep=1)
    for pages in ("2", "2", "2"):
        tally.add(Record("r/EAD_DOC_x.xml", values={"numberOfPage": pages}))
    report = Report(subject="x")
    check_totals(package, PackageKind.HOSO, tally, 3, report)
    (finding,) = report.findings
    assert (finding.code, finding.params["declared"], finding.params["found"]) == (
        "TT05-NUMBEROFPAGE-MISMATCH", "7", "6")
    tally.add(Record("r/EAD_DOC_y.xml", values={"numberOfPage": "x"}))  # not a number
    report = Report(subject="x")
    check_totals(package, PackageKind.HOSO, tally, 4, report)
    assert [f.code for f in report.findings] == ["TT05-TOTALDOC-MISMATCH"]
    tally.close()


def test_valid_dossier_the_same_with_a_tiny_keep(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = build(tmp_path)
    findings, rec, _ = _validate(pkg)
    monkeypatch.setattr(tt05, "KEEP", 1)
    spooled_findings, spooled_rec, tree = _validate(pkg)
    assert spooled_findings == findings == []
    assert _documents(spooled_rec) == _documents(rec)
    assert [d.doc_id for d in spooled_rec.documents] == [doc_id(n) for n in (1, 2, 3)]
    assert spooled_rec.documents[2].ead_doc == record(3)
    assert (spooled_rec.kind, spooled_rec.objid, spooled_rec.fields) == (
        rec.kind, rec.objid, rec.fields)
    # no parsed tree stays on the package tree once TT05 validation is over
    assert tree.parsed_xml and all(kept is None for kept, _, _ in tree.parsed_xml.values())


def test_problems_across_documents_the_same_with_a_tiny_keep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = build(tmp_path)
    set_field(pkg, record(3), "docId", doc_id(1))
    set_field(pkg, record(2), "docCode", f"{FILE_CODE}0000001")
    set_field(pkg, record(3), "docCode", f"{FILE_CODE}0000001")
    set_field(pkg, record(2), "numberOfPage", "40")
    set_field(pkg, EAD, "totalDoc", "9")
    findings, rec, _ = _validate(pkg)
    codes = [code for code, *_ in findings]
    for code in ("TT05-DOCID-DUPLICATE", "TT05-DOCCODE-DUPLICATE", "TT05-TOTALDOC-MISMATCH"):
        assert code in codes
    assert codes.count("TT05-DOCCODE-DUPLICATE") == 2
    monkeypatch.setattr(tt05, "KEEP", 1)
    spooled_findings, spooled_rec, _ = _validate(pkg)
    assert spooled_findings == findings
    assert _documents(spooled_rec) == _documents(rec)


def test_a_released_mets_is_parsed_again_quietly(tmp_path: Path) -> None:
    """Releasing the trees keeps their findings: a second validation reports the same."""
    pkg = build(tmp_path)
    (pkg / "representations" / "rep1" / "METS.xml").write_bytes(b"<mets")
    tree = PackageTree(pkg)
    first, second = Report(subject="a"), Report(subject="b")
    validate_tt05(tree, first, package_name=pkg.name)
    validate_tt05(tree, second, package_name=pkg.name)
    assert [f.code for f in first.findings] == [f.code for f in second.findings]
    assert "XML-MALFORMED" in [f.code for f in first.findings]
