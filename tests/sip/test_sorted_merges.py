"""Lookups answered by walking sorted DiskMaps side by side (sip.sorted_lookup, the tie's
in-order index lookups): the same answers as the maps themselves, whatever order the keys come
in, and the same TT05 / E-ARK findings, in the same order, with the maps on disk as in memory.
"""

from __future__ import annotations

import random
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
from preservation.diskmap import DiskMap
from preservation.findings import Report
from sip.eark import validate_eark
from sip.package import PackageTree
from sip.sorted_lookup import SortedLookup
from sip.tt05 import validate_tt05
from sip.tt05_links import _in_order, _InOrder
from sip.tt05_mets import FileRef
from tests.sip.eark_fixtures import m
from tests.sip.tt05_fixtures import REP_METS, ROOT_METS, build, edit_xml, link_divs, one

KEYS = ["", "a", "a/b", "a b", "é", "e\u0301", "z", "\udcff", "\ue000", "\U0001f600", "ID-1",
        "ID-10", "ID-2"]


def _disk(keys: list[str], order: str = "key") -> DiskMap[int]:
    kept: DiskMap[int] = DiskMap(keep=1, order=order, buffer=4)  # type: ignore[arg-type]
    for number, key in enumerate(keys):
        kept[key] = number
    assert kept.on_disk
    return kept


@pytest.mark.parametrize("seed", range(20))
def test_a_sorted_lookup_answers_as_the_map(seed: int) -> None:
    rng = random.Random(seed)
    stored = rng.sample(KEYS, rng.randint(2, len(KEYS)))
    kept = _disk(stored)
    try:
        asked = [rng.choice(KEYS) for _ in range(30)]
        if seed % 2:
            asked.sort()  # ascending (with repeats): the merge answers all
        lookup = SortedLookup(kept)
        plain = dict(kept.items())
        assert [lookup.get(key, -1) for key in asked] == [plain.get(key, -1) for key in asked]
        lookup = SortedLookup(kept)
        assert [key in lookup for key in asked] == [key in plain for key in asked]
    finally:
        kept.close()


def test_a_sorted_lookup_of_a_map_in_memory_or_in_insertion_order() -> None:
    lookup = SortedLookup({"b": 1, "a": 2})
    assert (lookup.get("b"), lookup.get("a"), "c" in lookup) == (1, 2, False)
    kept = _disk(["b", "a"], order="insertion")
    try:
        with pytest.raises(ValueError, match="key order"):
            SortedLookup(kept)
    finally:
        kept.close()


@pytest.mark.parametrize("seed", range(20))
def test_in_order_lookups_answer_as_the_index(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"FILE-{n}" for n in range(12)]
    index: DiskMap[FileRef] = DiskMap(encode=tuple, decode=lambda v: FileRef(*v), keep=1,
                                      buffer=4)
    try:
        for position, file_id in enumerate(ids):
            if rng.random() < 0.8:  # some positions have no entry (a file without an ID)
                index[file_id] = FileRef("Data", f"data/{position}", position)
        asked = ids + ["NONE"] + ids[::-1] + [rng.choice(ids) for _ in range(20)]
        if seed % 3 == 0:
            asked = sorted(asked, key=lambda _: rng.random())
        get = _in_order(index)
        assert isinstance(get.__self__, _InOrder)  # type: ignore[attr-defined]
        assert [get(key) for key in asked] == [index.get(key) for key in asked]
        # the stored IDs in their order, after a skip: read in the walk, none looked up
        stored = list(index)
        lookups = _InOrder(index)
        assert lookups.get(stored[1]) == index.get(stored[1])
        real, asked_for = index.get, []
        index.get = lambda key, *default: asked_for.append(key)  # type: ignore[method-assign,assignment]
        try:
            assert [lookups.get(key) for key in stored[2:]] == [real(k) for k in stored[2:]]
        finally:
            del index.get
        assert asked_for == []
    finally:
        index.close()


# --- the validators, with their maps on disk and in memory ------------------------------------

Row = tuple[str, str | None, int | None, str | None, str]
MODULES = (sip.eark, sip.eark_refs, sip.eark_structmap, sip.tt05_mets, sip.tt05_links,
           sip.xmlload, tt05)


def _findings(pkg: Path, keep: int | None, monkeypatch: pytest.MonkeyPatch) -> list[Row]:
    with monkeypatch.context() as patch:
        if keep is not None:
            for module in MODULES:
                patch.setattr(module, "KEEP", keep)
        report = Report(pkg.name)
        tree = PackageTree(pkg)
        validate_eark(tree, report, tt05=True)
        validate_tt05(tree, report, package_name=pkg.name)
    return [(f.code, f.location.path, f.location.line, f.location.xpath, f.message("en"))
            for f in report.findings]


def _tangle(root: etree._Element) -> None:
    """Links out of document order, a file linked twice, a record and a file linked nowhere,
    a link to a dmdSec (not a data file) and one to nothing; the Metadata div listing the
    dmdSecs out of order, one twice, one of them not and an ID that is none."""
    divs = link_divs(root)
    parent = divs[0].getparent()
    assert parent is not None
    for div in divs:
        parent.remove(div)
    for div in reversed(divs):
        parent.append(div)
    sections = [s.get("ID") or "" for s in root.iter(m("dmdSec"))]
    files = [f.get("ID") or "" for f in root.iter(m("file"))]
    first, second, third = (div.find(m("fptr")) for div in divs)
    assert first is not None and second is not None and third is not None
    second.set("FILEID", files[0])  # the first data file twice, the second nowhere
    extra = etree.SubElement(divs[0], m("fptr"))
    extra.set("FILEID", sections[1])  # a dmdSec, not a data file
    third.set("FILEID", "ID-NOWHERE")
    divs[2].set("DMDID", "ID-NO-SECTION")  # the third record linked nowhere
    metadata = one(root, "//m:div[@LABEL='Metadata']")
    metadata.set("DMDID", " ".join([sections[2], "ID-NOT-A-SECTION", sections[0], sections[2]]))


def test_the_same_findings_on_disk_as_in_memory(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = build(tmp_path / "in")
    edit_xml(pkg, REP_METS, _tangle)
    (pkg / "representations/rep1/data/stray.pdf").write_bytes(b"%PDF-1.4\n")
    (pkg / "a-stray.txt").write_bytes(b"stray\n")
    in_memory = _findings(pkg, None, monkeypatch)
    assert _findings(pkg, 1, monkeypatch) == in_memory
    assert _findings(pkg, 2, monkeypatch) == in_memory
    codes = [row[0] for row in in_memory]
    for code in ("TT05-LINK-FILE-TWICE", "TT05-LINK-FILE-UNLINKED", "TT05-LINK-NOT-DATA-FILE",
                 "TT05-LINK-DANGLING", "TT05-LINK-RECORD-UNLINKED", "EARK-FPTR-DANGLING",
                 "CSIP92-DMDID-INCOMPLETE", "CSIP92-DMDID-WRONG-TARGET", "EARK-FILE-ORPHAN"):
        assert code in codes, code
    wrong = next(row for row in in_memory if row[0] == "CSIP92-DMDID-WRONG-TARGET")
    assert "ID-NOT-A-SECTION" in wrong[4]
    orphans = [row[1] or "" for row in in_memory if row[0] == "EARK-FILE-ORPHAN"]
    assert orphans == sorted(orphans) and "a-stray.txt" in orphans
    assert ROOT_METS not in orphans
