"""`preservation export` records a PREMIS dissemination event per exported AIP: in the catalog
and beside the AIP on every location, with our software, the organisation and the archivist."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from aip.export import export_aips
from preservation.errors import UsageError
from preservation.events import read_event_documents, record_event
from preservation.repository import Repository
from preservation.storage import open_location
from tests.aip.stored_aips import ingest_tt05
from tests.helpers import location_root

ARCHIVIST = "Nguyễn Thị Lưu Trữ"


def test_each_exported_aip_is_a_dissemination_event_beside_the_aip(
        repo: Repository, tmp_path: Path) -> None:
    first = ingest_tt05(repo, tmp_path / "one", "dossier")
    second = ingest_tt05(repo, tmp_path / "two", "batch")
    result = export_aips(repo.config, repo.catalog, [first, second], tmp_path / "handover",
                         repo.trust_anchors(), archivist=ARCHIVIST)
    assert [p.aip_id for p in result.packages] == [first, second]
    for package in result.packages:
        assert package.event_not_written == ()
        [event] = [e for e in repo.catalog.events(package.aip_id) if e.type == "dissemination"]
        assert event.id == package.event_id and event.outcome == "success"
        assert event.location == package.source_copy
        assert package.zip_path.name in event.detail and package.sha256 in event.detail
        for spec in repo.config.storage:
            backend = open_location(spec.url, **spec.options)
            try:
                stored = [(e, agents) for _, e, agents in
                          read_event_documents(backend, package.aip_id)
                          if e.type == "dissemination"]
            finally:
                backend.close()
            assert [e for e, _ in stored] == [event]
            agents = {(a.type, a.name) for a in stored[0][1]}
            assert ("person", ARCHIVIST) in agents
            assert ("organization", repo.config.name) in agents
            assert any(kind == "software" for kind, _ in agents)


def test_a_location_that_cannot_be_reached_is_named_and_the_catalog_has_the_event(
        repo: Repository, tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path / "one", "batch")
    shutil.rmtree(location_root(repo.config, 1))  # copy2 unmounted: its root is gone
    result = export_aips(repo.config, repo.catalog, [aip_id], tmp_path / "handover",
                         repo.trust_anchors(), archivist=ARCHIVIST)
    (package,) = result.packages
    assert package.event_not_written == (f"{repo.config.storage[1].name} (unreachable)",)
    [event] = [e for e in repo.catalog.events(aip_id) if e.type == "dissemination"]
    backend = open_location(repo.config.storage[0].url)
    try:
        assert [e for _, e, _ in read_event_documents(backend, aip_id)
                if e.type == "dissemination"] == [event]
    finally:
        backend.close()


def test_a_failed_export_records_no_event(repo: Repository, tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path / "one", "batch")
    out = tmp_path / "handover"
    out.mkdir()
    (out / "handover.csv").write_text("already here", encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        export_aips(repo.config, repo.catalog, [aip_id], out, repo.trust_anchors())
    assert refused.value.code == "EXPORT-TARGET-EXISTS"
    assert [e for e in repo.catalog.events(aip_id) if e.type == "dissemination"] == []


def test_the_exported_files_are_durable_before_the_event_is_recorded(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file placed in the folder, then the folder itself, is synced before the
    dissemination event is written anywhere."""
    aip_id = ingest_tt05(repo, tmp_path / "one", "batch")
    out = tmp_path / "handover"
    steps: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        steps.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def record(*args: Any, **kwargs: Any) -> list[str]:
        steps.append("event")
        return record_event(*args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr("aip.export.record_event", record)
    result = export_aips(repo.config, repo.catalog, [aip_id], out, repo.trust_anchors(),
                         archivist=ARCHIVIST)
    first_event = steps.index("event")
    synced = {step.removeprefix("fsync ") for step in steps[:first_event]
              if step.startswith("fsync ")}
    placed = {str(result.packages[0].zip_path), str(result.csv_path), str(result.pdf_path)}
    assert placed | {str(out), str(out.parent)} <= synced
