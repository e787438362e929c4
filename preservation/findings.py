"""Findings and reports: what every validator and audit returns.

A validator collects *every* finding and returns a :class:`Report`; it never stops at the first
problem. Each finding has a stable code, a severity, a location and parameters; its text comes
from the message catalogue (``preservation/messages/*.toml``), in Vietnamese and English, so
tests assert codes and people read sentences.
"""

from __future__ import annotations

import enum
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass
class Report:
    """Every finding about one subject (a package, an AIP copy, …)."""

    subject: str
    kind: str = "unknown"
    findings: list[Finding] = field(default_factory=list)

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
            location=Location(path=path, line=line, xpath=xpath),
            params={k: str(v) for k, v in params.items()},
            requirement=template.requirement,
        )
        self.findings.append(finding)
        return finding

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.valid else 1

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        counts = {s.value: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity.value] += 1
        return {
            "subject": self.subject,
            "kind": self.kind,
            "valid": self.valid,
            "counts": counts,
            "findings": [f.to_dict(lang) for f in self.findings],
        }
