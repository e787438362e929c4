"""The catalog: an index of AIPs, their files, copies and PREMIS events.

The catalog is an index, never the only copy of a fact: everything in it about an AIP is also in
the AIP on storage. It is the only module that persists anything. SQLite by default, PostgreSQL
for a shared installation, through one SQL layer (:mod:`preservation.catalog_sql`); the schema is
versioned and migrated forward on open (:mod:`preservation.catalog_schema`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from itertools import islice
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
from preservation.fonds import FondsError, FondsNotFoundError, FondsRecord

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AipRecord",
    "Catalog",
    "CatalogTarget",
    "CopyRecord",
    "EventRecord",
    "FileRecord",
    "FondsCounts",
    "FondsRecord",
    "Migration",
    "open_catalog",
    "parse_catalog_url",
]


@dataclass(frozen=True)
class AipRecord:
    """One AIP version. Versions of one package share ``package_id`` (the UUID of version 1);
    ``package_id`` left empty means "this AIP is version 1 of its own package" and is filled
    with ``id`` on construction."""

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
    package_id: str = ""
    previous_id: str | None = None
    record_status: str = "NEW"  # "NEW" | "SUPPLEMENT" | "REPLACEMENT"
    fonds_code: str = ""
    objid: str = ""
    arc_file_code: str = ""

    def __post_init__(self) -> None:
        if not self.package_id:
            object.__setattr__(self, "package_id", self.id)


@dataclass(frozen=True, slots=True)
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
    #: the object key that really holds the bytes when it is not ``<aip_id>/<path>`` (a file
    #: unchanged since an earlier version, stored once); None = stored under this AIP
    stored_key: str | None = None


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


@dataclass(frozen=True)
class FondsCounts:
    """How much of the archive is in one fonds: AIP versions, packages, content files, bytes."""

    aips: int = 0
    packages: int = 0
    files: int = 0
    bytes: int = 0


R = TypeVar("R")
#: Rows given to the driver's ``executemany`` at a time by :meth:`Catalog._insert`.
INSERT_BATCH = 1000
#: Called inside a fonds transaction after the row is written; raising rolls the row back.
FondsHook = Callable[[FondsRecord], object]


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

    def add_fonds(self, record: FondsRecord, *, before_commit: FondsHook | None = None) -> None:
        """Register a fonds; FONDS-EXISTS (:class:`~preservation.fonds.FondsError`) if its code
        is taken. ``before_commit(record)`` runs after the row is written, before the commit
        (the fonds registry publishes the record to storage there); if it raises, nothing is
        registered."""
        try:
            with self._db.transaction():
                self._insert("fonds", [record])
                if before_commit is not None:
                    before_commit(record)
        except CatalogError as e:
            if e.code != "CATALOG-CONFLICT":
                raise
            raise FondsError("FONDS-EXISTS", location=self.location, fonds=record.code) from e

    def update_fonds(self, record: FondsRecord, *,
                     before_commit: FondsHook | None = None) -> None:
        """Replace a registered fonds' fields (all but ``code`` and ``created``, which stay);
        FONDS-UNKNOWN (:class:`~preservation.fonds.FondsNotFoundError`) if it is not
        registered. ``before_commit`` as in :meth:`add_fonds`."""
        with self._db.transaction():
            # the UPDATE first: it locks the row, so concurrent changes of one fonds queue
            self._db.execute(
                "UPDATE fonds SET name = ?, status = ?, history = ?, start_date = ?, "
                "end_date = ?, language = ?, updated = ? WHERE code = ?",
                (record.name, record.status, record.history, record.start_date,
                 record.end_date, record.language, record.updated, record.code))
            if self._db.scalar("SELECT count(*) FROM fonds WHERE code = ?", (record.code,)) == 0:
                raise FondsNotFoundError("FONDS-UNKNOWN", location=self.location,
                                         fonds=record.code)
            if before_commit is not None:
                before_commit(record)

    def replace_all(self, *, aips: Iterable[AipRecord] = (), files: Iterable[FileRecord] = (),
                    copies: Iterable[CopyRecord] = (), events: Iterable[EventRecord] = (),
                    fonds: Iterable[FondsRecord] = ()) -> None:
        """Fill an EMPTY catalog in one transaction (a catalog rebuilt from storage): all of it
        or, on any error, nothing. A catalog holding any AIP or fonds is refused with
        ``CATALOG-NOT-EMPTY``. The iterables are consumed in the order fonds, aips, files,
        copies, events (files, copies and events must name AIPs given in ``aips``)."""
        with self._db.transaction():
            if not self.is_empty():
                raise CatalogError(
                    "the catalog is not empty: a rebuild fills only a new, empty catalog",
                    code="CATALOG-NOT-EMPTY", location=self.location)
            self._insert("fonds", fonds)
            self._insert("aips", aips)
            self._insert("files", files)
            self._insert("copies", copies)
            self._insert("events", events)

    def _insert(self, table: str, records: Iterable[Any]) -> None:
        """Insert every record of ``records`` (dataclasses of one kind) in one pass: any
        iterable, a generator too, consumed ``INSERT_BATCH`` rows at a time, so that the files
        of an AIP of 100,000 files are never all in memory at once (nor in the driver's)."""
        rows = iter(records)
        first = next(rows, None)
        if first is None:
            return
        names = [f.name for f in fields(first)]
        sql = (f"INSERT INTO {table} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        self._db.execute(sql, [getattr(first, n) for n in names])
        while batch := [[getattr(r, n) for n in names] for r in islice(rows, INSERT_BATCH)]:
            self._db.executemany(sql, batch)

    # --- reading ---------------------------------------------------------------------------

    def _select(self, cls: type[R], sql: str, args: tuple[Any, ...] = ()) -> Iterator[R]:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        query = sql.replace("*", ", ".join(names), 1)
        for row in self._db.query(query, args):
            yield cls(*row)

    def aip(self, aip_id: str) -> AipRecord | None:
        return next(self._select(AipRecord, "SELECT * FROM aips WHERE id = ?", (aip_id,)), None)

    def aips(self) -> Iterator[AipRecord]:
        """Every AIP, every version of every package, oldest first."""
        return self._select(AipRecord, "SELECT * FROM aips ORDER BY created, id")

    def versions(self, package_id: str) -> list[AipRecord]:
        """Every version of a package (``package_id`` = the UUID of version 1), oldest first."""
        return list(self._select(
            AipRecord, "SELECT * FROM aips WHERE package_id = ? ORDER BY version, id",
            (package_id,)))

    def latest(self, package_id: str) -> AipRecord | None:
        """The highest version of a package, or None when no AIP has that package id."""
        return next(self._select(
            AipRecord, "SELECT * FROM aips WHERE package_id = ? ORDER BY version DESC, id "
            "LIMIT 1", (package_id,)), None)

    def aips_in_fonds(self, code: str) -> list[AipRecord]:
        """Every AIP (every version) of a fonds, oldest first."""
        return list(self._select(
            AipRecord, "SELECT * FROM aips WHERE fonds_code = ? ORDER BY created, id", (code,)))

    def fonds(self, code: str) -> FondsRecord | None:
        return next(self._select(FondsRecord, "SELECT * FROM fonds WHERE code = ?", (code,)),
                    None)

    def fonds_list(self) -> list[FondsRecord]:
        """Every registered fonds, by code (byte order on both backends)."""
        return list(self._select(FondsRecord, "SELECT * FROM fonds ORDER BY code"))

    def fonds_counts(self) -> dict[str, FondsCounts]:
        """What each fonds code holds (AIPs registered before fonds existed count under "")."""
        out = {str(code): FondsCounts(int(n), int(p), int(f or 0), int(b or 0))
               for code, n, p, f, b in self._db.query(
                   "SELECT fonds_code, count(*), count(DISTINCT package_id), sum(file_count), "
                   "sum(total_size) FROM aips GROUP BY fonds_code")}
        return out

    def is_empty(self) -> bool:
        """True when the catalog holds no AIP and no fonds."""
        return bool(self._db.scalar("SELECT count(*) FROM aips") == 0
                    and self._db.scalar("SELECT count(*) FROM fonds") == 0)

    def stored_key_references(self, aip_id: str) -> int:
        """How many files of other AIPs are stored under ``aip_id``'s prefix (reused objects)."""
        return int(self._db.scalar(
            "SELECT count(*) FROM files WHERE stored_key LIKE ? AND aip_id <> ?",
            (f"{aip_id}/%", aip_id)))

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
