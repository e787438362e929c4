"""Nothing that is preserved is ever deleted by a failed, interrupted or swept ingest.

- a new version that fails after uploading leaves every object of the earlier version;
- an ingest interrupted after its catalog row was committed keeps its objects;
- the sweep of an abandoned staging folder keeps a complete, signed AIP with recorded history
  that the catalog does not know (a lost or replaced catalog), and objects other versions reuse;
- a rebuild that skipped something does not replace the configured catalog.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aip.ingest import ingest
from aip.ingest_staging import Staging, sweep_folder
from aip.rebuild_target import rebuild_into
from preservation.catalog import Catalog
from preservation.repository import Repository
from sip.samples import make_sample_transfer, minimal_pdf
from tests.aip.test_versions import make_bag, run
from tests.helpers import TEST_FONDS, add_test_fonds, location_root


def keys(repo: Repository, index: int) -> set[str]:
    root = location_root(repo.config, index)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_failed_new_version_deletes_nothing_of_the_earlier_one(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_test_fonds(repo.catalog)
    v1 = run(repo, make_sample_transfer(tmp_path / "v1"), fonds=TEST_FONDS).aip_id
    before = [keys(repo, i) for i in range(2)]

    def refuse(*_args: object, **_kw: object) -> None:
        raise RuntimeError("catalog down")

    monkeypatch.setattr(Catalog, "register_aip", refuse)
    with pytest.raises(RuntimeError, match="catalog down"):
        run(repo, make_bag(tmp_path / "v2", {"Phụ lục.pdf": minimal_pdf("PL")}), supplement=v1)
    assert [keys(repo, i) for i in range(2)] == before  # v1 whole; v2 and its events gone
    assert [a.id for a in repo.catalog.aips()] == [v1]


def test_an_ingest_interrupted_after_its_commit_keeps_its_objects(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_test_fonds(repo.catalog)
    real = Catalog.register_aip

    def commit_then_interrupt(self: Catalog, *args: object, **kw: object) -> None:
        real(self, *args, **kw)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(Catalog, "register_aip", commit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest(repo.config, make_sample_transfer(tmp_path / "t"), identity=repo.identity(),
               catalog=repo.catalog, fonds=TEST_FONDS)
    (aip,) = list(repo.catalog.aips())
    for index in range(2):
        stored = {k for k in keys(repo, index) if k.startswith(f"{aip.id}/")}
        assert f"{aip.id}/tagmanifest-sha256.txt.p7s" in stored
        assert len(stored) == len(repo.catalog.files(aip.id))


def _abandoned(repo: Repository, aip_id: str) -> Staging:
    folder = repo.config.work_dir / "ingest" / aip_id
    folder.mkdir(parents=True)
    return Staging(aip_id, folder, False, os.open(folder / ".lock", os.O_CREAT | os.O_RDWR))


def test_the_sweep_keeps_a_complete_aip_the_catalog_lost(
        repo: Repository, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    aip_id = run(repo, make_sample_transfer(tmp_path / "t"), fonds=TEST_FONDS).aip_id
    stored = [keys(repo, i) for i in range(2)]
    with Catalog(tmp_path / "empty.sqlite") as lost:  # a catalog that never saw the AIP
        assert sweep_folder(repo.config, lost, _abandoned(repo, aip_id)) is None
    assert [keys(repo, i) for i in range(2)] == stored


def test_the_sweep_keeps_objects_a_later_version_reuses(
        repo: Repository, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    v1 = run(repo, make_sample_transfer(tmp_path / "v1"), fonds=TEST_FONDS).aip_id
    run(repo, make_bag(tmp_path / "v2", {"Phụ lục.pdf": minimal_pdf("PL")}), supplement=v1)
    for index in range(2):  # v1's history is gone: only the reuse by v2 protects its objects
        shutil.rmtree(location_root(repo.config, index) / "events" / v1)
    stored = [keys(repo, i) for i in range(2)]
    with repo.catalog._db.transaction():  # v1's row lost, v2's rows still point into it
        repo.catalog._db.execute("DELETE FROM files WHERE aip_id = ?", (v1,))
        repo.catalog._db.execute("DELETE FROM copies WHERE aip_id = ?", (v1,))
        repo.catalog._db.execute("DELETE FROM events WHERE aip_id = ?", (v1,))
        repo.catalog._db.execute("DELETE FROM aips WHERE id = ?", (v1,))
    assert sweep_folder(repo.config, repo.catalog, _abandoned(repo, v1)) is None
    assert [keys(repo, i) for i in range(2)] == stored


def test_the_sweep_removes_an_unfinished_ingest(repo: Repository, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    aip_id = run(repo, make_sample_transfer(tmp_path / "t"), fonds=TEST_FONDS).aip_id
    for index in range(2):  # as if killed before the signature and the history were written
        root = location_root(repo.config, index)
        (root / aip_id / "tagmanifest-sha256.txt.p7s").unlink()
        shutil.rmtree(root / "events" / aip_id)
    with Catalog(tmp_path / "empty.sqlite") as lost:
        assert sweep_folder(repo.config, lost, _abandoned(repo, aip_id)) == aip_id
    assert not any(k.startswith(f"{aip_id}/") for i in range(2) for k in keys(repo, i))


def test_a_rebuild_that_skipped_something_leaves_the_catalog_in_place(
        repo: Repository, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    aip_id = run(repo, make_sample_transfer(tmp_path / "t"), fonds=TEST_FONDS).aip_id
    orphan = location_root(repo.config, 0) / "9b2c1f4e-0000-4000-8000-000000000001"
    orphan.mkdir()
    (orphan / "bagit.txt").write_text("BagIt-Version: 1.0\n", encoding="utf-8")
    configured = repo.config.catalog_target.path
    assert configured is not None
    repo.catalog.close()
    before = configured.read_bytes()

    outcome = rebuild_into(repo.config, repo.trust_anchors())
    assert not outcome.result.ok and outcome.backup is None
    assert outcome.catalog != str(configured) and Path(outcome.catalog).is_file()
    assert configured.read_bytes() == before
    with Catalog(Path(outcome.catalog)) as rebuilt:
        assert [a.id for a in rebuilt.aips()] == [aip_id]
