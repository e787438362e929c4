"""Findings of the content checks, made where the report is not: in a forked worker process.

The per-file checks (:mod:`sip.content`, :mod:`sip.content_pdf`) add their findings to a
:class:`FindingSink`: the package's :class:`~preservation.findings.Report` when they run in this
process, a :class:`FindingRecorder` in a worker. The recorder keeps each finding as a small
picklable tuple; :func:`replay` adds them to the report in the order they were made, with the
same content, as if the checks had run here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol

from preservation.findings import Report, Severity

__all__ = ["FindingRecorder", "FindingSink", "RecordedFinding", "replay"]


class FindingSink(Protocol):
    """Where checks add findings: :meth:`preservation.findings.Report.add`'s signature."""

    def add(self, code: str, path: str | None = None, *, line: int | None = None,
            xpath: str | None = None, severity: Severity | None = None,
            **params: object) -> object: ...


class RecordedFinding(NamedTuple):
    """One finding as a worker made it (parameters already as the text the report keeps)."""

    code: str
    path: str | None
    line: int | None
    xpath: str | None
    severity: Severity | None
    params: tuple[tuple[str, str], ...]


class FindingRecorder:
    """A :class:`FindingSink` that keeps the findings, in order, for :func:`replay`."""

    __slots__ = ("findings",)

    def __init__(self) -> None:
        self.findings: list[RecordedFinding] = []

    def add(self, code: str, path: str | None = None, *, line: int | None = None,
            xpath: str | None = None, severity: Severity | None = None,
            **params: object) -> None:
        """Record a finding (checked against the catalogue when it is replayed)."""
        self.findings.append(RecordedFinding(
            code, path, line, xpath, severity, tuple((k, str(v)) for k, v in params.items())))


def replay(findings: Iterable[RecordedFinding], report: Report) -> None:
    """Add recorded findings to ``report``, in their order."""
    for f in findings:
        report.add(f.code, f.path, line=f.line, xpath=f.xpath, severity=f.severity,
                   **dict(f.params))
