"""Findings and reports: what every validator and audit returns.

A validator collects *every* finding and returns a :class:`Report`; it never stops at the first
problem. Each finding has a stable code, a severity, a location and parameters; its text comes
from the message catalogue (``preservation/messages/*.toml``), in Vietnamese and English, so
tests assert codes and people read sentences.
"""

from __future__ import annotations

import enum
import threading
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from preservation.findings_spool import RecordSpool, SpooledSequence

LANGUAGES = ("en", "vi")


class Severity(enum.StrEnum):
    """How much a finding matters. Only ERROR rejects."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class MessageTemplate:
    code: str
    severity: Severity
    en: str
    vi: str
    fix_en: str = ""
    fix_vi: str = ""
    requirement: str | None = None


@cache
def catalogue() -> Mapping[str, MessageTemplate]:
    """Every finding code the project can raise, read once from the packaged TOML files."""
    out: dict[str, MessageTemplate] = {}
    folder = resources.files("preservation") / "messages"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for code, spec in data.items():
            if code in out:
                raise ValueError(f"finding code {code} defined twice ({entry.name})")
            out[code] = MessageTemplate(
                code=code,
                severity=Severity(spec["severity"]),
                en=spec["en"],
                vi=unicodedata.normalize("NFC", spec["vi"]),
                fix_en=spec.get("fix_en", ""),
                fix_vi=unicodedata.normalize("NFC", spec.get("fix_vi", "")),
                requirement=spec.get("requirement"),
            )
    return out


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a path inside the package (or copy), and optionally line or XPath."""

    path: str | None = None
    line: int | None = None
    xpath: str | None = None

    def __str__(self) -> str:
        text = self.path or ""
        if self.line is not None:
            text += f":{self.line}"
        if self.xpath:
            text += f" {self.xpath}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("path", self.path), ("line", self.line),
                                  ("xpath", self.xpath)) if v is not None}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    location: Location
    params: Mapping[str, str] = field(default_factory=dict)
    requirement: str | None = None

    def message(self, lang: str = "en") -> str:
        template = catalogue()[self.code]
        text = template.vi if lang == "vi" else template.en
        return unicodedata.normalize("NFC", text.format_map(_Defaulting(self.params)))

    def fix(self, lang: str = "en") -> str:
        """How to put it right (may be empty), in ``lang``."""
        template = catalogue()[self.code]
        text = template.fix_vi if lang == "vi" else template.fix_en
        return unicodedata.normalize("NFC", text.format_map(_Defaulting(self.params)))

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "location": self.location.to_dict(),
            "message": self.message(lang),
        }
        if self.requirement:
            out["requirement"] = self.requirement
        if self.params:
            out["params"] = dict(self.params)
        return out


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


SPOOL_AFTER = 2000
"""Findings a :class:`Report` keeps as objects; later ones go to an anonymous temporary file."""

_SEVERITIES = {s.value: s for s in Severity}
_NO_LOCATION = Location()


def _encode(finding: Finding) -> tuple[Any, ...]:
    loc = finding.location
    return (finding.code, finding.severity.value, loc.path, loc.line, loc.xpath,
            dict(finding.params) if finding.params else None, finding.requirement)


def _decode(record: tuple[Any, ...]) -> Finding:
    code, severity, path, line, xpath, params, requirement = record
    location = (_NO_LOCATION if path is None and line is None and xpath is None
                else Location(path, line, xpath))
    return Finding(code, _SEVERITIES[severity], location, params or {}, requirement)


