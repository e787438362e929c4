"""Fonds records on storage: write-once JSON objects ``fonds/<code>/<time>-<uuid8>.json``.

Every version of a fonds record is written to every location (:func:`publish_fonds`), so that
a catalog rebuilt from storage alone finds every fonds again: the newest object per code wins
(:func:`read_fonds`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime

from preservation.errors import DeleteRefusedError, StorageError
from preservation.findings import Report
from preservation.fonds_record import (
    FondsInvalidError,
    FondsPublishError,
    FondsRecord,
    code_is_valid,
    validate_fonds,
)
from preservation.storage import StorageBackend
from preservation.timeutil import compact_utc, now_local

log = logging.getLogger(__name__)

#: Where fonds records live on every storage location.
FONDS_PREFIX = "fonds/"
#: A stored fonds document larger than this is not read (it was not written by us).
MAX_DOCUMENT = 1024 * 1024
_KEY_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}\.json$")

def fonds_key(record: FondsRecord, when: datetime | None = None) -> str:
    """``fonds/<code>/<compact UTC time>-<uuid8>.json``; the time is ``when``, else the
    record's ``updated`` time (so that the newest key is the newest change)."""
    if not code_is_valid(record.code):
        raise FondsInvalidError(validate_fonds(record))
    if when is None:
        try:
            when = datetime.fromisoformat(record.updated)
        except ValueError:
            when = now_local()
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time is the machine's local time
    return f"{FONDS_PREFIX}{record.code}/{compact_utc(when)}-{uuid.uuid4().hex[:8]}.json"


def fonds_document(record: FondsRecord) -> bytes:
    """The stored form: the record's fields as a UTF-8 JSON object."""
    return (json.dumps(asdict(record), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def parse_fonds_document(data: bytes) -> FondsRecord:
    """Read back what :func:`fonds_document` wrote; ValueError when it is not such a record."""
    value = json.loads(data.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    names = [f.name for f in fields(FondsRecord)]
    missing = [n for n in names if n not in value]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    wrong = [n for n in names if not isinstance(value[n], str)]
    if wrong:
        raise ValueError(f"field(s) not text: {', '.join(wrong)}")
    return FondsRecord(**{n: value[n] for n in names})


def publish_fonds(backends: Sequence[StorageBackend], record: FondsRecord, *,
                  when: datetime | None = None) -> str:
    """Write ``record`` as a new object on every location; return its key.

    All or nothing as far as storage allows: when a location fails, the objects already written
    are deleted where the location permits, and :class:`FondsPublishError` names the failure.
    Each object is durable before the next location is written (``sync``: a no-op unless the
    location is a ``durability = "deferred"`` filesystem location).
    """
    key = fonds_key(record, when)
    data = fonds_document(record)
    digest = hashlib.sha256(data).hexdigest()
    written: list[StorageBackend] = []
    for backend in backends:
        try:
            backend.put(key, io.BytesIO(data), size=len(data), sha256=digest)
            written.append(backend)
            backend.sync()
        except (StorageError, OSError) as e:
            _remove(written, key)
            raise FondsPublishError("FONDS-PUBLISH-FAILED", location=backend.describe(),
                                    fonds=record.code, store=backend.describe(),
                                    error=str(e)) from e
    log.info("fonds %s published as %s on %d location(s)", record.code, key, len(written))
    return key


def _remove(backends: Sequence[StorageBackend], key: str) -> None:
    for backend in backends:
        try:
            backend.delete(key)
        except DeleteRefusedError:
            log.warning("fonds record %s stays on %s (the location refuses deletion); a catalog "
                        "rebuild will find it", key, backend.describe())
        except (StorageError, OSError) as e:
            log.warning("could not remove fonds record %s from %s: %s", key,
                        backend.describe(), e)


def read_fonds(backend: StorageBackend, report: Report | None = None) -> list[FondsRecord]:
    """The newest stored record of every fonds on ``backend``, sorted by code.

    An object that cannot be read or is not a valid record is skipped (the next newest of its
    fonds is used) and, when ``report`` is given, reported as FONDS-RECORD-UNREADABLE.
    """
    by_code: dict[str, list[str]] = {}
    for info in backend.list(FONDS_PREFIX):
        parts = info.key.split("/")
        if len(parts) != 3 or not _KEY_NAME.fullmatch(parts[2]):
            _unreadable(report, backend, info.key, "not a fonds record key")
            continue
        by_code.setdefault(parts[1], []).append(info.key)
    out: list[FondsRecord] = []
    for code in sorted(by_code):
        for key in sorted(by_code[code], reverse=True):
            record = _read_one(backend, key, code, report)
            if record is not None:
                out.append(record)
                break
    return out


def _read_one(backend: StorageBackend, key: str, code: str,
              report: Report | None) -> FondsRecord | None:
    try:
        with backend.open(key) as stream:
            data = stream.read(MAX_DOCUMENT + 1)
        if len(data) > MAX_DOCUMENT:
            raise ValueError(f"larger than {MAX_DOCUMENT} bytes")
        record = parse_fonds_document(data)
    except (StorageError, OSError, ValueError) as e:
        _unreadable(report, backend, key, str(e))
        return None
    if record.code != code:
        _unreadable(report, backend, key, f"holds fonds {record.code!r}, not {code!r}")
        return None
    problems = validate_fonds(record)
    if not problems.valid:
        _unreadable(report, backend, key, ", ".join(sorted(problems.codes())))
        return None
    return record


def _unreadable(report: Report | None, backend: StorageBackend, key: str, error: str) -> None:
    log.warning("fonds record %s on %s skipped: %s", key, backend.describe(), error)
    if report is not None:
        report.add("FONDS-RECORD-UNREADABLE", key, store=backend.describe(), error=error)
