"""Catalog rebuild, step one: is the copy of an AIP on one location complete and authentic?

Only what the signature covers is believed. The CMS signature must verify over the stored
tagmanifest with the configured trust anchors; the tag files (bagit.txt, bag-info.txt, the
manifest, fetch.txt) must match the tagmanifest; every manifest entry must be stored, under the
AIP's prefix or (for a file an earlier version holds) under the key ``fetch.txt`` names. Sizes are
compared with the listing, and with the SHA-256 a backend recorded at put time where it keeps one;
``verify=True`` reads every byte. Key names are never trusted as paths: every bag path must be a
valid object key under ``data/``, every fetch URL a ``../<uuid>/…`` key.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from preservation.errors import ObjectMissingError, StorageError
from preservation.hashing import sha256_stream
from preservation.manifest import (
    MANIFEST,
    SIGNATURE,
    TAGMANIFEST,
    decode_path,
    parse_bag_info,
    parse_manifest,
)
from preservation.storage import ObjectInfo, StorageBackend, check_key

WORKERS = 8
FETCH = "fetch.txt"
BAG_INFO = "bag-info.txt"
REQUIRED_TAGS = ("bagit.txt", BAG_INFO, MANIFEST)
#: size limits for the small objects read whole (tag files, signature)
MAX_TAG_BYTES = 256 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4 * 1024 * 1024
#: signature problems that leave the AIP authentic (only the proof of time is missing or bad)
_TIME_ONLY = {"SIG-CERT-EXPIRED-NO-TIMESTAMP"}


@dataclass(frozen=True)
class Problem:
    """A finding about one copy, kept until it is known whether the AIP is registered."""

    code: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class StoredFile:
    """One file of the bag as this copy holds it."""

    path: str
    size: int
    sha256: str
    #: the object key holding the bytes when it is not under this AIP's prefix (fetch.txt)
    stored_key: str | None = None


@dataclass
class CopyCheck:
    """What one location holds of one AIP, and whether it is complete and authentic."""

    aip_id: str
    location: str
    url: str
    found: bool = False  # the location holds at least one object of the AIP
    problems: list[Problem] = field(default_factory=list)  # any of them: not complete
    warnings: list[Problem] = field(default_factory=list)  # complete all the same
    files: dict[str, StoredFile] = field(default_factory=dict)
    tag_bytes: dict[str, bytes] = field(default_factory=dict)
    bag_info: dict[str, str] = field(default_factory=dict)
    tagmanifest_sha256: str = ""
    signer: str = ""
    signature_modified: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.found and not self.problems

    def problem(self, code: str, path: str, *, line: int | None = None, **params: object) -> None:
        self.problems.append(Problem(code, path, {k: str(v) for k, v in params.items()}, line))

    def warning(self, code: str, path: str, **params: object) -> None:
        self.warnings.append(Problem(code, path, {k: str(v) for k, v in params.items()}))


def is_uuid(text: str) -> bool:
    """A canonical lower-case UUID, as this project writes them in keys."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def check_copy(aip_id: str, location: str, backend: StorageBackend,
               trust_anchors: Sequence[x509.Certificate], *, verify: bool = False) -> CopyCheck:
    """Check the copy of ``aip_id`` on ``backend``; never raises for bad or missing data."""
    check = CopyCheck(aip_id, location, backend.describe())
    prefix = f"{aip_id}/"
    try:
        listing = {info.key[len(prefix):]: info for info in backend.list(prefix)}
    except StorageError as e:
        check.found = True
        check.problem("REBUILD-COPY-UNREADABLE", f"{location}:{prefix}", location=location,
                      error=e.message)
        return check
    check.found = bool(listing)
    if not listing:
        return check
    where = f"{location}:{aip_id}"
    if SIGNATURE not in listing:
        check.problem("REBUILD-NO-SIGNATURE", f"{where}/{SIGNATURE}", location=location,
                      objects=len(listing))
        return check
    check.signature_modified = listing[SIGNATURE].modified
    if TAGMANIFEST not in listing:
        check.problem("REBUILD-OBJECT-MISSING", f"{where}/{TAGMANIFEST}", location=location,
                      file=TAGMANIFEST)
        return check
    try:
        signature = _read(backend, prefix + SIGNATURE, MAX_SIGNATURE_BYTES)
        tagmanifest = _read(backend, prefix + TAGMANIFEST, MAX_TAG_BYTES)
    except (StorageError, OSError, ValueError) as e:
        check.problem("REBUILD-COPY-UNREADABLE", where, location=location, error=str(e))
        return check
    if not _authentic(check, where, signature, tagmanifest, trust_anchors):
        return check
    check.tagmanifest_sha256 = hashlib.sha256(tagmanifest).hexdigest()
    check.files[SIGNATURE] = StoredFile(SIGNATURE, len(signature),
                                        hashlib.sha256(signature).hexdigest())
    check.files[TAGMANIFEST] = StoredFile(TAGMANIFEST, len(tagmanifest), check.tagmanifest_sha256)
    tags = _parse(check, where, TAGMANIFEST, tagmanifest)
    if tags is None or not _tag_files(check, backend, prefix, where, tags, listing):
        return check
    manifest = _parse(check, where, MANIFEST, check.tag_bytes[MANIFEST])
    if manifest is None:
        return check
    check.bag_info = parse_bag_info(check.tag_bytes[BAG_INFO])
    identifier = check.bag_info.get("External-Identifier", "")
    if identifier != f"urn:uuid:{aip_id}":
        check.problem("REBUILD-IDENTIFIER-MISMATCH", f"{where}/{BAG_INFO}", location=location,
                      identifier=identifier or "(absent)", aip=aip_id)
        return check
    fetched = _fetch_entries(check, where, manifest)
    if fetched is None:
        return check
    _payload(check, backend, prefix, where, manifest, fetched, listing)
    if check.problems:
        return check
    _oxum(check, where, manifest)
    _sha256(check, backend, prefix, where, manifest, verify)
    known = set(check.files) | set(tags)
    for path in sorted(set(listing) - known):
        check.warning("REBUILD-UNEXPECTED-OBJECT", f"{where}/{path}", location=location,
                      key=prefix + path)
    return check