class Report:
    """Every finding about one subject (a package, an AIP copy, …).

    ``findings`` is a read-only sequence in the order the findings were added. The first
    ``spool_after`` (default :data:`SPOOL_AFTER`) are kept as objects; the rest are written to
    an anonymous temporary file and read back when iterated, so a report of a 100,000-file
    package does not hold 100,000 findings in memory. Counts per code and per severity are
    always in memory: ``valid``, ``exit_code``, ``codes()`` and ``severity_counts()`` never
    read the file. The file is deleted by :meth:`close` (or leaving a ``with`` block), else when
    the report is garbage-collected. Copies and pickles carry every finding.
    """

    def __init__(self, subject: str, kind: str = "unknown", findings: Iterable[Finding] = (),
                 *, spool_after: int | None = None) -> None:
        self.subject = subject
        self.kind = kind
        self._spool_after = SPOOL_AFTER if spool_after is None else max(spool_after, 0)
        self._memory: list[Finding] = []
        self._spools: list[RecordSpool] = []  # one at most: shared with the view, no cycle
        self._by_code: Counter[str] = Counter()
        self._by_severity: Counter[Severity] = Counter()
        self._spooled_errors = 0
        self._lock = threading.Lock()
        spools = self._spools
        self._view: SpooledSequence[Finding] = SpooledSequence(
            self._memory, lambda: spools[0] if spools else None, _decode)
        self.extend(findings)

    @property
    def _spool(self) -> RecordSpool | None:
        return self._spools[0] if self._spools else None

    @property
    def findings(self) -> Sequence[Finding]:
        """Every finding, in order (read-only; use :meth:`add` or :meth:`extend`)."""
        return self._view

    def add(
        self,
        code: str,
        path: str | None = None,
        *,
        line: int | None = None,
        xpath: str | None = None,
        severity: Severity | None = None,
        **params: object,
    ) -> Finding:
        """Record a finding. The code must be in the catalogue; its severity is the default."""
        try:
            template = catalogue()[code]
        except KeyError:
            raise KeyError(f"finding code {code!r} is not in the message catalogue") from None
        finding = Finding(
            code=code,
            severity=severity or template.severity,
            location=(Location(path=path, line=line, xpath=xpath)
                      if path is not None or line is not None or xpath is not None
                      else _NO_LOCATION),
            params={k: str(v) for k, v in params.items()},
            requirement=template.requirement,
        )
        self._append(finding)
        return finding

    def _append(self, finding: Finding) -> None:
        """Store the finding, then count it: a finding that cannot be stored (the temporary
        file fails: :class:`~preservation.findings_spool.ReportSpoolError`) is not counted."""
        with self._lock:
            if not self._spools and len(self._memory) < self._spool_after:
                self._memory.append(finding)
            else:
                if not self._spools:
                    self._spools.append(RecordSpool())
                self._spools[0].append(_encode(finding))
                if finding.severity is Severity.ERROR:
                    self._spooled_errors += 1
            self._by_code[finding.code] += 1
            self._by_severity[finding.severity] += 1

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self._append(finding)

    def codes(self) -> set[str]:
        return set(self._by_code)

    def code_counts(self) -> dict[str, int]:
        """How many findings of each code (no file read)."""
        return dict(self._by_code)

    def severity_counts(self) -> dict[str, int]:
        """How many findings of each severity, every severity present (no file read)."""
        return {s.value: self._by_severity[s] for s in Severity}

    @property
    def spooled(self) -> bool:
        """Whether some findings are kept in the temporary file rather than in memory."""
        return self._spool is not None

    @property
    def errors(self) -> list[Finding]:
        if not self._by_severity[Severity.ERROR]:
            return []
        source = self._view if self._spooled_errors else self._memory
        return [f for f in source if f.severity is Severity.ERROR]

    @property
    def valid(self) -> bool:
        return not self._by_severity[Severity.ERROR]

    @property
    def exit_code(self) -> int:
        return 0 if self.valid else 1

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The whole report as plain data (every finding in memory at once: to write a large
        report, use :func:`preservation.report_json.write_json` with
        :func:`preservation.report_json.report_document` instead)."""
        return {**self.summary(), "findings": [f.to_dict(lang) for f in self.findings]}

    def summary(self) -> dict[str, Any]:
        """:meth:`to_dict` without its findings (no file read)."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "valid": self.valid,
            "counts": self.severity_counts(),
        }

    def close(self) -> None:
        """Delete the temporary file now. Spooled findings cannot be read afterwards."""
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> Report:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        return (self.subject, self.kind) == (other.subject, other.kind) and \
            self._view == other._view

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Report(subject={self.subject!r}, kind={self.kind!r}, "
                f"findings={len(self._view)}, valid={self.valid})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (self.subject, self.kind, list(self._view), self._spool_after))


def _rebuilt(subject: str, kind: str, findings: list[Finding], spool_after: int) -> Report:
    return Report(subject, kind, findings, spool_after=spool_after)
