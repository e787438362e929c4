"""A METS or EAD file read cleanly, released, then read again by another validator: a second
read that fails (the file changed meanwhile) is a finding, never a silent "no tree"."""

from __future__ import annotations

from pathlib import Path

import pytest

from preservation.findings import Report
from sip.package import PackageTree
from sip.xmlload import load_mets, load_xml, release_xml

GOOD = b'<?xml version="1.0"?><mets xmlns="http://www.loc.gov/METS/"><fileSec/></mets>'
BROKEN = GOOD[:-8] + b"<oops"


def read_then_break(tmp_path: Path, name: str, *, streamed: bool) -> tuple[PackageTree, Report]:
    (tmp_path / name).write_bytes(GOOD)
    tree = PackageTree(tmp_path)
    first = Report("first")
    if streamed:
        mets, _ = load_mets(tree, name, first, schema="mets")
        assert mets is not None
    else:
        assert load_xml(tree, name, first) is not None
    assert not first.findings
    release_xml(tree, name)  # the first validator is done with it
    (tmp_path / name).write_bytes(BROKEN)  # changed meanwhile
    return tree, first


@pytest.mark.parametrize("same_report", [False, True])
def test_a_failed_second_streamed_read_is_told(tmp_path: Path, same_report: bool) -> None:
    tree, first = read_then_break(tmp_path, "METS.xml", streamed=True)
    second = first if same_report else Report("second")

    mets, errors = load_mets(tree, "METS.xml", second)

    assert mets is None and errors is None
    assert [f.code for f in second.findings] == ["XML-UNREADABLE"]
    assert second.findings[0].location.path == "METS.xml"
    third = Report("third")  # a later reader hears it too, once
    assert load_mets(tree, "METS.xml", third)[0] is None
    assert load_mets(tree, "METS.xml", third)[0] is None
    assert [f.code for f in third.findings] == ["XML-UNREADABLE"]


def test_a_failed_second_parse_is_told(tmp_path: Path) -> None:
    tree, first = read_then_break(tmp_path, "EAD.xml", streamed=False)
    second = Report("second")

    assert load_xml(tree, "EAD.xml", second) is None

    assert [f.code for f in second.findings] == ["XML-UNREADABLE"]
    assert not first.findings  # the first read was clean: its report is not rewritten
