"""check_content without fido's signatures: one FMT-IDENTIFIER-UNAVAILABLE for the package,
and every other check still runs (sip/content.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sip.content
from policies.formats import load_format_policy
from preservation.findings import Report, Severity
from preservation.formats import FormatIdentificationError, FormatIdentifier
from sip.content import ContentItem, ContentOptions, check_content
from sip.samples import minimal_pdf
from tests.sip.pdf_fixtures import make_package


def _unloadable() -> FormatIdentifier:
    raise FormatIdentificationError("fido could not load its signature files: gone")


@pytest.mark.parametrize("forking", [False, True])
def test_signatures_that_cannot_be_loaded_are_reported_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forking: bool) -> None:
    files = {"data/a.pdf": minimal_pdf("a"), "data/b.txt": b"plain\n", "data/c.txt": b"",
             "data/bad.pdf": b"%PDF-1.4 cut short"}
    tree = make_package(tmp_path / "pkg", files)
    monkeypatch.setattr(sip.content, "FormatIdentifier", _unloadable)
    monkeypatch.setattr(sip.content, "can_fork", lambda: forking)
    report = Report("no signatures")
    items = [ContentItem(rel) for rel in files]
    formats = check_content(tree, items, report, ContentOptions(policy=load_format_policy(None)))

    assert formats == {}
    unavailable = [f for f in report.findings if f.code == "FMT-IDENTIFIER-UNAVAILABLE"]
    assert len(unavailable) == 1
    assert unavailable[0].location.path is None
    assert unavailable[0].severity is Severity.NOT_CHECKED
    assert "error" in unavailable[0].params
    codes = {(f.code, f.location.path) for f in report.findings}
    assert ("CONTENT-EMPTY", "data/c.txt") in codes  # the other checks still run
    assert not any(code.startswith("FMT-") and path is not None for code, path in codes)
    assert ("PDF-MALFORMED", "data/bad.pdf") in codes  # the PDF checks still run
