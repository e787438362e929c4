"""The signed BagIt 1.0 wrapper of every AIP: tag files, ``fetch.txt`` of reused objects, signature.

``data/`` is the AIP package directory. Tag files: ``bagit.txt``, ``bag-info.txt`` (the fields
of contract §1, written by :func:`bag_info`), ``manifest-sha256.txt`` (every payload file,
reused ones included), ``fetch.txt`` when objects are reused from a previous version, and
``tagmanifest-sha256.txt`` over all of them; ``tagmanifest-sha256.txt.p7s`` is a detached CMS
signature over the tagmanifest, so every byte is covered transitively.

Reuse (issue 4, "unchanged files are not stored again"): a payload file whose SHA-256 and size
equal an object of the previous version is not stored again. Its fetch line is
``../<stored key> <size> <bag path>``: a URL relative to the bag's own folder on storage
(``<aip uuid>/``), i.e. the object key that physically holds the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aip.model import FormatId, PayloadFile, PreviousVersion, ReusableFile
from aip.renamed_names import RENAMED_NAMES, renamed_names_text
from preservation import SOFTWARE_NAME, __version__
from preservation.formats import format_fields, format_from_fields
from preservation.hashing import sha256_bytes
from preservation.manifest import (
    BAGIT_TXT,
    MANIFEST,
    SIGNATURE,
    TAGMANIFEST,
    bag_info_text,
    encode_path,
    manifest_lines,
    manifest_text,
)
from preservation.signing import SigningIdentity, sign_detached
from preservation.timestamps import timestamp_signature
from preservation.timeutil import iso
from preservation.xmlstream import HashingWriter

FETCH = "fetch.txt"
_LINES_PER_WRITE = 1024


@dataclass(frozen=True, slots=True)
class StagedObject:
    """One file of the AIP bag: where its bytes are now, and what they must be.

    ``stored_key`` set: the bytes are not stored under this AIP but reused from the object of a
    previous version with that key (listed in ``fetch.txt``); ``source`` is then None.
    """

    bag_path: str  # path inside the bag, e.g. "data/METS.xml", "bagit.txt"
    source: Path | None
    size: int
    sha256: str
    role: str  # "content" | "metadata" | "tag" | "signature"
    original_name: str | None = None
    format: FormatId | None = None
    stored_key: str | None = None


def staged_fields(obj: StagedObject) -> tuple[Any, ...]:
    """``obj`` as plain values, for a spooled sequence (:mod:`preservation.spooled`)."""
    return (obj.bag_path, None if obj.source is None else str(obj.source), obj.size,
            obj.sha256, obj.role, obj.original_name, format_fields(obj.format), obj.stored_key)


def staged_from_fields(values: tuple[Any, ...]) -> StagedObject:
    """The :class:`StagedObject` of :func:`staged_fields`."""
    bag_path, source, size, sha256, role, original_name, fmt, stored_key = values
    return StagedObject(bag_path, None if source is None else Path(source), size, sha256, role,
                        original_name, format_from_fields(fmt), stored_key)


@dataclass(frozen=True)
class BagIdentity:
    """What bag-info.txt says about the AIP (contract §1)."""

    aip_uuid: str
    package_uuid: str
    version: int
    previous_uuid: str | None
    record_status: str
    fonds_code: str
    archive_code: str
    source_kind: str
    objid: str
    created: datetime
    organisation: str
    label: str
    source_name: str
    arc_file_code: str = ""  # TT05 only


def bag_info(ident: BagIdentity, oxum: str) -> list[tuple[str, str]]:
    """The bag-info.txt fields, in a fixed order; optional ones only when they have a value."""
    fields = [
        ("Source-Organization", ident.organisation),
        ("Bagging-Date", ident.created.date().isoformat()),
        ("Bag-Software-Agent", f"{SOFTWARE_NAME} {__version__}"),
        ("External-Identifier", f"urn:uuid:{ident.aip_uuid}"),
        ("External-Description", ident.label),
        ("Internal-Sender-Identifier", ident.source_name),
        ("Payload-Oxum", oxum),
        ("Package-Identifier", f"urn:uuid:{ident.package_uuid}"),
        ("Package-Version", str(ident.version)),
    ]
    if ident.previous_uuid:
        fields.append(("Previous-Version", f"urn:uuid:{ident.previous_uuid}"))
    fields += [("Record-Status", ident.record_status), ("Fonds-Code", ident.fonds_code)]
    if ident.archive_code:
        fields.append(("Archive-Code", ident.archive_code))
    fields += [("Source-Kind", ident.source_kind), ("Package-OBJID", ident.objid),
               ("Created", iso(ident.created))]
    if ident.arc_file_code:
        fields.append(("Arc-File-Code", ident.arc_file_code))
    return fields


def staged(payload: Sequence[PayloadFile], previous: PreviousVersion | None
           ) -> list[StagedObject]:
    """Bag objects for the payload; identical bytes of the previous version are reused."""
    reusable: dict[tuple[str, int], ReusableFile] = {}
    for prev in previous.files if previous is not None else ():
        reusable.setdefault((prev.sha256.lower(), prev.size), prev)
    out = []
    for p in payload:
        key = p.stored_key
        if key is None:
            match = reusable.get((p.sha256.lower(), p.size))
            key = match.stored_key if match is not None else None
        out.append(StagedObject("data/" + p.aip_path, None if key else p.source, p.size,
                                p.sha256, p.role, original_name=p.original_name,
                                format=p.format, stored_key=key))
    return out


def fetch_lines(objects: Iterable[StagedObject]) -> Iterator[str]:
    """fetch.txt lines ``../<stored key> <size> <bag path>`` of the reused ``objects``, in the
    order given (:func:`write_bag` gives them sorted by bag path)."""
    for o in objects:
        if o.stored_key:
            yield f"../{encode_path(o.stored_key)} {o.size} {encode_path(o.bag_path)}\n"


def _bag_path(o: StagedObject) -> str:
    return o.bag_path


def _write_tag(staging: Path, name: str, text: str) -> StagedObject:
    data = text.encode("utf-8")
    target = staging / name
    target.write_bytes(data)
    return StagedObject(name, target, len(data), sha256_bytes(data), "tag")


def _write_lines(staging: Path, name: str, lines: Iterable[str]) -> StagedObject:
    """A tag file with a line per payload file, written as the lines come (never one text)."""
    target = staging / name
    with open(target, "wb") as f:
        out = HashingWriter(f)
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == _LINES_PER_WRITE:
                out.write("".join(chunk).encode("utf-8"))
                chunk.clear()
        out.write("".join(chunk).encode("utf-8"))
    return StagedObject(name, target, out.size, out.sha256, "tag")


def write_bag(
    staging: Path,
    payload: Sequence[StagedObject],
    ident: BagIdentity,
    identity: SigningIdentity,
    tsa_url: str = "",
) -> tuple[list[StagedObject], StagedObject, StagedObject]:
    """Write the tag files and the signature; return (tag files, tagmanifest, signature)."""
    oxum = f"{sum(p.size for p in payload)}.{len(payload)}"
    ordered = sorted(payload, key=_bag_path)  # once, for the manifest and fetch.txt
    tags = [_write_tag(staging, "bagit.txt", BAGIT_TXT),
            _write_tag(staging, "bag-info.txt", bag_info_text(bag_info(ident, oxum))),
            _write_lines(staging, MANIFEST,
                         manifest_lines((o.bag_path, o.sha256) for o in ordered))]
    if any(p.stored_key for p in payload):
        tags.append(_write_lines(staging, FETCH, fetch_lines(ordered)))
    names = renamed_names_text(payload)
    if names:  # original names of renamed producer files: in the bag, signed (rebuild reads it)
        tags.append(_write_tag(staging, RENAMED_NAMES, names))
    # the tagmanifest lists the few tag files: it is also the signed text, kept whole
    body = manifest_text((t.bag_path, t.sha256) for t in tags).encode()
    tagmanifest = _write_tag(staging, TAGMANIFEST, body.decode())
    signature_der = sign_detached(identity, body)
    if tsa_url:  # before anything is stored: a TSA failure leaves nothing behind
        signature_der = timestamp_signature(signature_der, tsa_url)
    sig_path = staging / SIGNATURE
    sig_path.write_bytes(signature_der)
    signature = StagedObject(SIGNATURE, sig_path, len(signature_der), sha256_bytes(signature_der),
                             "signature")
    return tags, tagmanifest, signature
