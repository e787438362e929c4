"""Rebuild the catalog from storage alone.

The AIPs on storage are the source of truth; the catalog is an index of them. This module lists
every configured location, checks each AIP prefix copy by copy (:mod:`aip.rebuild_copy`), reads
the catalog's facts from a complete, authentic copy (:mod:`aip.rebuild_facts`), adds the events
written beside the AIP after ingest (``events/<uuid>/…``) and the fonds registry (``fonds/…``),
and registers everything in an EMPTY catalog, one AIP at a time (memory does not grow with the
archive). A prefix without a complete signed copy anywhere — the orphans of a failed ingest on an
Object Lock bucket, a tampered bag — is reported and not registered, with every finding of every
copy (errors).

An AIP registered from a complete, authentic copy may have other copies that are damaged,
incomplete or another bag: each such copy is registered as ``failed`` (so audit and repair see
it), and every finding about it is reported with its place — as a *warning*, because the catalog
is complete and right about the AIP (it was read from a good copy) and the damage is recorded
where the archivist acts on it — followed by ``REBUILD-COPY-INCOMPLETE``, the summary of that
copy (a warning the reference copy has too about the same bytes — one signature file on both
copies — is said once). Findings name places by location name (``copy1:<key>``), never by URL
(that is a parameter).

:func:`rebuild_catalog` fills a given catalog; :mod:`aip.rebuild_target` builds a fresh one and
swaps it in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from aip.rebuild_copy import CopyCheck, Problem, check_copy, is_uuid
from aip.rebuild_facts import AipFacts, read_facts
from preservation.catalog import Catalog, CopyRecord, EventRecord
from preservation.config import Config
from preservation.errors import PreservationError, StorageError, UsageError
from preservation.events import read_events
from preservation.findings import Report, Severity
from preservation.fonds import FondsRecord, read_fonds
from preservation.progress import Progress, no_progress
from preservation.storage import StorageBackend, open_locations
from preservation.timeutil import iso, now_local

log = logging.getLogger(__name__)
#: at most this many unknown top-level names are reported, one finding each
MAX_UNKNOWN_REPORTED = 100


@dataclass(frozen=True)
class SkippedAip:
    aip_id: str
    reasons: tuple[str, ...]  # finding codes


@dataclass
class RebuildResult:
    """What a rebuild registered, what it left out and why (``report``)."""

    report: Report
    registered: list[str] = field(default_factory=list)
    skipped: list[SkippedAip] = field(default_factory=list)
    #: AIPs whose deletion is recorded beside them (objects a location refused to delete)
    deleted: list[str] = field(default_factory=list)
    files: int = 0
    copies: int = 0
    events: int = 0
    fonds: int = 0

    @property
    def ok(self) -> bool:
        """Everything found was registered, and everything could be read."""
        return not self.skipped and not any(
            f.severity.value in ("error", "not-checked") for f in self.report.findings)


@dataclass
class _Scan:
    aips: set[str] = field(default_factory=set)
    event_owners: set[str] = field(default_factory=set)
    fonds_found: bool = False
    unknown: dict[str, str] = field(default_factory=dict)  # top-level name → location


def rebuild_catalog(config: Config, catalog: Catalog, trust_anchors: Sequence[x509.Certificate],
                    *, verify: bool = False, progress: Progress = no_progress,
                    clock: Callable[[], datetime] = now_local) -> RebuildResult:
    """Register every complete, authentic AIP found on the configured locations in ``catalog``.

    ``catalog`` must be empty (``REBUILD-CATALOG-NOT-EMPTY``). A location that cannot be listed
    stops the rebuild (``REBUILD-LOCATION-UNREADABLE``): what it holds would be missing.
    """
    require_empty(catalog)
    report = Report(subject="catalog rebuild", kind="rebuild")
    result = RebuildResult(report)
    with open_locations(config) as backends:
        scan = _scan(config, backends)
        names = [loc.name for loc in config.storage]
        fonds_codes = _fonds(names, backends, catalog, report, result, scan)
        total = len(scan.aips)
        for number, aip_id in enumerate(sorted(scan.aips), 1):
            _rebuild_aip(config, catalog, names, backends, trust_anchors, aip_id, scan,
                         fonds_codes, verify, result, clock)
            progress("rebuild", 1, total)
            log.debug("rebuild: %d/%d %s", number, total, aip_id)
        for owner in sorted(scan.event_owners - set(result.registered)):
            report.add("REBUILD-EVENTS-WITHOUT-AIP", f"events/{owner}/", aip=owner)
        for name, location in sorted(scan.unknown.items())[:MAX_UNKNOWN_REPORTED]:
            report.add("REBUILD-UNKNOWN-OBJECTS", f"{location}:{name}", location=location,
                       name=name)
    return result


def require_empty(catalog: Catalog) -> None:
    """A rebuild fills an empty catalog only (``REBUILD-CATALOG-NOT-EMPTY``)."""
    if not catalog.is_empty():
        raise UsageError(f"the catalog {catalog.location} is not empty: a rebuild fills an "
                         "empty catalog", code="REBUILD-CATALOG-NOT-EMPTY",
                         location=catalog.location)


def _scan(config: Config, backends: Sequence[StorageBackend]) -> _Scan:
    """One streamed listing per location: AIP prefixes, event owners, fonds, anything else."""
    scan = _Scan()
    for loc, backend in zip(config.storage, backends, strict=True):
        try:
            for info in backend.list(""):
                first, _, rest = info.key.partition("/")
                if is_uuid(first):
                    scan.aips.add(first)
                elif first == "events" and is_uuid(rest.partition("/")[0]):
                    scan.event_owners.add(rest.partition("/")[0])
                elif first == "fonds":
                    scan.fonds_found = True
                elif first not in scan.unknown:
                    scan.unknown[first] = loc.name
        except StorageError as e:
            raise PreservationError(
                f"cannot list location {loc.name} ({backend.describe()}): {e.message}; "
                "nothing was rebuilt", code="REBUILD-LOCATION-UNREADABLE",
                location=loc.name) from e
    return scan


def _fonds(names: Sequence[str], backends: Sequence[StorageBackend], catalog: Catalog,
           report: Report, result: RebuildResult, scan: _Scan) -> set[str] | None:
    """Register the fonds registry found on storage (newest record per code); their codes, or
    None when the registry could not be read."""
    if not scan.fonds_found:
        return set()
    newest: dict[str, FondsRecord] = {}
    for name, backend in zip(names, backends, strict=True):
        records: list[FondsRecord] = []
        with Report(subject=f"fonds on {name}", kind="rebuild") as read:
            try:
                records = read_fonds(backend, read)
            except (PreservationError, ValueError, OSError) as e:
                report.add("REBUILD-FONDS-NOT-READ", f"{name}:fonds/", location=name,
                           url=backend.describe(), error=str(e))
            _relocated(report, read, name)
        for record in records:
            held = newest.get(record.code)
            if held is None or _instant(record.updated) > _instant(held.updated):
                newest[record.code] = record
    for code in sorted(newest):
        catalog.add_fonds(newest[code])
    result.fonds = len(newest)
    return set(newest)


def _relocated(report: Report, found: Report, name: str) -> None:
    """The findings of a reader that names objects by key alone (the fonds registry), placed
    on location ``name`` as every other rebuild finding (``copy1:fonds/…``)."""
    for f in found.findings:
        path = f"{name}:{f.location.path}" if f.location.path else name
        report.add(f.code, path, line=f.location.line, xpath=f.location.xpath,
                   severity=f.severity, **dict(f.params))


def _rebuild_aip(config: Config, catalog: Catalog, names: Sequence[str],
                 backends: Sequence[StorageBackend], trust_anchors: Sequence[x509.Certificate],
                 aip_id: str, scan: _Scan, fonds_codes: set[str] | None, verify: bool,
                 result: RebuildResult, clock: Callable[[], datetime]) -> None:
    report = result.report
    beside = (list(_events_beside(names, backends, aip_id, report))
              if aip_id in scan.event_owners else [])
    if is_deleted(beside, None):
        report.add("REBUILD-AIP-DELETED", aip_id, aip=aip_id)
        result.deleted.append(aip_id)
        return
    checks = [check_copy(aip_id, loc.name, backend, trust_anchors, verify=verify)
              for loc, backend in zip(config.storage, backends, strict=True)]
    facts: AipFacts | None = None
    reference: CopyCheck | None = None
    for check, backend in zip(checks, backends, strict=True):
        if not check.complete:
            continue
        facts, problems, warnings = read_facts(check, backend)
        check.warnings.extend(warnings)
        if facts is not None:
            reference = check
            break
        check.problems.extend(problems)
    events = _merged(facts.events if facts is not None else [], beside, aip_id)
    if reference is not None and not any(e.type == "replication" for e in events):
        reference.problem("REBUILD-NOT-REPLICATED", f"{reference.location}:{aip_id}",
                          aip=aip_id)
        reference = None
    if facts is None or reference is None:
        for check in checks:
            _add(report, check.problems)
            _add(report, check.warnings)
        reasons = tuple(sorted({p.code for c in checks for p in c.problems}))
        report.add("REBUILD-AIP-SKIPPED", aip_id, aip=aip_id, reasons=", ".join(reasons))
        result.skipped.append(SkippedAip(aip_id, reasons))
        return

    _add(report, reference.warnings)
    for check in checks:
        if check is not reference and check.complete:
            _compare(check, reference)
    live = [c for c in checks if not is_deleted(events, c.location)]
    for check in live:
        if check is not reference:
            _report_copy(report, check, reference)
    copies = list(_copies(aip_id, live, events, facts.aip.created, iso(clock())))
    complete = sum(1 for c in live if c.complete)
    if complete < config.min_copies:
        report.add("REBUILD-TOO-FEW-COPIES", aip_id, aip=aip_id, copies=complete,
                   required=config.min_copies)
    fonds_code = facts.aip.fonds_code
    if fonds_codes is not None and fonds_code and fonds_code not in fonds_codes:
        report.add("REBUILD-FONDS-UNKNOWN", aip_id, aip=aip_id, fonds=fonds_code)
    catalog.register_aip(facts.aip, facts.files, copies, events)
    result.registered.append(aip_id)
    result.files += len(facts.files)
    result.copies += len(copies)
    result.events += len(events)


def is_deleted(events: Sequence[EventRecord], location: str | None) -> bool:
    """A deletion event (of the whole AIP: ``location`` None; else of that copy) newer than
    every replication of it: what is left are objects a location refused to delete."""
    mine = [e for e in events if e.location == location or location is None]
    deletions = [_instant(e.datetime) for e in mine
                 if e.type == "deletion" and e.location == location]
    replications = [_instant(e.datetime) for e in mine if e.type == "replication"]
    return bool(deletions) and max(deletions) >= max(replications, default=_NEVER)


def _add(report: Report, problems: Iterable[Problem], severity: Severity | None = None) -> None:
    for p in problems:
        params: dict[str, Any] = dict(p.params)
        report.add(p.code, p.path, line=p.line, severity=severity, **params)


def _report_copy(report: Report, check: CopyCheck, reference: CopyCheck) -> None:
    """Every finding about a copy other than the one the AIP is registered from: its warnings
    (but those the reference copy has too about the same bytes — the same signature file on
    both copies — which are said once, at the reference), then its own
    problems — each with its place, as warnings (the AIP is registered from a good copy; this
    one is recorded as failed) — then ``REBUILD-COPY-INCOMPLETE``, the summary of the copy
    naming their codes."""
    if not check.found:
        return
    said = {_as_said(w, reference) for w in reference.warnings}
    _add(report, (w for w in check.warnings
                  if (mine := _as_said(w, check)) is None or mine not in said))
    if check.complete:
        return
    _add(report, check.problems, Severity.WARNING)
    report.add("REBUILD-COPY-INCOMPLETE", f"{check.location}:{check.aip_id}",
               location=check.location, aip=check.aip_id,
               problems=", ".join(sorted({p.code for p in check.problems})))


def _as_said(warning: Problem, check: CopyCheck
             ) -> tuple[str, str, str, tuple[tuple[str, str], ...]] | None:
    """A copy's warning about one of the AIP's files, without the copy's name: code, bag path,
    the file's SHA-256, parameters; None for a warning about anything else (a stray object)."""
    place = warning.path.removeprefix(f"{check.location}:{check.aip_id}/")
    stored = check.files.get(place)
    if stored is None:
        return None
    return (warning.code, place, stored.sha256,
            tuple(sorted((k, v) for k, v in warning.params.items() if k != "location")))