def _read(backend: StorageBackend, key: str, limit: int) -> bytes:
    with backend.open(key) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{key} is larger than {limit} bytes")
    return data


def _authentic(check: CopyCheck, where: str, signature: bytes, tagmanifest: bytes,
               trust_anchors: Sequence[x509.Certificate]) -> bool:
    from preservation.signing import verify_detached  # pyHanko loads only when needed

    result = verify_detached(signature, tagmanifest, trust_anchors)
    path = f"{where}/{SIGNATURE}"
    if not result.intact:
        check.problem("REBUILD-SIGNATURE-INVALID", path, location=check.location,
                      problems=", ".join(result.problems))
        return False
    if not result.trusted and not _TIME_ONLY.intersection(result.problems):
        check.problem("REBUILD-SIGNATURE-UNTRUSTED", path, location=check.location,
                      signer=result.signer_subject, problems=", ".join(result.problems))
        return False
    if not result.trusted:
        check.warning("REBUILD-SIGNATURE-NO-PROOF-OF-TIME", path, location=check.location,
                      signer=result.signer_subject)
    if result.timestamp is not None and not result.timestamp.ok:
        check.warning("REBUILD-TIMESTAMP-INVALID", path, location=check.location,
                      problems=", ".join(result.timestamp.problems))
    check.signer = result.signer_subject
    return True


