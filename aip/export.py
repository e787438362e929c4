"""Export for handover: TT05 SIP ZIPs another archive can ingest, and the handover list.

``preservation export AIP_ID… -o DIR`` calls :func:`export_aips`. For each AIP:

1. read every object from the first copy whose bytes, manifests and CMS signature verify
   (:mod:`aip.export_read`; a copy that fails is reported and skipped, never used);
2. write it as a TT05 SIP_hoso / SIP_tailieu (:mod:`aip.export_sip`; TT05 Art. 17: a transfer
   from another system is a SIP) with the AIP's PREMIS carried under documentation/;
3. ZIP it as ``<OBJID>.zip`` rooted at ``<OBJID>/`` (a SIP folder is named exactly its OBJID)
   and validate that ZIP with :func:`sip.validate.open_sip`, the validator ``preservation
   ingest`` runs: a package the receiving archive would reject is never handed over.

Then the handover list (:mod:`aip.handover`): ``handover.csv`` and ``handover.pdf``. Everything
is written under temporary names in DIR and renamed into place only when every package is done;
an existing file is never overwritten (EXPORT-TARGET-EXISTS), and a failure leaves nothing.
Once the files are in place, each exported AIP gets a PREMIS ``dissemination`` event (agents:
our software, the organisation, the archivist), in the catalog and written beside the AIP on
every reachable location, as an access copy (:mod:`dip.access`) does.
Only TT05 AIPs are exported: an E-ARK or BagIt AIP is refused (EXPORT-NOT-TT05).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from cryptography import x509

from aip.export_read import VerifiedAip, read_verified
from aip.export_sip import ExportedSip, ExportError, write_sip
from aip.handover import HandoverDocument, HandoverPackage, write_handover_csv, write_handover_pdf
from preservation.audit import open_all_locations
from preservation.catalog import AipRecord, Catalog
from preservation.config import Config
from preservation.errors import PreservationError, RejectedError, UsageError
from preservation.events import new_event, record_event, standard_agents
from preservation.findings import Report
from preservation.fsync import fsync_directory, fsync_file
from preservation.hashing import CHUNK, sha256_file
from preservation.manifest import parse_bag_info
from preservation.progress import Progress, no_progress
from preservation.storage import StorageBackend
from preservation.timeutil import now_local
from sip.validate import ValidationOptions, open_sip

log = logging.getLogger(__name__)

CSV_NAME = "handover.csv"
PDF_NAME = "handover.pdf"
_COMPRESSED = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".zip", ".docx",
               ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".mp3", ".mp4", ".mpg", ".mpeg",
               ".avi", ".wmv", ".mov", ".wma", ".aac")


class NoIntactCopyError(PreservationError):
    """Every copy of an AIP failed verification; ``reports`` says why, copy by copy."""

    code = "EXPORT-NO-INTACT-COPY"

    def __init__(self, message: str, reports: Sequence[Report], *, location: str):
        super().__init__(message, location=location)
        self.reports = list(reports)


@dataclass(frozen=True)
class ExportedPackage:
    """One AIP handed over as one ZIP."""

    aip_id: str
    zip_path: Path
    size: int
    sha256: str
    sip: ExportedSip
    source_copy: str
    rejected_copies: tuple[Report, ...]
    warnings: tuple[str, ...]  # finding codes the receiving validator gave (no errors)
    event_id: str = ""  # the dissemination event recorded for this handover
    #: locations the dissemination event could not be written to (it is in the catalog)
    event_not_written: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    packages: tuple[ExportedPackage, ...]
    csv_path: Path
    pdf_path: Path

    @property
    def size(self) -> int:
        return sum(p.size for p in self.packages)


def zip_name(objid: str) -> str:
    return f"{objid}.zip"


def sip_objid(aip_id: str) -> str:
    """The OBJID of an exported SIP: ``uuid-`` and the AIP's UUID in upper case."""
    return "uuid-" + str(uuid.UUID(aip_id)).upper()


