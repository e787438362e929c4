"""Ingest: a bag in, a signed AIP on two verified copies, registered — or nothing at all."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from lxml import etree

import aip.ingest as ingest_module
import aip.ingest_replicate as replicate_module
from aip.ingest import ingest
from aip.ingest_staging import locked_folder
from preservation.config import Config
from preservation.errors import RejectedError, StorageError
from preservation.events import read_events
from preservation.manifest import SIGNATURE, TAGMANIFEST
from preservation.repository import Repository, init_repository
from preservation.storage import open_location
from preservation.storage.filesystem import FilesystemBackend
from sip.samples import make_sample_transfer, sample_files
from tests.helpers import add_test_fonds, location_root, set_default_fonds, tree_digest


def run_ingest(repo: Repository, source: Path) -> ingest_module.IngestResult:
    return ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog))


def aip_folders(root: Path) -> list[Path]:
    """What a location holds under AIP prefixes (fonds records and events live elsewhere)."""
    return [p for p in root.iterdir() if p.name not in ("fonds", "events")]


def test_ingest_stores_two_verified_copies_and_registers(repo: Repository, transfer: Path) -> None:
    before = tree_digest(transfer)
    result = run_ingest(repo, transfer)

    assert tree_digest(transfer) == before, "the producer's bag must never change"
    assert not [f for f in result.report.findings
                if f.severity.value in ("error", "warning")], "the sample transfer is clean"
    # no clamd in tests: the virus scan is reported as not done, never silently skipped
    assert "VIRUS-NOT-CHECKED" in result.report.codes()
    assert [c.location for c in result.copies] == ["copy1", "copy2"]
    record = repo.catalog.aip(result.aip_id)
    assert record is not None and record.file_count == 3
    files = repo.catalog.files(result.aip_id)
    originals = {f.original_name for f in files if f.role == "content"}
    assert originals == set(sample_files())  # NFC and NFD names kept exactly
    assert any(unicodedata.is_normalized("NFD", n) and not unicodedata.is_normalized("NFC", n)
               for n in originals)
    pdf = next(f for f in files if f.original_name and f.original_name.endswith(".pdf"))
    assert pdf.puid == "fmt/18"
    for index in (0, 1):
        root = location_root(repo.config, index) / result.aip_id
        stored = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        assert stored == {f.path for f in files}
        assert all(p.isascii() for p in stored), "object keys never carry producer names"
    events = {e.type for e in repo.catalog.events(result.aip_id)}
    assert {"validation", "format identification", "message digest calculation", "ingestion",
            "replication", "digital signature generation"} <= events
    assert {c.status for c in repo.catalog.copies(result.aip_id)} == {"ok"}


def test_stored_mets_and_premis_are_schema_valid(repo: Repository, transfer: Path,
                                                 shared_dir: Path) -> None:
    result = run_ingest(repo, transfer)
    root = location_root(repo.config, 0) / result.aip_id / "data"
    schemas = shared_dir / "schemas"
    for document, schema in (("METS.xml", "mets.xsd"),
                             ("metadata/preservation/PREMIS.xml", "premis-v3-0.xsd")):
        xsd = etree.XMLSchema(etree.parse(str(schemas / schema)))
        tree = etree.parse(str(root / document))
        assert xsd.validate(tree), f"{document}: {xsd.error_log}"
    premis = "".join(p.read_text(encoding="utf-8") for p in root.rglob("PREMIS*.xml"))
    for name in sample_files():
        assert name in premis  # originalName, byte for byte
    mets = etree.parse(str(root / "METS.xml"))
    ns = {"m": "http://www.loc.gov/METS/"}
    assert mets.getroot().get("OBJID") == f"urn:uuid:{result.aip_id}"
    checksums = mets.xpath("//m:file/@CHECKSUM", namespaces=ns)
    assert checksums and all(c == c.upper() for c in checksums)


def _openssl_verify(signature: Path, content: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(content), "-CAfile", str(ca), "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_verifies_the_aip_signature_and_rejects_a_changed_tagmanifest(
        repo: Repository, transfer: Path, tmp_path: Path) -> None:
    result = run_ingest(repo, transfer)
    root = location_root(repo.config, 1) / result.aip_id
    ca = repo.config.signing.certificate
    assert ca is not None
    ok = _openssl_verify(root / SIGNATURE, root / TAGMANIFEST, ca)
    assert ok.returncode == 0, ok.stderr

    altered = tmp_path / "tagmanifest-altered.txt"
    data = bytearray((root / TAGMANIFEST).read_bytes())
    data[0] = ord("0") if data[0] != ord("0") else ord("1")
    altered.write_bytes(bytes(data))
    bad = _openssl_verify(root / SIGNATURE, altered, ca)
    assert bad.returncode != 0


def test_invalid_bag_is_rejected_with_report_and_nothing_stored(repo: Repository,
                                                                transfer: Path) -> None:
    victim = next(p for p in (transfer / "data").rglob("*.csv"))
    victim.write_bytes(victim.read_bytes() + b"tampered")
    with pytest.raises(RejectedError) as info:
        run_ingest(repo, transfer)
    codes = info.value.report.codes()  # type: ignore[attr-defined]
    assert any("MISMATCH" in c or "OXUM" in c for c in codes), codes
    assert repo.catalog.aip_ids() == []
    for index in (0, 1):
        assert aip_folders(location_root(repo.config, index)) == []
    reports = list(repo.config.reports_dir.glob("sip-*.json"))
    assert len(reports) == 1
    saved = json.loads(reports[0].read_text(encoding="utf-8"))
    assert saved["valid"] is False and saved["findings"]


def test_not_a_folder_is_a_usage_error(repo: Repository, tmp_path: Path) -> None:
    from preservation.errors import NotFoundError

    with pytest.raises(NotFoundError):
        run_ingest(repo, tmp_path / "missing")


def test_failure_after_first_copy_leaves_no_trace_and_rerun_succeeds(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_digest(transfer)
    real_verify = replicate_module.verify_copy
    calls: list[str] = []

    def verify_then_die(built: object, backend: object, name: str, progress: object) -> None:
        calls.append(name)
        real_verify(built, backend, name, progress)  # type: ignore[arg-type]
        if name == "copy1":  # copy2 is written and verified at the same time, or stopped
            raise StorageError("injected failure after the first copy was written and verified")

    monkeypatch.setattr(replicate_module, "verify_copy", verify_then_die)
    with pytest.raises(StorageError, match="injected"):
        run_ingest(repo, transfer)
    assert "copy1" in calls and set(calls) <= {"copy1", "copy2"}
    assert repo.catalog.aip_ids() == []
    for index in (0, 1):
        assert aip_folders(location_root(repo.config, index)) == []
    assert list((repo.config.work_dir / "ingest").iterdir()) == []
    assert tree_digest(transfer) == before

    monkeypatch.setattr(replicate_module, "verify_copy", real_verify)
    result = run_ingest(repo, transfer)
    assert repo.catalog.aip_ids() == [result.aip_id]


def test_ingest_killed_midway_is_swept_by_the_ingest_of_another_transfer(
        repo: Repository, transfer: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILL leaves staging and objects behind; an ingest of another transfer removes both
    (the same transfer would resume them: tests/aip/test_ingest_resume.py)."""
    staged: list[str] = []

    def die(built: object, *args: object, **kwargs: object) -> None:
        staged.append(built.uuid)  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # stands in for the kill; cleanup below is undone next

    monkeypatch.setattr(replicate_module, "verify_copy", die)
    monkeypatch.setattr(ingest_module, "_abandon", lambda *a, **k: None)  # as if killed
    with pytest.raises(KeyboardInterrupt):
        run_ingest(repo, transfer)
    orphan = staged[0]
    assert (location_root(repo.config, 0) / orphan).exists()
    assert (repo.config.work_dir / "ingest" / orphan).exists()

    monkeypatch.undo()
    other = make_sample_transfer(tmp_path / "another transfer")
    result = run_ingest(repo, other)
    assert result.aip_id != orphan and not result.resumed
    assert not (location_root(repo.config, 0) / orphan).exists()
    assert not (repo.config.work_dir / "ingest" / orphan).exists()
    assert repo.catalog.aip_ids() == [result.aip_id]