def _compare(check: CopyCheck, reference: CopyCheck) -> None:
    """A second complete copy must be the same bag, file for file."""
    if check.tagmanifest_sha256 != reference.tagmanifest_sha256:
        check.problem("REBUILD-COPY-DIFFERS", f"{check.location}:{check.aip_id}",
                      location=check.location, reference=reference.location)
        return
    for path, stored in reference.files.items():
        mine = check.files.get(path)
        if mine is None or mine.size != stored.size:
            check.problem("REBUILD-SIZE-MISMATCH", f"{check.location}:{check.aip_id}/{path}",
                          location=check.location, file=path, expected=stored.size,
                          actual=mine.size if mine is not None else 0)


def _merged(ingest_events: list[EventRecord], beside: list[EventRecord], aip_id: str
            ) -> list[EventRecord]:
    """The PREMIS events of the ingest, then those published beside the AIP, each once."""
    out = {e.id: e for e in ingest_events}
    for event in beside:
        if event.aip_id == aip_id:
            out.setdefault(event.id, event)
    return sorted(out.values(), key=lambda e: (_instant(e.datetime), e.id))


def _events_beside(names: Sequence[str], backends: Sequence[StorageBackend], aip_id: str,
                   report: Report) -> Iterator[EventRecord]:
    for name, backend in zip(names, backends, strict=True):
        events: list[EventRecord] = []

        def unreadable(key: str, error: PreservationError, name: str = name,
                       url: str = backend.describe()) -> None:
            report.add("REBUILD-EVENTS-NOT-READ", f"{name}:{key}", location=name, url=url,
                       aip=aip_id, error=str(error))

        try:  # a bad document is reported and skipped; the others are kept
            events.extend(read_events(backend, aip_id, on_error=unreadable))
        except (PreservationError, ValueError, OSError) as e:
            report.add("REBUILD-EVENTS-NOT-READ", f"{name}:events/{aip_id}/", location=name,
                       url=backend.describe(), aip=aip_id, error=str(e))
        yield from events


