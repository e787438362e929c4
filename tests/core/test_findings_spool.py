"""Reports spool their findings to an anonymous file past a threshold, and are written as JSON
finding by finding: every behaviour must match an all-in-memory report."""

from __future__ import annotations

import copy
import dataclasses
import enum
import errno
import io
import json
import os
import pickle
import tempfile
import threading
import tracemalloc
import weakref
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import preservation.findings as findings_module
from preservation import report_json
from preservation.cli import main
from preservation.findings import Finding, Location, Report, Severity
from preservation.findings_spool import INDEX_EVERY, RecordSpool, ReportSpoolError
from preservation.report_json import (
    JsonArray,
    report_document,
    write_json,
    write_report_file,
)
from sip.samples import make_sample_transfer

MiB = 1024 * 1024


def _fill(report: Report, count: int) -> None:
    """``count`` findings of every severity, with and without locations and parameters."""
    for i in range(count):
        kind = i % 7
        if kind == 0:
            report.add("FMT-EXTENSION-ONLY", f"data/thư mục/tệp {i}.txt", format_name="Plain Text",
                       puid="x-fmt/111", extension="txt")
        elif kind == 1:
            report.add("FMT-BORN-DIGITAL-ONLY", f"data/{i}.pdf", format_name="PDF 1.7",
                       puid="fmt/276")
        elif kind == 2:
            report.add("XML-MALFORMED", "METS.xml", line=i, error=f"tag mismatch {i}")
        elif kind == 3:
            report.add("VIRUS-NOT-CHECKED", None, reason="no clamd")
        elif kind == 4:
            report.add("PKG-PATH-BIDI-CONTROL", f"data/{i}", xpath=f"/mets/file[{i}]")
        elif kind == 5:
            report.add("ZIP-PREPENDED-DATA", None, severity=Severity.ERROR, bytes=i)
        else:
            report.add("FMT-EXTENSION-ONLY", None)


def _pair(count: int, spool_after: int = 5) -> tuple[Report, Report]:
    spooled = Report("pkg", kind="bagit", spool_after=spool_after)
    reference = Report("pkg", kind="bagit", spool_after=10**9)
    _fill(spooled, count)
    _fill(reference, count)
    return spooled, reference


def test_a_spooled_report_behaves_like_one_in_memory() -> None:
    count = 3 * INDEX_EVERY + 17
    spooled, reference = _pair(count)
    assert spooled.spooled and not reference.spooled
    expected = list(reference.findings)

    assert len(spooled.findings) == count
    assert list(spooled.findings) == expected
    assert spooled.findings == expected and expected == spooled.findings
    as_tuple: Sequence[Finding] = tuple(expected)
    assert spooled.findings == as_tuple
    assert spooled.findings == reference.findings
    assert spooled == reference
    for i in (0, 4, 5, 6, INDEX_EVERY - 1, INDEX_EVERY + 5, 2 * INDEX_EVERY + 4, count - 1, -1,
              -count, -INDEX_EVERY):
        assert spooled.findings[i] == expected[i]
    for cut in (slice(None), slice(3, 9), slice(5, 5), slice(INDEX_EVERY, INDEX_EVERY + 30),
                slice(-10, None), slice(None, None, 97), slice(None, None, -500),
                slice(count + 5, count + 9)):
        assert spooled.findings[cut] == expected[cut]
    with pytest.raises(IndexError):
        spooled.findings[count]
    assert list(reversed(spooled.findings)) == expected[::-1]
    assert spooled.findings.count(expected[7]) == 1
    assert spooled.findings.index(expected[-1]) == count - 1
    assert expected[12] in spooled.findings

    assert spooled.errors == reference.errors and spooled.errors
    assert spooled.codes() == reference.codes()
    assert spooled.code_counts() == reference.code_counts()
    assert spooled.severity_counts() == reference.severity_counts()
    assert spooled.valid is reference.valid is False
    assert spooled.exit_code == reference.exit_code == 1
    assert spooled.to_dict("vi") == reference.to_dict("vi")
    assert spooled.to_dict("en")["counts"] == {
        s.value: sum(1 for f in expected if f.severity is s) for s in Severity}
    spooled.close()
    reference.close()


