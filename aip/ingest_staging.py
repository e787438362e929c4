"""Staging folders of running and interrupted ingests, and the journal that lets a killed ingest
resume.

Each ingest builds its AIP in a private folder ``<work>/ingest/<aip uuid>/`` that it holds an
exclusive ``flock`` on for as long as it runs (the kernel drops the lock when the process dies,
however it dies). The folder keeps a small journal:

- ``journal.json``, written before anything is stored: which source this is (its absolute path,
  its kind, size and mtime for a file, and a fingerprint of every submitted file's path, size and
  SHA-256 together with the ingest's parameters), and the AIP's UUID;
- ``objects.jsonl``, one line per object stored and per object verified, per location.

The next ingest of the *same* source (same path and, once validated, same fingerprint) takes the
folder over: it keeps the AIP's UUID, and objects already on a location with the right size and
SHA-256 are not sent again (see :class:`aip.ingest_resuming.ResumingBackend`). Every other
abandoned folder is swept as before: its unregistered objects are removed from every location,
then the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from preservation.catalog import Catalog
from preservation.config import Config
from preservation.errors import ConfigError, DeleteRefusedError, StorageError
from preservation.events import EVENTS_PREFIX
from preservation.manifest import SIGNATURE, object_key
from preservation.storage import StorageBackend, open_location
from preservation.storage.filesystem import root_from_url
from preservation.storage.incoming import sweep_incoming
from sip.submission import Submission

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"
JOURNAL = "journal.json"
OBJECT_LOG = "objects.jsonl"
JOURNAL_FORMAT = 1
#: seconds after which a staging folder without a lock file is taken as abandoned
ABANDONED_AFTER = 60.0


# --- source identity --------------------------------------------------------------------------

def source_path_identity(source: Path) -> dict[str, Any]:
    """What can be told about the source before it is read: path, kind, size and mtime."""
    stat = source.stat()
    if source.is_dir():
        return {"path": str(source), "kind": "folder"}
    return {"path": str(source), "kind": "file", "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns}


def fingerprint(submission: Submission, parameters: dict[str, str]) -> str:
    """SHA-256 over every submitted file (path, size, SHA-256), in path order, and the
    ingest's parameters.

    Validation lists the files in path order, so they are hashed in one pass as they come; only
    if they do not come so (a file out of order is met) are they hashed again from a sorted
    copy. The value is the same either way (and as it always was), so that an ingest begun by
    an earlier version of this software still resumes."""
    head = json.dumps(parameters, sort_keys=True).encode()
    h = hashlib.sha256(head)
    previous: str | None = None
    for f in submission.files:  # in path order already (validation lists them so): one pass
        if previous is not None and f.path <= previous:
            break
        previous = f.path
        h.update(f"\n{f.path}\t{f.size}\t{f.sha256}".encode())
    else:
        return h.hexdigest()
    # not in path order after all: the same value, from a sorted copy
    h = hashlib.sha256(head)
    for f in sorted(submission.files, key=lambda f: f.path):
        h.update(f"\n{f.path}\t{f.size}\t{f.sha256}".encode())
    return h.hexdigest()


# --- a locked staging folder ------------------------------------------------------------------

@dataclass
class Staging:
    """A staging folder this process holds the lock of."""

    uuid: str
    root: Path
    resumed: bool
    _fd: int
    _log_lock: threading.Lock = field(default_factory=threading.Lock)
    #: the object log, opened for appending at the first note, closed by release/remove
    _log: TextIO | None = None

    @property
    def bag(self) -> Path:
        """Where the builder writes the AIP's metadata and tag files (emptied on resume)."""
        return self.root / "bag"

    def journal(self) -> dict[str, Any]:
        return read_journal(self.root) or {}

    def write_journal(self, source: dict[str, Any], print_: str) -> None:
        data = {"format": JOURNAL_FORMAT, "aip_uuid": self.uuid, "source": source,
                "fingerprint": print_}
        tmp = self.root / (JOURNAL + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.root / JOURNAL)

    def note(self, state: str, location: str, key: str, size: int, sha256: str) -> None:
        """Append one line to the object log: ``state`` is "stored", "kept" or "verified".

        The log stays open for the whole ingest; each line is flushed to the kernel as it is
        written, so a killed process leaves every line it noted (no fsync: a lost line only
        makes a resumed ingest check or send that object again).
        """
        line = json.dumps({"state": state, "location": location, "key": key, "size": size,
                           "sha256": sha256}) + "\n"
        with self._log_lock:
            if self._log is None:
                self._log = (self.root / OBJECT_LOG).open("a", encoding="utf-8")
            self._log.write(line)
            self._log.flush()

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log is not None:
                with contextlib.suppress(OSError):
                    self._log.close()
                self._log = None

    def noted(self, state: str) -> list[dict[str, Any]]:
        """The object log's lines of one state (for tests and reports)."""
        path = self.root / OBJECT_LOG
        if not path.exists():
            return []
        lines = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())
        return [line for line in lines if line.get("state") == state]

    def fresh_bag(self) -> Path:
        """An empty bag folder (what an earlier attempt built there is thrown away)."""
        shutil.rmtree(self.bag, ignore_errors=True)
        self.bag.mkdir()
        return self.bag

    def remove(self) -> None:
        """Delete the folder (still holding the lock, so nobody else takes it meanwhile)."""
        self._close_log()
        shutil.rmtree(self.root, ignore_errors=True)

    def release(self) -> None:
        self._close_log()
        with contextlib.suppress(OSError):
            os.close(self._fd)


