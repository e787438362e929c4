"""Where a catalog lives: its URL, parsed and checked, and shown without its password.

Catalog URLs::

    sqlite:///catalog.sqlite          relative to the repository home
    sqlite:////var/lib/archive/c.db   absolute (four slashes)
    postgresql://user@host:5432/db    also postgres://; libpq parameters in the query string

A PostgreSQL password may be in the URL, but is better left to libpq's own sources (``PGPASSWORD``,
``~/.pgpass``, ``PGSERVICE``): the URL reaches libpq untouched, so every standard ``PG*`` variable
works. Show :attr:`CatalogTarget.display` (never ``url``) to people and logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from preservation.errors import ConfigError

Kind = Literal["sqlite", "postgresql"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class CatalogTarget:
    """Where a catalog lives. ``url`` may hold a password: show :attr:`display` instead."""

    kind: Kind
    url: str = field(repr=False)
    #: The SQLite file (``kind == "sqlite"``).
    path: Path | None = None

    @property
    def display(self) -> str:
        """The location for people and logs: the SQLite path, or the URL without its password."""
        return str(self.path) if self.path is not None else redact_url(self.url)

    def __repr__(self) -> str:
        return f"CatalogTarget({self.kind!r}, {self.display!r})"


def parse_catalog_url(url: str, base: Path) -> CatalogTarget:
    """Check a catalog URL; a relative SQLite path is resolved against ``base`` (the home)."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if url.startswith(SQLITE_PREFIX):
        rest = url[len(SQLITE_PREFIX):]
        if not rest or rest.endswith("/"):
            raise ConfigError(f"catalog URL {url!r} names no SQLite file",
                              code="CONFIG-CATALOG-URL", location=url)
        return CatalogTarget("sqlite", url, base / rest)
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as e:
            raise ConfigError(f"catalog URL {redact_url(url)!r} is malformed: {e}",
                              code="CONFIG-CATALOG-URL", location=redact_url(url)) from None
        return CatalogTarget("postgresql", url)
    raise ConfigError(
        f"unsupported catalog URL {redact_url(url)!r}: use sqlite:///FILE or "
        "postgresql://USER@HOST:PORT/DATABASE", code="CONFIG-CATALOG-URL",
        location=redact_url(url))


def as_target(where: Path | str | CatalogTarget, base: Path | None = None) -> CatalogTarget:
    """A path (a SQLite file), a catalog URL (relative to ``base``, default: the cwd), or a
    target already parsed."""
    if isinstance(where, CatalogTarget):
        return where
    if isinstance(where, Path):
        return CatalogTarget("sqlite", SQLITE_PREFIX + str(where.absolute()), where.absolute())
    return parse_catalog_url(where, base if base is not None else Path.cwd())


def redact_url(url: str) -> str:
    """The URL with any password (in the user part or a ``password=`` parameter) replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed catalog URL>"
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":***"
    netloc = f"{userinfo}{at}{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs],
                          quote_via=quote, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
