"""The times the project accepts: 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z, both included.

Why these bounds (a clock reset to 1970, a year typed as 9999, datetime's own limits): see
docs/windows.md, "Supported times". Every window, record, span and time a person types is
checked against them here; nothing else defines them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

__all__ = [
    "EARLIEST",
    "FIRST_DAY",
    "LAST_DAY",
    "LATEST",
    "RANGE",
    "day_in_range",
    "day_out_of_range",
    "epoch_in_range",
    "in_range",
    "out_of_range",
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