def test_counts_alone_answer_valid_and_codes_without_reading_the_spool() -> None:
    report = Report("pkg", spool_after=0)
    for i in range(50):
        report.add("FMT-EXTENSION-ONLY", f"{i}.txt")
    assert report.spooled
    report._spool.close()  # type: ignore[union-attr]  # any read would fail now
    assert report.valid and report.exit_code == 0 and report.errors == []
    assert report.codes() == {"FMT-EXTENSION-ONLY"}
    assert report.severity_counts()["info"] == 50
    with pytest.raises(ValueError):
        list(report.findings)


def test_findings_added_while_iterating_are_not_met_again() -> None:
    report = Report("pkg", spool_after=3)
    _fill(report, 10)
    before = list(report.findings)
    report.extend(report.findings)  # a report extended by itself doubles, once
    assert list(report.findings) == before + before


def test_reports_are_combined_copied_and_pickled_whole() -> None:
    spooled, reference = _pair(200)
    wrapper = Report("bag", spool_after=10)
    wrapper.add("VIRUS-NOT-CHECKED", None, reason="none")
    wrapper.extend(dataclasses.replace(f, location=dataclasses.replace(
        f.location, path=f"data/{f.location.path}")) for f in spooled.findings)
    assert len(wrapper.findings) == 201
    assert wrapper.findings[-1].location.path == f"data/{reference.findings[-1].location.path}"
    assert wrapper.codes() == reference.codes() | {"VIRUS-NOT-CHECKED"}

    for clone in (copy.copy(spooled), copy.deepcopy(spooled),
                  pickle.loads(pickle.dumps(spooled))):
        assert clone == reference and clone is not spooled
        clone.close()
    assert list(spooled.findings) == list(reference.findings)  # the original is still readable

    built = Report("pkg", "bagit", reference.findings, spool_after=3)
    assert built == reference and built.spooled


def test_findings_and_locations_are_slotted_and_frozen() -> None:
    report = Report("pkg")
    finding = report.add("XML-MALFORMED", "METS.xml", line=3, error="x")
    assert not hasattr(finding, "__dict__") and not hasattr(finding.location, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "OTHER"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(finding)) == finding
    assert isinstance(finding, Finding)


def test_the_spool_leaves_no_file_and_is_closed(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with Report("pkg", spool_after=2) as report:
        _fill(report, 20)
        assert report.spooled and os.listdir(tmp_path) == []
        spool = report._spool
        assert spool is not None and not spool.closed
    assert spool.closed

    report = Report("pkg", spool_after=2)
    _fill(report, 20)
    spool = report._spool
    assert spool is not None
    handle = spool._file
    gone = weakref.ref(spool)
    del report, spool  # no reference cycle: freed (and its file closed) at once
    assert gone() is None and handle.closed
    assert os.listdir(tmp_path) == []


def test_the_default_threshold_can_be_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_module, "SPOOL_AFTER", 4)
    report = Report("pkg")
    _fill(report, 4)
    assert not report.spooled
    _fill(report, 1)
    assert report.spooled and len(report.findings) == 5


def test_record_spool_reads_any_range() -> None:
    spool = RecordSpool()
    records = [(i, "x" * (i % 300), None, {"k": str(i)}) for i in range(5000)]
    for record in records:
        spool.append(record)
    assert list(spool.read()) == records
    assert list(spool.read(1023, 1030)) == records[1023:1030]
    assert list(spool.read(4999)) == records[4999:]
    assert list(spool.read(10, 5)) == []
    spool.close()
    spool.close()  # twice is fine
    with pytest.raises(ValueError):
        list(spool.read())


def _in_step(report: Report) -> None:
    """The counts are exactly those of the findings the report holds."""
    held = list(report.findings)
    assert sum(report.severity_counts().values()) == len(held)
    assert report.code_counts() == dict(Counter(f.code for f in held))
    assert report.severity_counts()["error"] == len(report.errors)


def test_a_failing_spool_keeps_counts_and_findings_in_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    report = Report("pkg", spool_after=3)
    _fill(report, 10)
    spool = report._spool
    assert spool is not None

    def full(data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool._file, "write", full)
    for _ in range(2):  # the spool refuses every record after a failed write
        with pytest.raises(ReportSpoolError) as raised:
            report.add("ZIP-PREPENDED-DATA", None, severity=Severity.ERROR, bytes=1)
        assert raised.value.code == "REPORT-SPOOL-FAILED"
        assert not isinstance(raised.value, OSError)  # never taken for the checked file's
    assert len(report.findings) == 10
    _in_step(report)


