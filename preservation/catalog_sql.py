"""One SQL layer for the catalog's two backends: SQLite (the default) and PostgreSQL.

The catalog writes its SQL once, with ``?`` placeholders. :class:`Database` runs that same text
on either backend: it adapts the parameter style (psycopg wants ``%s``), gives transactions that
are all or nothing on both, and turns every driver error into a :class:`CatalogError` with a stable
code (``CATALOG-CONFLICT`` for a uniqueness or reference violation). Only DDL differs, through
the few type words of :meth:`Database.ddl`.

psycopg is imported only when a PostgreSQL catalog is opened, and is given the URL untouched
(see :mod:`preservation.catalog_url`). No password ever appears in a log line or an error
message: they show :attr:`CatalogTarget.display`, and driver messages are scrubbed of any
password we know of.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preservation.catalog_url import CatalogTarget, Kind
from preservation.errors import CatalogError, ConfigError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

#: How long a SQLite writer waits for another connection's write transaction to end.
SQLITE_BUSY_TIMEOUT = 60.0
#: libpq connect_timeout when the URL does not set one (libpq's default is to wait forever).
PG_CONNECT_TIMEOUT = 15
#: Key of the advisory lock that serialises schema migrations across PostgreSQL connections.
PG_MIGRATION_LOCK = 0x7072_6573_6361_74  # "prescat"


def adapt_placeholders(sql: str, style: str) -> str:
    """Rewrite ``?`` placeholders outside quoted text as ``style``; escape ``%`` for pyformat."""
    if style == "?":
        return sql
    out: list[str] = []
    quote_char: str | None = None
    for ch in sql:
        if quote_char is not None:
            if ch == quote_char:
                quote_char = None
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote_char = ch
            out.append(ch)
        elif ch == "?":
            out.append(style)
        else:
            out.append("%%" if ch == "%" else ch)
    return "".join(out)


class Database(ABC):
    """One connection to a catalog database, the same calls on every backend.

    Not shared between threads: open one per thread (SQLite refuses cross-thread use).
    """

    kind: Kind

    def __init__(self, target: CatalogTarget) -> None:
        self.target = target
        self._depth = 0

    # --- what every backend provides -------------------------------------------------------

    @abstractmethod
    def _run(self, sql: str, args: Sequence[Any]) -> Iterator[Row]: ...

    @abstractmethod
    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def _is_conflict(self, error: BaseException) -> bool: ...

    @abstractmethod
    def _is_driver_error(self, error: BaseException) -> bool: ...

    @abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abstractmethod
    def lock_schema(self) -> None:
        """Inside a transaction: wait until no other connection is migrating the schema."""

    @abstractmethod
    def ddl(self, statement: str) -> str:
        """A DDL statement with its portable type words (``{text}``) in this dialect."""

    @abstractmethod
    def close(self) -> None: ...

    # --- the shared surface ----------------------------------------------------------------

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        with self._errors():
            for _ in self._run(sql, args):
                pass

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._errors():
            self._run_many(sql, rows)

    def query(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Row]:
        """Rows of a SELECT, as tuples in column order."""
        with self._errors():
            yield from self._run(sql, args)

    def scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return next(self.query(sql, args), (None,))[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit when the block ends, roll back on any exception.

        A transaction opened inside another joins it (the outer one decides).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._errors():
            self._begin()
        self._depth = 1
        try:
            yield
            with self._errors():
                self._commit()
        except BaseException:
            try:
                with self._errors():
                    self._rollback()
            except CatalogError as e:  # the original error matters more
                log.warning("catalog %s: rollback failed: %s", self.target.display, e)
            raise
        finally:
            self._depth = 0

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except CatalogError:
            raise
        except Exception as e:
            if not self._is_driver_error(e):
                raise
            code = "CATALOG-CONFLICT" if self._is_conflict(e) else "CATALOG-ERROR"
            raise CatalogError(f"catalog {self.target.display}: {self.scrub(str(e))}",
                               code=code, location=self.target.display) from e

    def scrub(self, text: str) -> str:
        """``text`` without any password this connection could have used."""
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _secrets(self) -> list[str]:
        return []


class SqliteDatabase(Database):
    kind: Kind = "sqlite"

    def __init__(self, target: CatalogTarget) -> None:
        super().__init__(target)
        assert target.path is not None
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(target.path, isolation_level=None,
                                       timeout=SQLITE_BUSY_TIMEOUT)
        except (OSError, sqlite3.Error) as e:
            raise CatalogError(f"cannot open catalog {target.display}: {e}",
                               code="CATALOG-UNAVAILABLE", location=target.display) from e
        try:
            with self._errors():
                self._db.execute("PRAGMA foreign_keys = ON")
                self._enable_wal()
                self._db.execute("PRAGMA synchronous = FULL")
        except CatalogError:
            self._db.close()
            raise

    def _enable_wal(self) -> None:
        """Switch to WAL (readers never wait for a writer), retrying while another connection
        holds the file: SQLite answers "locked" at once here, without its busy timeout, when
        two programs open a new catalog together."""
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                busy = getattr(e, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY,
                                                                sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _run(self, sql: str, args: Sequence[Any]) -> Iterator[Row]:
        yield from self._db.execute(sql, tuple(args))

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock now, so two writers queue instead of deadlocking.
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _is_conflict(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    def _is_driver_error(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.Error)

    def table_exists(self, name: str) -> bool:
        found = self.scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return int(found) == 1

    def lock_schema(self) -> None:
        pass  # BEGIN IMMEDIATE already excludes every other writer

    def ddl(self, statement: str) -> str:
        return statement.format(text="TEXT")

    @property
    def user_version(self) -> int:
        """SQLite's header version: how catalogs made before ``schema_version`` were versioned."""
        return int(self.scalar("PRAGMA user_version"))

    def set_user_version(self, version: int) -> None:
        self.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        self._db.close()


