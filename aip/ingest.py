"""Ingest: a producer's transfer in, a signed AIP on every configured location, verified, then
registered in the catalog.

Order of work, so that nothing is lost and nothing half-done is left behind:

1. validate the SIP with :func:`sip.validate.open_sip` (every byte read once for its digests;
   formats identified, content checked); a rejected SIP stops here, with its report saved under
   ``<home>/reports``;
2. build METS/PREMIS/tag files in a private staging folder, sign;
3. for each location: put every object (the backend checks each SHA-256 while streaming), then
   read every object back and verify it;
4. only then register the AIP, its files, copies and events in one catalog transaction.

Any failure before (4) deletes what this attempt wrote and leaves the catalog untouched. If the
process is killed, the staging folder (with its lock released) remains; the next ingest finds it,
removes the orphaned objects from every location and starts clean.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aip.builder import Actors, BuiltAip, StagedObject, build_aip
from preservation import SOFTWARE_NAME, __version__
from preservation.catalog import AipRecord, Catalog, CopyRecord, EventRecord, FileRecord
from preservation.config import Config, StorageConfig
from preservation.errors import (
    ChecksumMismatchError,
    DeleteRefusedError,
    NotFoundError,
    RejectedError,
    StorageError,
)
from preservation.findings import Report
from preservation.hashing import sha256_stream
from preservation.manifest import object_key
from preservation.progress import Progress, no_progress
from preservation.signing import SigningIdentity
from preservation.storage import StorageBackend, open_location
from preservation.timeutil import iso, now_local
from sip.submission import Submission
from sip.validate import ValidationOptions, open_sip

log = logging.getLogger(__name__)
WORKERS = 4
LOCK_NAME = ".lock"
#: seconds after which a staging folder without a lock file is taken as abandoned
ABANDONED_AFTER = 60.0


@dataclass(frozen=True)
class CopyResult:
    location: str
    url: str
    objects: int
    bytes: int
    verified_at: str


@dataclass(frozen=True)
class IngestResult:
    aip_id: str
    label: str
    file_count: int
    content_size: int
    copies: tuple[CopyResult, ...]
    report: Report
    report_path: Path


def ingest(
    config: Config,
    source: Path,
    *,
    identity: SigningIdentity,
    catalog: Catalog,
    label: str | None = None,
    progress: Progress = no_progress,
    clock: Callable[[], datetime] = now_local,
    options: ValidationOptions | None = None,
) -> IngestResult:
    """Ingest the SIP at ``source`` (folder or ZIP: BagIt, E-ARK or TT05).

    The SIP is validated exactly as ``preservation sip validate`` does; an invalid one raises
    :class:`RejectedError` with the report (also saved under ``<home>/reports``).
    """
    if not source.exists():
        raise NotFoundError(f"no transfer at {source}", location=str(source))
    recover_interrupted(config, catalog)
    options = options or ValidationOptions.from_config(config.validation)

    with _new_staging(config.work_dir / "sip") as (_, work):
        try:
            built, copies, submission, report_path = _validated_and_stored(
                config, source, work, options, identity, catalog, label, progress, clock)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return IngestResult(aip_id=built.uuid, label=built.label,
                        file_count=sum(1 for o in built.objects if o.role == "content"),
                        content_size=built.content_size, copies=copies,
                        report=submission.report, report_path=report_path)


def _validated_and_stored(
    config: Config, source: Path, work: Path, options: ValidationOptions,
    identity: SigningIdentity, catalog: Catalog, label: str | None, progress: Progress,
    clock: Callable[[], datetime],
) -> tuple[BuiltAip, tuple[CopyResult, ...], Submission, Path]:
    """Validate (ZIPs extracted under ``work``), build, replicate and register — or leave no
    trace: a failure after validation removes every object written and the staging folder."""
    with open_sip(source, work, options, progress=progress) as submission:
        report_path = save_report(config, submission.report, source, clock())
        if not submission.valid:
            raise RejectedError(
                f"{source} was rejected: {len(submission.report.errors)} error(s); "
                f"report: {report_path}", submission.report)
        with _new_staging(config.work_dir / "ingest") as (aip_uuid, staging):
            backends = [open_location(s.url, **s.options) for s in config.storage]
            built: BuiltAip | None = None
            try:
                built = build_aip(submission, aip_uuid=aip_uuid, staging=staging,
                                  identity=identity, actors=Actors.current(config.name),
                                  created=clock(), label=label,
                                  tsa_url=config.signing.tsa_url)
                copies = tuple(
                    replicate(built, loc, backend, progress, clock)
                    for loc, backend in zip(config.storage, backends, strict=True))
                catalog.register_aip(*_records(config, built, copies))
            except BaseException:
                if built is not None:
                    _abandon(built, backends)  # its objects, then its staging folder
                else:
                    shutil.rmtree(staging, ignore_errors=True)
                raise
            finally:
                for backend in backends:
                    backend.close()
        shutil.rmtree(built.staging, ignore_errors=True)
    return built, copies, submission, report_path


def replicate(built: BuiltAip, loc: StorageConfig, backend: StorageBackend, progress: Progress,
              clock: Callable[[], datetime]) -> CopyResult:
    """Write one complete copy, then read all of it back and verify it."""
    store_copy(built, backend, loc.name, progress)
    verify_copy(built, backend, loc.name, progress)
    return CopyResult(location=loc.name, url=backend.describe(), objects=len(built.objects),
                      bytes=sum(o.size for o in built.objects), verified_at=iso(clock()))


def store_copy(built: BuiltAip, backend: StorageBackend, name: str, progress: Progress) -> None:
    """Put every object; the signature goes last, so a copy with a signature is complete."""
    total = sum(o.size for o in built.objects)

    def put(obj: StagedObject) -> None:
        with obj.source.open("rb") as stream:
            backend.put(object_key(built.uuid, obj.bag_path), stream, size=obj.size,
                        sha256=obj.sha256)
        progress(f"store {name}", obj.size, total)

    *body, signature = built.objects
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, body))
    put(signature)


def verify_copy(built: BuiltAip, backend: StorageBackend, name: str, progress: Progress) -> None:
    """Read every object of a fresh copy back; any difference fails the ingest."""
    total = sum(o.size for o in built.objects)

    def check(obj: StagedObject) -> None:
        key = object_key(built.uuid, obj.bag_path)
        with backend.open(key) as stream:
            digest, size = sha256_stream(stream)
        if (digest, size) != (obj.sha256, obj.size):
            raise ChecksumMismatchError(
                f"copy {name}: {obj.bag_path} read back as {size} bytes sha256 {digest}, "
                f"expected {obj.size} bytes sha256 {obj.sha256}", location=f"{name}:{key}")
        progress(f"verify {name}", obj.size, total)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(check, built.objects))


def save_report(config: Config, report: Report, source: Path, when: datetime) -> Path:
    """Keep every validation report (accepted or rejected) under ``<home>/reports``."""
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = when.strftime("%Y%m%dT%H%M%S")
    path = config.reports_dir / f"sip-{stamp}-{uuid.uuid4().hex[:8]}.json"
    data = {"source": str(source), "checked_at": iso(when), **report.to_dict("en"),
            "findings_vi": [f.message("vi") for f in report.findings]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def recover_interrupted(config: Config, catalog: Catalog) -> list[str]:
    """Remove what an ingest killed mid-way left behind: staging and unregistered objects.

    A staging folder whose lock is held belongs to a running ingest and is left alone. Private
    folders a killed ingest extracted a ZIP into (``work/sip/<uuid>``) are removed too.
    """
    _sweep_extractions(config.work_dir / "sip")
    root = config.work_dir / "ingest"
    if not root.is_dir():
        return []
    recovered = []
    for staging in sorted(p for p in root.iterdir() if p.is_dir()):
        with _try_lock(staging) as abandoned:
            if not abandoned:
                continue
            try:
                aip_id: str | None = str(uuid.UUID(staging.name))
            except ValueError:
                aip_id = None  # killed before it was named: nothing was stored
            if aip_id is not None and catalog.aip(aip_id) is None:
                backends = [open_location(s.url, **s.options) for s in config.storage]
                try:
                    _discard(aip_id, backends)
                finally:
                    for b in backends:
                        b.close()
                log.warning("removed objects of interrupted ingest %s", aip_id)
                recovered.append(aip_id)
            shutil.rmtree(staging, ignore_errors=True)
    return recovered


def _sweep_extractions(root: Path) -> None:
    """Remove the validation work folders of ingests that are no longer running."""
    if not root.is_dir():
        return
    for work in sorted(p for p in root.iterdir() if p.is_dir()):
        with _try_lock(work) as abandoned:
            if abandoned:
                shutil.rmtree(work, ignore_errors=True)
                log.warning("removed the work folder of an interrupted ingest: %s", work.name)


def _abandon(built: BuiltAip, backends: list[StorageBackend]) -> None:
    """Undo a failed ingest: its objects on every location, then its staging folder."""
    _discard(built.uuid, backends)
    shutil.rmtree(built.staging, ignore_errors=True)


def _discard(aip_id: str, backends: list[StorageBackend]) -> None:
    """Delete every object under the AIP's prefix; report objects a location refuses to drop."""
    refused = []
    for backend in backends:
        try:
            for info in list(backend.list(f"{aip_id}/")):
                try:
                    backend.delete(info.key)
                except DeleteRefusedError:
                    refused.append(f"{backend.describe()}:{info.key}")
        except StorageError as e:
            log.error("could not clean up %s on %s: %s", aip_id, backend.describe(), e)
    if refused:
        log.error("objects of the failed ingest %s are locked and stay (unregistered): %s",
                  aip_id, ", ".join(refused[:10]))


