"""Fixity audits: re-read every file of every copy and prove the AIP is intact.

For each copy of an AIP the audit streams every object once, compares size and SHA-256 with the
catalog, checks that the copy's own manifests agree with the catalog, verifies the CMS signature
over the tagmanifest against the configured trust anchors, and lists the copy for objects that
should not be there. Every copy check becomes a PREMIS ``fixity check`` event, in the catalog
and as a write-once document beside the AIP on every reachable location
(:mod:`preservation.events`), and every problem a finding that names the copy and the file.

An object a new version shares with an earlier one is stored once, under the earlier version's
key (``FileRecord.stored_key``): it is read from there, and is neither missing from nor
unexpected under this AIP's prefix.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from preservation.catalog import Catalog, CopyRecord, FileRecord
from preservation.config import Config
from preservation.errors import (
    ConfigError,
    NotFoundError,
    ObjectMissingError,
    PreservationError,
    StorageError,
)
from preservation.events import AgentRecord, new_event, record_event, standard_agents
from preservation.findings import Report
from preservation.hashing import CHUNK
from preservation.manifest import MANIFEST, SIGNATURE, TAGMANIFEST, object_key, parse_manifest
from preservation.progress import Progress, no_progress
from preservation.signing import SignatureCheck, verify_detached
from preservation.storage import StorageBackend, open_location
from preservation.timeutil import now_local

log = logging.getLogger(__name__)
WORKERS = 4
_KEEP = {MANIFEST, TAGMANIFEST, SIGNATURE}  # small files whose bytes the audit parses


@dataclass(frozen=True)
class CopyAudit:
    aip_id: str
    location: str
    url: str
    files_checked: int
    bytes_read: int
    report: Report
    signature: SignatureCheck | None

    @property
    def ok(self) -> bool:
        return self.report.valid


@dataclass(frozen=True)
class AipAudit:
    aip_id: str
    copies: tuple[CopyAudit, ...]

    @property
    def ok(self) -> bool:
        return bool(self.copies) and all(c.ok for c in self.copies)


@dataclass(frozen=True)
class ObjectRead:
    record: FileRecord
    sha256: str | None  # None: missing or unreadable
    size: int
    data: bytes | None  # kept for manifests and signature
    error: str | None = None


def audit(config: Config, catalog: Catalog, aip_ids: Sequence[str] | None,
          trust_anchors: Sequence[x509.Certificate], *, progress: Progress = no_progress,
          clock: Callable[[], datetime] = now_local) -> list[AipAudit]:
    """Audit the named AIPs (all when ``aip_ids`` is None), recording an event per copy."""
    ids = list(aip_ids) if aip_ids is not None else catalog.aip_ids()
    for aip_id in ids:
        if catalog.aip(aip_id) is None:
            raise NotFoundError(f"no AIP {aip_id} in the catalog", code="AUDIT-UNKNOWN-AIP")
    backends: dict[str, StorageBackend] = {}
    unreachable: dict[str, str] = {}
    try:
        return [audit_aip(config, catalog, aip_id, trust_anchors, backends, progress, clock,
                          unreachable=unreachable)
                for aip_id in ids]
    finally:
        for backend in backends.values():
            backend.close()


def audit_aip(config: Config, catalog: Catalog, aip_id: str,
              trust_anchors: Sequence[x509.Certificate], backends: dict[str, StorageBackend],
              progress: Progress = no_progress, clock: Callable[[], datetime] = now_local,
              *, unreachable: dict[str, str] | None = None) -> AipAudit:
    """Audit every copy of one AIP. ``backends`` and ``unreachable`` (location name → why it
    cannot be opened) are shared by the AIPs of one run, so each location is opened once."""
    if unreachable is None:
        unreachable = {}
    files = catalog.files(aip_id)
    results = []
    reachable = open_all_locations(config, backends, unreachable)
    agents = standard_agents(config.name)
    for copy in catalog.copies(aip_id):
        backend = location_backend(config, copy, backends, unreachable)
        if backend is None:
            report = Report(subject=f"{aip_id}@{copy.location}", kind="audit")
            add_location_problem(report, copy, unreachable)
            result = CopyAudit(aip_id, copy.location, copy.url, 0, 0, report, None)
        else:
            result = check_copy(aip_id, copy.location, backend, files, trust_anchors, progress)
        results.append(result)
        _record(catalog, result, clock(), reachable, agents)
    return AipAudit(aip_id, tuple(results))


def stored_object_key(aip_id: str, record: FileRecord) -> str:
    """Where the bytes of ``record`` are: its own key, or an earlier version's (stored_key)."""
    return record.stored_key or object_key(aip_id, record.path)


def _open_named(config: Config, name: str, cache: dict[str, StorageBackend],
                unreachable: dict[str, str] | None) -> StorageBackend | None:
    """The backend of the configured location ``name``, opened once and cached; None when it
    cannot be opened (the reason is logged once and kept in ``unreachable``).
    Raises :class:`ConfigError` (CONFIG-NO-LOCATION) when no location has that name."""
    if name in cache:
        return cache[name]
    if unreachable is not None and name in unreachable:
        return None
    loc = config.location(name)
    try:
        cache[name] = open_location(loc.url, **loc.options)
    except (PreservationError, OSError) as e:
        log.warning("storage location %s cannot be reached: %s", name, e)
        if unreachable is not None:
            unreachable[name] = str(e)
        return None
    return cache[name]


