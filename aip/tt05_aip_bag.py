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

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aip import model
from aip.model import FormatId, PayloadFile, PreviousVersion
from aip.renamed_names import RENAMED_NAMES, renamed_names_text
from preservation import SOFTWARE_NAME, __version__
from preservation.diskmap import DiskMap
from preservation.findings_spool import SpooledSequence
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
from preservation.spooled import spooled
from preservation.timestamps import timestamp_signature
from preservation.timeutil import iso
from preservation.xmlstream import HashingWriter

FETCH = "fetch.txt"
_LINES_PER_WRITE = 1024
#: a payload of more runs already in bag-path order than this is sorted as a whole
_MAX_RUNS = 32
#: objects read ahead, over all runs, while the runs are merged
_MERGE_WINDOW = 4096


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


def staged(payload: Iterable[PayloadFile], previous: PreviousVersion | None, *,
           keep: int | None = None) -> SpooledSequence[StagedObject]:
    """Bag objects for the payload, in its order; identical bytes of the previous version are
    reused. One pass: a spooled sequence (the first ``keep``, default :data:`aip.model.KEEP`,
    in memory, the rest in a temporary file, :mod:`preservation.spooled`), never a list of
    every object."""
    # (size, SHA-256) -> the stored key of the previous version's first object with those
    # bytes (a DiskMap past aip.model.KEEP objects)
    reusable: DiskMap[str] = DiskMap(keep=model.KEEP, what="reusable object")
    for prev in previous.files if previous is not None else ():
        bytes_key = _bytes_key(prev.sha256, prev.size)
        if bytes_key not in reusable:
            reusable[bytes_key] = prev.stored_key

    def objects() -> Iterator[StagedObject]:
        for p in payload:
            key = p.stored_key
            if key is None and reusable:
                key = reusable.get(_bytes_key(p.sha256, p.size))
            yield StagedObject("data/" + p.aip_path, None if key else p.source, p.size,
                               p.sha256, p.role, original_name=p.original_name,
                               format=p.format, stored_key=key)

    every = spooled(objects(), staged_fields, staged_from_fields,
                    keep=model.KEEP if keep is None else keep, what="AIP object")
    reusable.close()
    return every


def _bytes_key(sha256: str, size: int) -> str:
    """The key of (SHA-256 compared case-blind, size): equal exactly when both are."""
    return f"{size}:{sha256.lower()}"


def fetch_lines(objects: Iterable[StagedObject]) -> Iterator[str]:
    """fetch.txt lines ``../<stored key> <size> <bag path>`` of the reused ``objects``, in the
    order given (:func:`write_bag` gives them sorted by bag path)."""
    for o in objects:
        if o.stored_key:
            yield f"../{encode_path(o.stored_key)} {o.size} {encode_path(o.bag_path)}\n"


def _bag_path(o: StagedObject) -> str:
    return o.bag_path


def _scan(payload: Iterable[StagedObject]) -> tuple[int, int, bool, list[int] | None]:
    """One pass over the payload: its total size, its count, whether an object is reused, and
    where each run already in bag-path order starts (None: more than :data:`_MAX_RUNS` runs)."""
    size = count = 0
    reused = False
    starts: list[int] | None = [0]
    last = ""
    for o in payload:
        size += o.size
        reused = reused or bool(o.stored_key)
        if starts is not None and count and o.bag_path < last:
            if len(starts) < _MAX_RUNS:
                starts.append(count)
            else:
                starts = None
        last = o.bag_path
        count += 1
    return size, count, reused, starts


def _in_bag_path_order(payload: Sequence[StagedObject], count: int, starts: list[int] | None
                       ) -> Callable[[], Iterable[StagedObject]]:
    """A fresh pass over ``payload`` sorted by bag path, each time it is called: the payload
    itself when it is in order already, its sorted runs merged when it is made of a few (the
    content, then each group of metadata files the builder writes), a sorted copy only when it
    is not (the same order in every case: the sort and the merge are both stable)."""
    if starts is None:
        everything = sorted(payload, key=_bag_path)
        return lambda: everything
    if len(starts) == 1:
        return lambda: payload
    bounds = list(zip(starts, [*starts[1:], count], strict=True))
    window = max(_MERGE_WINDOW // len(bounds), 16)
    return lambda: heapq.merge(*(_window(payload, start, stop, window)
                                 for start, stop in bounds), key=_bag_path)


def _window(objects: Sequence[StagedObject], start: int, stop: int, size: int
            ) -> Iterator[StagedObject]:
    """``objects[start:stop]``, read ``size`` at a time (a spooled sequence reads a slice from
    its nearest index mark: no pass from its first record)."""
    for at in range(start, stop, size):
        yield from objects[at:min(at + size, stop)]


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
    size, count, reused, starts = _scan(payload)
    ordered = _in_bag_path_order(payload, count, starts)  # for the manifest and fetch.txt
    tags = [_write_tag(staging, "bagit.txt", BAGIT_TXT),
            _write_tag(staging, "bag-info.txt", bag_info_text(bag_info(ident, f"{size}.{count}"))),
            _write_lines(staging, MANIFEST,
                         manifest_lines((o.bag_path, o.sha256) for o in ordered()))]
    if reused:
        tags.append(_write_lines(staging, FETCH, fetch_lines(ordered())))
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
