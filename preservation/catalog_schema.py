"""The catalog's versioned schema: an ordered list of migrations and the code that applies them.

Every catalog has a ``schema_version`` table with one row per applied migration (number,
description, applied_at). Opening a catalog applies the migrations it lacks, each in its own
transaction (all of a step or none of it; concurrent openers wait for each other), and logs what
it did. A catalog whose schema is newer than this software knows is refused with
``CATALOG-TOO-NEW``: an old program must not write into a schema it does not understand.

SQLite catalogs made before ``schema_version`` existed recorded their version in ``PRAGMA
user_version`` only; they are adopted (their applied migrations recorded) and migrated forward.
SQLite catalogs keep ``user_version`` equal to the schema version as well, so that those older
programs, which read only ``user_version``, refuse a newer catalog too.

To change the schema, append a :class:`Migration` with the next number; never edit one that has
shipped. DDL is written once for both backends; ``{text}`` stands for the text column type.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from preservation.catalog_sql import Database, SqliteDatabase
from preservation.errors import CatalogError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its statements run in one transaction."""

    number: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "aips, files, copies and events", (
        """CREATE TABLE aips (
            id {text} PRIMARY KEY,
            version INTEGER NOT NULL,
            label {text} NOT NULL,
            created {text} NOT NULL,
            source_kind {text} NOT NULL,
            source_name {text} NOT NULL,
            file_count BIGINT NOT NULL,
            total_size BIGINT NOT NULL,
            tagmanifest_sha256 {text} NOT NULL,
            signer {text} NOT NULL,
            organisation {text} NOT NULL
        )""",
        """CREATE TABLE files (
            aip_id {text} NOT NULL REFERENCES aips(id),
            path {text} NOT NULL,
            role {text} NOT NULL,
            size BIGINT NOT NULL,
            sha256 {text} NOT NULL,
            original_name {text},
            puid {text},
            format_name {text},
            PRIMARY KEY (aip_id, path)
        )""",
        """CREATE TABLE copies (
            aip_id {text} NOT NULL REFERENCES aips(id),
            location {text} NOT NULL,
            url {text} NOT NULL,
            stored_at {text} NOT NULL,
            status {text} NOT NULL,
            checked_at {text} NOT NULL,
            PRIMARY KEY (aip_id, location)
        )""",
        """CREATE TABLE events (
            id {text} PRIMARY KEY,
            aip_id {text} NOT NULL REFERENCES aips(id),
            type {text} NOT NULL,
            datetime {text} NOT NULL,
            outcome {text} NOT NULL,
            detail {text} NOT NULL,
            outcome_detail {text} NOT NULL,
            location {text},
            agent {text} NOT NULL
        )""",
        "CREATE INDEX events_aip ON events (aip_id, datetime)",
    )),
    Migration(2, "index files by SHA-256 (find an already stored object by its content)", (
        "CREATE INDEX files_sha256 ON files (sha256)",
    )),
    Migration(3, "versions, fonds and shared objects (package_id, previous_id, record_status, "
                 "fonds_code, objid, arc_file_code; files.stored_key; table fonds)", (
        # every AIP registered before versions existed is version 1 of its own package
        "ALTER TABLE aips ADD COLUMN package_id {text} NOT NULL DEFAULT ''",
        "UPDATE aips SET package_id = id",
        "ALTER TABLE aips ADD COLUMN previous_id {text}",
        "ALTER TABLE aips ADD COLUMN record_status {text} NOT NULL DEFAULT 'NEW'",
        "ALTER TABLE aips ADD COLUMN fonds_code {text} NOT NULL DEFAULT ''",
        "ALTER TABLE aips ADD COLUMN objid {text} NOT NULL DEFAULT ''",
        "ALTER TABLE aips ADD COLUMN arc_file_code {text} NOT NULL DEFAULT ''",
        # one AIP per version of a package: two ingests racing for the same version conflict
        "CREATE UNIQUE INDEX aips_package_version ON aips (package_id, version)",
        "CREATE INDEX aips_fonds ON aips (fonds_code, created)",
        "ALTER TABLE files ADD COLUMN stored_key {text}",
        """CREATE TABLE fonds (
            code {text} PRIMARY KEY,
            name {text} NOT NULL,
            status {text} NOT NULL,
            history {text} NOT NULL,
            start_date {text} NOT NULL,
            end_date {text} NOT NULL,
            language {text} NOT NULL,
            created {text} NOT NULL,
            updated {text} NOT NULL
        )""",
    )),
)

#: The schema version this software writes and understands.
SCHEMA_VERSION = MIGRATIONS[-1].number

_VERSION_TABLE = """CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    description {text} NOT NULL,
    applied_at {text} NOT NULL
)"""


def current_version(db: Database) -> int:
    """The highest migration applied (0 for an empty database)."""
    if db.table_exists("schema_version"):
        return int(db.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))
    if isinstance(db, SqliteDatabase):
        return db.user_version
    return 0


def applied_migrations(db: Database) -> list[tuple[int, str, str]]:
    """``(number, description, applied_at)`` of every applied migration, oldest first."""
    if not db.table_exists("schema_version"):
        return []
    return [(int(n), str(d), str(a)) for n, d, a in db.query(
        "SELECT version, description, applied_at FROM schema_version ORDER BY version")]


def migrate(db: Database, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the schema up to the last of ``migrations``; return the version reached."""
    _check_order(migrations)
    latest = migrations[-1].number if migrations else 0
    start = current_version(db)
    _refuse_newer(db, start, latest)
    if start == latest:
        return start
    for step in migrations:
        if step.number <= start:
            continue
        with db.transaction():
            db.lock_schema()
            _ensure_version_table(db, migrations)
            before = current_version(db)  # another connection may have migrated meanwhile
            _refuse_newer(db, before, latest)
            if before >= step.number:
                continue
            for statement in step.statements:
                db.execute(db.ddl(statement))
            _record(db, step.number, step.description)
        if start:
            log.info("catalog %s: schema migrated from version %d to %d (%s)",
                     db.target.display, step.number - 1, step.number, step.description)
    if not start:
        log.info("catalog %s: created with schema version %d", db.target.display, latest)
    return latest


def _check_order(migrations: tuple[Migration, ...]) -> None:
    numbers = [m.number for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise CatalogError(f"migrations must be numbered 1, 2, 3…; got {numbers}",
                           code="CATALOG-MIGRATIONS")


def _refuse_newer(db: Database, version: int, latest: int) -> None:
    if version > latest:
        raise CatalogError(
            f"catalog schema version {version} is newer than this software knows ({latest}); "
            "upgrade preservation before using this catalog",
            code="CATALOG-TOO-NEW", location=db.target.display)


def _ensure_version_table(db: Database, migrations: tuple[Migration, ...]) -> None:
    """Create ``schema_version``; record what a SQLite ``user_version`` says was applied."""
    if db.table_exists("schema_version"):
        return
    legacy = db.user_version if isinstance(db, SqliteDatabase) else 0
    db.execute(db.ddl(_VERSION_TABLE))
    for step in migrations[:legacy]:
        _record(db, step.number, f"{step.description} (applied before schema_version existed)")
    if legacy:
        log.info("catalog %s: adopted schema version %d from PRAGMA user_version",
                 db.target.display, legacy)


def _record(db: Database, number: int, description: str) -> None:
    applied_at = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
               (number, description, applied_at))
    if isinstance(db, SqliteDatabase):
        db.set_user_version(number)