def open_all_locations(config: Config, cache: dict[str, StorageBackend],
                       unreachable: dict[str, str] | None = None) -> list[StorageBackend]:
    """Every configured location that can be opened (cached by name); the others are logged
    and, when ``unreachable`` is given, remembered there (name → error) and not tried again."""
    out = []
    for loc in config.storage:
        backend = _open_named(config, loc.name, cache, unreachable)
        if backend is not None:
            out.append(backend)
    return out


def check_copy(aip_id: str, location: str, backend: StorageBackend,
               files: Sequence[FileRecord], trust_anchors: Sequence[x509.Certificate],
               progress: Progress = no_progress) -> CopyAudit:
    """Verify one copy of an AIP against the catalog's file list; never raises for bad data."""
    report = Report(subject=f"{aip_id}@{location}", kind="audit")
    total = sum(f.size for f in files)

    def read(record: FileRecord) -> ObjectRead:
        result = read_object(backend, stored_object_key(aip_id, record), record)
        progress(f"audit {location}", record.size, total)
        return result

    with ThreadPoolExecutor(WORKERS) as pool:
        reads = list(pool.map(read, files))

    kept = check_reads(report, location, reads)
    check_manifests(report, location, files, kept)
    signature = check_signature(report, location, kept, trust_anchors)
    _check_extra_objects(report, location, backend, aip_id, files)
    return CopyAudit(aip_id, location, backend.describe(), len(files),
                     sum(r.size for r in reads), report, signature)


def fetch_verified(aip_id: str, location: str, backend: StorageBackend,
                   files: Sequence[FileRecord], wanted: Sequence[FileRecord], *, kind: str,
                   target: Callable[[FileRecord], Path | None],
                   trust_anchors: Sequence[x509.Certificate], progress: Progress) -> Report:
    """Read each ``wanted`` object of one copy once, writing it to ``target(record)`` (a new
    file; None: read and checked only), then check it against the catalog's ``files``: sizes,
    SHA-256, the copy's manifests and its signature. The report (``kind``) says whether the
    written files can be trusted; the caller removes them when it is not valid."""
    report = Report(subject=f"{aip_id}@{location}", kind=kind)
    total = sum(f.size for f in wanted)
    reads = []
    for record in wanted:
        key, path = stored_object_key(aip_id, record), target(record)
        if path is None:
            reads.append(read_object(backend, key, record))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as sink:
                reads.append(read_object(backend, key, record, sink))
        progress(f"read {location}", record.size, total)
    kept = check_reads(report, location, reads)
    check_manifests(report, location, files, kept)
    check_signature(report, location, kept, trust_anchors)
    return report


def read_object(backend: StorageBackend, key: str, record: FileRecord,
                sink: BinaryIO | None = None) -> ObjectRead:
    """Stream one object once: hash it, keep it if it is a manifest or signature, and copy it
    to ``sink`` when given. Missing or unreadable objects are results, not exceptions."""
    digest = hashlib.sha256()
    size = 0
    keep = record.path in _KEEP
    chunks: list[bytes] = []
    try:
        with backend.open(key) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
                if sink is not None:
                    sink.write(chunk)
    except ObjectMissingError:
        return ObjectRead(record, None, 0, None)
    except (StorageError, OSError) as e:
        return ObjectRead(record, None, size, None, error=str(e))
    return ObjectRead(record, digest.hexdigest(), size, b"".join(chunks) if keep else None)


def check_reads(report: Report, location: str, reads: Iterable[ObjectRead]) -> dict[str, bytes]:
    """Turn object reads into findings; return the kept bytes of manifests and signature."""
    kept: dict[str, bytes] = {}
    for r in reads:
        where = f"{location}:{r.record.path}"
        if r.error is not None:
            report.add("AUDIT-OBJECT-UNREADABLE", where, location=location, file=r.record.path,
                       error=r.error)
        elif r.sha256 is None:
            report.add("AUDIT-OBJECT-MISSING", where, location=location, file=r.record.path)
        elif r.size != r.record.size:
            report.add("AUDIT-SIZE-MISMATCH", where, location=location, file=r.record.path,
                       expected=r.record.size, actual=r.size)
        elif r.sha256 != r.record.sha256:
            report.add("AUDIT-CHECKSUM-MISMATCH", where, location=location, file=r.record.path,
                       expected=r.record.sha256, actual=r.sha256)
        if r.data is not None:
            kept[r.record.path] = r.data
    return kept


