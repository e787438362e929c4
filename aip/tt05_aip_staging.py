"""Files an AIP builder writes into its staging folder, and the producer's files it keeps.

Shared by both AIP shapes (TT05 AIP_hoso / AIP_tailieu and the E-ARK-shaped AIP): every file is
returned as a :class:`~aip.model.PayloadFile` (path relative to the AIP root, size, SHA-256),
ready for the bag. The producer's metadata (its METS, records, schemas, bag tag files) and our
validation report are kept under ``submission/`` as evidence of what was received.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path, PurePosixPath

from aip.model import ContentFile, FormatId, PayloadFile, ReusableFile
from preservation.findings import Report
from preservation.hashing import CHUNK, sha256_bytes
from preservation.report_json import report_document, write_json
from preservation.xmlstream import HashingWriter
from sip.submission import FileRole, SipKind, Submission
from sip.tt05_xml import mime_type

#: a name kept as it is inside the AIP (ASCII, no spaces, no leading dot or dash)
PORTABLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
PORTABLE_MAX = 200
VALIDATION_REPORT = "submission/validation-report.json"
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_PRODUCER_TAG_FILE = re.compile(r"^(bagit|bag-info|(tag)?manifest-[a-z0-9]+|fetch)\.txt$")


def portable(name: str) -> bool:
    """True when ``name`` can be an AIP path (and an object key) exactly as it is."""
    return bool(PORTABLE.match(name)) and len(name) <= PORTABLE_MAX


def extension(path: str) -> str:
    """The lower-case extension of ``path`` when it is a plain one (``.pdf``), else ""."""
    suffix = PurePosixPath(path).suffix
    return suffix.lower() if _EXTENSION.match(suffix) else ""


def write(staging: Path, aip_path: str, data: bytes, mime: str = "application/xml"
          ) -> PayloadFile:
    """Write ``data`` as ``staging/data/<aip_path>``; a metadata payload file."""
    target = staging / "data" / aip_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return PayloadFile(aip_path, target, len(data), sha256_bytes(data), "metadata")


def copy_file(staging: Path, aip_path: str, source: Path) -> PayloadFile:
    """Copy ``source`` to ``staging/data/<aip_path>`` a chunk at a time, hashing as it goes
    (a producer's manifest has a line per file: never read whole); a metadata payload file."""
    target = staging / "data" / aip_path
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as dst:
        out = HashingWriter(dst)
        shutil.copyfileobj(src, out, CHUNK)
    return PayloadFile(aip_path, target, out.size, out.sha256, "metadata")


def write_streamed(staging: Path, aip_path: str,
                   writer: Callable[[Path], tuple[int, str]]) -> PayloadFile:
    """Stream a metadata file to ``staging/data/<aip_path>`` with ``writer`` (it writes the path
    and returns the size and SHA-256: one of the ``write_*`` XML writers, or
    :func:`write_report_json`), so that no whole document is held in memory."""
    target = staging / "data" / aip_path
    target.parent.mkdir(parents=True, exist_ok=True)
    size, sha256 = writer(target)
    return PayloadFile(aip_path, target, size, sha256, "metadata")


def write_report_json(path: Path, report: Report) -> tuple[int, str]:
    """The validation report as JSON (``report.to_dict("en")``), its findings streamed."""
    with path.open("wb") as f:
        out = HashingWriter(f)
        write_json(out, report_document(report, "en"))
    return out.size, out.sha256


def schema_file(name: str, packaged: str | None = None) -> bytes:
    """A packaged schema (preservation/schemas/<packaged or name>)."""
    return (resources.files("preservation") / "schemas" / (packaged or name)).read_bytes()


def producer_metadata(submission: Submission) -> Iterator[PayloadFile]:
    """The producer's METS, records, schemas and documentation, kept under submission/sip/
    (one at a time: a TT05 SIP has a record per document).

    Portable names keep their path (so the AIP stays readable without this software); any other
    name gets a sequence number, and its original path is recorded in METS and the catalog.
    """
    for n, f in enumerate((f for f in submission.files if f.role is FileRole.METADATA), 1):
        # a producer's own "renamed/" folder is renamed too: it would collide with ours
        keep = portable(f.path) and not f.path.startswith("renamed/")
        name = f.path if keep else f"renamed/{n:06d}{extension(f.path)}"
        yield PayloadFile(f"submission/sip/{name}", f.fs_path, f.size, f.sha256, "metadata",
                          original_name=f.path)


def submission_evidence(staging: Path, submission: Submission) -> list[PayloadFile]:
    """The producer's standard bag tag files and our validation report, under submission/."""
    out = []
    root = submission.root
    if root is not None and (submission.kind is SipKind.BAGIT or submission.wrapped_in_bag):
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if (_PRODUCER_TAG_FILE.match(entry.name) and entry.is_file()
                    and not entry.is_symlink()):
                out.append(copy_file(staging, f"submission/{entry.name}", entry))
    out.append(write_streamed(staging, VALIDATION_REPORT,
                              lambda path: write_report_json(path, submission.report)))
    return out


def carried(f: ReusableFile, name: str) -> tuple[ContentFile, PayloadFile]:
    """A content file of the previous version carried into a supplement by reference.

    Its file object UUID derives from the key that holds its bytes (the same in every version
    that carries it), its MIME type from its name (what the previous version's METS said for
    the formats we know), and its original name is ``name`` when the catalog has none.
    """
    path = f.bag_path.removeprefix("data/")
    fmt = FormatId(f.puid, f.format_name, basis="carried from the previous version")
    cf = ContentFile(str(uuid.uuid5(uuid.NAMESPACE_URL, f.stored_key)), path,
                     f.original_name or name, f.size, f.sha256.lower(), fmt, mime_type(path))
    return cf, PayloadFile(path, None, f.size, cf.sha256, "content", cf.original_name, fmt,
                           f.stored_key)


def mime_of(item: PayloadFile) -> str:
    """MIME type of a metadata file we keep or write, by extension."""
    name = item.aip_path.lower()
    if name.endswith(".xml"):
        return "application/xml"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".txt"):
        return "text/plain"
    return "application/octet-stream"
