"""Catalog rebuild: the catalog reconstructed from storage alone answers every query as before."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import aip.ingest_replicate as replicate_module
from aip.ingest import IngestResult, ingest
from aip.rebuild import is_deleted, rebuild_catalog
from aip.rebuild_copy import check_copy
from aip.rebuild_target import rebuild_into
from dip.access import create_dip
from preservation.audit import audit
from preservation.catalog import Catalog, EventRecord
from preservation.cli import main
from preservation.errors import StorageError, UsageError
from preservation.events import publish_deletion
from preservation.findings import Report
from preservation.fonds import make_fonds, register_fonds
from preservation.manifest import SIGNATURE
from preservation.repository import Repository, init_repository
from preservation.storage import open_locations
from preservation.timeutil import now_local
from sip.create import create_sip
from sip.samples import make_sample_sip_source, make_sample_transfer
from sip.tt05_model import PackageKind
from tests.aip.stored_aips import forge_copy as _forge
from tests.aip.stored_aips import write_object

# the PostgreSQL fixtures live in tests/core/conftest.py; registered here too for this module
from tests.core.postgres_server import postgres_db, postgres_server  # noqa: F401
from tests.helpers import TEST_FONDS, location_root
from tests.s3server import SeaweedFS
from tests.sip.eark_fixtures import build_package


@dataclass
class Archive:
    repo: Repository
    bagit: IngestResult
    eark: IngestResult
    tt05: IngestResult
    version2: IngestResult | None


def _tt05_zip(tmp_path: Path) -> Path:
    src, catalogue = make_sample_sip_source(tmp_path / "producer")
    report = Report("create")
    out = create_sip(src, catalogue, PackageKind.HOSO, tmp_path / "sip.zip", fonds_code="H41",
                     agency="Văn phòng UBND tỉnh Nghệ An", report=report)
    assert out is not None, [(f.code, str(f.location)) for f in report.findings]
    return out


def _register_fonds(repo: Repository, code: str, name: str) -> None:
    with open_locations(repo.config) as backends:
        register_fonds(repo.catalog, backends, make_fonds(code, name))


@pytest.fixture
def archive(repo: Repository, tmp_path: Path) -> Archive:
    """Three SIP kinds ingested, a second version, an audit and a DIP: a catalog with history."""
    _register_fonds(repo, TEST_FONDS, "Phông lưu trữ thử nghiệm")
    _register_fonds(repo, "H41", "Văn phòng UBND tỉnh Nghệ An")
    config, identity = repo.config, repo.identity()

    def run(source: Path, **kw: Any) -> IngestResult:
        return ingest(config, source, identity=identity, catalog=repo.catalog, **kw)

    bagit = run(make_sample_transfer(tmp_path / "transfer"), fonds=TEST_FONDS)
    eark = run(build_package(tmp_path / "eark", objid="uuid-0001"), fonds=TEST_FONDS)
    tt05 = run(_tt05_zip(tmp_path / "tt05"))
    extra = make_sample_transfer(tmp_path / "extra")
    version2 = run(extra, supplement=bagit.aip_id)
    anchors = repo.trust_anchors()
    audit(config, repo.catalog, None, anchors)
    create_dip(config, repo.catalog, tt05.aip_id, tmp_path / "dip", anchors)
    return Archive(repo, bagit, eark, tt05, version2)


def snapshot(catalog: Catalog) -> dict[str, Any]:
    """Every query the catalog answers, for every AIP, package and fonds it holds."""
    aips = list(catalog.aips())
    out: dict[str, Any] = {"aips": aips, "aip_ids": catalog.aip_ids(),
                           "fonds_list": catalog.fonds_list(),
                           "fonds_counts": catalog.fonds_counts()}
    for a in aips:
        out[f"aip {a.id}"] = catalog.aip(a.id)
        out[f"files {a.id}"] = catalog.files(a.id)
        out[f"copies {a.id}"] = catalog.copies(a.id)
        out[f"events {a.id}"] = catalog.events(a.id)
        out[f"versions {a.package_id}"] = catalog.versions(a.package_id)
        out[f"latest {a.package_id}"] = catalog.latest(a.package_id)
    for f in catalog.fonds_list():
        out[f"fonds {f.code}"] = catalog.fonds(f.code)
        out[f"aips_in_fonds {f.code}"] = catalog.aips_in_fonds(f.code)
    return out


def _differences(before: dict[str, Any], after: dict[str, Any]) -> Iterator[str]:
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            yield f"{key}:\n  before {before.get(key)!r}\n  after  {after.get(key)!r}"


def test_the_rebuilt_catalog_answers_every_query_as_the_original(
        archive: Archive, tmp_path: Path) -> None:
    repo = archive.repo
    before = snapshot(repo.catalog)
    assert len(before["aips"]) == 4 and len(before["fonds_list"]) == 2
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        after = snapshot(rebuilt)
    assert result.ok, [(f.code, str(f.location)) for f in result.report.findings]
    assert sorted(result.registered) == sorted(a.id for a in before["aips"])
    differences = list(_differences(before, after))
    assert not differences, "\n".join(differences)


def test_verify_reads_every_byte_and_finds_a_changed_file(archive: Archive,
                                                          tmp_path: Path) -> None:
    repo = archive.repo
    record = next(f for f in repo.catalog.files(archive.eark.aip_id) if f.role == "content")
    damaged = location_root(repo.config, 1) / archive.eark.aip_id / record.path
    write_object(damaged, b"x" * record.size)  # same size: only reading the bytes shows it
    with Catalog(tmp_path / "quick.sqlite") as quick:
        rebuild_catalog(repo.config, quick, repo.trust_anchors())
        assert {c.status for c in quick.copies(archive.eark.aip_id)} == {"ok"}
    with Catalog(tmp_path / "verified.sqlite") as verified:
        result = rebuild_catalog(repo.config, verified, repo.trust_anchors(), verify=True)
        copies = {c.location: c.status for c in verified.copies(archive.eark.aip_id)}
    assert copies == {"copy1": "ok", "copy2": "failed"}
    assert archive.eark.aip_id in result.registered
    incomplete = [f for f in result.report.findings if f.code == "REBUILD-COPY-INCOMPLETE"]
    assert [f.params["problems"] for f in incomplete] == ["REBUILD-CHECKSUM-MISMATCH"]


def test_an_orphan_prefix_is_reported_and_not_registered(repo: Repository,
                                                         tmp_path: Path) -> None:
    """What a failed ingest leaves on a bucket that refuses deletes: objects, no signature."""
    repo.catalog.add_fonds(make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    result = ingest(repo.config, make_sample_transfer(tmp_path / "t"), identity=repo.identity(),
                    catalog=repo.catalog, fonds=TEST_FONDS)
    orphan = "0b7c1f52-4f4e-4a53-9d61-6f3f1b0c9a11"
    for index in (0, 1):
        root = location_root(repo.config, index)
        shutil.copytree(root / result.aip_id, root / orphan)
        (root / orphan / SIGNATURE).unlink()
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert rebuilt.aip_ids() == [result.aip_id]
    assert [s.aip_id for s in outcome.skipped] == [orphan]
    assert outcome.skipped[0].reasons == ("REBUILD-NO-SIGNATURE",)
    located = {(f.code, str(f.location)) for f in outcome.report.findings}
    assert ("REBUILD-NO-SIGNATURE", f"copy1:{orphan}/{SIGNATURE}") in located
    assert ("REBUILD-AIP-SKIPPED", orphan) in located
    assert not outcome.ok


def test_a_tampered_bag_info_is_refused(repo: Repository, tmp_path: Path) -> None:
    repo.catalog.add_fonds(make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    result = ingest(repo.config, make_sample_transfer(tmp_path / "t"), identity=repo.identity(),
                    catalog=repo.catalog, fonds=TEST_FONDS)
    for index in (0, 1):
        bag_info = location_root(repo.config, index) / result.aip_id / "bag-info.txt"
        write_object(bag_info, bag_info.read_bytes().replace(
            b"External-Description: ", b"External-Description: FORGED "))
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert rebuilt.aip_ids() == []
    assert outcome.skipped[0].reasons == ("REBUILD-TAG-FILE-MISMATCH",)


def test_a_forged_tagmanifest_is_refused_by_its_signature(repo: Repository,
                                                          tmp_path: Path) -> None:
    repo.catalog.add_fonds(make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    result = ingest(repo.config, make_sample_transfer(tmp_path / "t"), identity=repo.identity(),
                    catalog=repo.catalog, fonds=TEST_FONDS)
    for index in (0, 1):
        folder = location_root(repo.config, index) / result.aip_id
        forged = (folder / "bag-info.txt").read_bytes() + b"Extra: forged\n"
        write_object(folder / "bag-info.txt", forged)
        lines = [f"{hashlib.sha256(forged).hexdigest()}  bag-info.txt" if
                 line.endswith("  bag-info.txt") else line
                 for line in (folder / "tagmanifest-sha256.txt").read_text().splitlines()]
        write_object(folder / "tagmanifest-sha256.txt", ("\n".join(lines) + "\n").encode())
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
    assert outcome.skipped[0].reasons == ("REBUILD-SIGNATURE-INVALID",)


def test_after_losing_the_catalog_rebuild_lets_audit_and_dip_work_again(
        archive: Archive, home: Path, tmp_path: Path) -> None:
    repo = archive.repo
    before = snapshot(repo.catalog)
    repo.close()
    catalog_file = repo.config.catalog_path
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog_file}{suffix}").unlink(missing_ok=True)

    answer = CliRunner().invoke(main, ["--home", str(home), "catalog", "rebuild", "--json"])
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.output)
    assert data["registered"] == 4 and data["skipped"] == [] and data["backup"] is None

    with Repository.open(home) as again:
        assert not list(_differences(before, snapshot(again.catalog)))
        anchors = again.trust_anchors()
        results = audit(again.config, again.catalog, None, anchors)
        assert all(r.ok for r in results)
        dip = create_dip(again.config, again.catalog, archive.bagit.aip_id, tmp_path / "dip2",
                         anchors)
        assert dip.files


def test_rebuild_in_place_keeps_the_old_catalog(archive: Archive, home: Path) -> None:
    repo = archive.repo
    before = snapshot(repo.catalog)
    repo.close()
    outcome = rebuild_into(repo.config, repo.trust_anchors())
    assert outcome.backup is not None and outcome.backup.is_file()
    assert outcome.backup.name.startswith("catalog.sqlite.bak-")
    with Catalog(outcome.backup) as old, Catalog(repo.config.catalog_path) as new:
        assert snapshot(old) == before
        assert not list(_differences(before, snapshot(new)))


def test_cli_into_an_existing_catalog_is_a_usage_error(archive: Archive, home: Path) -> None:
    archive.repo.close()
    target = str(archive.repo.config.catalog_path)
    answer = CliRunner().invoke(main, ["--home", str(home), "catalog", "rebuild", "--into",
                                       target, "--json"])
    assert answer.exit_code == 2, answer.output
    assert json.loads(answer.output)["error"]["code"] == "REBUILD-CATALOG-NOT-EMPTY"


def test_cli_reports_a_skipped_prefix_with_exit_1(repo: Repository, home: Path,
                                                  tmp_path: Path) -> None:
    orphan = location_root(repo.config, 0) / "5a0e1d7e-2f43-4f0c-8a57-0d7f2e6f1c22" / "data"
    orphan.mkdir(parents=True)
    (orphan / "METS.xml").write_bytes(b"<mets/>")
    repo.close()
    answer = CliRunner().invoke(main, ["--home", str(home), "catalog", "rebuild", "--into",
                                       str(tmp_path / "new.sqlite"), "--json"])
    assert answer.exit_code == 1, answer.output
    data = json.loads(answer.output)
    assert data["skipped"] == [{"aip_id": "5a0e1d7e-2f43-4f0c-8a57-0d7f2e6f1c22",
                                "reasons": ["REBUILD-NO-SIGNATURE"]}]



def test_an_aip_whose_deletion_is_recorded_is_not_registered(repo: Repository,
                                                             tmp_path: Path) -> None:
    """Objects a location refused to delete stay; the deletion event beside them says why."""
    repo.catalog.add_fonds(make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    kept = ingest(repo.config, make_sample_transfer(tmp_path / "a"), identity=repo.identity(),
                  catalog=repo.catalog, fonds=TEST_FONDS)
    gone = ingest(repo.config, make_sample_transfer(tmp_path / "b"), identity=repo.identity(),
                  catalog=repo.catalog, fonds=TEST_FONDS)
    with open_locations(repo.config) as backends:
        publish_deletion(backends, gone.aip_id, now_local(), reason="destruction after review",
                         refused=["copy2:(locked)"])
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert rebuilt.aip_ids() == [kept.aip_id]
    assert outcome.deleted == [gone.aip_id] and outcome.skipped == [] and outcome.ok
    assert "REBUILD-AIP-DELETED" in outcome.report.codes()


@pytest.mark.postgres
def test_rebuild_into_an_empty_postgresql_database(archive: Archive,
                                                   request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue("postgres_db")
    repo = archive.repo
    before = snapshot(repo.catalog)
    outcome = rebuild_into(repo.config, repo.trust_anchors(), into=url)
    assert outcome.result.ok and outcome.backup is None
    assert "***" in outcome.catalog or "@" not in outcome.catalog
    with Catalog(url) as rebuilt:
        assert not list(_differences(before, snapshot(rebuilt)))
    with pytest.raises(UsageError) as caught:  # a second rebuild into it: not empty any more
        rebuild_into(repo.config, repo.trust_anchors(), into=url)
    assert caught.value.code == "REBUILD-CATALOG-NOT-EMPTY"
    configured = dataclasses.replace(repo.config, catalog_url=url)
    with pytest.raises(UsageError) as caught:  # configured and not empty: name another one
        rebuild_into(configured, repo.trust_anchors())
    assert caught.value.code == "REBUILD-INTO-REQUIRED"


@pytest.fixture
def locked_repo(tmp_path: Path, seaweedfs: SeaweedFS, s3_lock_bucket: str,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Repository]:
    """copy1 on the filesystem, copy2 on an S3 bucket with Object Lock (COMPLIANCE)."""
    for key, value in seaweedfs.environ().items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "archive"
    url = f"s3://{s3_lock_bucket}/{tmp_path.name}"
    (tmp_path / "copy1").mkdir()
    init_repository(home, name="Archive", locations=[(tmp_path / "copy1").as_uri(), url])
    config = home / "preservation.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        f'url = "{url}"', f'url = "{url}"\nretention_mode = "COMPLIANCE"\nretention_days = 1'),
        encoding="utf-8")
    with Repository.open(home) as repository:
        _register_fonds(repository, TEST_FONDS, "Phông thử nghiệm")
        yield repository


@pytest.mark.s3
def test_on_object_lock_the_leftovers_of_a_failed_ingest_are_not_registered(
        locked_repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = locked_repo
    good = ingest(repo.config, make_sample_transfer(tmp_path / "good"),
                  identity=repo.identity(), catalog=repo.catalog, fonds=TEST_FONDS)
    real_store = replicate_module.store_copy

    def store_then_fail(built, backend, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_store(built, backend, name, *args, **kwargs)
        if name == "copy2":
            raise StorageError("injected failure after writing the locked copy")

    with monkeypatch.context() as patch, pytest.raises(StorageError, match="injected"):
        patch.setattr(replicate_module, "store_copy", store_then_fail)
        ingest(repo.config, make_sample_transfer(tmp_path / "bad"), identity=repo.identity(),
               catalog=repo.catalog, fonds=TEST_FONDS)
    before = snapshot(repo.catalog)
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert not list(_differences(before, snapshot(rebuilt)))
    assert outcome.registered == [good.aip_id]
    assert len(outcome.skipped) == 1
    assert outcome.skipped[0].reasons == ("REBUILD-NOT-REPLICATED",)


def test_a_deletion_is_compared_with_replications_as_an_instant_not_as_text() -> None:
    aip = "0b7c1f52-4f4e-4a53-9d61-6f3f1b0c9a11"
    replicated = EventRecord("r", aip, "replication", "2026-03-02T21:00:00+07:00", "success",
                             location="copy2")
    deleted = EventRecord("d", aip, "deletion", "2026-03-02T15:00:00+00:00", "success",
                          location="copy2")
    # 15:00 UTC is 22:00 in Hà Nội: after the replication, though smaller as text
    assert is_deleted([replicated, deleted], "copy2")
    earlier = dataclasses.replace(deleted, datetime="2026-03-02T13:00:00+00:00")  # 20:00 +07
    assert not is_deleted([replicated, earlier], "copy2")


def _ingested(repo: Repository, tmp_path: Path) -> str:
    repo.catalog.add_fonds(make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    return ingest(repo.config, make_sample_transfer(tmp_path / "t"), identity=repo.identity(),
                  catalog=repo.catalog, fonds=TEST_FONDS).aip_id


def _check_copy1(repo: Repository, aip_id: str) -> list[tuple[str, str, int | None]]:
    with open_locations(repo.config) as (copy1, _):
        check = check_copy(aip_id, "copy1", copy1, repo.trust_anchors())
    assert not check.complete
    return [(p.code, p.path, p.line) for p in check.problems]


def test_a_signed_bag_info_naming_another_aip_is_refused(repo: Repository,
                                                        tmp_path: Path) -> None:
    aip_id = _ingested(repo, tmp_path)
    bag_info = location_root(repo.config, 0) / aip_id / "bag-info.txt"
    other = "urn:uuid:0b7c1f52-4f4e-4a53-9d61-6f3f1b0c9a11"
    forged = bag_info.read_text(encoding="utf-8").replace(f"urn:uuid:{aip_id}", other, 1)
    assert other in forged
    _forge(repo, aip_id, {"bag-info.txt": forged.encode()})
    assert _check_copy1(repo, aip_id) == [
        ("REBUILD-IDENTIFIER-MISMATCH", f"copy1:{aip_id}/bag-info.txt", None)]


def test_a_signed_fetch_txt_pointing_outside_the_archive_is_refused(repo: Repository,
                                                                   tmp_path: Path) -> None:
    aip_id = _ingested(repo, tmp_path)
    manifest = (location_root(repo.config, 0) / aip_id / "manifest-sha256.txt").read_text(
        encoding="utf-8")
    path = manifest.splitlines()[0].split("  ", 1)[1]
    fetch = (f"../../etc/passwd 10 {path}\n"  # not another AIP's prefix
             f"../{aip_id}/{path} 10 {path}\n"  # this AIP itself
             f"../0b7c1f52-4f4e-4a53-9d61-6f3f1b0c9a11/../x 10 {path}\n")  # escapes
    _forge(repo, aip_id, {"fetch.txt": fetch.encode()})
    assert _check_copy1(repo, aip_id) == [
        ("REBUILD-FETCH-INVALID", f"copy1:{aip_id}/fetch.txt", line) for line in (1, 2, 3)]


@pytest.mark.parametrize("where", ["manifest", "tagmanifest"])
def test_a_signed_manifest_naming_a_path_outside_the_bag_is_refused(
        repo: Repository, tmp_path: Path, where: str) -> None:
    aip_id = _ingested(repo, tmp_path)
    digest = hashlib.sha256(b"x").hexdigest()
    if where == "manifest":
        folder = location_root(repo.config, 0) / aip_id
        manifest = (folder / "manifest-sha256.txt").read_bytes() + \
            f"{digest}  ../escape.txt\n".encode()
        _forge(repo, aip_id, {"manifest-sha256.txt": manifest})
        expected = f"copy1:{aip_id}/manifest-sha256.txt"
    else:
        _forge(repo, aip_id, {}, tags={"../escape.txt": digest})
        expected = f"copy1:{aip_id}/tagmanifest-sha256.txt"
    assert _check_copy1(repo, aip_id) == [("REBUILD-UNSAFE-PATH", expected, None)]


def test_not_replicated_is_reported_on_the_complete_copy(repo: Repository,
                                                         tmp_path: Path) -> None:
    """The leftovers of an ingest that failed before recording its replications, with copy1
    damaged too: the finding names copy2, the complete copy it is about."""
    aip_id = _ingested(repo, tmp_path)
    for index in (0, 1):
        shutil.rmtree(location_root(repo.config, index) / "events" / aip_id)
    (location_root(repo.config, 0) / aip_id / SIGNATURE).unlink()
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        outcome = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
    located = {(f.code, str(f.location)) for f in outcome.report.findings}
    assert ("REBUILD-NOT-REPLICATED", f"copy2:{aip_id}") in located
    assert outcome.skipped[0].reasons == ("REBUILD-NO-SIGNATURE", "REBUILD-NOT-REPLICATED")


@pytest.mark.postgres
def test_a_configured_postgresql_catalog_is_not_filled_when_something_was_skipped(
        repo: Repository, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue("postgres_db")
    aip_id = _ingested(repo, tmp_path)
    orphan = location_root(repo.config, 0) / "5a0e1d7e-2f43-4f0c-8a57-0d7f2e6f1c22" / "data"
    orphan.mkdir(parents=True)
    (orphan / "METS.xml").write_bytes(b"<mets/>")
    configured = dataclasses.replace(repo.config, catalog_url=url)
    outcome = rebuild_into(configured, repo.trust_anchors())
    assert not outcome.result.ok
    with Catalog(url) as target:
        assert target.is_empty()
    aside = Path(outcome.catalog)
    assert aside.is_file() and aside.parent == configured.work_dir
    with Catalog(aside) as kept:
        assert kept.aip_ids() == [aip_id]