def check_manifests(report: Report, location: str, files: Sequence[FileRecord],
                     kept: dict[str, bytes]) -> None:
    """The copy's manifest and tagmanifest must list exactly what the catalog lists."""
    expected_payload = {f.path: f.sha256 for f in files if f.path.startswith("data/")}
    expected_tags = {f.path: f.sha256 for f in files
                     if not f.path.startswith("data/") and f.path not in (TAGMANIFEST, SIGNATURE)}
    for name, expected in ((MANIFEST, expected_payload), (TAGMANIFEST, expected_tags)):
        data = kept.get(name)
        if data is None:
            continue  # already reported as missing or unreadable
        try:
            listed = parse_manifest(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            report.add("AUDIT-MANIFEST-UNREADABLE", f"{location}:{name}", location=location,
                       file=name, error=str(e))
            continue
        for path in sorted(set(expected) | set(listed)):
            if listed.get(path) != expected.get(path):
                report.add("AUDIT-MANIFEST-DISAGREES", f"{location}:{name}", location=location,
                           file=path, manifest=name, expected=expected.get(path, "(absent)"),
                           actual=listed.get(path, "(absent)"))


def check_signature(report: Report, location: str, kept: dict[str, bytes],
                     trust_anchors: Sequence[x509.Certificate]) -> SignatureCheck | None:
    signature, tagmanifest = kept.get(SIGNATURE), kept.get(TAGMANIFEST)
    if signature is None or tagmanifest is None:
        report.add("AUDIT-SIGNATURE-NOT-CHECKED", f"{location}:{SIGNATURE}", location=location)
        return None
    result = verify_detached(signature, tagmanifest, trust_anchors)
    if not result.intact:
        report.add("AUDIT-SIGNATURE-INVALID", f"{location}:{SIGNATURE}", location=location,
                   problems=", ".join(result.problems))
    elif "SIG-CERT-EXPIRED-NO-TIMESTAMP" in result.problems:
        report.add("AUDIT-SIGNATURE-NO-PROOF-OF-TIME", f"{location}:{SIGNATURE}",
                   location=location, signer=result.signer_subject)
    elif not result.trusted:
        report.add("AUDIT-SIGNATURE-UNTRUSTED", f"{location}:{SIGNATURE}", location=location,
                   signer=result.signer_subject)
    if result.timestamp is not None and not result.timestamp.ok:
        report.add("AUDIT-TIMESTAMP-INVALID", f"{location}:{SIGNATURE}", location=location,
                   problems=", ".join(result.timestamp.problems))
    return result


def _check_extra_objects(report: Report, location: str, backend: StorageBackend, aip_id: str,
                         files: Iterable[FileRecord]) -> None:
    known = {object_key(aip_id, f.path) for f in files} | {
        stored_object_key(aip_id, f) for f in files}
    try:
        for info in backend.list(f"{aip_id}/"):
            if info.key not in known:
                report.add("AUDIT-UNEXPECTED-OBJECT", f"{location}:{info.key}",
                           location=location, key=info.key)
    except StorageError as e:
        report.add("AUDIT-LIST-FAILED", location, location=location, error=str(e))


def location_backend(config: Config, copy: CopyRecord, cache: dict[str, StorageBackend],
                     unreachable: dict[str, str] | None = None) -> StorageBackend | None:
    """The open backend of the copy's location (cached by name), or None when no location of
    that name is configured or it cannot be opened (a missing root, an unmounted disk, bad
    credentials…); in the latter case the error is logged, and kept in ``unreachable`` when
    given. Never raises for a location that cannot be opened: the caller goes on with the
    next copy. :func:`add_location_problem` turns the None into a finding."""
    try:
        return _open_named(config, copy.location, cache, unreachable)
    except ConfigError as e:
        if e.code != "CONFIG-NO-LOCATION":
            raise
        return None


def add_location_problem(report: Report, copy: CopyRecord, unreachable: dict[str, str]) -> None:
    """The finding for a copy :func:`location_backend` gave no backend for: its location is
    unreachable (AUDIT-LOCATION-UNREACHABLE) or no longer configured (AUDIT-LOCATION-UNKNOWN)."""
    if copy.location in unreachable:
        report.add("AUDIT-LOCATION-UNREACHABLE", copy.location, location=copy.location,
                   error=unreachable[copy.location])
    else:
        report.add("AUDIT-LOCATION-UNKNOWN", copy.location, location=copy.location)


def _record(catalog: Catalog, result: CopyAudit, when: datetime,
            reachable: Sequence[StorageBackend], agents: Sequence[AgentRecord]) -> None:
    """The fixity check event: beside the AIP on every reachable location, then the catalog."""
    problems = "; ".join(f"{f.code} {f.location}" for f in result.report.errors[:20])
    more = len(result.report.errors) - 20
    if more > 0:
        problems += f"; … {more} more"
    event = new_event(
        result.aip_id, "fixity check", when, "success" if result.ok else "failure",
        detail=f"SHA-256 of {result.files_checked} objects ({result.bytes_read} bytes) and the "
               f"tagmanifest signature on copy {result.location}",
        outcome_detail=problems, location=result.location, agents=agents)
    failed = record_event(catalog, reachable, (), event, agents)
    if failed:
        result.report.add("EVENT-NOT-WRITTEN", result.location, event=event.type,
                          event_id=event.id, locations=", ".join(failed))
    catalog.set_copy_status(result.aip_id, result.location, "ok" if result.ok else "failed",
                            event.datetime)