class PostgresDatabase(Database):
    kind: Kind = "postgresql"

    def __init__(self, target: CatalogTarget) -> None:
        super().__init__(target)
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as e:
            raise CatalogError(
                f"catalog {target.display} is PostgreSQL, but the psycopg driver is not "
                "installed: pip install 'preservation[postgres]'",
                code="CATALOG-DRIVER-MISSING", location=target.display) from e
        self._psycopg = psycopg
        try:
            self._url_password = urlsplit(target.url).password or ""
        except ValueError:
            self._url_password = ""
        options: dict[str, Any] = {"autocommit": True, "client_encoding": "UTF8",
                                   "application_name": "preservation"}
        try:
            params = conninfo_to_dict(target.url)
        except psycopg.Error as e:
            detail = self.scrub(str(e)).strip()
            raise ConfigError(f"catalog URL {target.display!r} is malformed: {detail}",
                              code="CONFIG-CATALOG-URL", location=target.display) from None
        self._url_password = str(params.get("password") or self._url_password)
        if "connect_timeout" not in params:
            options["connect_timeout"] = PG_CONNECT_TIMEOUT
        try:
            self._db: psycopg.Connection[Row] = psycopg.connect(target.url, **options)
        except psycopg.Error as e:
            raise CatalogError(f"cannot connect to catalog {target.display}: "
                               f"{self.scrub(str(e)).strip()}",
                               code="CATALOG-UNAVAILABLE", location=target.display) from None
        encoding = self.scalar("SHOW server_encoding")
        if str(encoding).upper() not in ("UTF8", "UTF-8"):
            self._db.close()
            raise CatalogError(
                f"catalog database {target.display} uses encoding {encoding}; the catalog "
                "holds Vietnamese names and needs a UTF8 database (CREATE DATABASE … "
                "ENCODING 'UTF8')", code="CATALOG-ENCODING", location=target.display)

    def _secrets(self) -> list[str]:
        found = [self._url_password, os.environ.get("PGPASSWORD", "")]
        return [s for s in found if s]

    def _run(self, sql: str, args: Sequence[Any]) -> Iterator[Row]:
        cursor = self._db.execute(adapt_placeholders(sql, "%s"), tuple(args))
        if cursor.description is not None:
            yield from cursor

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(adapt_placeholders(sql, "%s"), rows)

    def _begin(self) -> None:
        self._db.execute("BEGIN")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        if not self._db.closed:
            self._db.execute("ROLLBACK")

    def _is_conflict(self, error: BaseException) -> bool:
        return isinstance(error, self._psycopg.IntegrityError)

    def _is_driver_error(self, error: BaseException) -> bool:
        return isinstance(error, self._psycopg.Error)

    def table_exists(self, name: str) -> bool:
        found = self.scalar(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ?", (name,))
        return int(found) == 1

    def lock_schema(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))

    def ddl(self, statement: str) -> str:
        # Byte order for every text column, whatever the database's locale: listings sort the
        # same on both backends (and a rebuilt catalog sorts as the original did).
        return statement.format(text='TEXT COLLATE "C"')

    def close(self) -> None:
        self._db.close()


def connect(target: CatalogTarget) -> Database:
    """Open a connection of the target's kind."""
    if target.kind == "sqlite":
        return SqliteDatabase(target)
    return PostgresDatabase(target)