def _parse(check: CopyCheck, where: str, name: str, data: bytes) -> dict[str, str] | None:
    try:
        return parse_manifest(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        check.problem("REBUILD-MANIFEST-UNREADABLE", f"{where}/{name}", location=check.location,
                      file=name, error=str(e))
        return None


def _safe(path: str, aip_id: str) -> bool:
    try:
        check_key(f"{aip_id}/{path}")
    except StorageError:
        return False
    return True


def _tag_files(check: CopyCheck, backend: StorageBackend, prefix: str, where: str,
               tags: dict[str, str], listing: dict[str, ObjectInfo]) -> bool:
    """Every tag file the tagmanifest lists is stored with the listed SHA-256."""
    for name in REQUIRED_TAGS:
        if name not in tags:
            check.problem("REBUILD-TAGMANIFEST-INCOMPLETE", f"{where}/{TAGMANIFEST}",
                          location=check.location, file=name)
    for name, digest in sorted(tags.items()):
        if name.startswith("data/") or name in (TAGMANIFEST, SIGNATURE) \
                or not _safe(name, check.aip_id):
            check.problem("REBUILD-UNSAFE-PATH", f"{where}/{TAGMANIFEST}",
                          location=check.location, file=name)
            continue
        if name not in listing:
            check.problem("REBUILD-OBJECT-MISSING", f"{where}/{name}", location=check.location,
                          file=name)
            continue
        try:
            data = _read(backend, prefix + name, MAX_TAG_BYTES)
        except (StorageError, OSError, ValueError) as e:
            check.problem("REBUILD-COPY-UNREADABLE", f"{where}/{name}", location=check.location,
                          error=str(e))
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            check.problem("REBUILD-TAG-FILE-MISMATCH", f"{where}/{name}", location=check.location,
                          file=name, expected=digest, actual=actual)
            continue
        check.tag_bytes[name] = data
        check.files[name] = StoredFile(name, len(data), digest)
    return not check.problems


def _fetch_entries(check: CopyCheck, where: str, manifest: dict[str, str]
                   ) -> dict[str, tuple[str, int]] | None:
    """bag path → (object key, size) of fetch.txt: ``../<uuid>/<bag path> <size> <bag path>``."""
    data = check.tag_bytes.get(FETCH)
    out: dict[str, tuple[str, int]] = {}
    if data is None:
        return out
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        parts = line.split(" ", 2)
        key = parts[0][3:] if len(parts) == 3 and parts[0].startswith("../") else ""
        path = decode_path(parts[2]) if len(parts) == 3 else ""
        size = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else -1
        owner = key.split("/", 1)[0]
        if (size < 0 or path not in manifest or path in out or not is_uuid(owner)
                or owner == check.aip_id or not _safe(key.partition("/")[2], owner)):
            check.problem("REBUILD-FETCH-INVALID", f"{where}/{FETCH}", line=number,
                          location=check.location, entry=line[:300])
            continue
        out[path] = (key, size)
    return None if check.problems else out


def _payload(check: CopyCheck, backend: StorageBackend, prefix: str, where: str,
             manifest: dict[str, str], fetched: dict[str, tuple[str, int]],
             listing: dict[str, ObjectInfo]) -> None:
    """Every manifest entry is stored: here, or under the key fetch.txt names, with its size."""
    for path, digest in sorted(manifest.items()):
        if not path.startswith("data/") or not _safe(path, check.aip_id):
            check.problem("REBUILD-UNSAFE-PATH", f"{where}/{MANIFEST}", location=check.location,
                          file=path)
            continue
        if path in fetched:
            key, size = fetched[path]
            try:
                info = backend.head(key)
            except StorageError as e:
                check.problem("REBUILD-COPY-UNREADABLE", f"{check.location}:{key}",
                              location=check.location, error=e.message)
                continue
            if info is None:
                check.problem("REBUILD-OBJECT-MISSING", f"{check.location}:{key}",
                              location=check.location, file=path)
                continue
            if info.size != size:
                check.problem("REBUILD-SIZE-MISMATCH", f"{check.location}:{key}",
                              location=check.location, file=path, expected=size,
                              actual=info.size)
                continue
            check.files[path] = StoredFile(path, size, digest, key)
        elif path in listing:
            check.files[path] = StoredFile(path, listing[path].size, digest)
        else:
            check.problem("REBUILD-OBJECT-MISSING", f"{where}/{path}", location=check.location,
                          file=path)


def _oxum(check: CopyCheck, where: str, manifest: dict[str, str]) -> None:
    """The payload's total size and count are what bag-info.txt's Payload-Oxum says."""
    oxum = check.bag_info.get("Payload-Oxum", "")
    octets, _, count = oxum.partition(".")
    actual = f"{sum(check.files[p].size for p in manifest)}.{len(manifest)}"
    if not (octets.isdigit() and count.isdigit()) or actual != f"{int(octets)}.{int(count)}":
        check.problem("REBUILD-PAYLOAD-OXUM-MISMATCH", f"{where}/{BAG_INFO}",
                      location=check.location, expected=oxum or "(absent)", actual=actual)


def _sha256(check: CopyCheck, backend: StorageBackend, prefix: str, where: str,
            manifest: dict[str, str], verify: bool) -> None:
    """``verify``: read every payload byte; else compare the SHA-256 the backend recorded."""
    def key(path: str) -> str:
        return check.files[path].stored_key or prefix + path

    if verify:
        def digest(path: str) -> tuple[str, str | None, int, str]:
            try:
                return path, *_hash(backend, key(path)), ""
            except ObjectMissingError:
                return path, None, 0, "missing"
            except (StorageError, OSError) as e:
                return path, None, 0, str(e)
    else:
        try:
            probe = backend.head(prefix + TAGMANIFEST)
        except StorageError:
            probe = None
        if probe is None or probe.sha256 is None:
            return  # this backend keeps no SHA-256 (filesystem): sizes only

        def digest(path: str) -> tuple[str, str | None, int, str]:
            try:
                info = backend.head(key(path))
            except StorageError as e:
                return path, None, 0, e.message
            if info is None:
                return path, None, 0, "missing"
            return path, info.sha256, info.size, ""

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(digest, sorted(manifest)))
    for path, sha, size, error in results:
        place = f"{check.location}:{key(path)}"
        if error == "missing":
            check.problem("REBUILD-OBJECT-MISSING", place, location=check.location, file=path)
        elif error:
            check.problem("REBUILD-COPY-UNREADABLE", place, location=check.location, error=error)
        elif size != check.files[path].size:
            check.problem("REBUILD-SIZE-MISMATCH", place, location=check.location, file=path,
                          expected=check.files[path].size, actual=size)
        elif sha is not None and sha != manifest[path]:
            check.problem("REBUILD-CHECKSUM-MISMATCH", place, location=check.location,
                          file=path, expected=manifest[path], actual=sha)


def _hash(backend: StorageBackend, key: str) -> tuple[str, int]:
    with backend.open(key) as stream:
        return sha256_stream(stream)
