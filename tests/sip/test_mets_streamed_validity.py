"""A METS file is known schema-valid from a streamed check that never holds its tree; only a file
that fails it is validated on a throwaway tree (its errors as they always were)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

import sip.xmlload
from preservation.findings import Report
from preservation.xmlsafe import parse_bytes
from sip.eark import validate_eark
from sip.eark_model import line_of
from sip.package import PackageTree
from sip.xmlload import _valid_streamed
from tests.sip.eark_fixtures import m
from tests.sip.tt05_fixtures import REP_METS, build, edit_xml, parse


def _spied(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bool], list[str]]:
    """The answers of the streamed check, and the files parsed into a (throwaway) tree."""
    monkeypatch.setattr(sip.xmlload, "KEEP", 1)  # the IDs seen in the DiskMap's database
    answers: list[bool] = []
    parsed: list[str] = []
    real_parse = parse_bytes

    def check(data: bytes, schema: str) -> bool:
        answers.append(_valid_streamed(data, schema))
        return answers[-1]

    def parse_whole(data: bytes, *, max_bytes: int, source: str | None = None
                    ) -> etree._ElementTree:
        parsed.append(source or "")
        return real_parse(data, max_bytes=max_bytes, source=source)

    monkeypatch.setattr(sip.xmlload, "_valid_streamed", check)
    monkeypatch.setattr(sip.xmlload, "parse_bytes", parse_whole)
    return answers, parsed


def _schema_findings(pkg: Path) -> list[tuple[str, int | None, str]]:
    report = Report(pkg.name)
    validate_eark(PackageTree(pkg), report, tt05=True)
    return [(f.location.path or "", f.location.line, f.message("en")) for f in report.findings
            if f.code == "EARK-METS-SCHEMA"]


def _damaged(tmp_path: Path, damage: Callable[[etree._Element], None]) -> Path:
    pkg = build(tmp_path / "in")
    edit_xml(pkg, REP_METS, damage)
    return pkg


def test_a_valid_mets_is_never_parsed_whole(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = _damaged(tmp_path, lambda root: next(root.iter(m("fptr"))).set("FILEID", "ID-0"))
    answers, parsed = _spied(monkeypatch)
    assert _schema_findings(pkg) == []  # a dangling FILEID is not a schema error
    assert answers == [True, True]  # METS.xml and rep1's
    assert parsed == []


def test_a_duplicate_id_is_found_on_a_throwaway_tree(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def duplicate(root: etree._Element) -> None:
        files = list(root.iter(m("file")))
        files[1].set("ID", files[0].get("ID") or "")

    pkg = _damaged(tmp_path, duplicate)
    answers, parsed = _spied(monkeypatch)
    found = _schema_findings(pkg)
    assert answers == [True, False]  # libxml2's streamed check cannot see a repeated ID
    assert parsed == [REP_METS]  # the throwaway tree, for the errors
    second = list(parse(pkg / REP_METS).getroot().iter(m("file")))[1]
    assert [(rel, line) for rel, line, _ in found] == [(REP_METS, line_of(second))]
    assert "xs:ID" in found[0][2]


@pytest.mark.parametrize("data", [
    b"<mets xmlns='http://www.loc.gov/METS/'><metsHdr/>",  # not well-formed
    b"<!DOCTYPE mets [<!ENTITY a 'x'>]><mets xmlns='http://www.loc.gov/METS/'/>",
    b"<mets xmlns='http://www.loc.gov/METS/'><unexpected/></mets>",  # schema error
])
def test_the_streamed_check_says_valid_only_when_sure(data: bytes) -> None:
    assert _valid_streamed(data, "mets") is False


def test_a_valid_mets_cut_short_or_followed_by_more_is_not_valid(tmp_path: Path) -> None:
    data = (build(tmp_path / "in") / REP_METS).read_bytes()
    assert _valid_streamed(data, "mets") is True
    assert _valid_streamed(data[:len(data) // 2], "mets") is False
    assert _valid_streamed(data + b"<more/>", "mets") is False
