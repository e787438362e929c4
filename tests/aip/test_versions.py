"""Versions: ``--supplement`` and ``--replace`` make a new AIP that shares the package, keeps
history, and stores no unchanged file twice; earlier versions stay readable."""

from __future__ import annotations

import os
from pathlib import Path

import bagit
import pytest
from lxml import etree

from aip.ingest import IngestResult, ingest
from dip.access import create_dip
from preservation.audit import audit
from preservation.errors import ChecksumMismatchError, RejectedError, StorageError, UsageError
from preservation.manifest import object_key
from preservation.repository import Repository
from sip.samples import make_sample_transfer, minimal_pdf, sample_files
from tests.helpers import TEST_FONDS, add_test_fonds, location_root

METS_NS = {"m": "http://www.loc.gov/METS/"}
PDF = "Hồ sơ 01/Tờ trình số 05-TTr.pdf"
ANNEX = "Phụ lục 01.pdf"


def make_bag(target: Path, files: dict[str, bytes]) -> Path:
    target.mkdir(parents=True)
    for rel, data in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    bagit.make_bag(str(target), {"Source-Organization": "Văn phòng UBND tỉnh (test)",
                                 "Title": "Bổ sung hồ sơ"}, checksums=["sha256"])
    return target


def run(repo: Repository, source: Path, **kwargs: str) -> IngestResult:
    return ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                  **kwargs)  # type: ignore[arg-type]


def stored_keys(repo: Repository, index: int, aip_id: str) -> set[str]:
    root = location_root(repo.config, index) / aip_id
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def mime_types(repo: Repository, aip_id: str) -> dict[str, str | None]:
    """AIP path -> METS MIMETYPE of every file of an AIP's METS.xml."""
    mets = etree.parse(str(location_root(repo.config, 0) / aip_id / "data" / "METS.xml"))
    href = "{http://www.w3.org/1999/xlink}href"
    return {f.find("m:FLocat", METS_NS).get(href, ""): f.get("MIMETYPE")  # type: ignore[union-attr]
            for f in mets.getroot().iterfind(".//m:fileSec//m:file", METS_NS)}


def record_status(repo: Repository, aip_id: str) -> str | None:
    mets = etree.parse(str(location_root(repo.config, 0) / aip_id / "data" / "METS.xml"))
    return mets.getroot().find("m:metsHdr", METS_NS).get("RECORDSTATUS")  # type: ignore[union-attr]


@pytest.fixture
def first(repo: Repository, tmp_path: Path) -> IngestResult:
    add_test_fonds(repo.catalog)
    return run(repo, make_sample_transfer(tmp_path / "v1"), fonds=TEST_FONDS)