def export_aips(config: Config, catalog: Catalog, aip_ids: Sequence[str], out_dir: Path,
                trust_anchors: Sequence[x509.Certificate], *, progress: Progress = no_progress,
                clock: Callable[[], datetime] = now_local,
                archivist: str | None = None) -> ExportResult:
    """Export the AIPs as TT05 SIP ZIPs with a handover list, all or nothing, into ``out_dir``;
    then record a dissemination event per AIP. ``archivist`` names the person responsible
    (None: the operating-system user)."""
    ids = list(dict.fromkeys(aip_ids))
    if not ids:
        raise UsageError("name at least one AIP to export", code="EXPORT-NOTHING")
    records = [_aip(catalog, aip_id) for aip_id in ids]
    out_dir = out_dir.absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a folder", code="EXPORT-TARGET-EXISTS",
                         location=str(out_dir))
    names = [zip_name(sip_objid(a.id)) for a in records] + [CSV_NAME, PDF_NAME]
    _refuse_existing(out_dir, names)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".export-{uuid.uuid4().hex[:12]}.partial"
    staging.mkdir()
    when = clock()
    try:
        packages = [_export_one(config, catalog, aip, staging, trust_anchors, when, progress)
                    for aip in records]
        rows = [_handover_row(n, p) for n, p in enumerate(packages, 1)]
        write_handover_csv(staging / CSV_NAME, rows)
        write_handover_pdf(staging / PDF_NAME, rows, archive_name=config.name, when=when)
        _publish(staging, out_dir, [p.zip_path.name for p in packages] + [CSV_NAME, PDF_NAME])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    done = _disseminated(config, catalog, [_moved(p, out_dir) for p in packages], clock(),
                         archivist)
    log.info("exported %d AIPs to %s", len(done), out_dir)
    return ExportResult(out_dir, done, out_dir / CSV_NAME, out_dir / PDF_NAME)


def _aip(catalog: Catalog, aip_id: str) -> AipRecord:
    record = catalog.aip(aip_id)
    if record is None:
        raise UsageError(f"no AIP {aip_id} in the catalog", code="EXPORT-UNKNOWN-AIP",
                         location=aip_id)
    if "tt05" not in record.source_kind:
        raise UsageError(f"AIP {aip_id} is a {record.source_kind} package, not a TT05 AIP; "
                         "only TT05 AIPs are exported as TT05 SIPs", code="EXPORT-NOT-TT05",
                         location=aip_id)
    return record


def _refuse_existing(out_dir: Path, names: Sequence[str]) -> None:
    for name in names:
        target = out_dir / name
        if target.exists() or target.is_symlink():
            raise UsageError(f"{target} already exists; an export never overwrites a file",
                             code="EXPORT-TARGET-EXISTS", location=str(target))


def _export_one(config: Config, catalog: Catalog, aip: AipRecord, staging: Path,
                trust_anchors: Sequence[x509.Certificate], when: datetime,
                progress: Progress) -> ExportedPackage:
    verified, rejected = read_verified(config, catalog, aip.id, staging / "read",
                                       trust_anchors, progress=progress)
    if verified is None:
        raise NoIntactCopyError(f"no copy of AIP {aip.id} verifies (bytes, manifests and "
                                "signature); nothing was exported", rejected, location=aip.id)
    try:
        info = parse_bag_info((verified.root / "bag-info.txt").read_bytes())
        objid = sip_objid(aip.id)
        try:
            sip = write_sip(verified.root, _content(verified), staging / "sip", objid=objid,
                            archive_code=info.get("Archive-Code", config.archive_code),
                            fonds_code=info.get("Fonds-Code", ""), organisation=config.name,
                            created=when, verified=_verified_digests(verified))
        except ExportError as e:
            e.aip = aip.id
            e.message = f"AIP {aip.id}: {e.message}"
            raise
        archive = staging / zip_name(objid)
        _zip(sip.folder, archive)
        warnings = _validate(config, archive, staging / "check")
        shutil.rmtree(sip.folder)
    finally:
        shutil.rmtree(verified.root, ignore_errors=True)
    digest, size = sha256_file(archive)
    return ExportedPackage(aip.id, archive, size, digest, sip, verified.location,
                           verified.rejected_copies, warnings)


def _content(verified: VerifiedAip) -> dict[str, Path]:
    return {f.original_name: verified.root / f.path for f in verified.files
            if f.role == "content" and f.original_name}


