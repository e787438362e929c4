"""Ingest onto S3 with Object Lock: every object locked, and a failed ingest leaves nothing
registered even where the location refuses to drop what was written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import aip.ingest_replicate as replicate_module
from aip.ingest import ingest
from preservation.errors import DeleteRefusedError, StorageError
from preservation.repository import Repository, init_repository
from preservation.storage import open_location
from tests.helpers import prepare_test_home
from tests.s3server import SeaweedFS

pytestmark = pytest.mark.s3


@pytest.fixture
def locked_repo(tmp_path: Path, seaweedfs: SeaweedFS, s3_lock_bucket: str,
                monkeypatch: pytest.MonkeyPatch) -> Repository:
    for key, value in seaweedfs.environ().items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "archive"
    url = f"s3://{s3_lock_bucket}/{tmp_path.name}"
    (tmp_path / "copy1").mkdir()
    init_repository(home, name="Archive", locations=[(tmp_path / "copy1").as_uri(), url])
    config = home / "preservation.toml"
    text = config.read_text(encoding="utf-8").replace(
        f'url = "{url}"', f'url = "{url}"\nretention_mode = "COMPLIANCE"\nretention_days = 1')
    config.write_text(text, encoding="utf-8")
    prepare_test_home(home)
    return Repository.open(home)


def test_objects_on_an_object_lock_location_are_locked(locked_repo: Repository,
                                                       transfer: Path) -> None:
    with locked_repo as repo:
        result = ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
        loc = repo.config.storage[1]
        backend = open_location(loc.url, **loc.options)
        keys = [i.key for i in backend.list(f"{result.aip_id}/")]
        assert len(keys) == len(repo.catalog.files(result.aip_id))
        info = backend.head(keys[0])
        assert info is not None and info.retain_until is not None
        with pytest.raises(DeleteRefusedError):
            backend.delete(keys[0])


def test_failed_ingest_on_locked_location_registers_nothing(
        locked_repo: Repository, transfer: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    real_store = replicate_module.store_copy
    calls: list[str] = []

    def store_then_fail(built, backend, name, progress, own):  # type: ignore[no-untyped-def]
        calls.append(name)
        real_store(built, backend, name, progress, own)
        if name == "copy2":
            raise StorageError("injected failure after writing the locked copy")

    monkeypatch.setattr(replicate_module, "store_copy", store_then_fail)
    with locked_repo as repo, caplog.at_level(logging.ERROR), \
            pytest.raises(StorageError, match="injected"):
        ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
    with Repository.open(locked_repo.config.home) as repo:
        assert repo.catalog.aip_ids() == []
    assert sorted(calls) == ["copy1", "copy2"]  # both locations are written at once
    assert "are locked and stay (unregistered)" in caplog.text
