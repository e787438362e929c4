"""The PREMIS story of an ingest: every event that turned a SIP into an AIP, and its agents.

:func:`ingest_provenance` derives the events from what validation already found (the report's
codes and the identified formats), so that nothing is re-read and nothing is claimed that did
not happen: a check that could not run is an event whose outcome is "not checked" (no term of
the id.loc.gov eventOutcome vocabulary says that, so it carries no valueURI), never silence.

Events (id.loc.gov eventType): validation, virus check, format identification, digital
signature validation (PDF signatures, per signed PDF), message digest calculation, information
package creation (SIP → AIP, linkingObjectRole source/outcome), digital signature generation
(the AIP's own CMS signature) and ingestion. Agents: this software, fido (with its PRONOM
signature file), pyHanko, clamd when it scanned, the organisation and the archivist.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from aip import model
from aip.model import EVENT_TYPES, Agent, ContentFile, Event, EventCodec, spooled_uuids
from aip.premis import sip_object_uuid
from aip.premis_checks import SortedKeys, canonical_uuid
from aip.provenance_pdf import (
    NOT_CHECKED,
    PDF_UNCHECKED,
    SignatureFinding,
    describe,
    signature_fields,
    signature_from_fields,
    signature_outcome,
)
from preservation import SOFTWARE_NAME, __version__
from preservation.diskmap import DiskMap
from preservation.findings import Finding, Report, Severity
from preservation.findings_spool import RecordSpool, SpooledSequence
from preservation.spooled import SpoolError
from sip.submission import SipKind, Submission, SubmittedFile

_LOWER_HEX_64 = re.compile(r"[0-9a-f]{64}")
#: width of :func:`_bytes_key`
_KEY = 1 + 32 + 8

_KIND_DESCRIPTION = {
    SipKind.BAGIT: "BagIt (RFC 8493)",
    SipKind.EARK: "E-ARK CSIP 2.0.4 / SIP",
    SipKind.TT05_HOSO: "TT05 SIP_hoso (Circular 05/2025/TT-BNV) and E-ARK CSIP",
    SipKind.TT05_TAILIEU: "TT05 SIP_tailieu (Circular 05/2025/TT-BNV) and E-ARK CSIP",
}


class ActorsLike(Protocol):
    """Who is responsible for an ingest (``aip.builder.Actors``)."""

    @property
    def organisation(self) -> str: ...

    @property
    def person(self) -> str: ...


def pyhanko_version() -> str:
    try:
        return version("pyHanko")
    except PackageNotFoundError:
        return ""


class _Story:
    """Collects the events of one ingest, all at the same moment: the first
    :data:`aip.model.KEEP` in memory, the rest (an ingest of signed PDFs has an event per PDF)
    encoded to a temporary file (:class:`~aip.model.EventCodec`)."""

    def __init__(self, when: datetime) -> None:
        self.when = when
        self._codec = EventCodec(when)
        self._keep = model.KEEP
        self._memory: list[Event] = []
        self._spool: RecordSpool | None = None

    def add(self, kind: str, outcome: str, detail: str, outcome_detail: str,
            agents: Iterable[Agent], objects: Iterable[str] = (),
            roles: tuple[tuple[str, str], ...] = ()) -> None:
        event = Event(
            uuid=str(uuid.uuid4()), type=kind, type_uri=EVENT_TYPES[kind], datetime=self.when,
            outcome=outcome, detail=detail, outcome_detail=outcome_detail,
            agent_uuids=tuple(a.uuid for a in agents),
            object_uuids=objects if isinstance(objects, tuple | SpooledSequence)
            else tuple(objects),
            object_roles=roles)
        if self._spool is None and len(self._memory) < self._keep:
            self._memory.append(event)
            return
        if self._spool is None:
            self._spool = RecordSpool("PREMIS event", SpoolError)
        self._spool.append(self._codec.encode(event))

    @property
    def events(self) -> Sequence[Event]:
        """Every event added, in order (a read-only sequence of flat memory)."""
        return SpooledSequence(self._memory, lambda: self._spool, self._codec.decode)


def ingest_provenance(
    submission: Submission, files: Sequence[ContentFile], actors: ActorsLike, when: datetime,
    *, desc_uuid: str, sip_uuid: str = "",
    previous_uuid: str | None = None, record_status: str = "NEW", version_number: int = 1,
    signer: str = "", tsa_url: str = "",
) -> tuple[tuple[Agent, ...], Sequence[Event]]:
    """The agents and events of the ingest of ``submission`` as the AIP ``desc_uuid``.

    The events are a read-only sequence of flat memory (one event per signed PDF: past
    :data:`aip.model.KEEP` they are in a temporary file): iterate it, never copy it.

    ``files`` are the AIP's content files; those whose bytes came in this submission get the
    per-file events (files carried over from a previous version by reference keep theirs in
    that version's PREMIS). ``sip_uuid`` defaults to :func:`aip.premis.sip_object_uuid`, which
    the PREMIS writer also uses when ``AipDescription.sip_uuid`` is empty. ``actors.person``
    is the person responsible (``--archivist NAME`` or the OS user, as the builder resolved it).
    """
    report = submission.report
    software = Agent(str(uuid.uuid4()), SOFTWARE_NAME, "software", __version__,
                     "executing program")
    fido_version = submission.fido_version or "unknown"
    signatures = submission.signature_version or "unknown"
    fido = Agent(str(uuid.uuid4()), "fido", "software",
                 f"{fido_version} (PRONOM signature file {signatures})", "executing program")
    org = Agent(str(uuid.uuid4()), actors.organisation, "organization", role="authorizer")
    agents = [software, fido]
    responsible = [org]
    if actors.person:
        responsible.append(Agent(str(uuid.uuid4()), actors.person, "person",
                                 role="implementer"))

    new = _NewFiles(submission, files)
    new_files = new.uuids  # one sequence, shared by every event about each new file
    story = _Story(when)
    _validation(story, submission, [software, *responsible[1:]])
    clamd = _virus_check(story, submission, files, new_files, software)
    if clamd is not None:
        agents.append(clamd)
    _format_identification(story, report, new, fido)
    pyhanko = _signature_validation(story, submission, files, software)
    if pyhanko is not None:
        agents.append(pyhanko)
    story.add("message digest calculation", "success",
              "SHA-256 of every content file, computed while reading it once at validation and "
              "compared with the producer's manifest or METS checksums",
              f"{len(new_files)} file(s), sizes and digests agree", [software], new_files)

    aip = str(uuid.UUID(desc_uuid))
    sip = str(uuid.UUID(sip_uuid)) if sip_uuid else sip_object_uuid(aip)
    sources = [(sip, "source")]
    what = f"AIP version {version_number} ({record_status})"
    if previous_uuid:
        sources.append((str(uuid.UUID(previous_uuid)), "source"))
        what += (f", {'supplementing' if record_status == 'SUPPLEMENT' else 'replacing'} "
                 f"the version urn:uuid:{previous_uuid}")
    story.add("information package creation", "success",
              f"the submitted {submission.kind_label} package “{submission.name}” became {what}"
              f"; content files renamed by sequence, original names kept in PREMIS and METS",
              f"{len(files)} content file(s) in the AIP", [software, *responsible],
              roles=(*sources, (aip, "outcome")))
    timestamped = f", with an RFC 3161 timestamp from {tsa_url}" if tsa_url else ""
    story.add("digital signature generation", "success",
              "detached CMS (RFC 5652) signature tagmanifest-sha256.txt.p7s over "
              "tagmanifest-sha256.txt, which covers manifest-sha256.txt and through it every "
              f"payload file, this PREMIS record included{timestamped}",
              "recorded before signing: this record is itself covered by the signature it "
              "describes, so it cannot report the result; the proof is that the signature "
              "verifies" + (f"; signer: {signer}" if signer else ""),
              [software, org], roles=((aip, "outcome"),))
    story.add("ingestion", "success",
              "AIP written to every configured storage location, read back and verified "
              "(size and SHA-256 of every object) before it is registered in the catalog",
              "recorded before storage: each verified copy is a replication event written "
              "beside the AIP (events/<aip uuid>/)", [software, *responsible], (aip,))
    return (*agents, *responsible), story.events


def _bytes_key(sha256: str, size: int) -> bytes:
    """(SHA-256, size) as :data:`_KEY` bytes: equal exactly when both are (a digest that is not
    64 lower-case hex digits is itself hashed, under another first byte)."""
    if _LOWER_HEX_64.fullmatch(sha256):
        digest = b"\x00" + bytes.fromhex(sha256)
    else:
        digest = b"\x01" + hashlib.sha256(sha256.encode("utf-8", "surrogatepass")).digest()
    return digest + size.to_bytes(8, "big", signed=True)


class _NewFiles:
    """The content files whose bytes came in this submission, in one pass over ``files``:
    their UUIDs (spooled) and the formats identified among them.

    The submission's (SHA-256, size) pairs are :class:`~aip.premis_keys.SortedKeys`, 41
    bytes each (in a temporary file past :data:`aip.model.KEEP`), while the files are read;
    no set, no list of them is kept.
    """

    def __init__(self, submission: Submission, files: Sequence[ContentFile]) -> None:
        self.identified = 0
        self.puids: Counter[str] = Counter()
        sent = SortedKeys((_bytes_key(f.sha256, f.size) for f in submission.content()), _KEY)

        def chosen() -> Iterator[str]:
            for f in files:
                if _bytes_key(f.sha256, f.size) in sent:
                    if f.format.puid:
                        self.identified += 1
                        self.puids[f.format.puid] += 1
                    yield f.uuid

        self.uuids = spooled_uuids(chosen())


class _ObjectsByPath:
    """Submission path of each of the content files at ``paths`` (those a finding names: one
    per signed PDF, per file clamd refused) -> the AIP file object(s) with its bytes, in
    ``files`` order: the paths' (SHA-256, size) keys in a :class:`~preservation.diskmap.DiskMap`
    (past :data:`aip.model.KEEP` in a temporary file), the objects by :func:`_matching_objects`.
    """

    def __init__(self, submission: Submission, files: Sequence[ContentFile],
                 paths: Iterable[str]) -> None:
        # every path named, then its bytes' key (None: not a content file)
        self._keys: DiskMap[bytes | None] = DiskMap(((p, None) for p in paths),
                                                    keep=model.KEEP, what="named content file")
        for f in submission.content() if self._keys else ():
            if f.path in self._keys:
                self._keys[f.path] = _bytes_key(f.sha256, f.size)
        self._matches = _matching_objects((k for k in self._keys.values() if k is not None),
                                          files if self._keys else ())  # none named: no pass

    def get(self, path: str) -> list[str]:
        """The objects with the bytes of the content file at ``path`` ([]: none)."""
        key = self._keys.get(path)
        return [] if key is None else list(_uuids_with(self._matches, key))

    def close(self) -> None:
        self._keys.close()
        self._matches.close()


def _matching_objects(wanted: Iterable[bytes], files: Sequence[ContentFile]) -> SortedKeys:
    """A join in :class:`~aip.premis_checks.SortedKeys`: (bytes key, position, UUID bytes) of
    every file of ``files`` whose (SHA-256, size) key is one of ``wanted``."""
    keys = SortedKeys(wanted, _KEY)
    try:
        return SortedKeys((key + at.to_bytes(8, "big") + uuid.UUID(canonical_uuid(cf.uuid)).bytes
                           for at, cf in enumerate(files)
                           if (key := _bytes_key(cf.sha256, cf.size)) in keys), _KEY + 8 + 16)
    finally:
        keys.close()


def _uuids_with(matches: SortedKeys, key: bytes) -> Iterator[str]:
    return (str(uuid.UUID(bytes=m[-16:])) for m in matches.starting_with(key))  # files order


def _pdf_objects(submission: Submission, files: Sequence[ContentFile]) -> Sequence[str]:
    """The AIP file object(s) with the bytes of each PDF of the submission, PDF by PDF in the
    submission's order, each PDF's in ``files`` order (spooled; the UUIDs come back canonical).
    """
    matches = _matching_objects((_bytes_key(f.sha256, f.size) for f in submission.content()
                                 if _is_pdf(submission, f)), files)

    def uuids() -> Iterator[str]:
        for f in submission.content():
            if _is_pdf(submission, f):
                yield from _uuids_with(matches, _bytes_key(f.sha256, f.size))

    try:
        return spooled_uuids(uuids())
    finally:
        matches.close()


def _validation(story: _Story, submission: Submission, agents: Sequence[Agent]) -> None:
    report = submission.report
    counts = report.severity_counts()  # no pass over spooled findings
    outcome = ("failure" if counts[Severity.ERROR.value] else
               "warning" if counts[Severity.WARNING.value] else "success")
    codes = sorted(report.codes())
    story.add("validation", outcome,
              f"{_KIND_DESCRIPTION.get(submission.kind, submission.kind_label)} validation of "
              f"the submitted {submission.kind_label} package “{submission.name}”"
              + (" (in a BagIt bag)" if submission.wrapped_in_bag else ""),
              ("accepted" if report.valid else "rejected")
              + f": {counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
              f"{counts[Severity.NOT_CHECKED]} not checked, {counts[Severity.INFO]} info"
              + (f"; codes: {', '.join(codes)}" if codes else ""), agents)


def _with_code(report: Report, *codes: str) -> list[Finding]:
    return [f for f in report.findings if f.code in codes]


def _virus_check(story: _Story, submission: Submission, files: Sequence[ContentFile],
                 new_files: Sequence[str], software: Agent) -> Agent | None:
    """One event for the scan (or for why there was none); files clamd refused get theirs."""
    report = submission.report
    scanned = _with_code(report, "VIRUS-SCANNED")
    if not scanned:
        reasons = [f.params.get("reason", "") for f in _with_code(report, "VIRUS-NOT-CHECKED")]
        story.add("virus check", NOT_CHECKED, "no virus scan was made of the submission",
                  "; ".join(r for r in reasons if r) or "the content checks were not run",
                  [software], new_files)
        return None
    engine = scanned[-1].params.get("engine", "") or "unknown"
    clamd = Agent(str(uuid.uuid4()), "clamd", "software", engine, "executing program")
    found = _with_code(report, "VIRUS-FOUND")
    story.add("virus check", "failure" if found else "success",
              "every file of the submission streamed to clamd (INSTREAM)",
              f"{scanned[-1].params.get('count', '?')} file(s) scanned by {engine}; "
              + (f"found: {', '.join(f.params.get('signature', '') for f in found)}" if found
                 else "no virus found"), [clamd, software], new_files)
    def refused() -> Iterator[Finding]:  # one per file clamd refused: never a list of them
        return (f for f in report.findings if f.code == "VIRUS-FILE-NOT-CHECKED")

    by_path = _ObjectsByPath(submission, files, (f.location.path or "" for f in refused()))
    for finding in refused():
        objects = by_path.get(finding.location.path or "")
        if objects:
            story.add("virus check", NOT_CHECKED, "clamd did not scan this file",
                      finding.params.get("reason", ""), [clamd, software], objects)
    by_path.close()
    return clamd


def _format_identification(story: _Story, report: Report, new: _NewFiles,
                           fido: Agent) -> None:
    chosen = len(new.uuids)
    if _with_code(report, "FMT-IDENTIFIER-UNAVAILABLE"):
        outcome = NOT_CHECKED
    else:
        outcome = "success" if new.identified == chosen else "warning"
    listing = ", ".join(f"{p} ×{n}" for p, n in sorted(new.puids.items()) if p)
    story.add("format identification", outcome,
              "PRONOM identification with fido (signature, container and extension matches; "
              "the basis of each match is in the file's formatNote)",
              f"{new.identified} of {chosen} file(s) identified"
              + (f": {listing}" if listing else ""), [fido], new.uuids)


def _is_pdf(submission: Submission, f: SubmittedFile) -> bool:
    fmt = submission.formats.get(f.path)
    return (fmt is not None and fmt.mime == "application/pdf") or \
        f.path.lower().endswith(".pdf")


def _signature_validation(story: _Story, submission: Submission,
                          files: Sequence[ContentFile], software: Agent) -> Agent | None:
    """One event per signed PDF (or unreadable PDF); one "no signed PDFs" event otherwise."""
    pdfs = sum(1 for f in submission.content() if _is_pdf(submission, f))
    if not pdfs:
        story.add("digital signature validation", "success",
                  "PDF digital signatures (PAdES / PKCS#7) of the content files",
                  "no signed PDFs: the submission has no PDF content file", [software])
        return None
    pyhanko = Agent(str(uuid.uuid4()), "pyHanko", "software", pyhanko_version() or None,
                    "executing program")
    # the signature findings of each PDF (a DiskMap past aip.model.KEEP PDFs)
    findings: DiskMap[tuple[SignatureFinding, ...]] = DiskMap(
        encode=signature_fields, decode=signature_from_fields, keep=model.KEEP,
        what="signed PDF")
    for finding in submission.report.findings:
        if finding.location.path and (finding.code.startswith("SIG-PDF-")
                                      or finding.code in PDF_UNCHECKED):
            path = finding.location.path
            findings[path] = (*findings.get(path, ()), SignatureFinding.of(finding))
    by_path = _ObjectsByPath(submission, files, findings)
    signed = 0
    for f in submission.content():
        if not _is_pdf(submission, f):
            continue
        objects = by_path.get(f.path)
        mine = [x for x in findings.get(f.path, ()) if x.code != "SIG-PDF-EMPTY-FIELD"]
        if not mine or not objects:
            continue
        signed += 1
        story.add("digital signature validation", signature_outcome(mine),
                  "every signature of this PDF: integrity of the signed bytes, coverage, "
                  "changes after signing, signer trust and timestamps",
                  "; ".join(describe(x) for x in mine), [pyhanko, software], objects)
    by_path.close()
    findings.close()
    if not signed:
        story.add("digital signature validation", "success",
                  "PDF digital signatures (PAdES / PKCS#7) of the content files",
                  f"no signed PDFs among {pdfs} PDF file(s)", [pyhanko, software],
                  _pdf_objects(submission, files))
    return pyhanko