def read_journal(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == JOURNAL_FORMAT else None


def new_staging(root: Path) -> Staging:
    """A new, locked staging folder ``root/<uuid>``.

    It is made and locked under a temporary name, then renamed, so that no other process can
    ever see it unlocked under its AIP's name. The caller releases it.
    """
    root.mkdir(parents=True, exist_ok=True)
    aip_uuid = str(uuid.uuid4())
    pending = root / f".new-{aip_uuid}"
    pending.mkdir()
    fd = os.open(pending / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        staging = root / aip_uuid
        pending.rename(staging)
    except BaseException:
        os.close(fd)
        raise
    return Staging(aip_uuid, staging, False, fd)


@contextlib.contextmanager
def locked_folder(root: Path) -> Iterator[tuple[str, Path]]:
    """A new locked folder under ``root`` for as long as the ``with`` block runs."""
    staging = new_staging(root)
    try:
        yield staging.uuid, staging.root
    finally:
        staging.release()


def _claim(folder: Path) -> int | None:
    """Lock an abandoned folder and return the lock's descriptor; None if someone holds it."""
    lock = folder / LOCK_NAME
    if not lock.exists():
        # between mkdir and the lock of a live ingest (microseconds), or killed there: only a
        # folder that has stayed so for a while is taken as abandoned
        if time.time() - folder.stat().st_mtime <= ABANDONED_AFTER:
            return None
        lock.touch()
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


# --- sweeping and resuming --------------------------------------------------------------------

@dataclass
class Claims:
    """Abandoned staging folders of the source being ingested, locked until decided on."""

    config: Config
    catalog: Catalog
    held: list[Staging] = field(default_factory=list)
    #: UUIDs of the interrupted ingests whose objects the sweep removed
    removed: list[str] = field(default_factory=list)

    def take(self, source: dict[str, Any], print_: str, root: Path) -> Staging:
        """The held folder whose journal names this exact source, or a new folder.

        Held folders that do not match are swept. The chosen one keeps its UUID; its object log
        is kept, its bag folder is rebuilt.
        """
        chosen: Staging | None = None
        for staging in self.held:
            journal = staging.journal()
            if (chosen is None and journal.get("source") == source
                    and journal.get("fingerprint") == print_):
                chosen = staging
            else:
                gone = sweep_folder(self.config, self.catalog, staging)
                self.removed.extend([gone] if gone else [])
        self.held = []
        if chosen is not None:
            chosen.resumed = True
            log.warning("resuming the interrupted ingest of %s as AIP %s", source["path"],
                        chosen.uuid)
            return chosen
        staging = new_staging(root)
        staging.write_journal(source, print_)
        return staging

    def release(self) -> None:
        """Leave the folders not taken for a later sweep (the ingest failed before deciding)."""
        for staging in self.held:
            staging.release()
        self.held = []


def sweep_interrupted(config: Config, catalog: Catalog, keep: Path | None = None) -> Claims:
    """Remove what killed ingests left behind; the folders of ``keep`` are held for resuming.

    A staging folder whose lock is held belongs to a running ingest and is left alone. Private
    folders a killed ingest extracted a ZIP into (``work/sip/<uuid>``) are removed too.
    """
    _sweep_extractions(config.work_dir / "sip")
    _sweep_early_copies(config)
    claims = Claims(config, catalog)
    root = config.work_dir / "ingest"
    if not root.is_dir():
        return claims
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        fd = _claim(folder)
        if fd is None:
            continue
        try:
            aip_id: str | None = str(uuid.UUID(folder.name))
        except ValueError:
            aip_id = None  # killed before it was named: nothing was stored
        staging = Staging(aip_id or "", folder, False, fd)
        journal = read_journal(folder)
        if (keep is not None and aip_id is not None and journal is not None
                and journal.get("source", {}).get("path") == str(keep)
                and journal.get("aip_uuid") == aip_id and catalog.aip(aip_id) is None):
            claims.held.append(staging)
        else:
            gone = sweep_folder(config, catalog, staging)
            claims.removed.extend([gone] if gone else [])
    return claims


def _sweep_early_copies(config: Config) -> None:
    """Remove the incoming areas killed ingests left on filesystem locations (early copies of
    their transfers, never objects: :mod:`aip.ingest_early`); a running ingest's are locked."""
    for loc in config.storage:
        if urlsplit(loc.url).scheme != "file":
            continue
        try:
            removed = sweep_incoming(str(root_from_url(loc.url)))
        except ConfigError:
            continue
        if removed:
            log.info("removed %d abandoned incoming area(s) on %s", removed, loc.name)


def sweep_folder(config: Config, catalog: Catalog, staging: Staging) -> str | None:
    """Remove an abandoned folder and, if its AIP was never registered, its objects."""
    removed = None
    try:
        if staging.uuid and catalog.aip(staging.uuid) is None:
            backends = [open_location(s.url, **s.options) for s in config.storage]
            try:
                keep = _must_keep(staging.uuid, backends, catalog)
                if keep:
                    log.error("interrupted ingest %s left objects that are kept: %s; run "
                              "`preservation catalog rebuild` if the AIP belongs in the catalog",
                              staging.uuid, keep)
                else:
                    discard(staging.uuid, backends)
                    log.warning("removed objects of interrupted ingest %s", staging.uuid)
                    removed = staging.uuid
            finally:
                for b in backends:
                    b.close()
        staging.remove()
    finally:
        staging.release()
    return removed


def _sweep_extractions(root: Path) -> None:
    """Remove the validation work folders of ingests that are no longer running."""
    if not root.is_dir():
        return
    for work in sorted(p for p in root.iterdir() if p.is_dir()):
        fd = _claim(work)
        if fd is not None:
            try:
                shutil.rmtree(work, ignore_errors=True)
                log.warning("removed the work folder of an interrupted ingest: %s", work.name)
            finally:
                os.close(fd)


def _must_keep(aip_id: str, backends: Sequence[StorageBackend], catalog: Catalog) -> str:
    """Why the objects of an unregistered AIP must not be deleted ("" when they may be).

    Another AIP's files may be stored under its prefix (a version reusing them), or the AIP may
    be complete — signed and its replication recorded beside it — and missing from the catalog
    only because the catalog was lost or replaced: deleting it then would lose records.
    """
    if catalog.stored_key_references(aip_id):
        return "files of other AIP versions are stored under its prefix"
    for backend in backends:
        try:
            signed = backend.head(object_key(aip_id, SIGNATURE)) is not None
            recorded = next(iter(backend.list(f"{EVENTS_PREFIX}{aip_id}/")), None) is not None
        except StorageError as e:
            return f"{backend.describe()} could not be checked ({e})"
        if signed and recorded:
            return f"a complete, signed copy with its history is on {backend.describe()}"
    return ""


def discard(aip_id: str, backends: Sequence[StorageBackend]) -> None:
    """Delete every object under the AIP's prefix and its events; log what a location refuses
    to drop. Nothing is recorded in the catalog: the AIP was never registered there.
    """
    refused = []
    for backend in backends:
        deleted = 0
        try:
            for prefix in (f"{aip_id}/", f"{EVENTS_PREFIX}{aip_id}/"):
                for info in list(backend.list(prefix)):
                    try:
                        backend.delete(info.key)
                        deleted += 1
                    except DeleteRefusedError:
                        refused.append(f"{backend.describe()}:{info.key}")
        except StorageError as e:
            log.error("could not clean up %s on %s: %s", aip_id, backend.describe(), e)
        if deleted:
            log.warning("deleted %d object(s) of the unregistered AIP %s from %s", deleted,
                        aip_id, backend.describe())
    if refused:
        log.error("objects of the failed ingest %s are locked and stay (unregistered): %s",
                  aip_id, ", ".join(refused[:10]))