def test_a_supplement_adds_files_and_stores_only_the_new_ones(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    v1 = first.aip_id
    annex = minimal_pdf("Phu luc 01")
    second = run(repo, make_bag(tmp_path / "v2", {ANNEX: annex}), supplement=v1)
    v2 = second.aip_id

    record = repo.catalog.aip(v2)
    assert record is not None
    assert (record.version, record.package_id, record.previous_id, record.record_status,
            record.fonds_code) == (2, v1, v1, "SUPPLEMENT", TEST_FONDS)
    assert [a.id for a in repo.catalog.versions(v1)] == [v1, v2]
    latest = repo.catalog.latest(v1)
    assert latest is not None and latest.id == v2
    assert (second.version, second.package_id, second.previous_id) == (2, v1, v1)

    files = repo.catalog.files(v2)
    content = {f.original_name: f for f in files if f.role == "content"}
    assert set(content) == {*sample_files(), ANNEX}
    for name in sample_files():  # carried by reference: the bytes stay under version 1
        key = content[name].stored_key
        assert key is not None and key.startswith(f"{v1}/")
        assert key.removeprefix(f"{v1}/") in stored_keys(repo, 0, v1)
    assert content[ANNEX].stored_key is None
    for index in (0, 1):  # nothing reused is stored again under the new prefix
        assert stored_keys(repo, index, v2) == {f.path for f in files if f.stored_key is None}
    assert all(c.reused >= len(sample_files()) for c in second.copies)
    assert record_status(repo, v2) == "SUPPLEMENT"
    assert record_status(repo, v1) == "NEW"
    assert "fetch.txt" in stored_keys(repo, 0, v2)
    # a carried file keeps its MIME type in the new METS (not application/octet-stream)
    pdf_path = content[PDF].path.removeprefix("data/")
    assert mime_types(repo, v1)[pdf_path] == "application/pdf"
    assert mime_types(repo, v2)[pdf_path] == "application/pdf"

    audits = audit(repo.config, repo.catalog, [v1, v2], repo.trust_anchors())
    assert [a.ok for a in audits] == [True, True], [a.copies for a in audits]
    old = create_dip(repo.config, repo.catalog, v1, tmp_path / "dip-v1", repo.trust_anchors())
    for name, data in sample_files().items():
        assert (old.out_dir / "representations/rep1/data" / name).read_bytes() == data
    new = create_dip(repo.config, repo.catalog, v2, tmp_path / "dip-v2", repo.trust_anchors())
    served = new.out_dir / "representations/rep1/data"
    assert (served / ANNEX).read_bytes() == annex
    assert (served / PDF).read_bytes() == sample_files()[PDF]


def test_a_replacement_holds_only_the_new_files_and_reuses_identical_bytes(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    v1 = first.aip_id
    pdf = sample_files()[PDF]
    changed = minimal_pdf("Bien ban da sua")
    third = run(repo, make_bag(tmp_path / "v2", {PDF: pdf, "Biên bản đã sửa.pdf": changed}),
                replace=v1, fonds=TEST_FONDS)
    v2 = third.aip_id
    record = repo.catalog.aip(v2)
    assert record is not None and record.record_status == "REPLACEMENT"
    assert record_status(repo, v2) == "REPLACEMENT"
    content = {f.original_name: f for f in repo.catalog.files(v2) if f.role == "content"}
    assert set(content) == {PDF, "Biên bản đã sửa.pdf"}
    kept = content[PDF]
    assert kept.stored_key == object_key(v1, next(
        f.path for f in repo.catalog.files(v1) if f.original_name == PDF))
    assert content["Biên bản đã sửa.pdf"].stored_key is None
    assert kept.path not in stored_keys(repo, 0, v2)
    audits = audit(repo.config, repo.catalog, [v1, v2], repo.trust_anchors())
    assert all(a.ok for a in audits)


def test_only_the_latest_version_can_be_built_on(repo: Repository, first: IngestResult,
                                                 tmp_path: Path) -> None:
    annex = make_bag(tmp_path / "annex", {ANNEX: minimal_pdf("Phu luc")})
    second = run(repo, annex, supplement=first.aip_id)
    before = sorted(repo.catalog.aip_ids())
    with pytest.raises(RejectedError) as caught:
        run(repo, annex, supplement=first.aip_id)
    assert caught.value.code == "INGEST-NOT-LATEST-VERSION"
    with pytest.raises(RejectedError) as caught:
        run(repo, annex, replace="00000000-0000-4000-8000-000000000000")
    assert caught.value.code == "INGEST-UNKNOWN-AIP"
    with pytest.raises(UsageError) as usage:
        run(repo, annex, supplement=second.aip_id, replace=second.aip_id)
    assert usage.value.code == "INGEST-VERSION-OPTIONS"
    assert sorted(repo.catalog.aip_ids()) == before
    assert {p.name for p in location_root(repo.config, 0).iterdir()} - {"events", "fonds"} \
        == set(before)


def test_a_reused_object_missing_on_a_copy_fails_the_new_version_cleanly(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    victim = location_root(repo.config, 1) / v1 / pdf.path
    os.chmod(victim.parent, 0o755)
    victim.unlink()
    with pytest.raises(StorageError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("Phu luc")}), supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-MISSING"
    assert repo.catalog.aip_ids() == [v1]
    for index in (0, 1):
        assert {p.name for p in location_root(repo.config, index).iterdir()} \
            - {"events", "fonds"} == {v1}
    assert list((repo.config.work_dir / "ingest").iterdir()) == []


def test_a_reused_object_changed_on_a_copy_fails_the_new_version_cleanly(
        repo: Repository, first: IngestResult, tmp_path: Path) -> None:
    v1 = first.aip_id
    pdf = next(f for f in repo.catalog.files(v1) if f.original_name == PDF)
    victim = location_root(repo.config, 1) / v1 / pdf.path
    changed = bytearray(victim.read_bytes())
    changed[-1] ^= 0xFF  # same size, other bytes: only the SHA-256 tells
    os.chmod(victim.parent, 0o755)
    victim.unlink()
    victim.write_bytes(bytes(changed))
    with pytest.raises(ChecksumMismatchError) as caught:
        run(repo, make_bag(tmp_path / "v2", {ANNEX: minimal_pdf("Phu luc")}), supplement=v1)
    assert caught.value.code == "INGEST-REUSED-OBJECT-CHANGED"
    assert repo.catalog.aip_ids() == [v1]
    for index in (0, 1):
        assert {p.name for p in location_root(repo.config, index).iterdir()} \
            - {"events", "fonds"} == {v1}
    assert list((repo.config.work_dir / "ingest").iterdir()) == []
