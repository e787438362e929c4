"""Where a rebuilt catalog goes: a fresh SQLite file swapped in for the configured one (the old
one kept as ``catalog.sqlite.bak-<time>``), or an empty catalog named with ``into``.

The new catalog is built apart and only swapped in once the rebuild has finished, so the
configured catalog is at every moment either the old one or the complete new one. For a
PostgreSQL target the AIPs are first gathered in a private SQLite file (memory does not grow
with the archive), then copied in one transaction with :meth:`Catalog.replace_all`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509

from aip.rebuild import RebuildResult, rebuild_catalog, require_empty
from preservation.catalog import Catalog, CatalogTarget
from preservation.catalog_url import as_target
from preservation.config import Config
from preservation.errors import UsageError
from preservation.progress import Progress, no_progress
from preservation.timeutil import now_local

log = logging.getLogger(__name__)
_R = TypeVar("_R")
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class RebuildOutcome:
    result: RebuildResult
    catalog: str  # where the rebuilt catalog is (display form, never a password)
    backup: Path | None  # the previous SQLite catalog, kept


def rebuild_into(config: Config, trust_anchors: Sequence[x509.Certificate], *,
                 into: str | Path | None = None, verify: bool = False,
                 progress: Progress = no_progress,
                 clock: Callable[[], datetime] = now_local) -> RebuildOutcome:
    """Rebuild the catalog from storage.

    Without ``into``: a fresh SQLite catalog is built next to the configured one and swapped in;
    a configured PostgreSQL catalog is filled only when it is empty (else
    ``REBUILD-INTO-REQUIRED``: name an empty database). Either way the configured catalog is
    left as it was when the rebuild left something out (``result.ok`` false): the rebuilt one
    is kept aside and ``catalog`` names it. With
    ``into`` (a path or catalog URL; relative paths from the working directory): that catalog,
    which must be empty (``REBUILD-CATALOG-NOT-EMPTY``), receives the AIPs; the configured one
    is left alone.
    """
    if into is None:
        target = config.catalog_target
        if target.path is None:
            return _via_spool(config, target, trust_anchors, verify, progress, clock,
                              configured=True)
        return _swap_in(config, target.path, trust_anchors, verify, progress, clock)
    target = as_target(into if isinstance(into, Path) else _url(into))
    if target.path is not None:
        with Catalog(target) as catalog:
            result = rebuild_catalog(config, catalog, trust_anchors, verify=verify,
                                     progress=progress, clock=clock)
        return RebuildOutcome(result, target.display, None)
    return _via_spool(config, target, trust_anchors, verify, progress, clock, configured=False)


def _url(into: str) -> str:
    """A catalog URL as given, or a plain path turned into a ``sqlite:///`` URL."""
    if "://" in into:
        return into
    return "sqlite:///" + str(Path(into).absolute())


def _swap_in(config: Config, current: Path, trust_anchors: Sequence[x509.Certificate],
             verify: bool, progress: Progress, clock: Callable[[], datetime]) -> RebuildOutcome:
    stamp = clock().strftime("%Y%m%dT%H%M%S")
    current.parent.mkdir(parents=True, exist_ok=True)
    fresh = current.with_name(f".{current.name}.rebuild-{stamp}-{uuid.uuid4().hex[:8]}")
    try:
        with Catalog(fresh) as catalog:
            result = rebuild_catalog(config, catalog, trust_anchors, verify=verify,
                                     progress=progress, clock=clock)
        if not result.ok:
            # something on storage was skipped: the configured catalog stays in place (an AIP
            # it lacks would look like a failed ingest's leftovers); the rebuilt one is kept
            # aside for the archivist to inspect and install with --into
            aside = current.with_name(f"{current.name}.rebuilt-{stamp}")
            os.replace(fresh, aside)
            return RebuildOutcome(result, str(aside), None)
        backup = _swap(fresh, current, stamp)
    finally:
        _remove(fresh)
    return RebuildOutcome(result, str(current), backup)


