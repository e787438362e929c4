"""Fixtures of the core tests: ``catalog_url`` is every catalog backend in turn.

The catalog tests take ``catalog_url`` (or ``catalog``) and so run once on SQLite and once on a
real PostgreSQL server (``postgres_server``: one per session, see ``postgres_server.py``), in an
empty database of their own. Registering ``postgres_server`` in another folder's conftest as well
would start a second server: move the import to ``tests/conftest.py`` instead when another folder
needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.catalog import Catalog
from tests.core.postgres_server import postgres_db, postgres_server  # noqa: F401

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty catalog: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgres_db")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """An open, freshly created catalog of each backend."""
    with Catalog(catalog_url) as opened:
        yield opened
