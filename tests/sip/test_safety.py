"""Safety checks of packages that are not BagIt bags: links, special files, names, collisions."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from preservation.findings import Report, Severity
from sip.package import PackageTree
from sip.safety import check_tree_safety, name_problems


def check(root: Path) -> Report:
    report = Report(subject=root.name)
    check_tree_safety(PackageTree(root), report)
    return report


def make(root: Path, *names: str | bytes) -> Path:
    """Files (and their folders) below ``root``; bytes names are written as raw bytes."""
    for name in names:
        raw = os.fsencode(name)
        parent = os.path.dirname(raw)
        os.makedirs(os.path.join(os.fsencode(root), parent), exist_ok=True)
        with open(os.path.join(os.fsencode(root), raw), "wb") as stream:
            stream.write(b"x")
    root.mkdir(exist_ok=True)
    return root


def by_code(report: Report) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {}
    for finding in report.findings:
        out.setdefault(finding.code, []).append(finding.location.path)
    return out


def test_a_clean_package_has_no_findings(tmp_path: Path) -> None:
    root = make(tmp_path / "pkg", "METS.xml", "representations/rep1/data/Tờ trình số 05.pdf",
                "~draft.txt", "metadata/descriptive/EAD.xml")
    assert check(root).findings == []


def test_links_and_special_files(tmp_path: Path) -> None:
    root = make(tmp_path / "pkg", "data/a.txt")
    (root / "data" / "link").symlink_to("/etc/passwd")
    (root / "dirlink").symlink_to(root / "data", target_is_directory=True)
    os.mkfifo(root / "data" / "pipe")
    report = check(root)
    assert by_code(report) == {"PKG-SYMLINK": ["data/link", "dirlink"],
                               "PKG-SPECIAL-FILE": ["data/pipe"]}
    assert all(f.severity is Severity.ERROR for f in report.findings)
    assert report.findings[-1].params["kind"] == "FIFO"


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists folders whatever their mode")
def test_unreadable_folder(tmp_path: Path) -> None:
    root = make(tmp_path / "pkg", "data/closed/a.txt")
    (root / "data" / "closed").chmod(0)
    try:
        assert by_code(check(root)) == {"PKG-UNREADABLE": ["data/closed"]}
    finally:
        (root / "data" / "closed").chmod(0o700)


@pytest.mark.parametrize(("name", "code", "location"), [
    ("a\nb.txt", "PKG-PATH-CONTROL-CHARACTER", "a\\nb.txt"),
    ("a\x1b[31mred.txt", "PKG-PATH-CONTROL-CHARACTER", "a\\x1b[31mred.txt"),
    ("a\\b.txt", "PKG-PATH-BACKSLASH", "a\\b.txt"),
    (b"bad-\xff\xfe.txt", "PKG-PATH-INVALID-ENCODING", "bad-\\xff\\xfe.txt"),
    ("invoice\u202egpj.exe", "PKG-PATH-BIDI-CONTROL", "invoice\\u202egpj.exe"),
    ("CON.txt", "PKG-PATH-WINDOWS-RESERVED", "CON.txt"),
    ("trailing.", "PKG-PATH-WINDOWS-RESERVED", "trailing."),
    ("a:b.txt", "PKG-PATH-WINDOWS-CHARACTER", "a:b.txt"),
    ("sub/C:x", "PKG-PATH-WINDOWS-CHARACTER", "sub/C:x"),
    ("what?.txt", "PKG-PATH-WINDOWS-CHARACTER", "what?.txt"),
])
def test_hostile_names_on_disk(name: str | bytes, code: str, location: str,
                               tmp_path: Path) -> None:
    root = make(tmp_path / "pkg", name)
    assert by_code(check(root)) == {code: [location]}


def test_severities_of_names() -> None:
    assert name_problems("a\\b") == ["backslash"]
    assert name_problems("x/~home") == []  # a name on disk is never expanded
    assert name_problems("C:x") == ["windows-character"]


def test_nfc_and_case_collisions_of_files_are_errors(tmp_path: Path) -> None:
    name = "Biên bản.pdf"
    root = make(tmp_path / "pkg", f"data/{unicodedata.normalize('NFC', name)}",
                f"data/{unicodedata.normalize('NFD', name)}", "data/Report.pdf",
                "data/REPORT.pdf")
    report = check(root)
    codes = by_code(report)
    assert set(codes) == {"PKG-NAME-NFC-COLLISION", "PKG-NAME-CASE-COLLISION"}
    assert codes["PKG-NAME-CASE-COLLISION"] == ["data/REPORT.pdf"]
    assert all(f.severity is Severity.ERROR for f in report.findings)


def test_colliding_folders_warn_and_their_files_are_errors(tmp_path: Path) -> None:
    folder = "Hồ sơ"
    root = make(tmp_path / "pkg", f"{unicodedata.normalize('NFC', folder)}/a.txt",
                f"{unicodedata.normalize('NFD', folder)}/b.txt", "Docs/x.txt", "docs/x.txt")
    report = check(root)
    severities = {(f.code, f.severity) for f in report.findings}
    assert severities == {("PKG-NAME-FOLDERS-COLLIDE", Severity.WARNING),
                          ("PKG-NAME-CASE-COLLISION", Severity.ERROR)}
    [case] = [f for f in report.findings if f.code == "PKG-NAME-CASE-COLLISION"]
    assert {case.params["file"], case.params["other"]} == {"Docs/x.txt", "docs/x.txt"}
    assert len([f for f in report.findings if f.code == "PKG-NAME-FOLDERS-COLLIDE"]) == 2


def test_checking_changes_nothing(tmp_path: Path) -> None:
    root = make(tmp_path / "pkg", "a.txt", "b/c.txt")
    (root / "link").symlink_to("a.txt")
    before = sorted(os.walk(root))
    check(root)
    assert sorted(os.walk(root)) == before
    assert (root / "link").is_symlink()
