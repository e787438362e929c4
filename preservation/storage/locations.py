"""Every configured storage location, opened together and closed together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from preservation.storage.base import StorageBackend

if TYPE_CHECKING:  # preservation.config imports this package
    from preservation.config import Config


@contextmanager
def open_locations(config: Config) -> Iterator[list[StorageBackend]]:
    """The backends of ``config.storage``, in configuration order; each one opened is closed
    on exit, also when opening a later one fails."""
    from preservation.storage import open_location

    backends: list[StorageBackend] = []
    try:
        for location in config.storage:
            backends.append(open_location(location.url, **location.options))
        yield backends
    finally:
        for backend in backends:
            backend.close()