def test_recovery_leaves_a_running_ingest_alone(repo: Repository, transfer: Path) -> None:
    """Another process's staging folder, locked while it builds, is not taken for a crash."""
    with locked_folder(repo.config.work_dir / "ingest") as (aip_uuid, staging):
        (staging / "METS.xml").write_bytes(b"in progress")
        assert ingest_module.recover_interrupted(repo.config, repo.catalog) == []
        run_ingest(repo, transfer)  # a concurrent ingest runs recovery first
        assert (staging / "METS.xml").exists()
    # once its owner is gone (lock released) it is an orphan like any other
    assert ingest_module.recover_interrupted(repo.config, repo.catalog) == [aip_uuid]
    assert not staging.exists()


# --- fonds: every AIP belongs to a registered one ----------------------------------------------

def _nothing_written(repo: Repository) -> None:
    assert repo.catalog.aip_ids() == []
    for index in (0, 1):
        assert aip_folders(location_root(repo.config, index)) == []
    assert not list(repo.config.reports_dir.glob("*.json"))


def test_a_transfer_naming_no_fonds_needs_one(tmp_path: Path, transfer: Path) -> None:
    bare = tmp_path / "bare"  # no default fonds, whatever the suite's fixtures configure
    init_repository(bare, name="Lưu trữ (không phông mặc định)")
    with Repository.open(bare) as repo:
        assert repo.config.default_fonds == ""
        with pytest.raises(RejectedError) as caught:
            ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
        assert caught.value.code == "INGEST-FONDS-REQUIRED"
        codes = caught.value.report.codes()  # type: ignore[attr-defined]
        assert codes == {"INGEST-FONDS-REQUIRED"}
        _nothing_written(repo)


