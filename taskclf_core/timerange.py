"""The times the project accepts: 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z, both included.

Why these bounds (a clock reset to 1970, a year typed as 9999, datetime's own limits): see
docs/windows.md, "Supported times". Every window, record, span and time a person types is
checked against them here; nothing else defines them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

from taskclf_core.errors import WindowError

__all__ = [
    "EARLIEST",
    "FIRST_DAY",
    "LAST_DAY",
    "LATEST",
    "RANGE",
    "day_in_range",
    "day_out_of_range",
    "epoch_in_range",
    "format_ts",
    "in_range",
    "out_of_range",
    "parse_ts",
]

EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)  # a day is in range when all of it is
RANGE: Final = "2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
_EARLIEST_EPOCH: Final = EARLIEST.timestamp()
_LATEST_EPOCH: Final = LATEST.timestamp()


def in_range(ts: datetime) -> bool:
    """True if the aware instant ``ts`` is a supported time."""
    return EARLIEST <= ts <= LATEST


def epoch_in_range(seconds: float) -> bool:
    """:func:`in_range` for POSIX seconds (False for NaN)."""
    return _EARLIEST_EPOCH <= seconds <= _LATEST_EPOCH


def day_in_range(day: date) -> bool:
    """True if the whole calendar ``day`` is supported (a local day may be off by one UTC day,
    which the bounds leave room for)."""
    return FIRST_DAY <= day <= LAST_DAY


def out_of_range(field: str, shown: str) -> str:
    """The message for a time outside the range: names the field, the value and the range."""
    return (
        f"{field}: {shown} is outside the supported times {RANGE} "
        "(a clock set wrong, or a mistyped year?)"
    )


def day_out_of_range(field: str, shown: str) -> str:
    """The message for a calendar day outside the range."""
    return (
        f"{field}: {shown} is outside the supported days {FIRST_DAY} to {LAST_DAY} "
        "(a mistyped year?)"
    )


def parse_ts(value: object, field: str) -> datetime:
    """ISO-8601 → aware UTC datetime; naive means UTC; outside the supported times is
    refused like a malformed one (a :class:`WindowError` naming ``field``)."""
    if not isinstance(value, str):
        raise WindowError(
            f"{field}: expected an ISO-8601 timestamp string, got {type(value).__name__}",
            field=field,
        )
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise WindowError(
            f"{field}: expected an ISO-8601 timestamp, got {value[:40]!r}", field=field
        ) from None
    utc: datetime | None
    try:
        utc = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:30+01:00 is before the first UTC instant
        utc = None
    if utc is None or not in_range(utc):
        raise WindowError(out_of_range(field, repr(value[:40])), field=field)
    return utc


def format_ts(ts: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the label log's form)."""
    text = ts.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"
