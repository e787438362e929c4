"""The catalog's versioned schema and its URLs, on SQLite and PostgreSQL (``catalog_url``).

Migrations are recorded one row each, applied each in one transaction, logged when an existing
catalog moves forward, and refused when the catalog is newer than the software. A SQLite catalog
made by the first release (versioned by ``PRAGMA user_version`` only) keeps working. URLs and
errors never show a password.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from preservation.catalog import (
    MIGRATIONS,
    SCHEMA_VERSION,
    AipRecord,
    Catalog,
    EventRecord,
    FileRecord,
    FondsRecord,
    Migration,
)
from preservation.catalog_schema import current_version, migrate
from preservation.catalog_sql import adapt_placeholders, connect
from preservation.catalog_url import as_target, parse_catalog_url, redact_url
from preservation.config import parse_config
from preservation.errors import CatalogError, ConfigError
from preservation.repository import Repository
from tests.core.postgres_server import PostgresServer

#: The schema of the first release, verbatim (``git show 2df341d:preservation/catalog.py``):
#: one migration, versioned by ``PRAGMA user_version = 1`` and nothing else.
RELEASE_1_SCHEMA = """
    CREATE TABLE aips (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        label TEXT NOT NULL,
        created TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source_name TEXT NOT NULL,
        file_count INTEGER NOT NULL,
        total_size INTEGER NOT NULL,
        tagmanifest_sha256 TEXT NOT NULL,
        signer TEXT NOT NULL,
        organisation TEXT NOT NULL
    );
    CREATE TABLE files (
        aip_id TEXT NOT NULL REFERENCES aips(id),
        path TEXT NOT NULL,
        role TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        original_name TEXT,
        puid TEXT,
        format_name TEXT,
        PRIMARY KEY (aip_id, path)
    );
    CREATE TABLE copies (
        aip_id TEXT NOT NULL REFERENCES aips(id),
        location TEXT NOT NULL,
        url TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        status TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (aip_id, location)
    );
    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        aip_id TEXT NOT NULL REFERENCES aips(id),
        type TEXT NOT NULL,
        datetime TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome_detail TEXT NOT NULL,
        location TEXT,
        agent TEXT NOT NULL
    );
    CREATE INDEX events_aip ON events (aip_id, datetime);
"""

AIP = AipRecord("a", 1, "Hồ sơ Tờ trình", "2026-11-21T10:00:00.000+07:00", "tt05", "SIP_hoso",
                1, 5 * 1024 ** 3, "ab" * 32, "CN=x", "Trung tâm Lưu trữ")
FILE = FileRecord("a", "data/x.pdf", "content", 5 * 1024 ** 3, "cd" * 32, "Tờ trình.pdf",
                  "fmt/18", "PDF 1.4")
EVENT = EventRecord("ev-a", "a", "ingestion", "2026-11-21T10:00:01+07:00", "success")


def _v1_values(record: Any, columns: int) -> tuple[Any, ...]:
    """The first ``columns`` fields of a record: the columns the first schema had."""
    return tuple(getattr(record, f.name) for f in fields(record)[:columns])


def _insert_v1_rows(execute: Any) -> None:
    """Rows through plain SQL, as the first release would have written them."""
    execute("INSERT INTO aips VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _v1_values(AIP, 11))
    execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _v1_values(FILE, 8))
    execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _v1_values(EVENT, 9))


# --- every backend -------------------------------------------------------------------------


def test_a_new_catalog_records_every_migration(catalog: Catalog) -> None:
    assert catalog.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    history = catalog.schema_history()
    assert [(n, d) for n, d, _ in history] == [(m.number, m.description) for m in MIGRATIONS]
    for _, _, applied_at in history:
        assert datetime.fromisoformat(applied_at).utcoffset() is not None


def test_an_older_schema_is_migrated_and_says_so(catalog_url: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with connect(as_target(catalog_url)) as db:
        assert migrate(db, MIGRATIONS[:1]) == 1
        _insert_v1_rows(db.execute)
    caplog.set_level(logging.INFO, logger="preservation.catalog_schema")
    with Catalog(catalog_url) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION > 1
        assert [n for n, _, _ in catalog.schema_history()] == list(range(1, SCHEMA_VERSION + 1))
        assert catalog.aip("a") == AIP and catalog.files("a") == [FILE]
        assert catalog.events("a") == [EVENT]
        location = catalog.location
    assert f"catalog {location}: schema migrated from version 1 to 2" in caplog.text
    assert "***" in location or "postgresql" not in location  # never a password


def test_a_schema_2_catalog_gains_versions_and_fonds(catalog_url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Rows written under schema 2 are kept; each is version 1 of its own package, status NEW,
    in no fonds, with its objects stored under itself."""
    with connect(as_target(catalog_url)) as db:
        assert migrate(db, MIGRATIONS[:2]) == 2
        _insert_v1_rows(db.execute)
        db.execute("INSERT INTO aips VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   _v1_values(replace(AIP, id="b", created="2026-11-22T10:00:00.000+07:00"),
                              11))
    caplog.set_level(logging.INFO, logger="preservation.catalog_schema")
    with Catalog(catalog_url) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION >= 3
        record = catalog.aip("a")
        assert record == AIP
        assert record is not None and (record.package_id, record.previous_id,
                                       record.record_status, record.fonds_code, record.objid,
                                       record.arc_file_code) == ("a", None, "NEW", "", "", "")
        assert catalog.files("a") == [FILE] and catalog.files("a")[0].stored_key is None
        assert catalog.events("a") == [EVENT]
        assert catalog.versions("b") == [catalog.aip("b")] and catalog.latest("a") == AIP
        assert catalog.aips_in_fonds("") == [AIP, catalog.aip("b")]
        assert catalog.fonds_list() == []
        # and the new schema takes new rows
        catalog.add_fonds(FondsRecord("H41", "Sở Nội vụ", "open", "", "", "", "01", "t", "t"))
        catalog.register_aip(replace(AIP, id="c", package_id="a", version=2, previous_id="a",
                                     record_status="SUPPLEMENT", fonds_code="H41"),
                             [replace(FILE, aip_id="c", stored_key="a/data/x.pdf")], [], [])
        assert [r.id for r in catalog.versions("a")] == ["a", "c"]
        location = catalog.location
    assert f"catalog {location}: schema migrated from version 2 to 3" in caplog.text


