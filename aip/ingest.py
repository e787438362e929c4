"""Ingest: a producer's transfer in, a signed AIP on every configured location, verified, then
registered in the catalog.

Order of work, so that nothing is lost and nothing half-done is left behind:

0. check what can be checked without reading the transfer: the version to supplement or replace
   (it must exist and be the latest), the fonds named by ``--fonds`` or by that version;
1. validate the SIP with :func:`sip.validate.open_sip` (every byte read once for its digests;
   formats identified, content checked); a rejected SIP stops here, with its report saved under
   ``<home>/reports``; then the fonds it belongs to must be registered;
2. build METS/PREMIS/tag files in a private, locked staging folder, sign;
3. for each location: put every object (the backend checks each SHA-256 while streaming), make
   them durable (``sync()``: a no-op unless the location defers durability), then read every
   object back and verify it; objects of the previous version reused by reference are not put,
   only checked;
4. only then register the AIP, its files, copies and events in one catalog transaction, and
   write a replication event per copy beside the AIP on storage.

Any failure before (4) deletes what this attempt wrote and leaves the catalog untouched. If the
process is killed, the staging folder (with its lock released and its journal) remains: the next
ingest of the same transfer resumes it (same AIP UUID, objects already stored and intact are not
sent again); any other ingest removes it and its orphaned objects (:mod:`aip.ingest_staging`).
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aip.builder import Actors, BuiltAip, PreviousVersion, StagedObject, build_aip
from aip.ingest_fonds import chosen_fonds, registered_fonds
from aip.ingest_records import catalog_records, replication_event
from aip.ingest_staging import (
    Claims,
    ResumingBackend,
    Staging,
    discard,
    fingerprint,
    locked_folder,
    source_path_identity,
    sweep_interrupted,
)
from aip.versions import previous_version, version_request
from preservation.catalog import Catalog, EventRecord
from preservation.config import Config, StorageConfig
from preservation.errors import (
    ChecksumMismatchError,
    NotFoundError,
    ObjectMissingError,
    RejectedError,
    StorageError,
)
from preservation.events import AgentRecord, publish_event, standard_agents
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


@dataclass(frozen=True)
class CopyResult:
    location: str
    url: str
    objects: int  # objects written (or found intact, on resume) under the AIP's own prefix
    bytes: int
    verified_at: str
    reused: int = 0  # objects of an earlier version referenced, checked, not stored again


@dataclass(frozen=True)
class IngestResult:
    aip_id: str
    label: str
    file_count: int
    content_size: int
    copies: tuple[CopyResult, ...]
    report: Report
    report_path: Path
    fonds_code: str = ""
    package_id: str = ""
    version: int = 1
    previous_id: str | None = None
    record_status: str = "NEW"
    resumed: bool = False  # an interrupted ingest of the same transfer was continued


@dataclass(frozen=True)
class _Request:
    """What was asked, besides the source: resolved before anything is read."""

    label: str | None
    fonds: str | None
    previous: PreviousVersion | None
    previous_fonds: str
    archivist: str | None


def ingest(
    config: Config,
    source: Path,
    *,
    identity: SigningIdentity,
    catalog: Catalog,
    label: str | None = None,
    fonds: str | None = None,
    supplement: str | None = None,
    replace: str | None = None,
    archivist: str | None = None,
    progress: Progress = no_progress,
    clock: Callable[[], datetime] = now_local,
    options: ValidationOptions | None = None,
) -> IngestResult:
    """Ingest the SIP at ``source`` (folder or ZIP: BagIt, E-ARK or TT05).

    The SIP is validated exactly as ``preservation sip validate`` does; an invalid one raises
    :class:`RejectedError` with the report (also saved under ``<home>/reports``). ``fonds``,
    ``supplement``/``replace`` (the UUID of the latest version of a package) and an unknown or
    unregistered fonds are refused with an ``INGEST-*`` :class:`RejectedError` before anything
    is written. ``archivist`` names the person responsible (default: the OS user).
    """
    if not source.exists():
        raise NotFoundError(f"no transfer at {source}", location=str(source))
    source = source.absolute()
    request = version_request(supplement, replace)
    previous, previous_fonds = (previous_version(catalog, request) if request is not None
                                else (None, ""))
    if fonds or previous_fonds:  # known now: refuse before reading a byte
        registered_fonds(catalog, chosen_fonds(config, explicit=fonds, previous=previous_fonds))
    asked = _Request(label, fonds, previous, previous_fonds, archivist)
    where = source_path_identity(source)
    claims = sweep_interrupted(config, catalog, keep=source)
    options = options or ValidationOptions.from_config(config.validation)
    try:
        with locked_folder(config.work_dir / "sip") as (_, work):
            try:
                return _validated_and_stored(config, source, where, work, options, identity,
                                             catalog, asked, claims, progress, clock)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        claims.release()


def _validated_and_stored(
    config: Config, source: Path, where: dict[str, Any], work: Path, options: ValidationOptions,
    identity: SigningIdentity, catalog: Catalog, asked: _Request, claims: Claims,
    progress: Progress, clock: Callable[[], datetime],
) -> IngestResult:
    """Validate (ZIPs extracted under ``work``), build, replicate and register — or leave no
    trace: a failure after validation removes every object written and the staging folder."""
    with open_sip(source, work, options, progress=progress) as submission:
        if not submission.valid:
            report_path = save_report(config, submission.report, source, clock())
            raise RejectedError(
                f"{source} was rejected: {len(submission.report.errors)} error(s); "
                f"report: {report_path}", submission.report)
        fonds_code = registered_fonds(catalog, chosen_fonds(
            config, explicit=asked.fonds, previous=asked.previous_fonds, submission=submission))
        report_path = save_report(config, submission.report, source, clock())
        previous = asked.previous
        parameters = {"label": asked.label or "", "fonds": fonds_code,
                      "archivist": asked.archivist or "", "kind": submission.kind_label,
                      "mode": previous.mode if previous else "",
                      "previous": previous.uuid if previous else ""}
        staging = claims.take(where, fingerprint(submission, parameters),
                              config.work_dir / "ingest")
        try:
            built, copies = _built_and_stored(config, submission, staging, identity, catalog,
                                              asked, fonds_code, progress, clock)
        finally:
            staging.release()
    desc = built.description
    return IngestResult(
        aip_id=built.uuid, label=built.label,
        file_count=sum(1 for o in built.objects if o.role == "content"),
        content_size=built.content_size, copies=copies, report=submission.report,
        report_path=report_path, fonds_code=desc.fonds_code, package_id=desc.package_uuid,
        version=desc.version, previous_id=desc.previous_uuid, record_status=desc.record_status,
        resumed=staging.resumed)


def _built_and_stored(
    config: Config, submission: Submission, staging: Staging, identity: SigningIdentity,
    catalog: Catalog, asked: _Request, fonds_code: str, progress: Progress,
    clock: Callable[[], datetime],
) -> tuple[BuiltAip, tuple[CopyResult, ...]]:
    backends = [open_location(s.url, **s.options) for s in config.storage]
    try:
        try:
            built = _build(config, submission, staging, identity, asked, fonds_code, clock)
            copies = tuple(
                replicate(built, loc, ResumingBackend(backend, staging, loc.name), progress,
                          clock)
                for loc, backend in zip(config.storage, backends, strict=True))
            agents = standard_agents(config.name, asked.archivist)
            replications = [replication_event(built.uuid, c, agents) for c in copies]
            # the history beside the AIP is written before the catalog row: a catalog rebuilt
            # from storage registers only AIPs whose replication is recorded there
            _publish_replications(backends, built.uuid, replications, agents)
            catalog.register_aip(*catalog_records(config, built, copies, replications))
        except BaseException:
            if catalog.aip(staging.uuid) is None:  # interrupted after the commit: keep it all
                _abandon(staging, backends)  # its objects, then its staging folder
            raise
        staging.remove()
    finally:
        for backend in backends:
            backend.close()
    return built, copies


def _publish_replications(backends: list[StorageBackend], aip_id: str,
                          events: list[EventRecord], agents: tuple[AgentRecord, ...]) -> None:
    """Write each replication event beside the AIP on every location; a location that fails is
    logged (the others hold the event), but an event written nowhere fails the ingest."""
    for event in events:
        failed = publish_event(backends, event, agents)
        if len(failed) == len(backends):
            raise StorageError(f"the replication event of {aip_id} could not be written on any "
                               f"location: {', '.join(failed)}", location=aip_id)
        if failed:
            log.warning("replication event of %s not written beside the AIP on: %s", aip_id,
                        ", ".join(failed))


def _build(config: Config, submission: Submission, staging: Staging, identity: SigningIdentity,
           asked: _Request, fonds_code: str, clock: Callable[[], datetime]) -> BuiltAip:
    return build_aip(submission, aip_uuid=staging.uuid, staging=staging.fresh_bag(),
                     identity=identity, actors=Actors.current(config.name), created=clock(),
                     label=asked.label, tsa_url=config.signing.tsa_url, fonds_code=fonds_code,
                     archive_code=config.archive_code, previous=asked.previous,
                     archivist=asked.archivist or "")


def stored_key(obj: StagedObject) -> str | None:
    """The object key of an earlier version that holds this object's bytes (None: our own)."""
    return obj.stored_key or None


