"""Read a whole AIP back from the first copy that verifies, into a private folder.

An export must never carry bytes that were not proved intact: every object of the AIP bag is
streamed once from one copy into ``staging/<bag path>`` while it is hashed, then the copy's
manifests and CMS signature are checked exactly as the audit and the DIP do (the same functions
of :mod:`preservation.audit`). A copy that fails is reported and the next one is tried; a copy is
used whole or not at all.
"""

from __future__ import annotations

import functools
import logging
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography import x509

from preservation.audit import (
    add_location_problem,
    fetch_verified,
    location_backend,
)
from preservation.catalog import Catalog, FileRecord
from preservation.config import Config
from preservation.errors import PreservationError
from preservation.findings import Report
from preservation.paths import path_problems
from preservation.progress import Progress, no_progress
from preservation.storage import StorageBackend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifiedAip:
    """Every file of one AIP bag, read from ``location`` and proved intact, under ``root``."""

    aip_id: str
    location: str
    root: Path  # the bag: root / "data" is the AIP package directory
    files: tuple[FileRecord, ...]
    rejected_copies: tuple[Report, ...]


def read_verified(config: Config, catalog: Catalog, aip_id: str, staging: Path,
                  trust_anchors: Sequence[x509.Certificate], *,
                  progress: Progress = no_progress
                  ) -> tuple[VerifiedAip | None, list[Report]]:
    """Copy the AIP from the first copy that verifies into a new folder under ``staging``.

    Returns the verified AIP (None when no copy verifies) and the report of every copy that
    failed, in the order they were tried.
    """
    files = tuple(catalog.files(aip_id))
    for record in files:
        if path_problems(record.path) or PurePosixPath(record.path).is_absolute():
            raise PreservationError(f"unsafe bag path recorded for AIP {aip_id}: "
                                    f"{record.path!r}", code="EXPORT-UNSAFE-PATH",
                                    location=record.path)
    rejected: list[Report] = []
    backends: dict[str, StorageBackend] = {}
    unreachable: dict[str, str] = {}
    try:
        for copy in sorted(catalog.copies(aip_id), key=lambda c: c.status != "ok"):
            backend = location_backend(config, copy, backends, unreachable)
            if backend is None:
                report = Report(subject=f"{aip_id}@{copy.location}", kind="export-source")
                add_location_problem(report, copy, unreachable)
                rejected.append(report)
                continue
            root = staging / f"aip-{uuid.uuid4().hex[:8]}"
            root.mkdir(parents=True)
            report = fetch_verified(
                aip_id, copy.location, backend, files, files, kind="export-source",
                target=functools.partial(_bag_file, root),
                trust_anchors=trust_anchors, progress=progress)
            if report.valid:
                return VerifiedAip(aip_id, copy.location, root, files, tuple(rejected)), rejected
            log.warning("copy %s of AIP %s failed verification: %s", copy.location, aip_id,
                        ", ".join(sorted(report.codes())))
            rejected.append(report)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        for backend in backends.values():
            backend.close()
    return None, rejected


def _bag_file(root: Path, record: FileRecord) -> Path:
    """Where a bag file is written in the folder the AIP is read into."""
    return root.joinpath(*PurePosixPath(record.path).parts)