def test_a_newer_schema_is_refused(catalog_url: str) -> None:
    Catalog(catalog_url).close()
    with connect(as_target(catalog_url)) as db:
        db.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                   (SCHEMA_VERSION + 1, "from the future", "2030-01-01T00:00:00+07:00"))
    with pytest.raises(CatalogError) as info:
        Catalog(catalog_url)
    assert info.value.code == "CATALOG-TOO-NEW"
    assert info.value.location == as_target(catalog_url).display


def test_a_failing_migration_changes_nothing(catalog_url: str) -> None:
    Catalog(catalog_url).close()
    broken = Migration(SCHEMA_VERSION + 1, "half good", (
        "CREATE TABLE extra (a {text})",
        "CREATE TABLE aips (id {text})",  # already exists: the step fails here
    ))
    with connect(as_target(catalog_url)) as db:
        with pytest.raises(CatalogError):
            migrate(db, (*MIGRATIONS, broken))
        assert current_version(db) == SCHEMA_VERSION
        assert not db.table_exists("extra")


def test_misnumbered_migrations_are_refused(catalog_url: str) -> None:
    with connect(as_target(catalog_url)) as db, pytest.raises(CatalogError) as info:
        migrate(db, (MIGRATIONS[0], Migration(3, "gap", ("SELECT 1",))))
    assert info.value.code == "CATALOG-MIGRATIONS"


def test_first_opens_at_once_migrate_once(catalog_url: str) -> None:
    """Three programs open a new catalog together: all succeed, each migration runs once."""
    start = threading.Barrier(3, timeout=60)

    def open_and_read(_: int) -> list[int]:
        start.wait()
        with Catalog(catalog_url) as catalog:
            return [n for n, _, _ in catalog.schema_history()]

    with ThreadPoolExecutor(3) as pool:
        histories = list(pool.map(open_and_read, range(3)))
    assert histories == [list(range(1, SCHEMA_VERSION + 1))] * 3


# --- SQLite catalogs of the first release --------------------------------------------------


def _release_1_catalog(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(RELEASE_1_SCHEMA)
    _insert_v1_rows(db.execute)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_a_release_1_sqlite_catalog_is_adopted_and_migrated(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "catalog.sqlite"
    _release_1_catalog(path)
    caplog.set_level(logging.INFO, logger="preservation.catalog_schema")
    with Catalog(path) as catalog:
        assert catalog.aip("a") == AIP
        assert catalog.files("a") == [FILE]
        assert catalog.events("a") == [EVENT]
        assert catalog.schema_version == SCHEMA_VERSION > 1
        history = catalog.schema_history()
        assert [n for n, _, _ in history] == list(range(1, SCHEMA_VERSION + 1))
        assert "before schema_version existed" in history[0][1]
        catalog.register_aip(replace(AIP, id="b", package_id=""), [], [], [])
        assert catalog.aip_ids() == ["a", "b"]
    assert "adopted schema version 1" in caplog.text
    assert "schema migrated from version 1 to 2" in caplog.text
    db = sqlite3.connect(path)
    # the first release reads only user_version: it now sees a newer catalog and refuses it
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'files_sha256'"
                      ).fetchone()[0] == 1
    db.close()


def test_a_sqlite_user_version_beyond_ours_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError) as info:
        Catalog(path)
    assert info.value.code == "CATALOG-TOO-NEW" and info.value.location == str(path)