def test_a_finding_the_spool_cannot_store_is_not_counted() -> None:
    report = Report("pkg", spool_after=2)
    _fill(report, 5)
    odd = Finding(code="XML-MALFORMED", severity=Severity.ERROR, location=Location(path="x"),
                  params={"error": object()})  # type: ignore[dict-item]
    with pytest.raises(ReportSpoolError) as raised:
        report.extend([odd])
    assert raised.value.code == "REPORT-SPOOL-FAILED"
    _in_step(report)
    report.add("XML-MALFORMED", "METS.xml", line=1, error="x")  # the spool still works
    assert len(report.findings) == 6
    _in_step(report)


def test_a_spool_that_cannot_be_created_loses_no_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    report = Report("pkg", spool_after=2)
    _fill(report, 2)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(ReportSpoolError) as raised:
        report.add("VIRUS-NOT-CHECKED", None, reason="none")
    assert raised.value.code == "REPORT-SPOOL-FAILED"
    assert not report.spooled and len(report.findings) == 2
    _in_step(report)


def test_findings_added_by_another_thread_while_a_spooled_report_is_read() -> None:
    report = Report("pkg", spool_after=50)
    _fill(report, 3000)
    reference = Report("pkg", spool_after=10**9)
    _fill(reference, 3000)
    _fill(reference, 3000)
    started = threading.Event()

    def adding() -> None:
        started.set()
        _fill(report, 3000)

    seen = []
    other = threading.Thread(target=adding)
    for n, finding in enumerate(report.findings):
        if n == 10:
            other.start()
            started.wait()
        seen.append(finding)
    other.join()
    assert len(seen) >= 3000  # at least what was there when the reading began
    assert seen == list(reference.findings)[:len(seen)]
    assert list(report.findings) == list(reference.findings)
    _in_step(report)


def test_a_read_paused_across_close_stops() -> None:
    spool = RecordSpool()
    records = [(i, "x" * 300) for i in range(5000)]  # more than one read's worth of bytes
    for record in records:
        spool.append(record)
    reading = spool.read()
    assert next(reading) == records[0]
    spool.close()
    with pytest.raises(ValueError):
        list(reading)


# -- JSON ----------------------------------------------------------------------------------------

class _Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class _Colour(enum.Enum):
    RED = "red"


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def _streamed(data: Any) -> str:
    out = io.StringIO()
    write_json(out, data)
    return out.getvalue()


@pytest.mark.parametrize("data", [
    {}, [], {"a": []}, {"a": {}}, "chuỗi", 3, None, [1, [2, [3, {}]], ()],
    {"ok": True, "path": Path("/tmp/x"), "n": 1.5, "nested": {"list": [1, "hai", None],
                                                              "empty": [], "t": (1, 2)},
     1: "int key", None: "none key", False: "bool key", "vi": "Hồ sơ \u2028 \"quoted\"\n"},
    float("nan"), float("inf"), Severity.ERROR, _Level.HIGH, _Colour.RED,
    {"odd": [float("nan"), -float("inf"), {"deep": [Severity.INFO, _Level.LOW, _Colour.RED,
                                                    {"x": float("inf")}]}],
     Severity.WARNING: "enum key", _Level.HIGH: "int enum key", 2.5: "float key",
     "severity": Severity.NOT_CHECKED},
])
def test_write_json_gives_json_dumps_text(data: Any) -> None:
    assert _streamed(data) == _dumps(data)


def test_odd_values_inside_a_json_array_are_written_as_json_dumps_does() -> None:
    items = [float("nan"), {"x": [float("inf"), Severity.INFO, _Level.LOW]}, _Colour.RED,
             {Severity.ERROR: -float("inf")}, [_Level.HIGH, {"n": float("nan")}]]
    data = {"a": JsonArray(lambda: iter(items)), "b": [JsonArray(lambda: iter(items))]}
    assert _streamed(data) == _dumps({"a": items, "b": [items]})


def test_json_arrays_are_written_item_by_item() -> None:
    items = [{"code": "A", "location": {"path": "đ/x"}}, {"code": "B", "location": {}}]
    data = {"ok": False, "copies": [{"findings": JsonArray(lambda: iter(items)), "n": 2},
                                    {"findings": JsonArray(lambda: iter([]))}],
            "top": JsonArray(lambda: (i for i in range(3)))}
    plain = {"ok": False, "copies": [{"findings": items, "n": 2}, {"findings": []}],
             "top": [0, 1, 2]}
    assert _streamed(data) == _dumps(plain)
    binary = io.BytesIO()
    write_json(binary, data)
    assert binary.getvalue() == _dumps(plain).encode("utf-8")


