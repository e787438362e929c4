"""Content checks of many files (sip/content.py): every file identified (and checked) in forked
worker processes gives exactly the findings and answers of checking them one by one."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import preservation.forking
import sip.content
import sip.content_pdf
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

    monkeypatch.setattr(sip.content, "can_fork", lambda: False)  # checked here, in turn
    serial_report, serial = _check(tree, items)
    assert spy.callers == []
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
    """Without a PDF, forking pays off only from PARALLEL_MIN files on, with two CPUs."""
    without_pdf = {rel: body for rel, body in _files(2 * sip.content.PARALLEL_MIN).items()
                   if body and not rel.endswith(".pdf")}
    files = dict(list(without_pdf.items())[:sip.content.PARALLEL_MIN - 1])
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    _check(tree, [ContentItem(rel) for rel in files])
    assert spy.callers == []
    tree = make_package(tmp_path / "pkg2", without_pdf)
    assert len(without_pdf) >= sip.content.PARALLEL_MIN
    monkeypatch.setattr(sip.content, "_cpus", lambda: 1)
    _check(tree, [ContentItem(rel) for rel in without_pdf])
    assert spy.callers == []


@needs_fork
@pytest.mark.parametrize("cpus", [1, 2])
def test_a_pdf_is_checked_in_a_worker_even_in_a_small_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: Spy, cpus: int) -> None:
    """A hostile PDF never runs in the validating process: a few files, one CPU, a PDF under
    another name; its crash is CONTENT-UNREADABLE and the rest is checked."""
    files = {f"{DATA}/a.txt": b"plain text\n", f"{DATA}/b.pdf": minimal_pdf("b"),
             f"{DATA}/c.bin": minimal_pdf("c"), f"{DATA}/d.png": PNG}
    tree = make_package(tmp_path / "pkg", files)
    items = [ContentItem(rel) for rel in files]
    monkeypatch.setattr(sip.content, "_cpus", lambda: cpus)
    monkeypatch.setattr(sip.content, "can_fork", lambda: False)
    serial_report, serial = _check(tree, items)
    assert spy.callers == []
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    report, formats = _check(tree, items)
    assert spy.callers == [os.getpid()]
    assert spy.workers() and os.getpid() not in spy.workers()
    assert _located(report) == _located(serial_report) and formats == serial

    parent = os.getpid()
    real_check_pdf = sip.content_pdf.check_pdf

    def crashing(tree: PackageTree, rel: str, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent and rel == f"{DATA}/c.bin":
            os.kill(os.getpid(), signal.SIGKILL)  # as a parser's segfault would end it
        return real_check_pdf(tree, rel, *args, **kwargs)

    monkeypatch.setattr(sip.content, "check_pdf", crashing)
    report, formats = _check(tree, items)
    assert [f.location.path for f in report.findings if f.code == "CONTENT-UNREADABLE"] == \
        [f"{DATA}/c.bin"]
    assert set(formats) == set(files) - {f"{DATA}/c.bin"}


@needs_fork
def test_a_small_package_without_pdf_names_is_sniffed_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: Spy) -> None:
    """Text that merely mentions %PDF deep inside is no reason to fork; at its start it is."""
    files = {f"{DATA}/a.txt": b"x" * (300 * 1024) + b"%PDF-1.4", f"{DATA}/d.png": PNG}
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    _check(tree, [ContentItem(rel) for rel in files])
    assert spy.callers == []
    (tmp_path / "pkg" / DATA / "a.txt").write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    tree = PackageTree(tree.root)
    _check(tree, [ContentItem(rel) for rel in files])
    assert spy.callers == [os.getpid()]


@needs_fork
def test_an_answer_for_another_file_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers carry their file: if the workers' list and the checks ever disagree (here the
    workers are also given the empty file), the run stops instead of mixing files up."""
    files = {f"{DATA}/a.pdf": minimal_pdf("a"), f"{DATA}/b.txt": b"",
             f"{DATA}/c.pdf": minimal_pdf("c")}
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    monkeypatch.setattr(sip.content, "_checked", lambda tree, item: True)
    with pytest.raises(RuntimeError):
        _check(tree, [ContentItem(rel) for rel in files])
