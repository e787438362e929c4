"""Early copies: an ingest copies the transfer's files to the filesystem locations that ask for
it (``early_copies = true``) while it validates them, so that the disk writes overlap the CPU
work (digests, format identification, content checks, the build) instead of following it.

Off by default. It pays where writing, not the CPU, bounds an ingest (a location on a NAS or a
slow disk); on a machine whose ingest is CPU-bound it gains nothing and costs kernel time: on
the 2-core benchmark machine, 23–25 s with it against 23–24 s without
(``python benchmarks/ingest_vs_cp.py``, docs/benchmarks.md). And by default nothing of a
transfer is written to a location before it is accepted.

The copies go to each location's private incoming area (:mod:`preservation.storage.incoming`),
never under an object key: nothing there is part of the archive until the transfer has been
accepted, its AIP built, and :func:`aip.ingest_replicate.store_copy` publishes a file as the
object of a payload file with :meth:`FilesystemBackend.adopt` — a hard link, no second copy —
instead of writing it again. The read-back after the sync then checks its SHA-256 against the
validated one exactly as for any other object, so a source file changed between this copy and
validation fails the ingest rather than entering the archive.

A rejected transfer's areas are removed whole, as are those of a failed ingest; a killed
ingest's are removed by the next ingest's sweep (their lock is free). Early copies are an
optimisation only: a location that cannot take them (S3, a full disk, a file that cannot be
read) is simply written after validation, as before. Only a transfer that is a folder is
copied early (a ZIP is extracted during validation).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from preservation.config import StorageConfig
from preservation.errors import ConfigError
from preservation.storage.filesystem import root_from_url
from preservation.storage.incoming import Copier, IncomingArea

log = logging.getLogger(__name__)


@dataclass
class _Lane:
    location: str
    area: IncomingArea
    copier: Copier | None = field(default=None, repr=False)


class EarlyCopies:
    """The early copies of one transfer, one lane (a child process and an incoming area) per
    filesystem location: :meth:`start` before validation, :meth:`stop` before the objects are
    stored, :meth:`take` per payload object, :meth:`close` at the end, whatever happened."""

    def __init__(self, source: str = "", lanes: Sequence[_Lane] = ()) -> None:
        self._source = source
        self._lanes = {lane.location: lane for lane in lanes}

    @classmethod
    def start(cls, locations: Sequence[StorageConfig], source: Path) -> EarlyCopies:
        """Start copying the folder ``source`` to every filesystem location that takes early
        copies; no lane (nothing copied) for a ZIP or where none does."""
        if not source.is_dir() or source.is_symlink():
            return cls()
        lanes = []
        inside = os.path.realpath(source)
        for loc in locations:
            if urlsplit(loc.url).scheme != "file" or not loc.options.get("early_copies", False):
                continue
            try:
                root = os.path.realpath(root_from_url(loc.url))
                if os.path.commonpath([root, inside]) == inside:
                    continue  # the location is inside the transfer: never write there
                lanes.append(_Lane(loc.name, IncomingArea(root)))
            except (ConfigError, OSError) as exc:
                log.info("no early copies on %s: %s", loc.name, exc)
        for lane in lanes:
            try:
                lane.copier = lane.area.copy_tree(str(source))
            except OSError as exc:
                log.info("no early copies on %s: %s", lane.location, exc)
        return cls(str(source), lanes)

    def wait(self) -> None:
        """Wait until every lane has copied all it could (tests and benchmarks)."""
        for lane in self._lanes.values():
            if lane.copier is not None:
                lane.copier.wait()

    def copied(self, location: str) -> int:
        """How many files were copied early to ``location`` (known once it has stopped)."""
        lane = self._lanes.get(location)
        return 0 if lane is None or lane.copier is None else lane.copier.copied

    def stop(self) -> None:
        """Stop copying and wait for every lane; what it copied completely is kept."""
        running = [lane for lane in self._lanes.values() if lane.copier is not None]
        for lane in running:
            assert lane.copier is not None
            lane.copier.terminate()
        for lane in running:
            assert lane.copier is not None
            if lane.copier.wait():  # an optimisation only: the rest is put after validation
                log.info("early copies to %s stopped after %d file(s): %s", lane.location,
                         lane.copier.copied, lane.copier.problem)

    def take(self, location: str, source: Path | None, size: int) -> str | None:
        """The early copy of the transfer's file ``source`` on ``location``, if complete with
        ``size`` bytes; None (put the bytes) otherwise."""
        lane = self._lanes.get(location)
        if lane is None or source is None:
            return None
        path = str(source)
        if not path.startswith(self._source + os.sep):
            return None
        return lane.area.take(path[len(self._source) + 1:].replace(os.sep, "/"), size)

    def close(self) -> None:
        """Stop, then remove every incoming area with what was not published from it."""
        self.stop()
        for lane in self._lanes.values():
            lane.area.close()
