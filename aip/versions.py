"""Versions of an AIP: what ``ingest --supplement PREV`` / ``--replace PREV`` build on.

A new version is a new AIP (new UUID) that shares the package identifier of version 1. Only the
latest version of a package can be supplemented or replaced; the previous version's payload files
are offered to the builder as :class:`~aip.builder.ReusableFile` so that unchanged bytes are not
stored again (the new bag's ``fetch.txt`` points at the object that really holds them).

This module only reads the catalog; the refusals it raises are :class:`RejectedError` with a
report of one ``INGEST-*`` finding, raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aip.builder import PreviousVersion, ReusableFile
from preservation.catalog import AipRecord, Catalog, FileRecord
from preservation.errors import RejectedError, UsageError
from preservation.findings import Report
from preservation.manifest import object_key

SUPPLEMENT, REPLACE = "supplement", "replace"
#: roles of the previous version's files that a new version may reuse (payload, not tag files)
_REUSABLE_ROLES = ("content", "metadata")


@dataclass(frozen=True)
class VersionRequest:
    """What the archivist asked for: a mode and the AIP to build on."""

    mode: str  # SUPPLEMENT | REPLACE
    previous_id: str


def version_request(supplement: str | None, replace: str | None) -> VersionRequest | None:
    """The request made by ``--supplement`` / ``--replace`` (at most one), or None."""
    if supplement and replace:
        raise UsageError(f"--supplement {supplement} and --replace {replace} cannot be used "
                         "together: choose one", code="INGEST-VERSION-OPTIONS")
    if supplement:
        return VersionRequest(SUPPLEMENT, supplement.strip())
    if replace:
        return VersionRequest(REPLACE, replace.strip())
    return None


def refusal(code: str, message: str, **params: Any) -> RejectedError:
    """A refused ingest: one finding (so the CLI prints its fix), nothing written."""
    report = Report("ingest", kind="ingest")
    report.add(code, None, **params)
    return RejectedError(message, report, code=code)


def package_id(record: AipRecord) -> str:
    """The package identifier (version 1's UUID) of an AIP record."""
    return record.package_id


def previous_record(catalog: Catalog, request: VersionRequest) -> AipRecord:
    """The catalog record of the AIP to build on; it must exist and be the latest version."""
    record = catalog.aip(request.previous_id)
    if record is None:
        raise refusal("INGEST-UNKNOWN-AIP", f"no AIP {request.previous_id} in the catalog",
                      aip=request.previous_id)
    latest = catalog.latest(package_id(record))
    if latest is not None and latest.id != record.id:
        raise refusal(
            "INGEST-NOT-LATEST-VERSION",
            f"AIP {record.id} is version {record.version}; version {latest.version} "
            f"({latest.id}) is the latest", aip=record.id, version=record.version,
            latest=latest.version)
    return record


def reusable_files(record: AipRecord, files: list[FileRecord]) -> tuple[ReusableFile, ...]:
    """The payload files of ``record`` with the object key that really holds each one."""
    return tuple(
        ReusableFile(bag_path=f.path, size=f.size, sha256=f.sha256,
                     stored_key=f.stored_key or object_key(record.id, f.path),
                     role=f.role, original_name=f.original_name, puid=f.puid,
                     format_name=f.format_name)
        for f in files if f.role in _REUSABLE_ROLES and f.path.startswith("data/"))


def previous_version(catalog: Catalog, request: VersionRequest) -> tuple[PreviousVersion, str]:
    """What the builder needs about the version to build on, and that version's fonds code."""
    record = previous_record(catalog, request)
    previous = PreviousVersion(
        uuid=record.id, package_uuid=package_id(record), version=record.version,
        objid=record.objid or f"urn:uuid:{record.id}", mode=request.mode,
        files=reusable_files(record, catalog.files(record.id)))
    return previous, record.fonds_code
