"""Content checks of many files (sip/content.py): every file identified (and checked) in forked
worker processes gives exactly the findings and answers of checking them one by one."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import preservation.forking
import sip.content
from policies.formats import load_format_policy
from preservation.findings import Report
from preservation.formats import FormatId
from sip.content import ContentItem, ContentOptions, check_content
from sip.package import PackageTree
from sip.samples import minimal_pdf
from tests.sip.pdf_fixtures import identifier, make_package

DATA = "representations/rep1/data"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a5f9a4b90000000049454e44ae426082")
GIF87 = b"GIF87a\x01\x00\x01\x00\x00\x00\x00;"

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="worker processes are forked; no fork here")


def _files(count: int) -> dict[str, bytes]:
    """``count`` content files of several kinds: accepted, refused, unidentified, empty."""
    bodies = (lambda i: minimal_pdf(f"document {i}"), lambda i: PNG, lambda i: GIF87,
              lambda i: "văn bản\n".encode() * (i + 1), lambda i: bytes([0, 1, 2, i % 256]) * 20,
              lambda i: b"")
    suffixes = ("pdf", "png", "gif", "txt", "qqq", "pdf")
    return {f"{DATA}/{i:04d}.{suffixes[i % 6]}": bodies[i % 6](i) for i in range(count)}


def _check(tree: PackageTree, items: list[ContentItem]) -> tuple[Report, dict[str, FormatId]]:
    report = Report("many")
    formats = check_content(tree, items, report, ContentOptions(policy=load_format_policy(None)),
                            identifier=identifier())
    return report, formats


def _located(report: Report) -> list[tuple[str, str | None, str, tuple[tuple[str, str], ...]]]:
    return sorted((f.code, f.location.path, f.severity.value, tuple(sorted(f.params.items())))
                  for f in report.findings)


class Spy:
    """Who forked workers for the content checks, and which processes ran them."""

    def __init__(self, marks: Path) -> None:
        self.callers: list[int] = []
        self.marks = marks

    def workers(self) -> set[int]:
        return {int(p.name) for p in self.marks.iterdir()}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Spy:
    """Record every call of fork_map from sip.content and the process id of every worker."""
    found = Spy(tmp_path / "pids")
    found.marks.mkdir()
    real = preservation.forking.fork_map

    def recording(function: Any, items: Any, **kwargs: Any) -> Any:
        def marking(item: Any) -> Any:
            (found.marks / str(os.getpid())).touch()
            return function(item)

        found.callers.append(os.getpid())
        return real(marking, items, **kwargs)

    monkeypatch.setattr(sip.content, "fork_map", recording)
    return found


@needs_fork
def test_many_files_are_identified_in_workers_with_the_same_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: Spy) -> None:
    files = _files(2 * sip.content.PARALLEL_MIN)  # a sixth of them empty: not identified
    tree = make_package(tmp_path / "pkg", files)
    items = [ContentItem(rel) for rel in files]
    items += [ContentItem(f"{DATA}/missing.pdf"), ContentItem(items[0].path)]  # + a repeat
    # a file swapped for a link after the listing is unreadable, whichever way it is identified
    swapped = f"{DATA}/0001.png"
    (tmp_path / "pkg" / swapped).unlink()
    (tmp_path / "pkg" / swapped).symlink_to(tmp_path / "pkg" / f"{DATA}/0000.pdf")

    monkeypatch.setattr(sip.content, "PARALLEL_MIN", 10**9)
    serial_report, serial = _check(tree, items)
    assert spy.callers == []
    monkeypatch.setattr(sip.content, "PARALLEL_MIN", 200)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    # the test process may hold idle threads of other tests; forking past them is safe here
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    parallel_report, parallel = _check(tree, items)

    assert parallel == serial
    assert all(parallel[rel] is serial[rel] for rel in serial)  # the shared answers
    assert _located(parallel_report) == _located(serial_report)
    codes = {f.code for f in serial_report.findings}
    assert {"CONTENT-EMPTY", "CONTENT-MISSING", "CONTENT-UNREADABLE", "FMT-NOT-ACCEPTED",
            "FMT-UNIDENTIFIED"} <= codes
    assert [f.location.path for f in parallel_report.findings
            if f.code == "CONTENT-UNREADABLE"] == [swapped]
    me = os.getpid()
    assert spy.callers == [me]
    assert spy.workers() and me not in spy.workers()  # really forked


def test_no_fork_while_another_thread_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           spy: Spy) -> None:
    files = _files(2 * sip.content.PARALLEL_MIN)
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        report, formats = _check(tree, [ContentItem(rel) for rel in files])
    finally:
        release.set()
        other.join()
    assert spy.callers == []
    assert set(formats) == {rel for rel, body in files.items() if body}
    assert [f.location.path for f in report.findings if f.code == "CONTENT-EMPTY"] == \
        [rel for rel, body in files.items() if not body]


def test_few_files_or_one_cpu_are_identified_in_turn(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     spy: Spy) -> None:
    files = {rel: body for rel, body in _files(2 * sip.content.PARALLEL_MIN).items() if body}
    files = dict(list(files.items())[:sip.content.PARALLEL_MIN - 1])
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    _check(tree, [ContentItem(rel) for rel in files])
    assert spy.callers == []
    files = _files(2 * sip.content.PARALLEL_MIN)
    tree = make_package(tmp_path / "pkg2", files)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 1)
    _check(tree, [ContentItem(rel) for rel in files])
    assert spy.callers == []
