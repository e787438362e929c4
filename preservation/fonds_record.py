"""A fonds record (phông lưu trữ) and its checks: fields, TT05 languages, errors, validation.

The code goes into AIP identifiers (``urn:<code>:uuid-…``) and into object keys, so it is an
ASCII token: letters, digits, ``.``, ``-``, ``_``, starting with a letter or digit, at most 30
characters. The TT05 language codes are kept here (not imported from ``sip.tt05_model``: the core
package must not import ``sip``); keep both lists equal. The registry that stores records in the
catalog and on storage is :mod:`preservation.fonds`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from preservation.errors import NotFoundError, PreservationError, StorageError, UsageError
from preservation.findings import Report, catalogue
from preservation.timeutil import iso, now_local

MAX_CODE = 30
MAX_NAME = 500
MAX_HISTORY = 20_000
_CODE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_CODE - 1}}}$")

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


def checked(record: FondsRecord) -> FondsRecord:
    """``record`` itself when it has no problem; else :class:`FondsInvalidError`."""
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
    return checked(record)


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
    return checked(replace(existing, **changes))
