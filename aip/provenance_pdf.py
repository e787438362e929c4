"""What the PREMIS event of a signed PDF says (:mod:`aip.provenance`): its outcome and detail,
from the signature findings of that PDF, kept as small plain records (a
:class:`~preservation.diskmap.DiskMap` of them by path holds a transfer of many signed PDFs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from preservation.findings import Finding, Severity

NOT_CHECKED = "not checked"
PDF_UNCHECKED = ("PDF-ENCRYPTED", "PDF-NOT-CHECKED", "PDF-MALFORMED")


class SignatureFinding(NamedTuple):
    """What the signature event of a PDF says of one of its findings."""

    code: str
    severity: Severity
    field: str | None
    signer: str | None

    @classmethod
    def of(cls, finding: Finding) -> SignatureFinding:
        field, signer = finding.params.get("field"), finding.params.get("signer")
        return cls(finding.code, finding.severity, f"{field}" if field else None,
                   f"{signer}" if signer else None)


def signature_fields(found: tuple[SignatureFinding, ...]) -> tuple[Any, ...]:
    return tuple((f.code, f.severity.value, f.field, f.signer) for f in found)


def signature_from_fields(values: tuple[Any, ...]) -> tuple[SignatureFinding, ...]:
    return tuple(SignatureFinding(code, Severity(severity), field, signer)
                 for code, severity, field, signer in values)


def signature_outcome(findings: Sequence[SignatureFinding]) -> str:
    if any(f.code in PDF_UNCHECKED for f in findings):
        return "failure" if any(f.severity is Severity.ERROR for f in findings) else NOT_CHECKED
    if any(f.severity is Severity.ERROR for f in findings):
        return "failure"
    if any(f.severity in (Severity.WARNING, Severity.NOT_CHECKED) for f in findings):
        return "warning"
    return "success"


def describe(finding: SignatureFinding) -> str:
    field, signer = finding.field, finding.signer
    parts = [finding.code] + [p for p in (f"field “{field}”" if field else "",
                                          f"signer {signer}" if signer else "") if p]
    return " ".join(parts)
