"""The content checks' per-file records out of memory (issue 4, SCALE): the formats found and
the paths seen are DiskMaps, the files handed to the workers a spooled sequence, the files clamd
refused a DiskMap; past a (lowered) KEEP they give the same findings, in the same order, and
the same formats, one shared object per identification."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

import sip.content
import sip.submission
from policies.formats import load_format_policy
from preservation.findings import Report
from sip.content import ContentItem, ContentOptions, check_content
from sip.content_paths import ContentPaths
from sip.content_virus import ScanResult, VirusScan
from sip.package import PackageTree
from sip.samples import minimal_pdf
from sip.validate import open_sip
from tests.sip.bagit_fixtures import make_test_bag
from tests.sip.pdf_fixtures import identifier, make_package

DATA = "representations/rep1/data"
needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="worker processes are forked; no fork here")


def _files() -> dict[str, bytes]:
    files = {f"{DATA}/{i:03d}.txt": f"văn bản {i}\n".encode() for i in range(9)}
    files[f"{DATA}/a.pdf"] = minimal_pdf("A")
    files[f"{DATA}/b.pdf"] = minimal_pdf("B")
    files[f"{DATA}/empty.txt"] = b""
    files[f"{DATA}/x.qqq"] = bytes(range(40))
    files["METS.xml"] = b"<mets/>\n"
    return files


def _items() -> list[ContentItem]:
    names = [*(f"{i:03d}.txt" for i in range(9)), "a.pdf", "b.pdf", "empty.txt", "x.qqq",
             "missing.txt"]
    items = [ContentItem(f"{DATA}/{n}", digitised=n == "b.pdf") for n in names]
    # a path listed again (checked once, its later items only counted) and a scan listed too
    return [*items[:4], items[2], *items[4:], items[9], ContentItem(f"{DATA}/b.pdf")]


def _findings(report: Report) -> list[tuple[Any, ...]]:
    return [(f.code, f.location.path, f.severity.value, tuple(sorted(f.params.items())))
            for f in report.findings]


def _check(tree: PackageTree, items: list[ContentItem]
           ) -> tuple[list[tuple[Any, ...]], dict[str, Any], int, bool]:
    report = Report("memory")
    counted: list[int] = []
    formats = check_content(tree, items, report, ContentOptions(load_format_policy(None)),
                            identifier=identifier(), progress=counted.append,
                            scan_also=["METS.xml", "METS.xml", f"{DATA}/a.pdf"])
    assert len({id(f) for f in formats.values()}) == len(set(formats.values()))
    return _findings(report), dict(formats.items()), sum(counted), formats.on_disk


@pytest.mark.parametrize("parallel_min", [1, 10_000])
def test_the_checks_past_keep_give_what_they_give_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_min: int) -> None:
    monkeypatch.setattr(sip.content, "PARALLEL_MIN", parallel_min)  # 1: workers for all
    tree = make_package(tmp_path / "pkg", _files())
    findings, formats, counted, on_disk = _check(tree, _items())
    assert not on_disk and counted == len(_items())
    assert [f[0] for f in findings].count("CONTENT-EMPTY") == 1
    assert [f[0] for f in findings].count("CONTENT-MISSING") == 1
    assert len(formats) == 12  # each listed, non-empty file once
    for keep in (0, 1, 3):
        monkeypatch.setattr(sip.content, "KEEP", keep)
        again = _check(tree, _items())
        assert again == (findings, formats, counted, True)


@needs_fork
def test_workers_read_their_chunks_of_the_spooled_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip.content, "PARALLEL_MIN", 1)
    monkeypatch.setattr(sip.content, "CHUNK", 2)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    tree = make_package(tmp_path / "pkg", _files())
    reference = _check(tree, _items())
    monkeypatch.setattr(sip.content, "KEEP", 2)
    assert _check(tree, _items()) == (*reference[:3], True)


def test_content_paths_mark_the_first_item_of_each_path() -> None:
    items = [ContentItem(p) for p in ("a", "b", "a", "c", "b", "b", "d")]
    paths = ContentPaths(items, lambda item: item.path != "c", keep=1)
    assert [i.path for i in paths.work] == ["a", "b", "d"]
    assert [first for _, first in paths.firsts(items)] == [True, True, False, True, False,
                                                           False, True]
    assert paths.seen.on_disk and set(paths.seen) == {"a", "b", "c", "d"}
    paths.close()
    assert len(paths.seen) == 0


class _Refusing:
    """A clamd that refuses every file, with an error of its own per file."""

    def scan(self, chunks: Any) -> ScanResult:
        for _ in chunks:
            pass
        self.n = getattr(self, "n", 0) + 1
        return ScanResult(error=f"refused {self.n % 2}")


@pytest.mark.parametrize("keep", [0, 1, 10_000])
def test_refused_files_past_keep_are_reported_in_order(tmp_path: Path, keep: int) -> None:
    files = {f"data/{i}.txt": b"x\n" for i in range(7)}
    tree = make_package(tmp_path / "pkg", files)
    report = Report("virus")
    scan = VirusScan(None, report, keep=keep)
    scan.clamd, scan.active = _Refusing(), True  # type: ignore[assignment]
    for rel in files:
        scan.scan(tree, rel)
    scan.finish()
    refused = [(f.location.path, f.params["reason"]) for f in report.findings
               if f.code == "VIRUS-FILE-NOT-CHECKED"]
    assert refused == [(rel, f"refused {(n + 1) % 2}") for n, rel in enumerate(files)]


def test_a_validated_bag_past_keep_has_the_same_formats_and_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"tệp {i:02d}.txt": f"nội dung {i}\n".encode() for i in range(12)}
    files |= {"a.pdf": minimal_pdf("A"), "b.bin": bytes(range(64)), "c.txt": b""}
    bag = make_test_bag(tmp_path, files)

    def validated(work: Path) -> tuple[Any, ...]:
        with open_sip(bag, work) as sub:
            return dict(sub.formats.items()), _findings(sub.report), sub.formats

    formats, findings, kept = validated(tmp_path / "w1")
    assert formats and not kept.on_disk  # type: ignore[attr-defined]
    monkeypatch.setattr(sip.content, "KEEP", 2)
    monkeypatch.setattr(sip.submission, "KEEP", 2)
    again, again_findings, spilled = validated(tmp_path / "w2")
    assert spilled.on_disk and again == formats and again_findings == findings