@pytest.mark.parametrize("spool_after", [0, 5, 10**9])
def test_a_report_document_is_the_report_dict(spool_after: int) -> None:
    spooled, reference = _pair(300, spool_after)
    for lang in ("en", "vi"):
        head = {"ok": reference.valid, "path": "x", "kind": "BagIt"}
        document = report_document(spooled, lang, head=head)
        expected = {**head, **reference.to_dict(lang)}
        assert _streamed(document) == _dumps(expected)
        assert json.loads(_streamed(document)) == expected

        with_fix = json.loads(_streamed(report_document(spooled, lang, with_fix=True)))
        fixes = [f.fix(lang) for f in reference.findings]
        assert [f.get("fix", "") for f in with_fix["findings"]] == fixes
    assert json.loads(_streamed(report_document(Report("empty"))))["findings"] == []


def test_the_ingest_report_file_is_what_save_report_wrote(tmp_path: Path) -> None:
    spooled, reference = _pair(300)
    path = tmp_path / "report.json"
    write_report_file(path, spooled, source=tmp_path / "bag", checked_at="2026-11-22T10:00:00Z")
    data = {"source": str(tmp_path / "bag"), "checked_at": "2026-11-22T10:00:00Z",
            **reference.to_dict("en"),
            "findings_vi": [f.message("vi") for f in reference.findings]}
    assert path.read_text(encoding="utf-8") == json.dumps(data, ensure_ascii=False, indent=2)


def test_an_interrupted_report_file_leaves_no_truncated_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spooled, _reference = _pair(300)
    path = tmp_path / "report.json"
    path.write_text("{}", encoding="utf-8")  # an earlier report of the same name
    real = report_json.write_json

    def interrupted(out: Any, data: Any, **kwargs: Any) -> None:
        out.write("{\n  \"source\": ")
        raise KeyboardInterrupt

    monkeypatch.setattr(report_json, "write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report_file(path, spooled, source="bag", checked_at="2026-11-22T10:00:00Z")
    assert path.read_text(encoding="utf-8") == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    monkeypatch.setattr(report_json, "write_json", real)
    write_report_file(path, spooled, source="bag", checked_at="2026-11-22T10:00:00Z")
    assert json.loads(path.read_text(encoding="utf-8"))["subject"] == "pkg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_cli_validate_json_is_the_same_with_a_spooled_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = tmp_path / "bag"
    make_sample_transfer(bag)
    runner = CliRunner()
    args = ["--home", str(tmp_path / "nohome"), "sip", "validate", str(bag), "--json"]
    whole = runner.invoke(main, args)
    monkeypatch.setattr(findings_module, "SPOOL_AFTER", 1)
    spooled = runner.invoke(main, args)
    assert whole.exit_code == spooled.exit_code == 0, spooled.output
    assert spooled.output == whole.output
    data = json.loads(spooled.output)
    assert len(data["findings"]) > 1 and data["ok"] is True


# -- memory --------------------------------------------------------------------------------------

class _Sink:
    """A text stream that only counts what it is given."""

    encoding = "utf-8"

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _add_files(report: Report, count: int) -> None:
    for i in range(count):
        report.add("FMT-EXTENSION-ONLY", f"data/thư mục {i // 1000:04d}/tệp {i:07d}.txt",
                   format_name="Plain Text File", puid="x-fmt/111", extension="txt")


def test_adding_200000_findings_keeps_memory_flat() -> None:
    tracemalloc.start()
    try:
        report = Report("big", spool_after=2000)
        start, _ = tracemalloc.get_traced_memory()
        _add_files(report, 200_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 2,000 findings in memory (~1 MiB) plus one offset per 1,024 spooled ones; all 200,000
    # in memory take over 100 MiB
    assert peak - start < 6 * MiB, (peak - start) / MiB
    assert len(report.findings) == 200_000 and report.spooled
    assert report.findings[-1].location.path == "data/thư mục 0199/tệp 0199999.txt"
    report.close()


def test_streaming_the_json_of_a_large_report_never_holds_it_whole() -> None:
    report = Report("big", spool_after=2000)
    _add_files(report, 60_000)
    sink = _Sink()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        write_json(sink, report_document(report, "vi", head={"ok": True}, with_fix=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.chars > 20 * MiB  # the whole text went through the stream …
    assert peak - before < 4 * MiB, (peak - before) / MiB  # … never held at once
    report.close()