def test_an_unreadable_sqlite_file_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(CatalogError) as info:
        Catalog(path)
    assert info.value.location == str(path)


# --- URLs, configuration, credentials -------------------------------------------------------


def test_catalog_urls_are_parsed(tmp_path: Path) -> None:
    assert parse_catalog_url("sqlite:///c.sqlite", tmp_path).path == tmp_path / "c.sqlite"
    assert parse_catalog_url("sqlite:////srv/c.db", tmp_path).path == Path("/srv/c.db")
    for url in ("postgresql://archive@db.example:5432/catalog", "postgres://db/catalog",
                "postgresql:///catalog?host=/run/postgresql"):
        target = parse_catalog_url(url, tmp_path)
        assert target.kind == "postgresql" and target.path is None
    for bad in ("mysql://x/y", "catalog.sqlite", "sqlite:///", "sqlite://c.db",
                "postgresql://h:port/db"):
        with pytest.raises(ConfigError) as info:
            parse_catalog_url(bad, tmp_path)
        assert info.value.code == "CONFIG-CATALOG-URL"


def test_passwords_are_never_shown(tmp_path: Path) -> None:
    url = "postgresql://archive:s3cr%40t@db:5432/catalog?sslmode=require&password=other"
    shown = redact_url(url)
    assert "s3cr" not in shown and "other" not in shown
    assert shown.startswith("postgresql://archive:***@db:5432/catalog?")
    target = parse_catalog_url(url, tmp_path)
    assert "s3cr" not in repr(target) and target.display == shown
    with pytest.raises(ConfigError) as info:
        parse_catalog_url("mysql://u:hunter2@h/db", tmp_path)
    assert "hunter2" not in str(info.value)


def test_placeholders_are_adapted_outside_quotes() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE '5%' AND c = ?"
    assert adapt_placeholders(sql, "%s") == (
        "SELECT '?', \"a?\" FROM t WHERE a = %s AND b LIKE '5%%' AND c = %s")
    assert adapt_placeholders(sql, "?") == sql


def test_the_configuration_accepts_a_postgresql_catalog(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "repository": {"name": "Archive", "min_copies": 1},
        "catalog": {"url": "postgresql://archive@127.0.0.1:5432/catalog"},
        "signing": {"certificate": "keys/c.pem", "key": "keys/k.pem"},
        "storage": [{"name": "a", "url": "file:///srv/a"}],
    }
    config = parse_config(data, tmp_path)
    assert config.catalog_target.kind == "postgresql"
    with pytest.raises(ConfigError) as info:
        config.catalog_path  # noqa: B018
    assert info.value.code == "CONFIG-CATALOG-URL"
    data["catalog"]["url"] = "oracle://x/y"
    with pytest.raises(ConfigError):
        parse_config(data, tmp_path)


def test_an_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PGPASSWORD", "env-secret-123")
    with pytest.raises(CatalogError) as info:
        Catalog(f"postgresql://archive:url-secret-456@127.0.0.1:{port}/catalog")
    text = f"{info.value} {info.value.location}"
    assert info.value.code == "CATALOG-UNAVAILABLE"
    assert "url-secret" not in text and "env-secret" not in text


# --- a real server: credentials and the repository ------------------------------------------


@pytest.mark.postgres
def test_credentials_come_from_the_environment(postgres_server: PostgresServer,
                                               postgres_db: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    database = postgres_db.rsplit("/", 1)[1]
    bare = postgres_server.url(database, with_password=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))
    with pytest.raises(CatalogError) as info:
        Catalog(bare)
    assert info.value.code == "CATALOG-UNAVAILABLE"

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    with Catalog(bare) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION

    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:*:{postgres_server.user}:"
                      f"{postgres_server.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with Catalog(bare) as catalog:
        assert catalog.kind == "postgresql"


@pytest.mark.postgres
def test_a_wrong_password_is_not_repeated(postgres_server: PostgresServer,
                                          postgres_db: str) -> None:
    wrong = postgres_db.replace(postgres_server.password, "Wr0ng-Pa55word")
    with pytest.raises(CatalogError) as info:
        Catalog(wrong)
    assert info.value.code == "CATALOG-UNAVAILABLE"
    assert "Wr0ng-Pa55word" not in f"{info.value} {info.value.location}"
    assert postgres_server.password not in f"{info.value} {info.value.location}"


@pytest.mark.postgres
def test_a_repository_runs_on_a_postgresql_catalog(home: Path, postgres_db: str) -> None:
    config = home / "preservation.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('url = "sqlite:///catalog.sqlite"',
                                   f'url = "{postgres_db}"'), encoding="utf-8")
    with Repository.open(home) as repo:
        assert repo.catalog.kind == "postgresql"
        repo.catalog.register_aip(AIP, [FILE], [], [EVENT])
        assert repo.catalog.aip_ids() == ["a"]
