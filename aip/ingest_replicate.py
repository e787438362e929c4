"""Replication of a built AIP to every configured location: each location written in its own
lane (a write session, made durable with one ``sync()``), then read back and verified; the
objects of an earlier version reused by reference are checked (and copied in where a location
lacks them) first. :func:`aip.ingest.ingest` calls :func:`replicate_all` once the AIP is built
and registers it only if every copy is complete and verified.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from aip.builder import BuiltAip, StagedObject
from aip.ingest_parallel import all_or_first_failure, each
from aip.ingest_resuming import ResumingBackend
from aip.ingest_reused import (
    NONE_COPIED,
    CopiedIn,
    bring_reused,
    has_reused,
    reused_missing,
    stored_key,
)
from preservation.config import StorageConfig
from preservation.errors import ChecksumMismatchError
from preservation.hashing import sha256_stream
from preservation.manifest import object_key
from preservation.progress import Progress
from preservation.timeutil import iso

WORKERS = 4
T = TypeVar("T")


@dataclass(frozen=True)
class CopyResult:
    location: str
    url: str
    objects: int  # objects written (or found intact, on resume) under the AIP's own prefix
    bytes: int
    verified_at: str
    reused: int = 0  # objects of an earlier version referenced, checked, not stored again
    #: objects of an earlier version this location lacked, copied in from another location
    #: (counted in ``objects`` and ``bytes`` too)
    copied_in: int = 0


def replicate_all(built: BuiltAip, locations: Sequence[StorageConfig],
                  backends: Sequence[ResumingBackend], progress: Progress,
                  clock: Callable[[], datetime], registered: Mapping[str, Collection[str]]
                  ) -> tuple[CopyResult, ...]:
    """Write, make durable and verify every location at once; the copies in location order.

    First every object reused from the previous version is checked on every location, and
    copied in where a location added since lacks it (:func:`bring_reused`; ``registered``: the
    locations where each AIP holding reused objects has a registered copy): a missing one fails
    the ingest before anything is uploaded. Then each location runs :func:`replicate` in its
    own lane (``WORKERS`` threads per location; at most ``WORKERS`` locations at a time, so
    that ``WORKERS = 1`` writes one object after the other, location by location). The first
    failure anywhere stops every lane (the backends share one ``abort`` event) and is raised
    once every lane has stopped, so that the caller's cleanup races with no put.
    """
    brought = bring_reused(built, locations, backends, registered, WORKERS)
    own = OwnObjects.of(built.objects)  # the objects put, not reused: a view, never a list
    with ThreadPoolExecutor(min(len(backends), WORKERS), "ingest-lane") as lanes:
        futures = [lanes.submit(replicate, built, own, loc, backend, progress, clock, copied)
                   for loc, backend, copied in zip(locations, backends, brought, strict=True)]
        all_or_first_failure(futures, backends[0].abort)
    return tuple(f.result() for f in futures)


@dataclass(frozen=True)
class OwnObjects:
    """The AIP's own objects (not reused from an earlier version), in ``built.objects`` order:
    a filtered view that every pass (and every location's lane) iterates afresh, so that no
    list of them is ever made; with the counts of :meth:`of`'s one pass over all of them."""

    objects: Iterable[StagedObject]  # every object of the AIP (``built.objects``), re-iterable
    count: int  # the AIP's own objects
    bytes: int  # their size
    every: int  # all objects, reused ones included

    @classmethod
    def of(cls, objects: Iterable[StagedObject]) -> OwnObjects:
        count = size = every = 0
        for obj in objects:
            every += 1
            if stored_key(obj) is None:
                count += 1
                size += obj.size
        return cls(objects, count, size, every)

    def __iter__(self) -> Iterator[StagedObject]:
        return (obj for obj in self.objects if stored_key(obj) is None)


def replicate(built: BuiltAip, own: OwnObjects, loc: StorageConfig,
              backend: ResumingBackend, progress: Progress, clock: Callable[[], datetime],
              copied_in: CopiedIn = NONE_COPIED) -> CopyResult:
    """Write one complete copy, make it durable, then read all of it back and verify it.

    The objects are put in a write session (``durable=False``: no flush per object), and
    ``backend.sync()`` comes before the read-back: it makes the whole copy durable at once
    (file://: one ``syncfs``; S3: nothing to do), and a failure to do so fails the ingest like
    any other storage error. ``copied_in``: the objects of the previous version that this
    location lacked, copied in by :func:`bring_reused`; they count as objects written here.
    ``own``: the AIP's own objects (not reused from an earlier version), in ``built.objects``
    order, with their counts (shared by every location's lane).
    """
    store_copy(built, backend, loc.name, progress, own)
    backend.sync()
    verify_copy(built, backend, loc.name, progress)
    written = own.count + copied_in.objects
    return CopyResult(location=loc.name, url=backend.describe(), objects=written,
                      bytes=own.bytes + copied_in.bytes, verified_at=iso(clock()),
                      reused=own.every - written, copied_in=copied_in.objects)


def store_copy(built: BuiltAip, backend: ResumingBackend, name: str, progress: Progress,
               own: OwnObjects) -> None:
    """Put ``own``, every object of the AIP's own (not those reused from an earlier version,
    which :func:`bring_reused` checked), in a write session; the signature goes last, so a copy with
    a signature is complete. The caller syncs the location before it relies on the copy.

    A payload file that was copied to the location while the transfer was validated (see
    :mod:`aip.ingest_early`) is published from there without a second copy (``adopt``).

    The puts are ``verify_later``: a backend may skip hashing the stream (file://: the kernel
    copies the file, the size is checked) because :func:`verify_copy` reads every object back
    after the sync and compares its SHA-256 with the one validated, and any difference fails
    the ingest, whose cleanup deletes everything under the AIP's prefix. So the AIP is
    registered only if every object on every location has exactly the validated bytes, as when
    each put hashed its stream; S3 servers still check each put's SHA-256 themselves.

    ``own`` is iterated lazily, never copied; the signature is the last object it gives."""
    total = own.bytes

    def put(obj: StagedObject) -> None:
        if obj.source is None:
            raise ValueError(f"{obj.bag_path} has neither bytes to store nor a stored key")
        key = object_key(built.uuid, obj.bag_path)
        early = backend.early_copy(obj.source, obj.size)
        if early is None or not backend.adopt(key, early, size=obj.size, sha256=obj.sha256,
                                              durable=False):
            with obj.source.open("rb") as stream:
                backend.put(key, stream, size=obj.size, sha256=obj.sha256, durable=False,
                            verify_later=True)
        progress(f"store {name}", obj.size, total)

    last: list[StagedObject] = []
    each(backend, put, all_but_last(own, last), WORKERS)
    if not last:
        raise ValueError(f"copy {name}: the AIP {built.uuid} has no object of its own to store")
    each(backend, put, last, WORKERS)


def all_but_last(objects: Iterable[T], last: list[T]) -> Iterator[T]:
    """Every item of ``objects`` but the last, lazily; the last is appended to ``last`` once
    the others are all given (nothing is, for no items)."""
    held: list[T] = []
    for item in objects:
        if held:
            yield held.pop()
        held.append(item)
    last.extend(held)


def verify_copy(built: BuiltAip, backend: ResumingBackend, name: str, progress: Progress
                ) -> None:
    """Read every object of a fresh copy back; any difference fails the ingest."""
    total = sum(o.size for o in built.objects)
    read_back = backend.read_back

    def check(obj: StagedObject) -> None:
        reused = stored_key(obj)
        if reused is not None:
            if not has_reused(backend, name, reused, obj, read=True):
                raise reused_missing(name, reused, "gone since the ingest began")
            progress(f"verify {name}", obj.size, total)
            return
        key = object_key(built.uuid, obj.bag_path)
        if key not in read_back:  # else: read and checked moments ago, when it was kept
            with backend.open(key) as stream:
                digest, size = sha256_stream(stream, obj.size)
            if (digest, size) != (obj.sha256, obj.size):
                raise ChecksumMismatchError(
                    f"copy {name}: {obj.bag_path} read back as {size} bytes sha256 {digest}, "
                    f"expected {obj.size} bytes sha256 {obj.sha256}", location=f"{name}:{key}")
        backend.verified(key, obj.size, obj.sha256)
        progress(f"verify {name}", obj.size, total)

    each(backend, check, built.objects, WORKERS)
