"""Content checks in forked worker processes (sip/content.py, sip/content_findings.py): each
file's identification, format judgement and PDF checks run in one pass in a worker; the report
gets exactly the findings, in exactly the order, and the same identifications, as when every
file is checked one by one here — on PDFs of every kind the PDF checks know (signed, tampered,
encrypted, broken, PDF/A, scans), text, images, empty, missing and swapped files, with a virus
scanner answering. A file whose checks crash their worker or run out of processor time is
CONTENT-UNREADABLE, and every other file keeps its findings."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import preservation.forking
import sip.content
import sip.content_pdf
from policies.formats import load_format_policy
from preservation.findings import Report, Severity
from preservation.formats import FormatId
from sip.content import ContentItem, ContentOptions, check_content
from sip.content_findings import FindingRecorder, replay
from sip.package import PackageTree
from tests.sip.pdf_fixtures import (
    EICAR,
    ClamdStandIn,
    Signer,
    append_page_change,
    build_pdf,
    encrypt,
    garble_signature,
    identifier,
    make_package,
    raw_pdf,
    sample_pdf,
    tamper,
    with_empty_signature_field,
    xmp_packet,
)

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="worker processes are forked; no fork here")

DATA = "representations/rep1/data"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a5f9a4b90000000049454e44ae426082")
GIF87 = b"GIF87a\x01\x00\x01\x00\x00\x00\x00;"

# (code, severity, path, line, xpath, params): everything a finding says
_Said = tuple[str, str, str | None, int | None, str | None, tuple[tuple[str, str], ...]]


def said(report: Report) -> list[_Said]:
    """Every finding, in report order, with all it says."""
    return [(f.code, f.severity.value, f.location.path, f.location.line, f.location.xpath,
             tuple(sorted(f.params.items()))) for f in report.findings]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.create()


@pytest.fixture(scope="module")
def kinds(signer: Signer) -> dict[str, tuple[bytes, bool]]:
    """One file of every kind: name → (bytes, digitised)."""
    plain = build_pdf()
    signed = signer.sign(plain)
    return {
        "signed.pdf": (signed, False),
        "signed-elsewhere.pdf": (Signer.create("Another CA").sign(plain), False),
        "tampered.pdf": (tamper(signed), False),
        "updated-after-signing.pdf": (append_page_change(signed), False),
        "garbled-signature.pdf": (garble_signature(signed), False),
        "empty-signature-field.pdf": (with_empty_signature_field(plain), False),
        "partially-signed.pdf": (signer.sign_partially(plain), False),
        "encrypted.pdf": (encrypt(plain), False),
        "owner-password-only.pdf": (encrypt(build_pdf(text=False), user_password=""), True),
        "broken.pdf": (b"%PDF-1.4\ngarbage", True),
        "truncated.pdf": (plain[:200], False),
        "pdfa-scan.pdf": (build_pdf(pdfa=("2", "B")), True),
        "pdfa-no-text.pdf": (build_pdf(text=False, pages=2, pdfa=("1", "A")), True),
        "scan-without-text.pdf": (build_pdf(text=False), True),
        "scan-text-in-form.pdf": (build_pdf(text_in_form=True), True),
        "xmp-claim-far-in.pdf": (raw_pdf(metadata=xmp_packet("3", "U"), padding=140_000), True),
        "xmp-broken.pdf": (raw_pdf(metadata=b"<x:xmpmeta><broken"), False),
        "sample.pdf": (sample_pdf(), False),
        "born-digital.pdf": (plain, False),
        "bien-ban.txt": ("Biên bản bàn giao\n".encode(), False),
        "anh.png": (PNG, False),
        "old.gif": (GIF87, False),
        "unknown.qqq": (bytes(range(7, 90)), False),
        "no-extension": (b"\x00\x01\x02\x03" * 9, False),
        "empty.pdf": (b"", False),
        "infected.txt": (EICAR, False),
    }


def package(root: Path, kinds: dict[str, tuple[bytes, bool]], copies: int
            ) -> tuple[PackageTree, list[ContentItem]]:
    """``copies`` of every kind (so that each worker gets several), a missing item, a repeated
    one, and a file replaced by a link to another after the listing."""
    files = {f"{DATA}/{n:02d}/{name}": data
             for n in range(copies) for name, (data, _) in kinds.items()}
    tree = make_package(root, files)
    items = [ContentItem(rel, digitised=kinds[rel.rsplit("/", 1)[1]][1]) for rel in files]
    items.insert(5, ContentItem(f"{DATA}/missing.pdf"))
    items.append(items[0])
    swapped = root / DATA / "00" / "anh.png"
    swapped.unlink()
    swapped.symlink_to(root / DATA / "00" / "signed.pdf")
    return tree, items


class Forks:
    """How often sip.content forked workers, and which processes ran its checks."""

    def __init__(self, marks: Path) -> None:
        self.calls = 0
        self.marks = marks

    def workers(self) -> set[int]:
        return {int(p.name) for p in self.marks.iterdir()}


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Forks:
    """Workers forked from ``check_content`` whenever there are 2 files or more."""
    seen = Forks(tmp_path / "pids")
    seen.marks.mkdir()
    real = preservation.forking.fork_map

    def spying(function: Any, items: Any, **kwargs: Any) -> Any:
        def marking(item: Any) -> Any:
            (seen.marks / str(os.getpid())).touch()
            return function(item)

        seen.calls += 1
        return real(marking, items, **kwargs)

    monkeypatch.setattr(sip.content, "fork_map", spying)
    monkeypatch.setattr(sip.content, "_cpus", lambda: 2)
    # the test process may hold idle threads of other tests; forking past them is safe here
    monkeypatch.setattr(sip.content, "can_fork", lambda: True)
    return seen


def check(tree: PackageTree, items: list[ContentItem], *, parallel: bool, signer: Signer,
          clamd: str | None = None) -> tuple[Report, dict[str, FormatId]]:
    report = Report("workers")
    options = ContentOptions(policy=load_format_policy(None),
                             trust_roots=(signer.ca.certificate,), clamd=clamd)
    sip.content.PARALLEL_MIN = 2
    vars(sip.content)["can_fork"] = _yes if parallel else _no
    formats = check_content(tree, items, report, options, identifier=identifier(),
                            progress=lambda n: None, scan_also=())
    return report, formats


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


@pytest.fixture(autouse=True)
def _restore_parallel_min(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip.content, "PARALLEL_MIN", sip.content.PARALLEL_MIN)
    monkeypatch.setattr(sip.content, "can_fork", vars(sip.content)["can_fork"])


@pytest.fixture
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdStandIn]:
    with ClamdStandIn(tmp_path_factory.mktemp("clamd")) as server:
        yield server


def test_workers_say_exactly_what_checking_in_turn_says(
        tmp_path: Path, kinds: dict[str, tuple[bytes, bool]], signer: Signer, forks: Forks,
        clamd: ClamdStandIn) -> None:
    tree, items = package(tmp_path / "pkg", kinds, copies=3)
    serial_report, serial = check(tree, items, parallel=False, signer=signer,
                                  clamd=clamd.address)
    assert forks.calls == 0
    parallel_report, parallel = check(tree, items, parallel=True, signer=signer,
                                      clamd=clamd.address)

    assert said(parallel_report) == said(serial_report)  # same findings, same order
    assert parallel == serial and list(parallel) == list(serial)
    assert all(parallel[rel] is serial[rel] for rel in serial)  # one shared answer each
    assert forks.calls == 1 and forks.workers() and os.getpid() not in forks.workers()
    # the package really exercised the PDF checks, the policy and the scan
    codes = {f.code for f in serial_report.findings}
    assert {"SIG-PDF-VALID", "SIG-PDF-UNTRUSTED", "SIG-PDF-TAMPERED", "SIG-PDF-MODIFIED",
            "SIG-PDF-UNREADABLE", "SIG-PDF-EMPTY-FIELD", "SIG-PDF-PARTIAL-COVERAGE",
            "PDF-ENCRYPTED", "PDF-NOT-CHECKED", "PDF-MALFORMED", "PDF-PDFA-CLAIM",
            "PDF-NO-TEXT-LAYER", "PDF-XMP-UNREADABLE", "FMT-DIGITISED-NOT-PDFA",
            "FMT-BORN-DIGITAL-ONLY", "FMT-EXTENSION-ONLY", "FMT-NOT-ACCEPTED",
            "FMT-UNIDENTIFIED", "CONTENT-EMPTY", "CONTENT-MISSING", "CONTENT-UNREADABLE",
            "VIRUS-FOUND", "VIRUS-SCANNED"} <= codes
    assert [f.location.path for f in parallel_report.findings
            if f.code == "CONTENT-UNREADABLE"] == [f"{DATA}/00/anh.png"]


def test_without_fido_the_pdf_checks_still_run_in_workers(
        tmp_path: Path, kinds: dict[str, tuple[bytes, bool]], signer: Signer,
        forks: Forks) -> None:
    tree, items = package(tmp_path / "pkg", kinds, copies=1)
    options = ContentOptions(policy=load_format_policy(None))
    reports = []
    sip.content.PARALLEL_MIN = 2
    for forking in (_no, _yes):
        vars(sip.content)["can_fork"] = forking
        report = Report("no fido")
        assert check_content(tree, items, report, options, identify=False) == {}
        reports.append(said(report))
    assert reports[0] == reports[1] and forks.calls == 1
    assert any(code == "SIG-PDF-TRUST-NOT-CHECKED" for code, *_ in reports[0])


def test_a_file_that_crashes_its_worker_is_unreadable_and_the_rest_is_checked(
        tmp_path: Path, kinds: dict[str, tuple[bytes, bool]], signer: Signer, forks: Forks,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tree, items = package(tmp_path / "pkg", kinds, copies=2)
    deadly = f"{DATA}/01/tampered.pdf"
    slow = f"{DATA}/00/encrypted.pdf"
    parent = os.getpid()
    real_check_pdf = sip.content_pdf.check_pdf

    def hostile(tree: PackageTree, rel: str, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent and rel == deadly:
            os.kill(os.getpid(), signal.SIGKILL)  # as a crash or the OOM killer would end it
        if os.getpid() != parent and rel == slow:
            while True:  # as a parser caught in a loop
                pass
        return real_check_pdf(tree, rel, *args, **kwargs)

    serial_report, serial = check(tree, items, parallel=False, signer=signer)
    monkeypatch.setattr(sip.content, "check_pdf", hostile)
    monkeypatch.setattr(sip.content, "CPU_LIMIT", 0.5)
    parallel_report, parallel = check(tree, items, parallel=True, signer=signer)

    stopped = {deadly, slow}
    unreadable = [f for f in parallel_report.findings
                  if f.location.path in stopped and f.code == "CONTENT-UNREADABLE"]
    assert [f.location.path for f in unreadable] == [slow, deadly]
    assert "processor time" in unreadable[0].params["error"]
    assert all(f.severity is Severity.ERROR for f in unreadable)
    assert [f for f in said(parallel_report) if f[2] not in stopped] == \
        [f for f in said(serial_report) if f[2] not in stopped]
    assert {rel: fmt for rel, fmt in serial.items() if rel not in stopped} == parallel


def test_recorded_findings_replay_as_added(tmp_path: Path) -> None:
    direct, replayed = Report("direct"), Report("replayed")
    recorder = FindingRecorder()
    for sink in (direct, recorder):
        sink.add("PDF-NO-TEXT-LAYER", "a.pdf", severity=Severity.ERROR, pages=3)
        sink.add("VIRUS-NOT-CHECKED", None, reason="none")
        sink.add("FMT-UNIDENTIFIED", "b", line=4, xpath="/x", severity=Severity.WARNING,
                 registry="v109", policy="p")
    replay(recorder.findings, replayed)
    assert said(replayed) == said(direct)