def _verified_digests(verified: VerifiedAip) -> dict[Path, tuple[int, str]]:
    """Size and SHA-256 of every file read back, as the catalog records them (and
    :func:`read_verified` proved)."""
    return {verified.root.joinpath(*PurePosixPath(f.path).parts): (f.size, f.sha256)
            for f in verified.files}


def _zip(folder: Path, archive: Path) -> None:
    """``folder`` as a ZIP whose single top folder is the package (sorted, UTF-8 names)."""
    top = folder.name
    with zipfile.ZipFile(archive, "x", allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_dir():
                continue
            kind = zipfile.ZIP_STORED if path.suffix.lower() in _COMPRESSED \
                else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo.from_file(path, f"{top}/{rel}")
            info.compress_type = kind
            with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)


def _validate(config: Config, archive: Path, work: Path) -> tuple[str, ...]:
    """The ZIP through the receiving side's validator; any error refuses the export."""
    work.mkdir(parents=True, exist_ok=True)
    options = ValidationOptions(
        historical_archive=config.validation.archive_type == "historical",
        check_content=False)  # the content was checked at ingest and is unchanged (verified)
    with open_sip(archive, work, options) as submission:
        report = submission.report
        if not report.valid:
            raise RejectedError(f"the exported package {archive.name} would be rejected: "
                                f"{', '.join(sorted(f.code for f in report.errors))}",
                                report, code="EXPORT-SIP-INVALID")
        return tuple(sorted(report.codes()))


def _handover_row(number: int, package: ExportedPackage) -> HandoverPackage:
    sip = package.sip
    return HandoverPackage(
        number=number, arc_file_code=sip.arc_file_code, file_code=sip.file_code,
        title=sip.title, documents=tuple(
            HandoverDocument(doc_code=d.doc_code, title=d.title, path=d.path, size=d.size,
                             sha256=d.sha256) for d in sip.documents),
        zip_name=package.zip_path.name, size=package.size, sha256=package.sha256,
        aip_id=package.aip_id, fonds_code=sip.fonds_code)


def _publish(staging: Path, out_dir: Path, names: Sequence[str]) -> None:
    """Move every finished file into ``out_dir`` without overwriting anything; all or nothing.

    The files, ``out_dir`` and its parent are synced before this returns: the dissemination events
    recorded next never describe a handover a crash could still lose."""
    placed: list[Path] = []
    try:
        for name in names:
            target = out_dir / name
            os.link(staging / name, target)  # fails if ``target`` exists: never overwrites
            placed.append(target)
        for path in placed:
            fsync_file(path)
        fsync_directory(out_dir)
        fsync_directory(out_dir.parent)  # a folder this export made is itself a new name
    except FileExistsError as e:
        for path in placed:
            path.unlink()
        raise UsageError(f"{e.filename} appeared during the export; nothing was written",
                         code="EXPORT-TARGET-EXISTS", location=str(e.filename)) from e
    except OSError:
        for path in placed:
            path.unlink()
        raise


def _moved(package: ExportedPackage, out_dir: Path) -> ExportedPackage:
    return dataclasses.replace(package, zip_path=out_dir / package.zip_path.name)


def _disseminated(config: Config, catalog: Catalog, packages: Sequence[ExportedPackage],
                  when: datetime, archivist: str | None) -> tuple[ExportedPackage, ...]:
    """A ``dissemination`` event per handed-over AIP: beside the AIP on every reachable
    location (a location that fails is logged and named in the package) and in the catalog
    (:func:`preservation.events.record_event`, as an access copy records its own)."""
    agents = standard_agents(config.name, archivist)
    backends: dict[str, StorageBackend] = {}
    unreachable: dict[str, str] = {}
    out: list[ExportedPackage] = []
    try:
        reachable = open_all_locations(config, backends, unreachable)
        for package in packages:
            event = new_event(
                package.aip_id, "dissemination", when, "success",
                detail=f"handover export as the TT05 SIP {package.zip_path.name} "
                       f"({package.size} bytes, SHA-256 {package.sha256}), read from copy "
                       f"{package.source_copy}",
                outcome_detail=str(package.zip_path), location=package.source_copy,
                agents=agents)
            failed = record_event(catalog, reachable, unreachable, event, agents)
            out.append(dataclasses.replace(package, event_id=event.id,
                                           event_not_written=tuple(failed)))
    finally:
        for backend in backends.values():
            backend.close()
    return tuple(out)
