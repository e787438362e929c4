"""fetch.txt URLs: RFC 8493 §2.2.3 wants an absolute URI; a relative reference (what this
repository's own AIP versions write, ``../<object key>``) is a documented extension reported as
BAGIT-FETCH-URL-RELATIVE (a warning, once per fetch file: at the first such line, with their
count), and the rest of the line is checked as usual."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aip.ingest import ingest
from preservation.findings import Severity
from preservation.repository import Repository
from sip.bagit import BagCheck, validate_bag
from sip.samples import make_sample_transfer, minimal_pdf
from tests.aip.test_versions import make_bag
from tests.helpers import TEST_FONDS, add_test_fonds, location_root
from tests.sip.bagit_fixtures import fix_oxum, make_test_bag, write_tag


def _codes(check: BagCheck, severity: Severity) -> list[str]:
    return sorted(f.code for f in check.report.findings if f.severity is severity)


def test_a_relative_url_is_a_warning_when_the_file_is_in_the_bag(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    write_tag(bag, "fetch.txt", "../other-aip/data/a.txt 6 data/a.txt\n")
    check = validate_bag(bag)
    assert check.report.valid, _codes(check, Severity.ERROR)
    assert _codes(check, Severity.WARNING) == ["BAGIT-FETCH-URL-RELATIVE"]
    [finding] = [f for f in check.report.findings if f.code == "BAGIT-FETCH-URL-RELATIVE"]
    assert (finding.location.path, finding.location.line) == ("fetch.txt", 1)
    assert "BAGIT-FETCH-SATISFIED" in _codes(check, Severity.INFO)


def test_a_relative_url_never_makes_an_incomplete_bag_valid(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    (bag / "data" / "a.txt").unlink()
    fix_oxum(bag)
    write_tag(bag, "fetch.txt", "../other-aip/data/a.txt 6 data/a.txt\n")
    check = validate_bag(bag)
    assert _codes(check, Severity.ERROR) == ["BAGIT-FETCH-INCOMPLETE"]
    assert "BAGIT-FETCH-URL-RELATIVE" in _codes(check, Severity.WARNING)


@pytest.mark.parametrize("line", ["1a:b 6 data/a.txt", "just-a-url", "../a.txt six data/a.txt"])
def test_a_line_that_is_no_reference_at_all_is_still_malformed(tmp_path: Path,
                                                               line: str) -> None:
    bag = make_test_bag(tmp_path)
    write_tag(bag, "fetch.txt", line + "\n")
    check = validate_bag(bag)
    assert "BAGIT-FETCH-LINE-MALFORMED" in _codes(check, Severity.ERROR)
    assert "BAGIT-FETCH-URL-RELATIVE" not in _codes(check, Severity.WARNING)


def test_an_absolute_url_gives_no_relative_warning(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    write_tag(bag, "fetch.txt", "https://example.org/a.txt 6 data/a.txt\n")
    assert "BAGIT-FETCH-URL-RELATIVE" not in _codes(validate_bag(bag), Severity.WARNING)


def _writable_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)
    return target


def test_our_own_aip_version_validates_once_its_fetched_files_are_in_place(
        repo: Repository, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    first = ingest(repo.config, make_sample_transfer(tmp_path / "v1"), identity=repo.identity(),
                   catalog=repo.catalog, fonds=TEST_FONDS)
    second = ingest(repo.config, make_bag(tmp_path / "v2", {"Phụ lục.pdf": minimal_pdf("PL")}),
                    identity=repo.identity(), catalog=repo.catalog, supplement=first.aip_id)
    storage = location_root(repo.config, 0)
    bag = _writable_copy(storage / second.aip_id, tmp_path / "aip-v2")
    lines = (bag / "fetch.txt").read_text(encoding="utf-8").splitlines()
    assert lines and all(line.startswith(f"../{first.aip_id}/data/") for line in lines)

    as_stored = validate_bag(bag)  # the bag alone is incomplete, and says so, line by line
    assert set(_codes(as_stored, Severity.ERROR)) == {"BAGIT-FETCH-INCOMPLETE",
                                                       "BAGIT-INFO-OXUM-MISMATCH"}
    assert _codes(as_stored, Severity.ERROR).count("BAGIT-FETCH-INCOMPLETE") == len(lines)
    [relative] = [f for f in as_stored.report.findings if f.code == "BAGIT-FETCH-URL-RELATIVE"]
    assert relative.location.line == 1 and int(relative.params["count"]) == len(lines)

    for line in lines:  # fetch: each relative URL resolved against the bag's folder on storage
        url, _, path = line.split(" ")
        target = bag / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile((storage / second.aip_id / url).resolve(), target)
    complete = validate_bag(bag)
    assert complete.report.valid, _codes(complete, Severity.ERROR)
    assert "BAGIT-FETCH-SATISFIED" in _codes(complete, Severity.INFO)


def test_relative_urls_are_reported_once_per_fetch_file(tmp_path: Path) -> None:
    """Many relative lines (a big supplement): one warning at the first, with the count."""
    bag = make_test_bag(tmp_path)
    write_tag(bag, "fetch.txt", "https://example.org/a.txt 6 data/a.txt\n"
              + "".join(f"../other-aip/data/b{n}.txt 1 data/b{n}.txt\n" for n in range(50)))
    check = validate_bag(bag)
    [finding] = [f for f in check.report.findings if f.code == "BAGIT-FETCH-URL-RELATIVE"]
    assert (finding.location.path, finding.location.line) == ("fetch.txt", 2)
    assert int(finding.params["count"]) == 50