def _copies(aip_id: str, checks: Sequence[CopyCheck], events: Sequence[EventRecord],
            created: str, now: str) -> Iterator[CopyRecord]:
    """A copy per location holding the AIP: stored at its replication event, status from its
    newest fixity check; a damaged or incomplete copy is recorded as failed (so audit and
    repair see it; its findings are reported by :func:`_report_copy`)."""
    for check in checks:
        if not check.found:
            continue
        mine = [e for e in events if e.location == check.location]
        stored = [e.datetime for e in mine if e.type == "replication"]
        fixity = [e for e in mine if e.type == "fixity check"]
        stored_at = min(stored, key=_instant) if stored else (
            iso(check.signature_modified) if check.signature_modified else created)
        if not check.complete:
            yield CopyRecord(aip_id, check.location, check.url, stored_at, "failed", now)
            continue
        if fixity:
            newest = max(fixity, key=lambda e: (_instant(e.datetime), e.id))
            status = "ok" if newest.outcome == "success" else "failed"
            yield CopyRecord(aip_id, check.location, check.url, stored_at, status,
                             newest.datetime)
        else:
            yield CopyRecord(aip_id, check.location, check.url, stored_at, "ok", stored_at)


_NEVER = datetime.min.replace(tzinfo=UTC)


def _instant(text: str) -> datetime:
    """An ISO 8601 time as an instant, so that times written with different offsets compare
    by when they happened, not as text (a time without an offset is taken as UTC)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return _NEVER
    return when if when.tzinfo else when.replace(tzinfo=UTC)
