"""The fonds registry: every AIP belongs to a fonds (phông lưu trữ), registered here first.

A fonds has a code (mã phông), a name, a status (open/closed), a history, the dates it covers and
its language(s). The catalog keeps one row per fonds (:meth:`preservation.catalog.Catalog.
add_fonds`); because the catalog is only an index, every version of a fonds record is also
written to storage, as a write-once JSON object ``fonds/<code>/<compact UTC time>-<uuid8>.json``
on every location, so that a catalog rebuilt from storage alone finds every fonds again (the
newest object per code wins: :func:`read_fonds`).

Order of a change (:func:`register_fonds`, :func:`record_fonds_change`): the catalog row is
written inside a transaction, the record is published to every location, and only then the
transaction commits. A duplicate code therefore publishes nothing; a location that fails rolls
the row back and removes what was already published where the location allows deletion. What
can remain is a record published but not registered (a commit that fails after publishing, or
a write-once location that refuses the clean-up): it is a record the archivist asked for, it
harms nothing, and a rebuild simply finds it — re-running the command makes both agree.

The record, its checks and errors are in :mod:`preservation.fonds_record`, the objects on
storage in :mod:`preservation.fonds_storage`; every public name of both is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from preservation.fonds_record import (
    COMBINED_LANGUAGES,
    LANGUAGES,
    MAX_CODE,
    MAX_HISTORY,
    MAX_NAME,
    STATUSES,
    FondsError,
    FondsInvalidError,
    FondsNotFoundError,
    FondsPublishError,
    FondsRecord,
    LocalisedError,
    changed_fonds,
    checked,
    code_is_valid,
    make_fonds,
    normalise_language,
    validate_fonds,
)
from preservation.fonds_storage import (
    FONDS_PREFIX,
    MAX_DOCUMENT,
    fonds_document,
    fonds_key,
    parse_fonds_document,
    publish_fonds,
    read_fonds,
)
from preservation.storage import StorageBackend

if TYPE_CHECKING:
    from preservation.catalog import Catalog

__all__ = [
    "COMBINED_LANGUAGES",
    "FONDS_PREFIX",
    "LANGUAGES",
    "MAX_CODE",
    "MAX_DOCUMENT",
    "MAX_HISTORY",
    "MAX_NAME",
    "STATUSES",
    "FondsError",
    "FondsInvalidError",
    "FondsNotFoundError",
    "FondsPublishError",
    "FondsRecord",
    "LocalisedError",
    "changed_fonds",
    "code_is_valid",
    "fonds_document",
    "fonds_key",
    "make_fonds",
    "normalise_language",
    "parse_fonds_document",
    "publish_fonds",
    "read_fonds",
    "record_fonds_change",
    "register_fonds",
    "validate_fonds",
]




def register_fonds(catalog: Catalog, backends: Sequence[StorageBackend],
                   record: FondsRecord) -> str:
    """Register a new fonds: catalog row and a record on every location (see the module
    docstring for the order); return the storage key. FONDS-EXISTS if the code is taken."""
    checked(record)
    keys: list[str] = []
    catalog.add_fonds(record, before_commit=_publisher(backends, keys))
    return keys[0]


def record_fonds_change(catalog: Catalog, backends: Sequence[StorageBackend],
                        record: FondsRecord) -> str:
    """Store a changed fonds (catalog row and a new record on every location); return the key.
    FONDS-UNKNOWN if the code is not registered."""
    checked(record)
    keys: list[str] = []
    catalog.update_fonds(record, before_commit=_publisher(backends, keys))
    return keys[0]


def _publisher(backends: Sequence[StorageBackend],
               keys: list[str]) -> Callable[[FondsRecord], None]:
    def publish(record: FondsRecord) -> None:
        keys.append(publish_fonds(backends, record))

    return publish