def _swap(fresh: Path, current: Path, stamp: str) -> Path | None:
    """Put ``fresh`` in place of ``current`` atomically; keep the old one (with its WAL)."""
    backup: Path | None = None
    if current.exists():
        _checkpoint(current)
        backup = current.with_name(f"{current.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            backup = current.with_name(f"{current.name}.bak-{stamp}-{n}")
            n += 1
        for suffix in ("", *_SIDE_FILES):
            source = Path(f"{current}{suffix}")
            if source.exists():
                _keep(source, Path(f"{backup}{suffix}"))
    os.replace(fresh, current)
    for suffix in _SIDE_FILES:  # the old catalog's, kept in the backup; never the new one's
        Path(f"{current}{suffix}").unlink(missing_ok=True)
    log.info("catalog %s rebuilt; the previous one is kept as %s", current, backup)
    return backup


def _checkpoint(path: Path) -> None:
    """Fold the old catalog's WAL into its file so the backup is one file (best effort: a
    damaged catalog is kept as it is, WAL beside it)."""
    try:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
    except sqlite3.Error as e:
        log.warning("could not checkpoint the old catalog %s: %s", path, e)


def _keep(source: Path, backup: Path) -> None:
    try:
        os.link(source, backup)
    except OSError:
        shutil.copy2(source, backup)


def _remove(path: Path) -> None:
    for suffix in ("", *_SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _via_spool(config: Config, target: CatalogTarget, trust_anchors: Sequence[x509.Certificate],
               verify: bool, progress: Progress, clock: Callable[[], datetime], *,
               configured: bool) -> RebuildOutcome:
    """Rebuild into a private SQLite file, then copy it into ``target`` (PostgreSQL).

    ``configured``: ``target`` is the configured catalog. It must be empty
    (``REBUILD-INTO-REQUIRED``), and it is filled only when the rebuild left nothing out, as
    :func:`_swap_in` does; otherwise the rebuilt SQLite file is kept aside, next to the work
    folder, and named in the outcome.
    """
    stamp = clock().strftime("%Y%m%dT%H%M%S")
    with Catalog(target) as catalog:
        if not configured:
            require_empty(catalog)
        elif not catalog.is_empty():
            raise UsageError(
                f"the configured catalog {target.display} is a PostgreSQL database that is "
                "not empty: rebuild into an empty database named with --into",
                code="REBUILD-INTO-REQUIRED", location=target.display)
        config.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=config.work_dir, prefix="rebuild-") as folder:
            spool_path = Path(folder) / "spool.sqlite"
            with Catalog(spool_path) as spool:
                result = rebuild_catalog(config, spool, trust_anchors, verify=verify,
                                         progress=progress, clock=clock)
                if result.ok or not configured:
                    copy_catalog(spool, catalog)
                    return RebuildOutcome(result, target.display, None)
            # something on storage was skipped: the configured catalog stays empty (as
            # _swap_in keeps the old one); the rebuilt one is kept for the archivist to inspect
            aside = _unused(config.work_dir / f"catalog.rebuilt-{stamp}.sqlite")
            _checkpoint(spool_path)
            shutil.move(spool_path, aside)
    log.warning("catalog rebuild left something out; %s was not filled, the rebuilt catalog "
                "is kept as %s", target.display, aside)
    return RebuildOutcome(result, str(aside), None)


def _unused(path: Path) -> Path:
    """``path``, or ``path`` with ``-1``, ``-2`` … before its suffix when it exists."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def copy_catalog(source: Catalog, target: Catalog) -> None:
    """Everything in ``source`` into the empty ``target``, in one transaction, streamed."""
    ids = source.aip_ids()
    target.replace_all(fonds=source.fonds_list(), aips=source.aips(),
                       files=_each(ids, source.files), copies=_each(ids, source.copies),
                       events=_each(ids, source.events))


def _each(ids: list[str], read: Callable[[str], Sequence[_R]]) -> Iterator[_R]:
    for aip_id in ids:
        yield from read(aip_id)

