"""The original names of the producer's metadata files an AIP keeps under a sequence number.

A producer's file whose name cannot be an AIP path is kept as
``data/submission/sip/renamed/NNNNNN``; its name as received is recorded in the signed tag file
``renamed-names.json`` (:mod:`aip.renamed_names`), from which a rebuilt catalog takes it back.
The AIPs here carry that file forged into their stored copies (re-signed with the archive's
key), as the builder writes it; an AIP without it is one written before it existed.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import pytest

from aip.ingest import ingest
from aip.rebuild import RebuildResult, rebuild_catalog
from aip.renamed_names import (
    RENAMED_NAMES,
    parse_renamed_names,
    renamed_names,
    renamed_names_text,
)
from aip.tt05_aip_bag import StagedObject
from preservation.catalog import Catalog, FileRecord
from preservation.findings import Severity
from preservation.fonds import make_fonds, register_fonds
from preservation.repository import Repository
from preservation.storage import open_locations
from tests.aip.stored_aips import forge_copy
from tests.helpers import TEST_FONDS, location_root
from tests.sip.eark_fixtures import FILES, build_package

#: not portable (spaces, diacritics): kept under a sequence number; one NFC, one NFD
NOTE = "documentation/Ghi chú đọc trước.txt"
LIST = unicodedata.normalize("NFD", "documentation/Danh mục tài liệu.txt")


def staged(path: str, original: str | None, role: str = "metadata") -> StagedObject:
    return StagedObject(path, None, 1, "0" * 64, role, original_name=original)


def test_the_tag_file_lists_the_renamed_files_only_exactly_as_received() -> None:
    objects = [
        staged("data/submission/sip/METS.xml", "METS.xml"),
        staged("data/submission/sip/renamed/000003.txt", LIST),
        staged("data/submission/sip/renamed/000002.txt", NOTE),
        staged("data/representations/rep1/data/000001.pdf", "Tờ trình.pdf", "content"),
    ]
    text = renamed_names_text(objects)
    document = json.loads(text)
    assert list(document["names"]) == ["data/submission/sip/renamed/000002.txt",
                                       "data/submission/sip/renamed/000003.txt"]
    assert document["names"]["data/submission/sip/renamed/000003.txt"] == LIST  # still NFD
    assert "Ghi chú đọc trước" in text  # readable without this software
    assert parse_renamed_names(text.encode("utf-8")) == renamed_names(objects)


def test_no_renamed_file_no_tag_file() -> None:
    objects = [staged("data/submission/sip/METS.xml", "METS.xml")]
    assert renamed_names_text(objects) == ""


@pytest.mark.parametrize("data", [
    b"\xff\xfe not utf-8",
    b"{not json",
    b"[]",
    b'{"about": "no names"}',
    b'{"names": {"data/submission/sip/METS.xml": "METS.xml"}}',
    b'{"names": {"data/submission/sip/renamed/../../../bag-info.txt": "x"}}',
    b'{"names": {"data/submission/sip/renamed/000001.txt/.": "x"}}',
    b'{"names": {"data/submission/sip/renamed/000001\\u0000.txt": "x"}}',
    b'{"names": {"data/submission/sip/renamed/a\\\\b": "x"}}',
    b'{"names": {"data/submission/sip/renamed/000001.txt": ""}}',
    b'{"names": {"data/submission/sip/renamed/000001.txt": 7}}',
])
def test_a_document_this_software_did_not_write_is_refused_whole(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_renamed_names(data)


def test_a_document_larger_than_any_this_software_writes_is_refused() -> None:
    from aip.renamed_names import MAX_BYTES

    with pytest.raises(ValueError, match="larger than"):
        parse_renamed_names(b" " * (MAX_BYTES + 1))


@pytest.fixture
def aip_id(repo: Repository, tmp_path: Path) -> str:
    """An E-ARK SIP with two documentation files whose names are not portable, ingested."""
    with open_locations(repo.config) as backends:
        register_fonds(repo.catalog, backends, make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    files = dict(FILES)
    files[NOTE] = "Đọc trước khi sử dụng.\n".encode()
    files[LIST] = "Danh mục.\n".encode()
    package = build_package(tmp_path, files=files)
    result = ingest(repo.config, package, identity=repo.identity(), catalog=repo.catalog,
                    fonds=TEST_FONDS)
    return result.aip_id


def renamed_files(records: list[FileRecord]) -> dict[str, str | None]:
    return {f.path: f.original_name for f in records
            if f.path.startswith("data/submission/sip/renamed/")}


def rebuilt_names(repo: Repository, tmp_path: Path, aip_id: str
                  ) -> tuple[RebuildResult, dict[str, str | None]]:
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        return result, renamed_files(rebuilt.files(aip_id))


def test_a_rebuilt_catalog_takes_the_names_from_the_tag_file(repo: Repository, tmp_path: Path,
                                                             aip_id: str) -> None:
    """The builder writes the tag file, lists it in the tagmanifest (so the signature covers
    it), and a catalog rebuilt from storage alone gives the names back exactly."""
    original = renamed_files(repo.catalog.files(aip_id))
    assert set(original.values()) == {NOTE, LIST}  # what ingest recorded
    for index in (0, 1):
        folder = location_root(repo.config, index) / aip_id
        data = (folder / RENAMED_NAMES).read_bytes()
        assert parse_renamed_names(data) == original
        tagmanifest = (folder / "tagmanifest-sha256.txt").read_text(encoding="utf-8")
        assert f"{hashlib.sha256(data).hexdigest()}  {RENAMED_NAMES}" in tagmanifest.splitlines()
    result, names = rebuilt_names(repo, tmp_path, aip_id)
    assert result.registered == [aip_id] and result.ok
    assert names == original
    assert not {"REBUILD-RENAMED-NAMES-MISSING", "REBUILD-RENAMED-NAMES-UNREADABLE",
                "REBUILD-UNEXPECTED-OBJECT"} & result.report.codes()


def without_tag_file(repo: Repository, aip_id: str) -> None:
    """Both copies as an AIP written before the tag file existed: no file, not listed."""
    for index in (0, 1):
        (location_root(repo.config, index) / aip_id / RENAMED_NAMES).unlink()
        forge_copy(repo, aip_id, {}, index=index, drop=(RENAMED_NAMES,))


def test_an_aip_written_before_the_tag_file_existed(repo: Repository, tmp_path: Path,
                                                    aip_id: str) -> None:
    """Registered all the same; the names it cannot give back are counted (info)."""
    without_tag_file(repo, aip_id)
    result, names = rebuilt_names(repo, tmp_path, aip_id)
    assert result.registered == [aip_id] and result.ok
    assert len(names) == 2 and set(names.values()) == {None}
    [finding] = [f for f in result.report.findings
                 if f.code == "REBUILD-RENAMED-NAMES-MISSING"]
    assert str(finding.location) == f"copy1:{aip_id}/{RENAMED_NAMES}"
    assert finding.params["count"] == "2" and finding.severity is Severity.INFO


def test_a_tag_file_that_names_only_one_of_them(repo: Repository, tmp_path: Path,
                                                aip_id: str) -> None:
    original = renamed_files(repo.catalog.files(aip_id))
    [(path, name), *_] = sorted(original.items())
    for index in (0, 1):
        forge_copy(repo, aip_id, {RENAMED_NAMES: renamed_names_text([staged(path, name)]).encode()},
                   index=index)
    result, names = rebuilt_names(repo, tmp_path, aip_id)
    assert names[path] == name and sum(1 for n in names.values() if n is None) == 1
    [finding] = [f for f in result.report.findings
                 if f.code == "REBUILD-RENAMED-NAMES-MISSING"]
    assert finding.params["count"] == "1"


def test_a_signed_tag_file_that_is_not_one_is_a_warning(repo: Repository, tmp_path: Path,
                                                        aip_id: str) -> None:
    for index in (0, 1):
        forge_copy(repo, aip_id, {RENAMED_NAMES: b'{"names": ["not", "a", "map"]}\n'},
                   index=index)
    result, names = rebuilt_names(repo, tmp_path, aip_id)
    assert result.registered == [aip_id] and result.ok
    assert set(names.values()) == {None}
    [finding] = [f for f in result.report.findings
                 if f.code == "REBUILD-RENAMED-NAMES-UNREADABLE"]
    assert str(finding.location) == f"copy1:{aip_id}/{RENAMED_NAMES}"
    assert finding.severity is Severity.WARNING
    assert "REBUILD-RENAMED-NAMES-MISSING" not in result.report.codes()


def test_a_producer_folder_named_renamed_cannot_collide_with_ours() -> None:
    """A producer's own ``renamed/000001.txt`` is portable, but kept as it is it would take the
    name our sequence gives the first non-portable file: it is renamed as well."""
    from types import SimpleNamespace
    from typing import cast

    from aip.tt05_aip_staging import producer_metadata
    from sip.submission import FileRole, Submission

    def item(path: str) -> SimpleNamespace:
        return SimpleNamespace(path=path, role=FileRole.METADATA, fs_path=Path("/nonexistent"),
                               size=1, sha256="0" * 64)

    submission = cast(Submission, SimpleNamespace(files=[item("Ghi chú.txt"),
                                                         item("renamed/000001.txt"),
                                                         item("METS.xml")]))
    kept = {p.aip_path: p.original_name for p in producer_metadata(submission)}
    assert kept == {"submission/sip/renamed/000001.txt": "Ghi chú.txt",
                    "submission/sip/renamed/000002.txt": "renamed/000001.txt",
                    "submission/sip/METS.xml": "METS.xml"}
    assert renamed_names(staged("data/" + path, name) for path, name in kept.items()) == {
        "data/submission/sip/renamed/000001.txt": "Ghi chú.txt",
        "data/submission/sip/renamed/000002.txt": "renamed/000001.txt"}