def test_an_unregistered_fonds_is_refused_before_anything_is_read(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the transfer must not be opened")

    monkeypatch.setattr(ingest_module, "open_sip", never)
    with pytest.raises(RejectedError) as caught:
        ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog,
               fonds="H99")
    assert caught.value.code == "INGEST-FONDS-UNKNOWN"
    [finding] = caught.value.report.findings  # type: ignore[attr-defined]
    assert finding.code == "INGEST-FONDS-UNKNOWN" and finding.params["fonds"] == "H99"
    assert "preservation fonds add H99" in finding.fix("en")
    _nothing_written(repo)


def test_the_configured_default_fonds_is_used(home: Path, transfer: Path) -> None:
    set_default_fonds(home, "H41")
    with Repository.open(home) as repo:
        assert repo.config.default_fonds == "H41"
        with pytest.raises(RejectedError) as caught:  # configured, but not registered
            ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
        assert caught.value.code == "INGEST-FONDS-UNKNOWN"
        _nothing_written(repo)
        add_test_fonds(repo.catalog, "H41")
        result = ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
        record = repo.catalog.aip(result.aip_id)
        assert result.fonds_code == "H41" and record is not None and record.fonds_code == "H41"
        assert [a.id for a in repo.catalog.aips_in_fonds("H41")] == [result.aip_id]


def test_an_explicit_fonds_wins_and_is_recorded(repo: Repository, transfer: Path) -> None:
    add_test_fonds(repo.catalog, "H41")
    result = ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog,
                    fonds="H41", archivist="Nguyễn Văn A")
    record = repo.catalog.aip(result.aip_id)
    assert record is not None
    assert (record.fonds_code, record.version, record.package_id, record.record_status,
            record.previous_id) == ("H41", 1, result.aip_id, "NEW", None)
    info = (location_root(repo.config, 0) / result.aip_id / "bag-info.txt").read_text("utf-8")
    assert "Fonds-Code: H41" in info
    premis = "".join(p.read_text(encoding="utf-8")
                     for p in (location_root(repo.config, 0) / result.aip_id).rglob("PREMIS*"))
    assert "Nguyễn Văn A" in premis


def test_replication_events_are_written_beside_the_aip(repo: Repository,
                                                       transfer: Path) -> None:
    result = run_ingest(repo, transfer)
    catalogued = [e for e in repo.catalog.events(result.aip_id) if e.type == "replication"]
    assert sorted(e.location or "" for e in catalogued) == ["copy1", "copy2"]
    for index in (0, 1):
        backend = open_location(repo.config.storage[index].url)
        stored = sorted((e.id, e.location) for e in read_events(backend, result.aip_id))
        assert stored == sorted((e.id, e.location) for e in catalogued)


# --- durability: a deferred location is made durable before its copy counts -------------------

def _deferred(config: Config) -> Config:
    """``config`` with every file:// location opened with ``durability="deferred"``."""
    return dataclasses.replace(config, storage=tuple(
        dataclasses.replace(s, options={**s.options, "durability": "deferred"})
        for s in config.storage))


def test_every_copy_is_synced_before_it_is_verified_and_registered(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _deferred(repo.config)
    calls: list[tuple[str, str]] = []
    real_sync, real_verify = FilesystemBackend.sync, replicate_module.verify_copy
    real_register = repo.catalog.register_aip

    def sync(self: FilesystemBackend) -> None:
        assert self.durability == "deferred"
        calls.append(("sync", str(self.root.resolve())))
        real_sync(self)

    def verify(built: object, backend: object, name: str, progress: object) -> None:
        calls.append(("verify", name))
        real_verify(built, backend, name, progress)  # type: ignore[arg-type]

    def register(*args: object) -> None:
        calls.append(("register", ""))
        real_register(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(FilesystemBackend, "sync", sync)
    monkeypatch.setattr(replicate_module, "verify_copy", verify)
    monkeypatch.setattr(repo.catalog, "register_aip", register)
    result = ingest(config, transfer, identity=repo.identity(), catalog=repo.catalog,
                    fonds=add_test_fonds(repo.catalog))
    registered = calls.index(("register", ""))
    for index, location in enumerate(config.storage):
        synced = calls.index(("sync", str(location_root(config, index).resolve())))
        assert synced < calls.index(("verify", location.name)) < registered
    assert repo.catalog.aip_ids() == [result.aip_id]


def test_a_copy_that_cannot_be_made_durable_fails_the_ingest_and_leaves_no_trace(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _deferred(repo.config)
    second = location_root(config, 1).resolve()
    real_sync = FilesystemBackend.sync

    def sync(self: FilesystemBackend) -> None:
        if self.root.resolve() == second:
            raise StorageError("injected write-back error", location=str(self.root))
        real_sync(self)

    monkeypatch.setattr(FilesystemBackend, "sync", sync)
    with pytest.raises(StorageError, match="injected"):
        ingest(config, transfer, identity=repo.identity(), catalog=repo.catalog,
               fonds=add_test_fonds(repo.catalog))
    assert repo.catalog.aip_ids() == []
    for index in (0, 1):
        assert aip_folders(location_root(config, index)) == []
    assert list((config.work_dir / "ingest").iterdir()) == []
