"""Ingest: a bag in, a signed AIP on two verified copies, registered — or nothing at all."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from lxml import etree

import aip.ingest as ingest_module
from aip.ingest import ingest
from preservation.errors import RejectedError, StorageError
from preservation.manifest import SIGNATURE, TAGMANIFEST
from preservation.repository import Repository
from sip.samples import sample_files
from tests.helpers import location_root, tree_digest


def run_ingest(repo: Repository, source: Path) -> ingest_module.IngestResult:
    return ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog)


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
    premis = (root / "metadata/preservation/PREMIS.xml").read_text(encoding="utf-8")
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
        assert list(location_root(repo.config, index).iterdir()) == []
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
    real_verify = ingest_module.verify_copy
    calls = []

    def verify_then_die(*args: object, **kwargs: object) -> None:
        calls.append(1)
        real_verify(*args, **kwargs)  # type: ignore[arg-type]
        raise StorageError("injected failure after the first copy was written and verified")

    monkeypatch.setattr(ingest_module, "verify_copy", verify_then_die)
    with pytest.raises(StorageError, match="injected"):
        run_ingest(repo, transfer)
    assert calls == [1]
    assert repo.catalog.aip_ids() == []
    for index in (0, 1):
        assert list(location_root(repo.config, index).iterdir()) == []
    assert list((repo.config.work_dir / "ingest").iterdir()) == []
    assert tree_digest(transfer) == before

    monkeypatch.setattr(ingest_module, "verify_copy", real_verify)
    result = run_ingest(repo, transfer)
    assert repo.catalog.aip_ids() == [result.aip_id]


def test_ingest_killed_midway_is_cleaned_up_by_the_next_one(
        repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILL leaves staging and objects behind; the next ingest removes both."""
    staged: list[str] = []

    def die(built: object, *args: object, **kwargs: object) -> None:
        staged.append(built.uuid)  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # stands in for the kill; cleanup below is undone next

    monkeypatch.setattr(ingest_module, "verify_copy", die)
    monkeypatch.setattr(ingest_module, "_abandon", lambda *a, **k: None)  # as if killed
    with pytest.raises(KeyboardInterrupt):
        run_ingest(repo, transfer)
    orphan = staged[0]
    assert (location_root(repo.config, 0) / orphan).exists()
    assert (repo.config.work_dir / "ingest" / orphan).exists()

    monkeypatch.undo()
    result = run_ingest(repo, transfer)
    assert not (location_root(repo.config, 0) / orphan).exists()
    assert not (repo.config.work_dir / "ingest" / orphan).exists()
    assert repo.catalog.aip_ids() == [result.aip_id]


def test_recovery_leaves_a_running_ingest_alone(repo: Repository, transfer: Path) -> None:
    """Another process's staging folder, locked while it builds, is not taken for a crash."""
    with ingest_module._new_staging(repo.config.work_dir / "ingest") as (aip_uuid, staging):
        (staging / "METS.xml").write_bytes(b"in progress")
        assert ingest_module.recover_interrupted(repo.config, repo.catalog) == []
        run_ingest(repo, transfer)  # a concurrent ingest runs recovery first
        assert (staging / "METS.xml").exists()
    # once its owner is gone (lock released) it is an orphan like any other
    assert ingest_module.recover_interrupted(repo.config, repo.catalog) == [aip_uuid]
    assert not staging.exists()
