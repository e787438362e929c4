"""Time as archives need it: ISO 8601, milliseconds, an explicit offset (never a bare ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: Vietnam time, used in TT05 XML.
VIETNAM = timezone(timedelta(hours=7), "ICT")


def now_local() -> datetime:
    """The current time with the machine's UTC offset."""
    return datetime.now().astimezone()


def iso(moment: datetime) -> str:
    """``2026-06-12T11:45:37.690+07:00``; a naive datetime is refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an explicit offset is required")
    return moment.isoformat(timespec="milliseconds")


def compact_utc(moment: datetime) -> str:
    """``yyyymmddThhmmssffffffZ``: the moment in UTC, for object keys that sort by time; a naive
    datetime is refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an explicit offset is required")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
