"""Ingest: a producer's transfer in, a signed AIP on every configured location, verified, then
registered in the catalog.

Order of work, so that nothing is lost and nothing half-done is left behind:

0. check what can be checked without reading the transfer: the version to supplement or replace
   (it must exist and be the latest), the fonds named by ``--fonds`` or by that version;
1. validate the SIP with :func:`sip.validate.open_sip` (every byte read once for its digests;
   formats identified, content checked); a rejected SIP stops here, with its report saved under
   ``<home>/reports``; then the fonds it belongs to must be registered;
2. build METS/PREMIS/tag files in a private, locked staging folder, sign;
3. objects of the previous version reused by reference are not put, only checked on every
   location (and copied in, verified, where a location added since lacks them); then all
   locations at once: put every object in a write session (the backend checks each SHA-256
   while streaming; no flush per object), make the copy durable (``sync()``), then read every
   object back and verify it;
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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aip.builder import Actors, BuiltAip, PreviousVersion, StagedObject, build_aip
from aip.ingest_fonds import chosen_fonds, registered_fonds
from aip.ingest_parallel import all_or_first_failure, each
from aip.ingest_records import catalog_records, replication_event
from aip.ingest_resuming import ResumingBackend
from aip.ingest_reused import (
    NONE_COPIED,
    CopiedIn,
    bring_reused,
    has_reused,
    registered_copies,
    reused_missing,
    stored_key,
)
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
from preservation.config import Config, StorageConfig
from preservation.errors import (
    ChecksumMismatchError,
    NotFoundError,
    RejectedError,
    StorageError,
)
from preservation.events import AgentRecord, publish_event, standard_agents
from preservation.findings import Report
from preservation.hashing import sha256_stream
from preservation.manifest import object_key
from preservation.progress import Progress, no_progress
from preservation.report_json import write_report_file
from preservation.signing import SigningIdentity
from preservation.storage import StorageBackend, open_location
from preservation.timeutil import iso, now_local
from sip.submission import Submission
from sip.validate import ValidationOptions, open_sip

log = logging.getLogger(__name__)
WORKERS = 4
T = TypeVar("T")


@dataclass(frozen=True)
class CopyResult:
    location: str
    url: str
    objects: int  # objects written (or found intact, on resume) under the AIP's own prefix
    bytes: int
    verified_at: str
    reused: int = 0  # objects of an earlier version referenced, checked, not stored again
    #: objects of an earlier version this location lacked, copied in from another location
    #: (counted in ``objects`` and ``bytes`` too)
    copied_in: int = 0


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
        refuse_mixed_kinds(catalog, asked.previous, submission)
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
    abort = threading.Event()  # the first failure on any location stops them all
    resuming = [ResumingBackend(b, staging, loc.name, abort)
                for loc, b in zip(config.storage, backends, strict=True)]
    try:
        try:
            built = _build(config, submission, staging, identity, asked, fonds_code, clock)
            copies = replicate_all(built, config.storage, resuming, progress, clock,
                                   registered_copies(catalog, built))
            agents = standard_agents(config.name, asked.archivist)
            replications = [replication_event(built.uuid, c, agents) for c in copies]
            # the history beside the AIP is written before the catalog row: a catalog rebuilt
            # from storage registers only AIPs whose replication is recorded there
            _publish_replications(backends, built.uuid, replications, agents)
            for backend in backends:  # the events, on a location configured "deferred"
                backend.sync()
            catalog.register_aip(*catalog_records(config, built, copies, replications))
        except BaseException:
            if catalog.aip(staging.uuid) is None:  # interrupted after the commit: keep it all
                _abandon(staging, backends)  # its objects, then its staging folder
            raise
        staging.remove()
    finally:
        for lane in resuming:
            lane.read_back.close()
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


def replicate_all(built: BuiltAip, locations: Sequence[StorageConfig],
                  backends: Sequence[ResumingBackend], progress: Progress,
                  clock: Callable[[], datetime], registered: Mapping[str, Collection[str]]
                  ) -> tuple[CopyResult, ...]:
    """Write, make durable and verify every location at once; the copies in location order.

    First every object reused from the previous version is checked on every location, and
    copied in where a location added since lacks it (:func:`bring_reused`; ``registered``: the
    locations where each AIP holding reused objects has a registered copy): a missing one fails
    the ingest before anything is uploaded. Then each location runs :func:`replicate` in its
    own lane (``WORKERS`` threads per location; at most ``WORKERS`` locations at a time, so
    that ``WORKERS = 1`` writes one object after the other, location by location). The first
    failure anywhere stops every lane (the backends share one ``abort`` event) and is raised
    once every lane has stopped, so that the caller's cleanup races with no put.
    """
    brought = bring_reused(built, locations, backends, registered, WORKERS)
    own = OwnObjects.of(built.objects)  # the objects put, not reused: a view, never a list
    with ThreadPoolExecutor(min(len(backends), WORKERS), "ingest-lane") as lanes:
        futures = [lanes.submit(replicate, built, own, loc, backend, progress, clock, copied)
                   for loc, backend, copied in zip(locations, backends, brought, strict=True)]
        all_or_first_failure(futures, backends[0].abort)
    return tuple(f.result() for f in futures)


@dataclass(frozen=True)
class OwnObjects:
    """The AIP's own objects (not reused from an earlier version), in ``built.objects`` order:
    a filtered view that every pass (and every location's lane) iterates afresh, so that no
    list of them is ever made; with the counts of :meth:`of`'s one pass over all of them."""

    objects: Iterable[StagedObject]  # every object of the AIP (``built.objects``), re-iterable
    count: int  # the AIP's own objects
    bytes: int  # their size
    every: int  # all objects, reused ones included

    @classmethod
    def of(cls, objects: Iterable[StagedObject]) -> OwnObjects:
        count = size = every = 0
        for obj in objects:
            every += 1
            if stored_key(obj) is None:
                count += 1
                size += obj.size
        return cls(objects, count, size, every)

    def __iter__(self) -> Iterator[StagedObject]:
        return (obj for obj in self.objects if stored_key(obj) is None)


def replicate(built: BuiltAip, own: OwnObjects, loc: StorageConfig,
              backend: ResumingBackend, progress: Progress, clock: Callable[[], datetime],
              copied_in: CopiedIn = NONE_COPIED) -> CopyResult:
    """Write one complete copy, make it durable, then read all of it back and verify it.

    The objects are put in a write session (``durable=False``: no flush per object), and
    ``backend.sync()`` comes before the read-back: it makes the whole copy durable at once
    (file://: one ``syncfs``; S3: nothing to do), and a failure to do so fails the ingest like
    any other storage error. ``copied_in``: the objects of the previous version that this
    location lacked, copied in by :func:`bring_reused`; they count as objects written here.
    ``own``: the AIP's own objects (not reused from an earlier version), in ``built.objects``
    order, with their counts (shared by every location's lane).
    """
    store_copy(built, backend, loc.name, progress, own)
    backend.sync()
    verify_copy(built, backend, loc.name, progress)
    written = own.count + copied_in.objects
    return CopyResult(location=loc.name, url=backend.describe(), objects=written,
                      bytes=own.bytes + copied_in.bytes, verified_at=iso(clock()),
                      reused=own.every - written, copied_in=copied_in.objects)


def store_copy(built: BuiltAip, backend: ResumingBackend, name: str, progress: Progress,
               own: Iterable[StagedObject]) -> None:
    """Put ``own``, every object of the AIP's own (not those reused from an earlier version,
    which :func:`bring_reused` checked), in a write session; the signature goes last, so a copy with
    a signature is complete. The caller syncs the location before it relies on the copy.

    The puts are ``verify_later``: a backend may skip hashing the stream (file://: the kernel
    copies the file, the size is checked) because :func:`verify_copy` reads every object back
    after the sync and compares its SHA-256 with the one validated, and any difference fails
    the ingest, whose cleanup deletes everything under the AIP's prefix. So the AIP is
    registered only if every object on every location has exactly the validated bytes, as when
    each put hashed its stream; S3 servers still check each put's SHA-256 themselves.

    ``own`` is iterated lazily, never copied (an :class:`OwnObjects` knows its size in bytes;
    any other iterable is summed in a pass of its own); the signature is the last object it
    gives."""
    total = own.bytes if isinstance(own, OwnObjects) else sum(o.size for o in own)

    def put(obj: StagedObject) -> None:
        if obj.source is None:
            raise ValueError(f"{obj.bag_path} has neither bytes to store nor a stored key")
        with obj.source.open("rb") as stream:
            backend.put(object_key(built.uuid, obj.bag_path), stream, size=obj.size,
                        sha256=obj.sha256, durable=False, verify_later=True)
        progress(f"store {name}", obj.size, total)

    last: list[StagedObject] = []
    each(backend, put, all_but_last(own, last), WORKERS)
    if not last:
        raise ValueError(f"copy {name}: the AIP {built.uuid} has no object of its own to store")
    each(backend, put, last, WORKERS)


def all_but_last(objects: Iterable[T], last: list[T]) -> Iterator[T]:
    """Every item of ``objects`` but the last, lazily; the last is appended to ``last`` once
    the others are all given (nothing is, for no items)."""
    held: list[T] = []
    for item in objects:
        if held:
            yield held.pop()
        held.append(item)
    last.extend(held)


def verify_copy(built: BuiltAip, backend: ResumingBackend, name: str, progress: Progress
                ) -> None:
    """Read every object of a fresh copy back; any difference fails the ingest."""
    total = sum(o.size for o in built.objects)
    read_back = backend.read_back

    def check(obj: StagedObject) -> None:
        reused = stored_key(obj)
        if reused is not None:
            if not has_reused(backend, name, reused, obj, read=True):
                raise reused_missing(name, reused, "gone since the ingest began")
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

    each(backend, check, built.objects, WORKERS)


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
