"""The fonds registry: every AIP belongs to a fonds (phông lưu trữ), registered here first.

A fonds has a code (mã phông), a name, a status (open/closed), a history, the dates it covers and
its language(s). The catalog keeps one row per fonds (:meth:`preservation.catalog.Catalog.
add_fonds`); because the catalog is only an index, every version of a fonds record is also
written to storage, as a write-once JSON object ``fonds/<code>/<compact UTC time>-<uuid8>.json``
on every location, so that a catalog rebuilt from storage alone finds every fonds again (the
newest object per code wins: :func:`read_fonds`).

Order of a change (:func:`register_fonds`, :func:`record_fonds_change`): the catalog row is
written inside a transaction, the record is published to every location, and only then the
transaction commits. A duplicate code therefore publishes nothing; a location that fails rolls
the row back and removes what was already published where the location allows deletion. What
can remain is a record published but not registered (a commit that fails after publishing, or
a write-once location that refuses the clean-up): it is a record the archivist asked for, it
harms nothing, and a rebuild simply finds it — re-running the command makes both agree.

The code goes into AIP identifiers (``urn:<code>:uuid-…``) and into object keys, so it is an
ASCII token: letters, digits, ``.``, ``-``, ``_``, starting with a letter or digit, at most 30
characters. The TT05 language codes are kept here (not imported from ``sip.tt05_model``: the core
package must not import ``sip``); keep both lists equal.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from preservation.errors import (
    DeleteRefusedError,
    NotFoundError,
    PreservationError,
    StorageError,
    UsageError,
)
from preservation.findings import Report, catalogue
from preservation.storage import StorageBackend
from preservation.timeutil import compact_utc, iso, now_local

if TYPE_CHECKING:
    from preservation.catalog import Catalog

log = logging.getLogger(__name__)

__all__ = [
    "COMBINED_LANGUAGES",
    "FONDS_PREFIX",
    "LANGUAGES",
    "STATUSES",
    "FondsError",
    "FondsInvalidError",
    "FondsNotFoundError",
    "FondsPublishError",
    "FondsRecord",
    "LocalisedError",
    "changed_fonds",
    "code_is_valid",
    "fonds_document",
    "fonds_key",
    "make_fonds",
    "normalise_language",
    "parse_fonds_document",
    "publish_fonds",
    "read_fonds",
    "record_fonds_change",
    "register_fonds",
    "validate_fonds",
]

#: Where fonds records live on every storage location.
FONDS_PREFIX = "fonds/"
MAX_CODE = 30
MAX_NAME = 500
MAX_HISTORY = 20_000
#: A stored fonds document larger than this is not read (it was not written by us).
MAX_DOCUMENT = 1024 * 1024
_CODE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_CODE - 1}}}$")
_KEY_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}\.json$")

STATUSES = ("open", "closed")
_STATUS_WORDS = {"open": "open", "closed": "closed", "mở": "open", "đóng": "closed"}

#: TT05 language codes (the same list as ``sip.tt05_model.LANGUAGE``).
LANGUAGES: Mapping[str, str] = {
    "01": "Tiếng Việt", "02": "Tiếng Anh", "03": "Tiếng Pháp", "04": "Tiếng Nga",
    "05": "Tiếng Trung", "06": "Tiếng Việt + Tiếng Anh", "07": "Tiếng Việt + Tiếng Nga",
    "08": "Tiếng Việt + Tiếng Pháp", "09": "Hán Nôm",
    "10": "Tiếng Việt + Tiếng Trung", "11": "Khác",
}
#: Where one combined code exists for a pair of languages, it is preferred (TT05.md).
COMBINED_LANGUAGES: Mapping[frozenset[str], str] = {
    frozenset({"01", "02"}): "06", frozenset({"01", "04"}): "07",
    frozenset({"01", "03"}): "08", frozenset({"01", "05"}): "10",
}


@dataclass(frozen=True)
class FondsRecord:
    """One fonds as the catalog and storage keep it. Dates are ``YYYY``, ``MM/YYYY`` or
    ``DD/MM/YYYY`` (or empty); ``language`` is TT05 codes joined by commas (``"01"``,
    ``"01,09"``); ``created``/``updated`` are ISO 8601 with offset."""

    code: str
    name: str
    status: str = "open"
    history: str = ""
    start_date: str = ""
    end_date: str = ""
    language: str = ""
    created: str = ""
    updated: str = ""


# --- errors ---------------------------------------------------------------------------------


def _text(code: str, lang: str, params: Mapping[str, object]) -> str:
    template = catalogue()[code]
    text = template.vi if lang == "vi" else template.en
    return unicodedata.normalize("NFC", text.format(**{k: str(v) for k, v in params.items()}))


class LocalisedError(PreservationError):
    """An error whose message comes from the message catalogue (``messages/*.toml``), English
    by default; :meth:`translated` gives it in another language."""

    def __init__(self, code: str, *, location: str | None = None, lang: str = "en",
                 **params: object) -> None:
        super().__init__(_text(code, lang, params), code=code, location=location)
        self.params = dict(params)

    def translated(self, lang: str) -> PreservationError:
        """The same error with its message in ``lang`` (``"en"`` or ``"vi"``)."""
        return type(self)(self.code, location=self.location, lang=lang, **self.params)


class FondsError(LocalisedError, UsageError):
    """A fonds request that cannot be done as asked: FONDS-EXISTS, a bad value … (exit 2)."""

    code = "FONDS-ERROR"


class FondsNotFoundError(LocalisedError, NotFoundError):
    """No fonds with that code is registered (FONDS-UNKNOWN, exit 2)."""

    code = "FONDS-UNKNOWN"


class FondsPublishError(LocalisedError, StorageError):
    """A fonds record could not be written to every storage location (exit 1)."""

    code = "FONDS-PUBLISH-FAILED"


class FondsInvalidError(FondsError):
    """A fonds record with problems; ``report`` holds every one of them (codes FONDS-…)."""

    def __init__(self, report: Report, *, lang: str = "en") -> None:
        lines = " ".join(f.message(lang) for f in report.errors)
        super().__init__("FONDS-INVALID", lang=lang, count=len(report.errors), problems=lines)
        self.report = report

    def translated(self, lang: str) -> FondsInvalidError:
        return FondsInvalidError(self.report, lang=lang)


# --- validation -----------------------------------------------------------------------------


def code_is_valid(code: str) -> bool:
    """Whether ``code`` can be a fonds code (an ASCII token usable in URNs and object keys)."""
    return bool(_CODE.fullmatch(code))


def normalise_language(value: str | Iterable[str]) -> str:
    """TT05 language codes as stored: unique, sorted, comma-joined; a pair with a combined
    code becomes that code (``"02, 01"`` → ``"06"``). Unknown codes are kept (and reported by
    :func:`validate_fonds`)."""
    parts = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    codes = {p.strip().zfill(2) if p.strip().isdigit() else p.strip() for p in parts}
    codes.discard("")
    combined = COMBINED_LANGUAGES.get(frozenset(codes))
    if combined is not None:
        return combined
    return ",".join(sorted(codes))


def _date_range(value: str) -> tuple[date, date] | None:
    """First and last day of ``YYYY``, ``MM/YYYY`` or ``DD/MM/YYYY``; None if malformed."""
    parts = value.split("/")
    if not all(p.isascii() and p.isdigit() for p in parts):
        return None
    try:
        if len(parts) == 1 and len(parts[0]) == 4:
            year = int(parts[0])
            return date(year, 1, 1), date(year, 12, 31)
        if len(parts) == 2 and len(parts[0]) == 2 and len(parts[1]) == 4:
            month, year = int(parts[0]), int(parts[1])
            first = date(year, month, 1)
            nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return first, date.fromordinal(nxt.toordinal() - 1)
        if len(parts) == 3 and len(parts[0]) == 2 and len(parts[1]) == 2 and len(parts[2]) == 4:
            day = date(int(parts[2]), int(parts[1]), int(parts[0]))
            return day, day
    except ValueError:
        return None
    return None


def _control_chars(text: str, *, allow_newlines: bool) -> bool:
    allowed = {"\n", "\t", "\r"} if allow_newlines else set()
    return any(unicodedata.category(c) in ("Cc", "Cf") and c not in allowed
               and c != "\u200d" and c != "\u200c" for c in text)


def validate_fonds(record: FondsRecord) -> Report:
    """Every problem of ``record`` as FONDS-… findings (location: the field)."""
    report = Report(subject=f"fonds {record.code}", kind="fonds")
    if not code_is_valid(record.code):
        report.add("FONDS-CODE-INVALID", "code", fonds=record.code, limit=MAX_CODE)
    if not record.name.strip():
        report.add("FONDS-NAME-EMPTY", "name")
    elif len(record.name) > MAX_NAME:
        report.add("FONDS-NAME-TOO-LONG", "name", length=len(record.name), limit=MAX_NAME)
    if _control_chars(record.name, allow_newlines=False):
        report.add("FONDS-TEXT-CONTROL-CHAR", "name", field="name")
    if len(record.history) > MAX_HISTORY:
        report.add("FONDS-HISTORY-TOO-LONG", "history", length=len(record.history),
                   limit=MAX_HISTORY)
    if _control_chars(record.history, allow_newlines=True):
        report.add("FONDS-TEXT-CONTROL-CHAR", "history", field="history")
    if record.status not in STATUSES:
        report.add("FONDS-STATUS-INVALID", "status", status=record.status)
    ranges: dict[str, tuple[date, date]] = {}
    for name in ("start_date", "end_date"):
        value = getattr(record, name)
        if not value:
            continue
        found = _date_range(value)
        if found is None:
            report.add("FONDS-DATE-INVALID", name, field=name, value=value)
        else:
            ranges[name] = found
    if "start_date" in ranges and "end_date" in ranges and (
            ranges["start_date"][0] > ranges["end_date"][1]):
        report.add("FONDS-DATES-REVERSED", "start_date", start=record.start_date,
                   end=record.end_date)
    if record.language:
        unknown = [c for c in record.language.split(",") if c not in LANGUAGES]
        if unknown:
            report.add("FONDS-LANGUAGE-INVALID", "language", value=",".join(unknown),
                       known="01–11")
    return report


def _check(record: FondsRecord) -> FondsRecord:
    report = validate_fonds(record)
    if not report.valid:
        raise FondsInvalidError(report)
    return record


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def make_fonds(code: str, name: str, *, status: str = "open", history: str = "",
               start_date: str = "", end_date: str = "", language: str | Iterable[str] = "",
               now: datetime | None = None) -> FondsRecord:
    """A new, checked fonds record (texts NFC, language codes normalised); raises
    :class:`FondsInvalidError` with every problem."""
    stamp = iso(now or now_local())
    record = FondsRecord(
        code=code.strip(), name=_clean(name),
        status=_STATUS_WORDS.get(_clean(status).lower(), _clean(status)),
        history=_clean(history), start_date=start_date.strip(), end_date=end_date.strip(),
        language=normalise_language(language), created=stamp, updated=stamp)
    return _check(record)


def changed_fonds(existing: FondsRecord, *, name: str | None = None, status: str | None = None,
                  history: str | None = None, start_date: str | None = None,
                  end_date: str | None = None, language: str | Iterable[str] | None = None,
                  now: datetime | None = None) -> FondsRecord:
    """``existing`` with the given fields changed (None = unchanged), ``updated`` now, checked."""
    changes: dict[str, Any] = {"updated": iso(now or now_local())}
    if name is not None:
        changes["name"] = _clean(name)
    if status is not None:
        changes["status"] = _STATUS_WORDS.get(_clean(status).lower(), _clean(status))
    if history is not None:
        changes["history"] = _clean(history)
    if start_date is not None:
        changes["start_date"] = start_date.strip()
    if end_date is not None:
        changes["end_date"] = end_date.strip()
    if language is not None:
        changes["language"] = normalise_language(language)
    return _check(replace(existing, **changes))


# --- on storage -----------------------------------------------------------------------------


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


# --- catalog and storage together -----------------------------------------------------------


def register_fonds(catalog: Catalog, backends: Sequence[StorageBackend],
                   record: FondsRecord) -> str:
    """Register a new fonds: catalog row and a record on every location (see the module
    docstring for the order); return the storage key. FONDS-EXISTS if the code is taken."""
    _check(record)
    keys: list[str] = []
    catalog.add_fonds(record, before_commit=_publisher(backends, keys))
    return keys[0]


def record_fonds_change(catalog: Catalog, backends: Sequence[StorageBackend],
                        record: FondsRecord) -> str:
    """Store a changed fonds (catalog row and a new record on every location); return the key.
    FONDS-UNKNOWN if the code is not registered."""
    _check(record)
    keys: list[str] = []
    catalog.update_fonds(record, before_commit=_publisher(backends, keys))
    return keys[0]


def _publisher(backends: Sequence[StorageBackend],
               keys: list[str]) -> Callable[[FondsRecord], None]:
    def publish(record: FondsRecord) -> None:
        keys.append(publish_fonds(backends, record))

    return publish