def replicate(built: BuiltAip, loc: StorageConfig, backend: ResumingBackend, progress: Progress,
              clock: Callable[[], datetime]) -> CopyResult:
    """Write one complete copy, make it durable, then read all of it back and verify it.

    ``backend.sync()`` comes before the read-back: a location that defers durability (file://
    ``durability="deferred"``) flushes everything put here, and a failure to do so fails the
    ingest like any other storage error; a location whose puts are durable does nothing.
    """
    store_copy(built, backend, loc.name, progress)
    backend.sync()
    verify_copy(built, backend, loc.name, progress)
    own = [o for o in built.objects if stored_key(o) is None]
    return CopyResult(location=loc.name, url=backend.describe(), objects=len(own),
                      bytes=sum(o.size for o in own), verified_at=iso(clock()),
                      reused=len(built.objects) - len(own))


def store_copy(built: BuiltAip, backend: StorageBackend, name: str, progress: Progress) -> None:
    """Put every object; the signature goes last, so a copy with a signature is complete.

    Objects reused from an earlier version are not put: they must already be there (checked
    first, so that a missing one fails the ingest before anything is uploaded).
    """
    own = [o for o in built.objects if stored_key(o) is None]
    for obj in built.objects:
        key = stored_key(obj)
        if key is not None:
            _check_reused(backend, name, key, obj, read=False)
    total = sum(o.size for o in own)

    def put(obj: StagedObject) -> None:
        if obj.source is None:
            raise ValueError(f"{obj.bag_path} has neither bytes to store nor a stored key")
        with obj.source.open("rb") as stream:
            backend.put(object_key(built.uuid, obj.bag_path), stream, size=obj.size,
                        sha256=obj.sha256)
        progress(f"store {name}", obj.size, total)

    *body, signature = own
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, body))
    put(signature)


