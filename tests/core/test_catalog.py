"""The catalog: versioned schema, all-or-nothing registration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from preservation.catalog import (
    MIGRATIONS,
    AipRecord,
    Catalog,
    CopyRecord,
    EventRecord,
    FileRecord,
)
from preservation.errors import CatalogError


def records(aip_id: str) -> tuple[AipRecord, list[FileRecord], list[CopyRecord],
                                  list[EventRecord]]:
    return (AipRecord(aip_id, 1, "label", "2026-11-21T10:00:00.000+07:00", "bagit", "src", 1, 3,
                      "ab" * 32, "CN=x", "Org"),
            [FileRecord(aip_id, "data/x", "content", 3, "cd" * 32, "Tờ trình.pdf", "fmt/18")],
            [CopyRecord(aip_id, "copy1", "file:///a", "t", "ok", "t")],
            [EventRecord(f"ev-{aip_id}", aip_id, "ingestion", "t", "success")])


def test_schema_is_versioned_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
        catalog.register_aip(*records("a"))
    with Catalog(path) as catalog:
        assert catalog.aip_ids() == ["a"]
        assert catalog.files("a")[0].original_name == "Tờ trình.pdf"


def test_registration_is_all_or_nothing(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        aip, files, copies, _events = records("a")
        clash = [EventRecord("dup", "a", "x", "t", "success"),
                 EventRecord("dup", "a", "y", "t", "success")]
        with pytest.raises(CatalogError):
            catalog.register_aip(aip, files, copies, clash)
        assert catalog.aip_ids() == [] and catalog.files("a") == []


def test_a_newer_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(CatalogError) as info:
        Catalog(path)
    assert info.value.code == "CATALOG-TOO-NEW"
