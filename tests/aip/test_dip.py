"""Access copies: original names, identical bytes, read from a copy that verifies."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from aip.ingest import IngestResult, ingest
from dip.access import NoIntactCopyError, create_dip
from dip.mets import DipFile, dip_mets_bytes
from preservation.errors import UsageError
from preservation.events import read_event_documents, read_events, record_event
from preservation.repository import Repository
from preservation.storage import open_location
from sip.samples import sample_files
from tests.aip.test_audit import clone_sharing_content
from tests.helpers import add_test_fonds, location_root


@pytest.fixture
def stored(repo: Repository, transfer: Path) -> IngestResult:
    return ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog))


def make(repo: Repository, aip_id: str, out: Path):  # type: ignore[no-untyped-def]
    return create_dip(repo.config, repo.catalog, aip_id, out, repo.trust_anchors())


def test_dip_files_are_byte_identical_under_original_names(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    out = tmp_path / "dip"
    result = make(repo, stored.aip_id, out)
    data = out / "representations" / "rep1" / "data"
    for name, content in sample_files().items():
        assert (data / name).read_bytes() == content
    assert (out / "metadata" / "preservation" / "PREMIS.xml").is_file()
    mets = etree.parse(str(out / "METS.xml"))
    ns = {"m": "http://www.loc.gov/METS/"}
    assert len(mets.findall(".//m:fileGrp/m:file", ns)) == len(sample_files())
    assert mets.xpath("//m:altRecordID[@TYPE='AIP']/text()", namespaces=ns) == [
        f"urn:uuid:{stored.aip_id}"]
    assert result.location == "copy1" and result.rejected_copies == ()
    events = [e for e in repo.catalog.events(stored.aip_id) if e.type == "dissemination"]
    assert len(events) == 1


def test_dip_mets_is_schema_valid(repo: Repository, stored: IngestResult, tmp_path: Path,
                                  shared_dir: Path) -> None:
    make(repo, stored.aip_id, tmp_path / "dip")
    xsd = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "mets.xsd")))
    mets = etree.parse(str(tmp_path / "dip" / "METS.xml"))
    assert xsd.validate(mets), xsd.error_log


def test_a_damaged_copy_is_skipped_and_reported(repo: Repository, stored: IngestResult,
                                                tmp_path: Path) -> None:
    record = next(f for f in repo.catalog.files(stored.aip_id) if f.role == "content")
    target = location_root(repo.config, 0) / stored.aip_id / record.path
    os.chmod(target, 0o644)
    target.write_bytes(b"damaged")
    result = make(repo, stored.aip_id, tmp_path / "dip")
    assert result.location == "copy2"
    assert [r.codes() for r in result.rejected_copies] == [{"AUDIT-SIZE-MISMATCH"}]
    for name, content in sample_files().items():
        assert (tmp_path / "dip/representations/rep1/data" / name).read_bytes() == content


def test_a_copy_whose_location_cannot_be_opened_is_skipped(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    root = location_root(repo.config, 0)
    root.rename(root.with_name("copy1-unmounted"))
    result = make(repo, stored.aip_id, tmp_path / "dip")
    assert result.location == "copy2"
    assert [r.codes() for r in result.rejected_copies] == [{"AUDIT-LOCATION-UNREACHABLE"}]
    for name, content in sample_files().items():
        assert (tmp_path / "dip/representations/rep1/data" / name).read_bytes() == content
    assert [e.location for e in repo.catalog.events(stored.aip_id)
            if e.type == "dissemination"] == ["copy2"]


def test_no_intact_copy_writes_nothing(repo: Repository, stored: IngestResult,
                                       tmp_path: Path) -> None:
    record = next(f for f in repo.catalog.files(stored.aip_id) if f.role == "content")
    for index in (0, 1):
        (location_root(repo.config, index) / stored.aip_id / record.path).unlink()
    with pytest.raises(NoIntactCopyError) as info:
        make(repo, stored.aip_id, tmp_path / "dip")
    assert len(info.value.reports) == 2
    assert not (tmp_path / "dip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dip")] == []


def test_output_folder_must_be_new_or_empty(repo: Repository, stored: IngestResult,
                                            tmp_path: Path) -> None:
    out = tmp_path / "dip"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError) as info:
        make(repo, stored.aip_id, out)
    assert info.value.code == "DIP-OUTPUT-EXISTS"
    assert (out / "keep.txt").read_text() == "mine"


def test_unknown_aip(repo: Repository, tmp_path: Path) -> None:
    from preservation.errors import NotFoundError

    with pytest.raises(NotFoundError) as info:
        make(repo, "00000000-0000-0000-0000-000000000000", tmp_path / "dip")
    assert info.value.code == "DIP-UNKNOWN-AIP"


def test_an_unsafe_recorded_name_is_refused_before_anything_is_written(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    """Defence in depth: even a tampered catalog cannot make a DIP write outside its folder."""
    import sqlite3

    from preservation.errors import PreservationError

    db = sqlite3.connect(repo.config.catalog_path)
    db.execute("UPDATE files SET original_name = '../../escape.txt' "
               "WHERE aip_id = ? AND role = 'content'", (stored.aip_id,))
    db.commit()
    db.close()
    with pytest.raises(PreservationError) as info:
        make(repo, stored.aip_id, tmp_path / "out" / "dip")
    assert info.value.code == "DIP-UNSAFE-NAME"
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


def test_each_dip_is_a_dissemination_event_beside_the_aip(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    result = make(repo, stored.aip_id, tmp_path / "dip")
    assert result.event_not_written == ()
    [in_catalog] = [e for e in repo.catalog.events(stored.aip_id) if e.type == "dissemination"]
    for spec in repo.config.storage:
        backend = open_location(spec.url, **spec.options)
        assert [e for e in read_events(backend, stored.aip_id)
                if e.type == "dissemination"] == [in_catalog]
        backend.close()
    assert in_catalog.location == "copy1" and result.dip_id in in_catalog.detail


def test_the_copy_is_on_disk_before_its_event_names_the_archivist(
        repo: Repository, stored: IngestResult, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file and folder of the access copy is fsynced before the dissemination event is
    recorded, and the event's agents include the archivist given."""
    steps: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        steps.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def record(*args: Any, **kwargs: Any) -> list[str]:
        steps.append("event")
        return record_event(*args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr("dip.access.record_event", record)
    out = tmp_path / "dip"
    result = create_dip(repo.config, repo.catalog, stored.aip_id, out, repo.trust_anchors(),
                        archivist="Trần Văn Tra Cứu")
    synced = set(steps[:steps.index("event")])
    written = {str(p) for p in out.rglob("*")} | {str(out), str(out.parent)}
    assert written <= synced
    spec = repo.config.storage[0]
    backend = open_location(spec.url, **spec.options)
    try:
        [agents] = [agents for _, e, agents in read_event_documents(backend, stored.aip_id)
                    if e.type == "dissemination"]
    finally:
        backend.close()
    assert ("person", "Trần Văn Tra Cứu") in {(a.type, a.name) for a in agents}
    assert result.event_not_written == ()


def test_a_file_shared_with_an_earlier_version_is_read_from_there(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    new_id, shared = clone_sharing_content(repo, stored.aip_id)
    out = tmp_path / "dip"
    make(repo, new_id, out)
    data = out / "representations" / "rep1" / "data"
    for name, content in sample_files().items():
        assert (data / name).read_bytes() == content
    assert shared.original_name is not None and (data / shared.original_name).is_file()


def test_dip_mets_describes_the_representation_premis(shared_dir: Path) -> None:
    premis = DipFile("metadata/preservation/PREMIS.xml", 10, "a" * 64)
    rep = DipFile("representations/rep1/metadata/preservation/PREMIS_rep1.xml", 20, "b" * 64)
    data = dip_mets_bytes(dip_id=str(uuid.uuid4()), aip_id=str(uuid.uuid4()), label="x",
                          created=datetime.now(UTC), organisation="org",
                          files=(DipFile("representations/rep1/data/a.pdf", 1, "c" * 64),),
                          premis=premis, representation_premis=rep)
    mets = etree.fromstring(data)
    xsd = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "mets.xsd")))
    assert xsd.validate(mets), xsd.error_log
    ns = {"m": "http://www.loc.gov/METS/", "x": "http://www.w3.org/1999/xlink"}
    refs = mets.findall(".//m:digiprovMD/m:mdRef", ns)
    assert [r.get(f"{{{ns['x']}}}href") for r in refs] == [premis.path, rep.path]
    group = mets.find(".//m:fileGrp", ns)
    assert group is not None and len((group.get("ADMID") or "").split()) == 2