def verify_copy(built: BuiltAip, backend: ResumingBackend, name: str, progress: Progress
                ) -> None:
    """Read every object of a fresh copy back; any difference fails the ingest."""
    total = sum(o.size for o in built.objects)
    read_back = backend.read_back

    def check(obj: StagedObject) -> None:
        reused = stored_key(obj)
        if reused is not None:
            _check_reused(backend, name, reused, obj, read=True)
            progress(f"verify {name}", obj.size, total)
            return
        key = object_key(built.uuid, obj.bag_path)
        if key not in read_back:  # else: read and checked moments ago, when it was kept
            with backend.open(key) as stream:
                digest, size = sha256_stream(stream)
            if (digest, size) != (obj.sha256, obj.size):
                raise ChecksumMismatchError(
                    f"copy {name}: {obj.bag_path} read back as {size} bytes sha256 {digest}, "
                    f"expected {obj.size} bytes sha256 {obj.sha256}", location=f"{name}:{key}")
        backend.verified(key, obj.size, obj.sha256)
        progress(f"verify {name}", obj.size, total)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(check, built.objects))


def _check_reused(backend: StorageBackend, name: str, key: str, obj: StagedObject, *,
                  read: bool) -> None:
    """An object of an earlier version must be on this location with the right size and
    SHA-256: HEAD when the location records the SHA-256, else (``read``) its bytes."""
    missing = StorageError(
        f"copy {name}: {key}, reused from the previous version, is missing",
        code="INGEST-REUSED-OBJECT-MISSING", location=f"{name}:{key}")
    info = backend.head(key)
    if info is None:
        raise missing
    found: tuple[str | None, int] = (info.sha256, info.size)
    if info.sha256 is None and read:
        try:
            with backend.open(key) as stream:
                found = sha256_stream(stream)
        except ObjectMissingError:
            raise missing from None
    if found[1] != obj.size or (found[0] is not None and found[0] != obj.sha256):
        raise ChecksumMismatchError(
            f"copy {name}: {key}, reused from the previous version, has {found[1]} bytes "
            f"sha256 {found[0]}, expected {obj.size} bytes sha256 {obj.sha256}",
            code="INGEST-REUSED-OBJECT-CHANGED", location=f"{name}:{key}")


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
    """Remove what every ingest killed mid-way left behind: staging and unregistered objects.

    A staging folder whose lock is held belongs to a running ingest and is left alone. Returns
    the UUIDs whose objects were removed. (``ingest`` itself keeps the folders of the transfer it
    is about to ingest, to resume them.)
    """
    return sweep_interrupted(config, catalog).removed


def _abandon(staging: Staging, backends: list[StorageBackend]) -> None:
    """Undo a failed ingest: its objects on every location, then its staging folder. Nothing
    goes into the catalog (the AIP was never registered there); the deletions are logged."""
    discard(staging.uuid, backends)
    staging.remove()
