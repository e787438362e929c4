"""Objects an AIP version reuses from an earlier one (``stored_key``): checked on every
location before anything is uploaded, copied in where a location added since lacks them,
read back with the rest of the copy."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from aip.builder import BuiltAip, StagedObject
from aip.ingest_parallel import each
from aip.ingest_resuming import ResumingBackend
from preservation.catalog import Catalog
from preservation.config import StorageConfig
from preservation.errors import ChecksumMismatchError, ObjectMissingError, StorageError
from preservation.hashing import sha256_stream
from preservation.storage import StorageBackend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopiedIn:
    """What :func:`bring_reused` copied into one location: objects of the previous version it
    lacked (they count as written for that copy), and their size in bytes."""

    objects: int = 0
    bytes: int = 0


NONE_COPIED = CopiedIn()


def stored_key(obj: StagedObject) -> str | None:
    """The object key of an earlier version that holds this object's bytes (None: our own)."""
    return obj.stored_key or None


def registered_copies(catalog: Catalog, built: BuiltAip) -> dict[str, set[str]]:
    """For each AIP that holds objects this one reuses: the locations of its registered
    copies (see :func:`bring_reused`)."""
    holders = {key.split("/", 1)[0] for o in built.objects if (key := stored_key(o))}
    return {h: {c.location for c in catalog.copies(h)} for h in sorted(holders)}


def bring_reused(built: BuiltAip, locations: Sequence[StorageConfig],
                 backends: Sequence[ResumingBackend],
                 registered: Mapping[str, Collection[str]], workers: int
                 ) -> list[CopiedIn]:
    """Check that every object reused from an earlier version is on every location; copy in
    the ones a location added since lacks from another location that has them intact.
    Returns, per location, how many objects (and bytes) were copied in.

    ``registered`` maps the UUID of each AIP that holds reused objects (the first segment of
    their keys) to the locations where the catalog records a verified copy of it. A location
    not among them was added after that AIP was stored: what it lacks is copied in. A location
    among them that lacks the object has lost it: that is damage, which an ingest does not
    quietly mend (``INGEST-REUSED-OBJECT-MISSING``: audit and repair the previous version).

    A copy-in is a verified put of the other location's bytes under the same key: the put
    checks the SHA-256 and size the catalog records while streaming, so a damaged source is
    refused and the next location that has the object is tried. It is logged, journalled and
    counted as written for that copy, and durable when the put returns (a default put, not a
    write session: it lies under the previous AIP's prefix, which no cleanup of this ingest
    visits, so it must never be left torn).
    ``INGEST-REUSED-OBJECT-MISSING`` when no location has the object intact; an object present
    with another size or SHA-256 (where the location records it) is
    ``INGEST-REUSED-OBJECT-CHANGED`` (write-once: it is not replaced here; audit and repair
    deal with it). Objects copied in before the ingest fails stay where they were put: they
    are the earlier version's exact bytes under its own keys, which no cleanup of this AIP
    touches.
    """
    reused = (o for o in built.objects if stored_key(o) is not None)  # one lazy pass
    first = next(reused, None)
    names = [loc.name for loc in locations]
    if first is None or not backends:
        return [NONE_COPIED for _ in backends]
    counts = [0 for _ in backends]
    sizes = [0 for _ in backends]
    lock = threading.Lock()

    def bring(obj: StagedObject) -> None:
        key = stored_key(obj)
        assert key is not None
        present = [has_reused(backend, name, key, obj, read=False)
                   for name, backend in zip(names, backends, strict=True)]
        holder = key.split("/", 1)[0]
        for index, backend in enumerate(backends):
            if present[index]:
                continue
            if names[index] in registered.get(holder, ()):
                raise reused_missing(names[index], key, "it was stored there and is gone; "
                                     "audit and repair the previous version")
            source = _copy_in(backend, names[index], key, obj, [
                (names[i], backends[i]) for i in range(len(backends)) if present[i]])
            with lock:
                counts[index] += 1
                sizes[index] += obj.size
            log.warning("copy %s lacked %s of the previous version: copied in from %s "
                        "(size and SHA-256 checked)", names[index], key, source)

    each(backends[0], bring, chain((first,), reused), workers)
    return [CopiedIn(n, size) for n, size in zip(counts, sizes, strict=True)]


def _copy_in(target: ResumingBackend, name: str, key: str, obj: StagedObject,
             sources: Sequence[tuple[str, StorageBackend]]) -> str:
    """Put the object into ``target`` from the first of ``sources`` whose bytes have the
    recorded size and SHA-256; the name of that source. Raises INGEST-REUSED-OBJECT-MISSING."""
    problems = []
    for source_name, source in sources:
        try:
            with source.open(key) as stream:
                target.put(key, stream, size=obj.size, sha256=obj.sha256)
        except (ChecksumMismatchError, ObjectMissingError) as exc:
            problems.append(f"{source_name}: {exc}")
            continue
        return source_name
    raise reused_missing(name, key, "no other location has it intact" + "".join(
        f"; {p}" for p in problems))


def reused_missing(name: str, key: str, why: str) -> StorageError:
    """``INGEST-REUSED-OBJECT-MISSING`` for the reused object ``key`` on location ``name``."""
    return StorageError(f"copy {name}: {key}, reused from the previous version, is missing "
                        f"({why})", code="INGEST-REUSED-OBJECT-MISSING",
                        location=f"{name}:{key}")


def _changed(name: str, key: str, obj: StagedObject, size: int, sha256: str | None
             ) -> ChecksumMismatchError:
    return ChecksumMismatchError(
        f"copy {name}: {key}, reused from the previous version, has {size} bytes "
        f"sha256 {sha256}, expected {obj.size} bytes sha256 {obj.sha256}",
        code="INGEST-REUSED-OBJECT-CHANGED", location=f"{name}:{key}")


def has_reused(backend: StorageBackend, name: str, key: str, obj: StagedObject, *,
               read: bool) -> bool:
    """Whether this location has the object of an earlier version (False: absent), checked by
    HEAD — size, and SHA-256 where the location records it — and, with ``read`` where it does
    not, by its bytes. Present with another size or SHA-256 raises
    ``INGEST-REUSED-OBJECT-CHANGED``."""
    info = backend.head(key)
    if info is None:
        return False
    found: tuple[str | None, int] = (info.sha256, info.size)
    if info.sha256 is None and read and info.size == obj.size:
        try:
            with backend.open(key) as stream:
                found = sha256_stream(stream, obj.size)
        except ObjectMissingError:
            return False
    if found[1] != obj.size or (found[0] is not None and found[0] != obj.sha256):
        raise _changed(name, key, obj, found[1], found[0])
    return True
