"""The time a window stands for: its span, and the away time inside it (docs/windows.md).

A taskclf feature row exists only for a minute in which an ActivityWatch window event starts,
and stands for those events' whole length. The collector says which time that is in three
optional fields; windows without them (other collectors) stand for their own minute:

- ``span_start_ts``: the start of the first window event that starts in the row's minute;
- ``span_end_ts``: the latest end of those events, cut at the next row's ``span_start_ts``
  and at most :data:`MAX_SPAN` after ``bucket_start_ts``;
- ``span_away``: ``[[start, end], ...]``, the parts of the span that are not activity: marked
  ``afk`` by aw-watcher-afk, or covered by none of the row's window events.

The active time of a window is its span without its away parts. Times are integer
microseconds since the epoch here (exact); the fields are UTC ISO-8601 with a ``Z``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from taskclf_core.errors import WindowError
from taskclf_core.timerange import format_ts, parse_ts

__all__ = [
    "MAX_AWAY",
    "MAX_SPAN",
    "SPAN_FIELDS",
    "Interval",
    "TimeSpan",
    "clip",
    "format_us",
    "merge",
    "parse_time_span",
    "subtract",
    "to_us",
]

Interval = tuple[int, int]  # [start, end) in epoch microseconds

SPAN_FIELDS: Final = ("span_start_ts", "span_end_ts", "span_away")
MAX_SPAN: Final = timedelta(hours=24)  # after bucket_start_ts: a longer event is cut there
MAX_AWAY: Final = 1440  # away parts of one window (a minute each, a whole day)
_MAX_SPAN_US: Final = MAX_SPAN // timedelta(microseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def to_us(ts: datetime) -> int:
    """An aware datetime as epoch microseconds (exact)."""
    return (ts - _EPOCH) // _US


def format_us(us: int) -> str:
    """Epoch microseconds as the log writes times: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    return format_ts(_EPOCH + timedelta(microseconds=us))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering what ``intervals`` cover (empty ones dropped;
    touching ones joined)."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(base: Interval, holes: Sequence[Interval]) -> list[Interval]:
    """``base`` without ``holes`` (sorted and disjoint), as sorted intervals."""
    out: list[Interval] = []
    at, end = base
    for lo, hi in holes:
        if hi <= at:
            continue
        if lo >= end:
            break
        if lo > at:
            out.append((at, lo))
        at = max(at, hi)
    if at < end:
        out.append((at, end))
    return out


def clip(intervals: Iterable[Interval], lo: int, hi: int) -> list[Interval]:
    """The parts of ``intervals`` inside ``[lo, hi)``."""
    return [(max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi and a < b]


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """``[start_us, end_us)`` a window stands for, and its ``away`` parts (sorted, disjoint,
    inside the span)."""

    start_us: int
    end_us: int
    away: tuple[Interval, ...] = ()

    @property
    def active_us(self) -> int:
        """The span's length without its away parts."""
        if not self.away:  # most windows: a report reads thousands
            return self.end_us - self.start_us
        return self.end_us - self.start_us - sum(b - a for a, b in self.away)

    def active(self) -> list[Interval]:
        """The span without its away parts: the time counted as activity."""
        if not self.away:
            return [(self.start_us, self.end_us)] if self.end_us > self.start_us else []
        return subtract((self.start_us, self.end_us), self.away)

    def cut(self, end_us: int) -> TimeSpan:
        """The span ending no later than ``end_us`` (not before its start)."""
        end = max(self.start_us, min(self.end_us, end_us))
        if end == self.end_us:
            return self
        away = tuple(clip(self.away, self.start_us, end)) if self.away else ()
        return TimeSpan(self.start_us, end, away)

    def to_fields(self) -> dict[str, Any]:
        """The three window / record fields, JSON-ready."""
        return {
            "span_start_ts": format_us(self.start_us),
            "span_end_ts": format_us(self.end_us),
            "span_away": [[format_us(a), format_us(b)] for a, b in self.away],
        }


def _refuse(field: str, message: str) -> WindowError:
    return WindowError(f"{field}: {message}", field=field)


def _time(value: object, field: str) -> int:
    return to_us(parse_ts(value, field))


def _away(value: object, start: int, end: int) -> tuple[Interval, ...]:
    field = "span_away"
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _refuse(field, f"expected a list of [start, end] pairs, got {type(value).__name__}")
    if len(value) > MAX_AWAY:
        raise _refuse(field, f"expected at most {MAX_AWAY} parts, got {len(value)}")
    out: list[Interval] = []
    previous = start
    for i, pair in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise WindowError(f"{where}: expected a [start, end] pair of timestamps", field=field)
        try:
            lo, hi = _time(pair[0], f"{where}[0]"), _time(pair[1], f"{where}[1]")
        except WindowError as exc:
            raise WindowError(str(exc), field=field) from None
        if not lo < hi:
            raise WindowError(f"{where}: expected its start before its end", field=field)
        if lo < previous or hi > end:
            raise WindowError(
                f"{where}: expected parts in time order, apart, inside "
                "[span_start_ts, span_end_ts]",
                field=field,
            )
        out.append((lo, hi))
        previous = hi
    return tuple(out)


def parse_time_span(
    obj: Mapping[str, Any], bucket_start_us: int, bucket_end_us: int
) -> TimeSpan | None:
    """The span a window (or record) gives, checked; None when it gives none.

    Refused, with a :class:`WindowError` naming the field: one of ``span_start_ts`` /
    ``span_end_ts`` without the other (or ``span_away`` without both), a time that is not
    a supported timestamp, a start outside ``[bucket_start_ts, bucket_end_ts)``, an end
    before the start or more than :data:`MAX_SPAN` after ``bucket_start_ts``, and away
    parts that are not ``[start, end]`` pairs in time order inside the span.
    """
    raw_start, raw_end = obj.get("span_start_ts"), obj.get("span_end_ts")
    raw_away = obj.get("span_away")
    if raw_start is None and raw_end is None:
        if raw_away is not None:
            raise _refuse("span_away", "expected span_start_ts and span_end_ts with it")
        return None
    if raw_start is None or raw_end is None:
        missing, given = (
            ("span_start_ts", "span_end_ts")
            if raw_start is None
            else ("span_end_ts", "span_start_ts")
        )
        raise _refuse(missing, f"expected together with {given} (the time the window stands for)")
    start = _time(raw_start, "span_start_ts")
    end = _time(raw_end, "span_end_ts")
    if not bucket_start_us <= start < bucket_end_us:
        raise _refuse(
            "span_start_ts",
            f"expected a time in the window's own minute [bucket_start_ts, bucket_end_ts), "
            f"got {str(raw_start)[:40]!r}",
        )
    if end < start:
        raise _refuse("span_end_ts", "expected a time at or after span_start_ts")
    if end - bucket_start_us > _MAX_SPAN_US:
        raise _refuse(
            "span_end_ts",
            f"expected at most {MAX_SPAN.total_seconds() / 3600:g} hours after bucket_start_ts",
        )
    return TimeSpan(start, end, _away(raw_away, start, end))
