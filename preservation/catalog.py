"""The catalog: an index of AIPs, their files, copies and PREMIS events.

The catalog is an index, never the only copy of a fact: everything in it about an AIP is also in
the AIP on storage. It is the only module that persists anything. SQLite by default; the schema is
versioned and migrated forward on open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from preservation.errors import CatalogError

#: Ordered migrations; the schema version is the number of migrations applied.
MIGRATIONS: tuple[str, ...] = (
    """
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
    """,
)


@dataclass(frozen=True)
class AipRecord:
    id: str
    version: int
    label: str
    created: str
    source_kind: str
    source_name: str
    file_count: int
    total_size: int
    tagmanifest_sha256: str
    signer: str
    organisation: str


@dataclass(frozen=True)
class FileRecord:
    """One object of an AIP. ``path`` is the path inside the AIP bag (e.g. ``data/METS.xml``)."""

    aip_id: str
    path: str
    role: str  # "content" | "metadata" | "tag" | "signature"
    size: int
    sha256: str
    original_name: str | None = None
    puid: str | None = None
    format_name: str | None = None


@dataclass(frozen=True)
class CopyRecord:
    aip_id: str
    location: str
    url: str
    stored_at: str
    status: str  # "ok" | "failed"
    checked_at: str


@dataclass(frozen=True)
class EventRecord:
    id: str
    aip_id: str
    type: str
    datetime: str
    outcome: str
    detail: str = ""
    outcome_detail: str = ""
    location: str | None = None
    agent: str = ""


R = TypeVar("R")


class Catalog:
    """A connection to the catalog. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.Error as e:
            raise CatalogError(f"cannot open catalog {path}: {e}", location=str(path)) from e

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise CatalogError(
                f"catalog schema version {current} is newer than this software "
                f"({len(MIGRATIONS)}); upgrade preservation", code="CATALOG-TOO-NEW")
        for number in range(current, len(MIGRATIONS)):
            with self._transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- writing ---------------------------------------------------------------------------

    def register_aip(self, aip: AipRecord, files: Iterable[FileRecord],
                     copies: Iterable[CopyRecord], events: Iterable[EventRecord]) -> None:
        """Register a stored, verified AIP with everything about it, all or nothing."""
        try:
            with self._transaction():
                self._insert("aips", [aip])
                self._insert("files", files)
                self._insert("copies", copies)
                self._insert("events", events)
        except sqlite3.IntegrityError as e:
            raise CatalogError(f"cannot register AIP {aip.id}: {e}",
                               code="CATALOG-CONFLICT") from e

    def add_events(self, events: Iterable[EventRecord]) -> None:
        with self._transaction():
            self._insert("events", events)

    def set_copy_status(self, aip_id: str, location: str, status: str, checked_at: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE copies SET status = ?, checked_at = ? WHERE aip_id = ? AND location = ?",
                (status, checked_at, aip_id, location))

    def _insert(self, table: str, records: Iterable[Any]) -> None:
        rows = iter(records)
        first = next(rows, None)
        if first is None:
            return
        names = [f.name for f in fields(first)]
        sql = (f"INSERT INTO {table} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        self._db.execute(sql, [getattr(first, n) for n in names])
        self._db.executemany(sql, ([getattr(r, n) for n in names] for r in rows))

    # --- reading ---------------------------------------------------------------------------

    def _select(self, cls: type[R], sql: str, args: tuple[Any, ...] = ()) -> Iterator[R]:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        query = sql.replace("*", ", ".join(names), 1)
        for row in self._db.execute(query, args):
            yield cls(*row)

    def aip(self, aip_id: str) -> AipRecord | None:
        return next(self._select(AipRecord, "SELECT * FROM aips WHERE id = ?", (aip_id,)), None)

    def aips(self) -> Iterator[AipRecord]:
        return self._select(AipRecord, "SELECT * FROM aips ORDER BY created, id")

    def aip_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM aips ORDER BY created, id")]

    def files(self, aip_id: str) -> list[FileRecord]:
        return list(self._select(FileRecord, "SELECT * FROM files WHERE aip_id = ? ORDER BY path",
                                 (aip_id,)))

    def copies(self, aip_id: str) -> list[CopyRecord]:
        return list(self._select(CopyRecord,
                                 "SELECT * FROM copies WHERE aip_id = ? ORDER BY location",
                                 (aip_id,)))

    def events(self, aip_id: str) -> list[EventRecord]:
        return list(self._select(EventRecord,
                                 "SELECT * FROM events WHERE aip_id = ? ORDER BY datetime, id",
                                 (aip_id,)))


def open_catalog(path: Path) -> Catalog:
    return Catalog(path)
