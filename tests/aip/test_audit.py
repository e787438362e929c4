"""Audits: every copy re-read; a changed byte or a lost object names its copy and file."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from aip.ingest import IngestResult, ingest
from preservation.audit import audit
from preservation.catalog import FileRecord
from preservation.events import read_events
from preservation.manifest import MANIFEST, TAGMANIFEST, object_key
from preservation.repository import Repository
from preservation.storage import StorageBackend, open_location
from tests.helpers import add_test_fonds, location_root


@pytest.fixture
def stored(repo: Repository, transfer: Path) -> IngestResult:
    return ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog))


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
    assert [c.report.codes() for c in result.copies] == [{"AUDIT-SIGNATURE-UNTRUSTED"}] * 2


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
    config = replace(repo.config, storage=(replace(repo.config.storage[0], name="renamed"),
                                           repo.config.storage[1]))
    [result] = audit(config, repo.catalog, None, repo.trust_anchors())
    assert result.copies[0].report.codes() == {"AUDIT-LOCATION-UNKNOWN"}
    assert not result.ok and result.copies[1].ok


def test_a_location_that_cannot_be_opened_fails_its_copy_only(
        repo: Repository, stored: IngestResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """A renamed (unmounted) root: that copy is reported and marked failed, the other is checked,
    and the location is tried once per audit run, not once per AIP."""
    import preservation.audit

    second, _ = clone_sharing_content(repo, stored.aip_id)
    root = location_root(repo.config, 1)
    root.rename(root.with_name("copy2-unmounted"))
    opened: list[str] = []
    real_open = preservation.audit.open_location

    def counting_open(url: str, **options: object) -> StorageBackend:
        opened.append(url)
        return real_open(url, **options)

    monkeypatch.setattr(preservation.audit, "open_location", counting_open)
    results = run_audit(repo, [stored.aip_id, second])
    for result in results:
        good, bad = result.copies
        assert not result.ok and good.ok and good.files_checked > 0
        assert bad.location == "copy2"
        assert [(f.code, f.location.path) for f in bad.report.errors] == [
            ("AUDIT-LOCATION-UNREACHABLE", "copy2")]
        statuses = {c.location: c.status for c in repo.catalog.copies(result.aip_id)}
        assert statuses == {"copy1": "ok", "copy2": "failed"}
    assert sorted(opened) == sorted(s.url for s in repo.config.storage)


# --- provenance beside the AIP, and objects stored once for several versions ------------------

def open_locations(repo: Repository) -> list[StorageBackend]:
    return [open_location(s.url, **s.options) for s in repo.config.storage]


def test_each_fixity_check_is_also_an_event_document_on_every_location(
        repo: Repository, stored: IngestResult) -> None:
    run_audit(repo)
    in_catalog = sorted((e for e in repo.catalog.events(stored.aip_id)
                         if e.type == "fixity check"), key=lambda e: e.id)
    for backend in open_locations(repo):
        on_storage = sorted((e for e in read_events(backend, stored.aip_id)
                             if e.type == "fixity check"), key=lambda e: e.id)
        assert on_storage == in_catalog
        assert {e.location for e in on_storage} == {"copy1", "copy2"}
        backend.close()
    # the event documents written beside the AIP are not "unexpected objects" of it
    [again] = run_audit(repo)
    assert again.ok and all(not c.report.findings for c in again.copies)


def test_an_event_that_cannot_be_written_is_a_warning(
        repo: Repository, stored: IngestResult, monkeypatch: pytest.MonkeyPatch) -> None:
    import preservation.events

    monkeypatch.setattr(preservation.events, "publish_event",
                        lambda backends, event, agents=(): ["file:///gone"])
    [result] = run_audit(repo)
    assert result.ok
    assert all(c.report.codes() == {"EVENT-NOT-WRITTEN"} for c in result.copies)
    assert all(any(e.type == "fixity check" for e in repo.catalog.events(c.aip_id))
               for c in result.copies)  # the catalog has the event all the same


def clone_sharing_content(repo: Repository, aip_id: str) -> tuple[str, FileRecord]:
    """Register a copy of ``aip_id`` as a new AIP whose first content file is not stored under
    its own prefix but only under ``aip_id``'s (``stored_key``), as a later version's would be."""
    new_id = str(uuid.uuid4())
    files = repo.catalog.files(aip_id)
    shared = next(f for f in files if f.role == "content")
    for index in range(len(repo.config.storage)):
        root = location_root(repo.config, index)
        shutil.copytree(root / aip_id, root / new_id)
        (root / new_id / shared.path).unlink()
    aip = repo.catalog.aip(aip_id)
    assert aip is not None
    repo.catalog.register_aip(
        replace(aip, id=new_id, package_id=new_id),
        [replace(f, aip_id=new_id,
                 stored_key=object_key(aip_id, f.path) if f.path == shared.path else None)
         for f in files],
        [replace(c, aip_id=new_id) for c in repo.catalog.copies(aip_id)], [])
    return new_id, shared


def test_an_object_stored_under_an_earlier_version_is_read_from_there(
        repo: Repository, stored: IngestResult) -> None:
    new_id, _ = clone_sharing_content(repo, stored.aip_id)
    [result] = run_audit(repo, [new_id])
    assert result.ok, [c.report.codes() for c in result.copies]
    assert all(not c.report.findings for c in result.copies)


def test_a_damaged_shared_object_fails_every_version_using_it(
        repo: Repository, stored: IngestResult) -> None:
    new_id, shared = clone_sharing_content(repo, stored.aip_id)
    flip_byte(location_root(repo.config, 1) / stored.aip_id / shared.path, 5)
    [result] = run_audit(repo, [new_id])
    good, bad = result.copies
    assert good.ok
    assert [(f.code, f.location.path) for f in bad.report.errors] == [
        ("AUDIT-CHECKSUM-MISMATCH", f"copy2:{shared.path}")]
