"""Ingest: a producer's transfer in, a signed AIP on every configured location, verified, then
registered in the catalog.

Order of work, so that nothing is lost and nothing half-done is left behind:

0. check what can be checked without reading the transfer: the version to supplement or replace
   (it must exist and be the latest), the fonds named by ``--fonds`` or by that version;
1. validate the SIP with :func:`sip.validate.open_sip` (every byte read once for its digests;
   formats identified, content checked); a rejected SIP stops here, with its report saved under
   ``<home>/reports``; then the fonds it belongs to must be registered. Meanwhile a transfer
   that is a folder is copied to the private incoming area of each filesystem location that
   asks for it (``early_copies = true``, :mod:`aip.ingest_early`), never under an object
   key, removed whole if rejected;
2. build METS/PREMIS/tag files in a private, locked staging folder, sign;
3. objects of the previous version reused by reference are not put, only checked on every
   location (and copied in, verified, where a location added since lacks them); then all
   locations at once: put every object in a write session (no flush per object; a payload
   file copied early is published from the incoming area by a hard link instead), make the
   copy durable (``sync()``), then read every object back and verify its SHA-256
   (:mod:`aip.ingest_replicate`);
4. only then register the AIP, its files, copies and events in one catalog transaction, and
   write a replication event per copy beside the AIP on storage.

Any failure before (4) deletes what this attempt wrote and leaves the catalog untouched. If the
process is killed, the staging folder (with its lock released and its journal) remains: the next
ingest of the same transfer resumes it (same AIP UUID, objects already stored and intact are not
sent again); any other ingest removes it and its orphaned objects (:mod:`aip.ingest_staging`).
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aip.builder import Actors, BuiltAip, PreviousVersion, build_aip
from aip.ingest_early import EarlyCopies
from aip.ingest_fonds import chosen_fonds, registered_fonds
from aip.ingest_records import catalog_records, replication_event
from aip.ingest_replicate import CopyResult as CopyResult
from aip.ingest_replicate import replicate_all
from aip.ingest_resuming import ResumingBackend
from aip.ingest_reused import registered_copies
from aip.ingest_staging import (
    Claims,
    Staging,
    discard,
    fingerprint,
    locked_folder,
    source_path_identity,
    sweep_interrupted,
)
from aip.versions import previous_version, refuse_mixed_kinds, version_request
from preservation.catalog import Catalog, EventRecord
from preservation.config import Config
from preservation.errors import NotFoundError, RejectedError, StorageError
from preservation.events import AgentRecord, publish_event, standard_agents
from preservation.findings import Report
from preservation.progress import Progress, no_progress
from preservation.report_json import write_report_file
from preservation.signing import SigningIdentity
from preservation.storage import StorageBackend, open_location
from preservation.timeutil import iso, now_local
from sip.submission import Submission
from sip.validate import ValidationOptions, open_sip

log = logging.getLogger(__name__)
# CopyResult is re-exported (it is part of IngestResult); replicate_all is looked up in this
# module at call time, so patching ``aip.ingest.replicate_all`` takes effect


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
    previous, previous_fonds = (previous_version(catalog, request, config)
                                if request is not None else (None, ""))
    if fonds or previous_fonds:  # known now: refuse before reading a byte
        registered_fonds(catalog, chosen_fonds(config, explicit=fonds, previous=previous_fonds))
    asked = _Request(label, fonds, previous, previous_fonds, archivist)
    where = source_path_identity(source)
    claims = sweep_interrupted(config, catalog, keep=source)
    options = options or ValidationOptions.from_config(config.validation)
    early = EarlyCopies.start(config.storage, source)  # overlaps the validation's CPU work
    try:
        with locked_folder(config.work_dir / "sip") as (_, work):
            try:
                return _validated_and_stored(config, source, where, work, options, identity,
                                             catalog, asked, claims, early, progress, clock)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        early.close()  # what was not published, and every copy of a rejected transfer
        claims.release()


def _validated_and_stored(
    config: Config, source: Path, where: dict[str, Any], work: Path, options: ValidationOptions,
    identity: SigningIdentity, catalog: Catalog, asked: _Request, claims: Claims,
    early: EarlyCopies, progress: Progress, clock: Callable[[], datetime],
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
        refuse_mixed_kinds(asked.previous, submission)
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
                                              asked, fonds_code, early, progress, clock)
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
    catalog: Catalog, asked: _Request, fonds_code: str, early: EarlyCopies,
    progress: Progress, clock: Callable[[], datetime],
) -> tuple[BuiltAip, tuple[CopyResult, ...]]:
    backends = [open_location(s.url, **s.options) for s in config.storage]
    abort = threading.Event()  # the first failure on any location stops them all
    resuming = [ResumingBackend(b, staging, loc.name, abort, early)
                for loc, b in zip(config.storage, backends, strict=True)]
    try:
        try:
            built = _build(config, submission, staging, identity, asked, fonds_code, clock)
            early.stop()  # what is not copied yet is put by the lanes
            copies = replicate_all(built, config.storage, resuming, progress, clock,
                                   registered_copies(catalog, built))
            agents = standard_agents(config.name, asked.archivist)
            replications = [replication_event(built.uuid, c, agents) for c in copies]
            # the history beside the AIP is written before the catalog row: a catalog rebuilt
            # from storage registers only AIPs whose replication is recorded there
            _publish_replications(backends, built.uuid, replications, agents)  # each synced
            catalog.register_aip(*catalog_records(config, built, copies, replications))
        except BaseException:
            if catalog.aip(staging.uuid) is None:  # interrupted after the commit: keep it all
                _abandon(staging, backends)  # its objects, then its staging folder
            raise
        staging.remove()
    finally:
        for lane in resuming:
            lane.close()  # its keys read back, then its location
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


def save_report(config: Config, report: Report, source: Path, when: datetime) -> Path:
    """Keep every validation report (accepted or rejected) under ``<home>/reports``."""
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = when.strftime("%Y%m%dT%H%M%S")
    path = config.reports_dir / f"sip-{stamp}-{uuid.uuid4().hex[:8]}.json"
    write_report_file(path, report, source=source, checked_at=iso(when))  # streamed
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
