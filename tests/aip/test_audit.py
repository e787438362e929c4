"""Audits: every copy re-read; a changed byte or a lost object names its copy and file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aip.ingest import IngestResult, ingest
from preservation.audit import audit
from preservation.manifest import MANIFEST, TAGMANIFEST
from preservation.repository import Repository
from tests.helpers import location_root


@pytest.fixture
def stored(repo: Repository, transfer: Path) -> IngestResult:
    return ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)


def flip_byte(path: Path, offset: int = 0) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def content_object(repo: Repository, aip_id: str, index: int) -> tuple[str, Path]:
    record = next(f for f in repo.catalog.files(aip_id) if f.role == "content")
    return record.path, location_root(repo.config, index) / aip_id / record.path


def run_audit(repo: Repository, ids: list[str] | None = None) -> list:  # type: ignore[type-arg]
    return audit(repo.config, repo.catalog, ids, repo.trust_anchors())


def test_intact_copies_pass_and_each_check_is_an_event(repo: Repository,
                                                       stored: IngestResult) -> None:
    [result] = run_audit(repo)
    assert result.ok
    assert [c.location for c in result.copies] == ["copy1", "copy2"]
    assert all(c.signature is not None and c.signature.ok for c in result.copies)
    fixity = [e for e in repo.catalog.events(stored.aip_id) if e.type == "fixity check"]
    assert sorted(e.location or "" for e in fixity) == ["copy1", "copy2"]
    assert {e.outcome for e in fixity} == {"success"}


def test_one_changed_byte_fails_that_copy_and_names_the_file(repo: Repository,
                                                             stored: IngestResult) -> None:
    path, target = content_object(repo, stored.aip_id, 1)
    flip_byte(target, 10)
    [result] = run_audit(repo, [stored.aip_id])
    good, bad = result.copies
    assert not result.ok and good.ok and not bad.ok
    [finding] = bad.report.errors
    assert finding.code == "AUDIT-CHECKSUM-MISMATCH"
    assert finding.location.path == f"copy2:{path}"
    statuses = {c.location: c.status for c in repo.catalog.copies(stored.aip_id)}
    assert statuses == {"copy1": "ok", "copy2": "failed"}
    failures = [e for e in repo.catalog.events(stored.aip_id)
                if e.type == "fixity check" and e.outcome == "failure"]
    assert len(failures) == 1 and path in failures[0].outcome_detail


def test_a_deleted_object_fails_that_copy(repo: Repository, stored: IngestResult) -> None:
    path, target = content_object(repo, stored.aip_id, 0)
    target.unlink()
    [result] = run_audit(repo)
    bad, good = result.copies
    assert good.ok and not bad.ok
    assert [(f.code, f.location.path) for f in bad.report.errors] == [
        ("AUDIT-OBJECT-MISSING", f"copy1:{path}")]


def test_a_rewritten_tagmanifest_breaks_the_signature(repo: Repository,
                                                      stored: IngestResult) -> None:
    """Someone edits a manifest and 'fixes' the tagmanifest: the signature catches it."""
    root = location_root(repo.config, 0) / stored.aip_id
    flip_byte(root / TAGMANIFEST, 3)
    [result] = run_audit(repo)
    codes = result.copies[0].report.codes()
    assert "AUDIT-SIGNATURE-INVALID" in codes
    assert "AUDIT-CHECKSUM-MISMATCH" in codes
    assert result.copies[1].ok


def test_manifest_disagreeing_with_catalog_is_reported(repo: Repository,
                                                       stored: IngestResult) -> None:
    root = location_root(repo.config, 0) / stored.aip_id
    flip_byte(root / MANIFEST, 0)
    [result] = run_audit(repo)
    codes = result.copies[0].report.codes()
    assert {"AUDIT-MANIFEST-DISAGREES", "AUDIT-CHECKSUM-MISMATCH"} <= codes


def test_an_unexpected_object_is_a_warning(repo: Repository, stored: IngestResult) -> None:
    extra = location_root(repo.config, 0) / stored.aip_id / "data" / "intruder.bin"
    extra.write_bytes(b"x")
    [result] = run_audit(repo)
    assert result.ok
    assert result.copies[0].report.codes() == {"AUDIT-UNEXPECTED-OBJECT"}


def test_a_foreign_signer_is_untrusted(repo: Repository, stored: IngestResult,
                                       tmp_path: Path) -> None:
    from cryptography import x509

    from preservation.signing import create_test_identity

    _key, cert = create_test_identity(tmp_path / "other", "Another archive")
    other = x509.load_pem_x509_certificates(cert.read_bytes())
    [result] = audit(repo.config, repo.catalog, None, other)
    assert {c.report.codes().pop() for c in result.copies} == {"AUDIT-SIGNATURE-UNTRUSTED"}


def test_a_missing_signature_is_not_checked_and_fails(repo: Repository,
                                                      stored: IngestResult) -> None:
    from preservation.manifest import SIGNATURE

    (location_root(repo.config, 1) / stored.aip_id / SIGNATURE).unlink()
    [result] = run_audit(repo)
    assert result.copies[1].report.codes() == {"AUDIT-OBJECT-MISSING",
                                                "AUDIT-SIGNATURE-NOT-CHECKED"}
    assert result.copies[0].ok


def test_an_undecodable_manifest_is_reported(repo: Repository, stored: IngestResult) -> None:
    target = location_root(repo.config, 0) / stored.aip_id / MANIFEST
    size = target.stat().st_size
    os.chmod(target, 0o644)
    target.write_bytes(b"\xff" * size)
    [result] = run_audit(repo)
    assert result.copies[0].report.codes() == {"AUDIT-MANIFEST-UNREADABLE",
                                                "AUDIT-CHECKSUM-MISMATCH"}


def test_a_folder_in_place_of_an_object_is_missing(repo: Repository,
                                                   stored: IngestResult) -> None:
    path, target = content_object(repo, stored.aip_id, 0)
    target.unlink()
    target.mkdir()
    [result] = run_audit(repo)
    [finding] = result.copies[0].report.errors
    assert (finding.code, finding.location.path) == ("AUDIT-OBJECT-MISSING", f"copy1:{path}")


def test_a_read_error_is_reported_as_unreadable(repo: Repository, stored: IngestResult,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from preservation.errors import StorageError
    from preservation.storage.filesystem import FilesystemBackend

    path, _target = content_object(repo, stored.aip_id, 1)
    real_open = FilesystemBackend.open

    def failing_open(self: FilesystemBackend, key: str):  # type: ignore[no-untyped-def]
        if key.endswith(path) and "copy2" in self.url:
            raise StorageError("Input/output error (injected)")
        return real_open(self, key)

    monkeypatch.setattr(FilesystemBackend, "open", failing_open)
    [result] = run_audit(repo)
    [finding] = result.copies[1].report.errors
    assert (finding.code, finding.location.path) == ("AUDIT-OBJECT-UNREADABLE", f"copy2:{path}")
    assert result.copies[0].ok


def test_a_copy_on_a_location_no_longer_configured(repo: Repository, stored: IngestResult
                                                   ) -> None:
    from dataclasses import replace

    config = replace(repo.config, storage=(replace(repo.config.storage[0], name="renamed"),
                                           repo.config.storage[1]))
    [result] = audit(config, repo.catalog, None, repo.trust_anchors())
    assert result.copies[0].report.codes() == {"AUDIT-LOCATION-UNKNOWN"}
    assert not result.ok and result.copies[1].ok
