"""The catalog: an index of AIPs, their files, copies and PREMIS events.

The catalog is an index, never the only copy of a fact: everything in it about an AIP is also in
the AIP on storage. It is the only module that persists anything. SQLite by default, PostgreSQL
for a shared installation, through one SQL layer (:mod:`preservation.catalog_sql`); the schema is
versioned and migrated forward on open (:mod:`preservation.catalog_schema`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from preservation.catalog_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    applied_migrations,
    current_version,
    migrate,
)
from preservation.catalog_sql import connect
from preservation.catalog_url import CatalogTarget, as_target, parse_catalog_url
from preservation.errors import CatalogError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AipRecord",
    "Catalog",
    "CatalogTarget",
    "CopyRecord",
    "EventRecord",
    "FileRecord",
    "Migration",
    "open_catalog",
    "parse_catalog_url",
]


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
    """A connection to the catalog. Use as a context manager or call :meth:`close`.

    ``where`` is a SQLite file (a :class:`~pathlib.Path`), a catalog URL (``sqlite:///…``,
    ``postgresql://…``; a relative SQLite path is resolved against ``base``, by default the
    working directory) or a parsed :class:`CatalogTarget`. Opening migrates an older schema
    forward and refuses a newer one (``CATALOG-TOO-NEW``). One Catalog per thread.
    """

    def __init__(self, where: Path | str | CatalogTarget, *, base: Path | None = None) -> None:
        self.target = as_target(where, base)
        #: The SQLite file, or None for a PostgreSQL catalog.
        self.path = self.target.path
        self._db = connect(self.target)
        try:
            migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        """Where the catalog is, for people and logs (never with a password)."""
        return self.target.display

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.kind

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        return current_version(self._db)

    def schema_history(self) -> list[tuple[int, str, str]]:
        """``(number, description, applied_at)`` of every applied migration, oldest first."""
        return applied_migrations(self._db)

    # --- writing ---------------------------------------------------------------------------

    def register_aip(self, aip: AipRecord, files: Iterable[FileRecord],
                     copies: Iterable[CopyRecord], events: Iterable[EventRecord]) -> None:
        """Register a stored, verified AIP with everything about it, all or nothing."""
        try:
            with self._db.transaction():
                self._insert("aips", [aip])
                self._insert("files", files)
                self._insert("copies", copies)
                self._insert("events", events)
        except CatalogError as e:
            if e.code != "CATALOG-CONFLICT":
                raise
            raise CatalogError(f"cannot register AIP {aip.id}: {e.message}",
                               code="CATALOG-CONFLICT", location=e.location) from e

    def add_events(self, events: Iterable[EventRecord]) -> None:
        with self._db.transaction():
            self._insert("events", events)

    def set_copy_status(self, aip_id: str, location: str, status: str, checked_at: str) -> None:
        with self._db.transaction():
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
        for row in self._db.query(query, args):
            yield cls(*row)

    def aip(self, aip_id: str) -> AipRecord | None:
        return next(self._select(AipRecord, "SELECT * FROM aips WHERE id = ?", (aip_id,)), None)

    def aips(self) -> Iterator[AipRecord]:
        return self._select(AipRecord, "SELECT * FROM aips ORDER BY created, id")

    def aip_ids(self) -> list[str]:
        return [r[0] for r in self._db.query("SELECT id FROM aips ORDER BY created, id")]

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


def open_catalog(where: Path | str | CatalogTarget, *, base: Path | None = None) -> Catalog:
    """Open (and migrate) the catalog at a path, URL or target; see :class:`Catalog`."""
    return Catalog(where, base=base)
