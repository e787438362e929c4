"""Access copies: the files of an AIP, read from a copy that verifies, with a METS describing them.

The DIP is assembled in a hidden folder beside the output and renamed into place only when every
file was read from one copy whose bytes, manifests and signature all verify; a copy that fails is
reported and the next one is tried. Each byte is read once: hashed while it is written out.
An object a version shares with an earlier one is read from where it is stored (``stored_key``).
Every access copy made is a PREMIS ``dissemination`` event, in the catalog and as a write-once
document beside the AIP on every reachable location (:mod:`preservation.events`).
"""

from __future__ import annotations

import functools
import logging
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from cryptography import x509

from dip.mets import DipFile, dip_mets_bytes
from preservation.audit import (
    add_location_problem,
    fetch_verified,
    location_backend,
    open_all_locations,
)
from preservation.catalog import AipRecord, Catalog, FileRecord
from preservation.config import Config
from preservation.errors import NotFoundError, PreservationError, UsageError
from preservation.events import new_event, record_event, standard_agents
from preservation.findings import Report
from preservation.fsync import fsync_tree
from preservation.manifest import MANIFEST, SIGNATURE, TAGMANIFEST
from preservation.paths import path_problems
from preservation.progress import Progress, no_progress
from preservation.storage import StorageBackend
from preservation.timeutil import now_local

log = logging.getLogger(__name__)
PREMIS_PATH = "data/metadata/preservation/PREMIS.xml"
REP_PREMIS = "representations/rep1/metadata/preservation/PREMIS_rep1.xml"
REP_PREMIS_PATH = "data/" + REP_PREMIS
CONTENT_DIR = "representations/rep1/data"


class NoIntactCopyError(PreservationError):
    """Every copy of the AIP failed verification; ``reports`` says why, copy by copy."""

    code = "DIP-NO-INTACT-COPY"

    def __init__(self, message: str, reports: Sequence[Report]):
        super().__init__(message)
        self.reports = list(reports)


@dataclass(frozen=True)
class DipResult:
    aip_id: str
    dip_id: str
    out_dir: Path
    location: str
    files: tuple[DipFile, ...]
    rejected_copies: tuple[Report, ...]
    #: locations the dissemination event could not be written to (it is in the catalog)
    event_not_written: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def create_dip(config: Config, catalog: Catalog, aip_id: str, out_dir: Path,
               trust_anchors: Sequence[x509.Certificate], *, progress: Progress = no_progress,
               clock: Callable[[], datetime] = now_local,
               archivist: str | None = None) -> DipResult:
    """Write the AIP's content files under their original names, with METS and PREMIS.

    The copy is flushed to disk before its ``dissemination`` event is recorded; ``archivist``
    names the person responsible in that event (None: the operating-system user)."""
    aip = catalog.aip(aip_id)
    if aip is None:
        raise NotFoundError(f"no AIP {aip_id} in the catalog", code="DIP-UNKNOWN-AIP")
    out_dir = out_dir.absolute()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{out_dir} exists and is not an empty folder", code="DIP-OUTPUT-EXISTS",
                         location=str(out_dir))
    files = catalog.files(aip_id)
    wanted = [f for f in files if f.role == "content" or f.path in (PREMIS_PATH, REP_PREMIS_PATH)
              or f.path in (MANIFEST, TAGMANIFEST, SIGNATURE)]
    for f in wanted:
        if f.role == "content" and (f.original_name is None or path_problems(f.original_name)):
            raise PreservationError(f"unsafe original name recorded for {f.path}",
                                    code="DIP-UNSAFE-NAME", location=f.path)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    backends: dict[str, StorageBackend] = {}
    unreachable: dict[str, str] = {}
    rejected: list[Report] = []
    try:
        for copy in sorted(catalog.copies(aip_id), key=lambda c: c.status != "ok"):
            backend = location_backend(config, copy, backends, unreachable)
            if backend is None:
                report = Report(subject=f"{aip_id}@{copy.location}", kind="dip-source")
                add_location_problem(report, copy, unreachable)
                rejected.append(report)
                continue
            staging = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
            staging.mkdir()
            try:
                report = fetch_verified(
                    aip_id, copy.location, backend, files, wanted, kind="dip-source",
                    target=functools.partial(_target, staging),
                    trust_anchors=trust_anchors, progress=progress)
                if not report.valid:
                    rejected.append(report)
                    continue
                dip_id, dip_files = _finish(aip, wanted, staging, clock())
                if out_dir.exists():
                    out_dir.rmdir()
                staging.rename(out_dir)
                fsync_tree(out_dir)  # before the event that says it was handed out
            finally:
                if staging.exists():
                    shutil.rmtree(staging)
            result = DipResult(aip_id, dip_id, out_dir, copy.location, dip_files,
                               tuple(rejected))
            failed = _record(config, catalog, result, clock(), backends, unreachable,
                             archivist)
            return replace(result, event_not_written=tuple(failed))
    finally:
        for b in backends.values():
            b.close()
    raise NoIntactCopyError(f"no copy of AIP {aip_id} verifies; nothing was written", rejected)


def _target(staging: Path, record: FileRecord) -> Path | None:
    if record.role == "content":
        assert record.original_name is not None
        return staging.joinpath(CONTENT_DIR, *PurePosixPath(record.original_name).parts)
    if record.path == PREMIS_PATH:
        return staging / "metadata" / "preservation" / "PREMIS.xml"
    if record.path == REP_PREMIS_PATH:
        return staging.joinpath(*REP_PREMIS.split("/"))
    return None


def _finish(aip: AipRecord, wanted: Sequence[FileRecord], staging: Path, when: datetime
            ) -> tuple[str, tuple[DipFile, ...]]:
    dip_id = str(uuid.uuid4())
    dip_files = tuple(
        DipFile(path=f"{CONTENT_DIR}/{f.original_name}", size=f.size, sha256=f.sha256,
                puid=f.puid, format_name=f.format_name)
        for f in wanted if f.role == "content")
    premis = next(f for f in wanted if f.path == PREMIS_PATH)
    premis_file = DipFile(path="metadata/preservation/PREMIS.xml", size=premis.size,
                          sha256=premis.sha256)
    rep = next((f for f in wanted if f.path == REP_PREMIS_PATH), None)
    rep_premis = DipFile(REP_PREMIS, rep.size, rep.sha256) if rep is not None else None
    (staging / "METS.xml").write_bytes(
        dip_mets_bytes(dip_id=dip_id, aip_id=aip.id, label=aip.label, created=when,
                       organisation=aip.organisation, files=dip_files, premis=premis_file,
                       representation_premis=rep_premis))
    return dip_id, dip_files


def _record(config: Config, catalog: Catalog, result: DipResult, when: datetime,
            backends: dict[str, StorageBackend], unreachable: dict[str, str],
            archivist: str | None) -> list[str]:
    """The dissemination event beside the AIP (every reachable location) and in the catalog;
    returns the locations it could not be written to."""
    agents = standard_agents(config.name, archivist)
    event = new_event(
        result.aip_id, "dissemination", when, "success",
        detail=f"access copy (DIP {result.dip_id}) of {len(result.files)} files, "
               f"{result.size} bytes, read from copy {result.location}",
        outcome_detail=str(result.out_dir), location=result.location, agents=agents)
    reachable = open_all_locations(config, backends, unreachable)
    return record_event(catalog, reachable, unreachable, event, agents)