@contextlib.contextmanager
def _new_staging(root: Path) -> Iterator[tuple[str, Path]]:
    """A new staging folder ``root/<uuid>``, locked for as long as the ingest runs.

    It is made and locked under a temporary name, then renamed, so that no other process can
    ever see it unlocked under its AIP's name.
    """
    root.mkdir(parents=True, exist_ok=True)
    aip_uuid = str(uuid.uuid4())
    pending = root / f".new-{aip_uuid}"
    pending.mkdir()
    fd = os.open(pending / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        staging = root / aip_uuid
        pending.rename(staging)
        yield aip_uuid, staging
    finally:
        os.close(fd)


@contextlib.contextmanager
def _try_lock(staging: Path) -> Iterator[bool]:
    """Yield True (holding the lock) when no running ingest owns ``staging``."""
    lock = staging / LOCK_NAME
    if not lock.exists():
        # between mkdir and the lock of a live ingest (microseconds), or killed there: only a
        # folder that has stayed so for a while is taken as abandoned
        yield time.time() - staging.stat().st_mtime > ABANDONED_AFTER
        return
    fd = os.open(lock, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _records(config: Config, built: BuiltAip, copies: tuple[CopyResult, ...]
             ) -> tuple[AipRecord, list[FileRecord], list[CopyRecord], list[EventRecord]]:
    aid = built.uuid
    agent = f"{SOFTWARE_NAME} {__version__}"
    aip = AipRecord(
        id=aid, version=1, label=built.label, created=iso(built.created),
        source_kind=built.description.source_kind,
        source_name=built.source_name,
        file_count=sum(1 for o in built.objects if o.role == "content"),
        total_size=built.content_size, tagmanifest_sha256=built.tagmanifest_sha256,
        signer=built.signer, organisation=config.name)
    files = [FileRecord(aid, o.bag_path, o.role, o.size, o.sha256, o.original_name,
                        o.format.puid if o.format else None,
                        o.format.name if o.format else None) for o in built.objects]
    copy_records = [CopyRecord(aid, c.location, c.url, c.verified_at, "ok", c.verified_at)
                    for c in copies]
    events = [EventRecord(e.uuid, aid, e.type, iso(e.datetime), e.outcome, e.detail,
                          e.outcome_detail, None, agent) for e in built.description.events]
    timestamped = (f"; RFC 3161 timestamp from {config.signing.tsa_url}"
                   if config.signing.tsa_url else "")
    events.append(EventRecord(str(uuid.uuid4()), aid, "digital signature generation",
                              iso(built.created), "success",
                              "detached CMS (RFC 5652) signature over tagmanifest-sha256.txt"
                              + timestamped, built.signer, None, agent))
    events.extend(
        EventRecord(str(uuid.uuid4()), aid, "replication", c.verified_at, "success",
                    f"complete copy written and read back: {c.objects} objects, {c.bytes} bytes",
                    c.url, c.location, agent) for c in copies)
    return aip, files, copy_records, events

