"""Daily report figures from label-log records: time per label, segments, flap and reject rates.

The figures are taskclf's ``DailyReport`` (``report/daily.py``) computed from the daemon's
label log instead of a segments file, per user and *local* calendar day, counting the time
each window stands for (:mod:`taskclf_core.timespan`), not a minute per window:

- a window's **time** is its span without its away parts (a record without a span: its own
  ``[bucket_start_ts, bucket_end_ts)``), at most :data:`~taskclf_core.timespan.MAX_SPAN`,
  cut where the user's next window starts, so no two windows share a moment. Time falls on
  the local day it happens in: a span across midnight is split between the two days;
- a window's **counts** (windows, rejects, flap rates, confidence, models) belong to the
  local day of its ``bucket_start_ts``;
- the **story label** of a window is taskclf's centred ``rolling_majority`` over its day's
  raw ``label`` values (batch), a label per minute of time, not the live, trailing
  ``smoothed_label``;
- minutes per label = the time of that label's windows; per bucket, of their story label's
  bucket (as the daemon mapped that label that day);
- a **segment** is a run of one story label whose times are at most ``idle_gap`` seconds
  apart (a longer gap, away time included, ends it); it counts its windows' time;
- ``flap_rate_raw`` / ``flap_rate_smoothed`` = label changes / windows, of ``label`` and
  of the story label, in time order.

Everything here is pure: records in, frozen values out; reading files is the daemon's job.
:func:`build_day_reports` is the one place segments are made (the report, its page, its
timesheet and anything drawing the day use them).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final

from taskclf_core.errors import WindowError
from taskclf_core.labels import REJECT_LABEL
from taskclf_core.smoothing import STORY_WINDOW, rolling_majority
from taskclf_core.timerange import epoch_in_range, out_of_range
from taskclf_core.timespan import (
    MAX_SPAN,
    Interval,
    TimeSpan,
    clip,
    merge,
    parse_time_span,
)

__all__ = [
    "DEFAULT_IDLE_GAP_SECONDS",
    "NON_FOCUS_LABELS",
    "DayReport",
    "LoggedLabel",
    "ParsedLog",
    "Segment",
    "build_day_reports",
    "day_bounds",
    "day_report_json",
    "label_from_record",
    "local_date",
    "parse_label_lines",
    "reach_days",
    "story_labels",
    "utc_days_overlapping",
]

DEFAULT_IDLE_GAP_SECONDS: Final = 300.0
# a focus block is a stretch of solo work (Build, Debug, Write, Review, ReadResearch): not a
# break, a meeting, chat/e-mail or an unsure stretch
NON_FOCUS_LABELS: Final = frozenset({"BreakIdle", "Meet", "Communicate", REJECT_LABEL})
FOCUS_BLOCKS: Final = 3
_US: Final = 1_000_000
_MINUTE_US: Final = 60 * _US
_MAX_SPAN_US: Final = MAX_SPAN // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class LoggedLabel:
    """What the report needs of one label-log record (times in UTC epoch seconds; ``time``
    in epoch microseconds: the span it stands for, its own minute when it has none)."""

    user_id: str
    start: float
    end: float
    label: str
    smoothed_label: str
    mapped_label: str
    mapped: bool
    confidence: float | None
    is_rejected: bool
    model_bundle_id: str | None
    store_id: str | None
    time: TimeSpan


@dataclass(frozen=True, slots=True)
class ParsedLog:
    """The records of some label-log lines, and how many lines could not be read."""

    labels: tuple[LoggedLabel, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of one story label: from its first counted moment to its last (``start``,
    ``end``, epoch seconds); ``seconds`` is the time it counts (away time and moments no
    window stands for, inside it, are not counted). ``parts``: the stretches it counts, to
    draw it by, where a break under a minute (a second between two windows) is no break."""

    start: float
    end: float
    label: str
    windows: int
    confidence: float | None  # mean confidence of its windows (None: none recorded one)
    seconds: float = -1.0  # -1: the span from start to end (a segment made by hand)
    bucket: str = ""  # the taxonomy bucket of its label ("": the label itself)
    parts: tuple[tuple[float, float], ...] = ()  # (): from start to end in one piece

    def __post_init__(self) -> None:
        if self.seconds < 0:
            object.__setattr__(self, "seconds", self.end - self.start)
        if not self.bucket:
            object.__setattr__(self, "bucket", self.label)
        if not self.parts:
            object.__setattr__(self, "parts", ((self.start, self.end),))

    @property
    def minutes(self) -> float:
        return self.seconds / 60


@dataclass(frozen=True, slots=True)
class DayReport:
    """One user's local calendar day, as taskclf's ``DailyReport`` plus our additions.

    ``away``: the parts of the day's spans that were not activity (afk, or no window event),
    ``[start, end)`` in epoch seconds, in time order.
    """

    user_id: str
    date: date
    windows: int
    rejected: int
    total_minutes: float
    core_breakdown: Mapping[str, float]
    mapped_breakdown: Mapping[str, float] | None
    segments: tuple[Segment, ...]
    flap_rate_raw: float
    flap_rate_smoothed: float
    mean_confidence: float | None
    models: tuple[str, ...]
    stores: tuple[str | None, ...]
    away: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "core_breakdown", MappingProxyType(dict(self.core_breakdown)))
        if self.mapped_breakdown is not None:
            mapped = MappingProxyType(dict(self.mapped_breakdown))
            object.__setattr__(self, "mapped_breakdown", mapped)

    @property
    def segments_count(self) -> int:
        return len(self.segments)

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.windows if self.windows else 0.0

    @property
    def away_minutes(self) -> float:
        return math.fsum(b - a for a, b in self.away) / 60

    def away_in(self, segment: Segment) -> tuple[tuple[float, float], ...]:
        """The away parts of the day between ``segment``'s start and end (for drawing it)."""
        lo, hi = segment.start, segment.end
        return tuple((max(a, lo), min(b, hi)) for a, b in self.away if b > lo and a < hi)

    def focus_blocks(self, n: int = FOCUS_BLOCKS) -> tuple[Segment, ...]:
        """The ``n`` longest segments of solo work (see ``NON_FOCUS_LABELS``), longest first."""
        work = [s for s in self.segments if s.label not in NON_FOCUS_LABELS]
        work.sort(key=lambda s: (-s.seconds, -s.windows, s.start))
        return tuple(work[:n])

    # --- the cache form: plain JSON values, floats kept exact ------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "date": self.date.isoformat(),
            "windows": self.windows,
            "rejected": self.rejected,
            "total_minutes": self.total_minutes,
            "core_breakdown": dict(self.core_breakdown),
            "mapped_breakdown": (
                None if self.mapped_breakdown is None else dict(self.mapped_breakdown)
            ),
            # a bucket equal to the label and one part from start to end are Segment's
            # defaults, written as "" and []: a year's entries read ~30 % faster
            "segments": [
                [
                    s.start,
                    s.end,
                    s.label,
                    s.windows,
                    s.confidence,
                    s.seconds,
                    "" if s.bucket == s.label else s.bucket,
                    s.parts if len(s.parts) > 1 else [],
                ]
                for s in self.segments
            ],
            "flap_rate_raw": self.flap_rate_raw,
            "flap_rate_smoothed": self.flap_rate_smoothed,
            "mean_confidence": self.mean_confidence,
            "models": list(self.models),
            "stores": list(self.stores),
            "away": [list(a) for a in self.away],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DayReport:
        """Inverse of :meth:`to_dict`; raises ``KeyError``/``TypeError``/``ValueError``."""
        mapped = data["mapped_breakdown"]
        return cls(
            user_id=str(data["user_id"]),
            date=date.fromisoformat(data["date"]),
            windows=int(data["windows"]),
            rejected=int(data["rejected"]),
            total_minutes=float(data["total_minutes"]),
            core_breakdown={str(k): float(v) for k, v in data["core_breakdown"].items()},
            mapped_breakdown=(
                None if mapped is None else {str(k): float(v) for k, v in mapped.items()}
            ),
            segments=tuple(
                Segment(
                    float(a),
                    float(b),
                    str(lbl),
                    int(n),
                    None if c is None else float(c),
                    float(sec),
                    str(bucket),
                    tuple((float(x), float(y)) for x, y in parts) if parts else (),
                )
                for a, b, lbl, n, c, sec, bucket, parts in data["segments"]
            ),
            flap_rate_raw=float(data["flap_rate_raw"]),
            flap_rate_smoothed=float(data["flap_rate_smoothed"]),
            mean_confidence=(
                None if data["mean_confidence"] is None else float(data["mean_confidence"])
            ),
            models=tuple(str(m) for m in data["models"]),
            stores=tuple(None if s is None else str(s) for s in data["stores"]),
            away=tuple((float(a), float(b)) for a, b in data["away"]),
        )


# --- records -> LoggedLabel -----------------------------------------------------------


def _epoch(value: object, name: str) -> float:
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected an ISO-8601 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: expected an ISO-8601 timestamp, got {value[:40]!r}") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        epoch = ts.timestamp()
    except (OverflowError, ValueError):
        epoch = math.nan
    if not epoch_in_range(epoch):
        # an older daemon logged it: the report skips it as damaged, and local days around
        # it would not fit in a datetime
        raise ValueError(out_of_range(name, repr(value[:40])))
    return epoch


def _text(record: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = record.get(key)
    if value is None:
        value = default
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string, got {type(value).__name__}")
    return value


def _optional_text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string or null, got {type(value).__name__}")
    return value


def label_from_record(record: Mapping[str, Any]) -> LoggedLabel:
    """The report's view of one record; raises ``ValueError`` (only) if it is damaged.

    Unknown keys are ignored; fields an older daemon did not write take the value they
    stand for (``smoothed_label`` = ``label``, ``is_rejected`` = label is the reject label,
    no span: the window stands for its own ``[bucket_start_ts, bucket_end_ts)``).
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    start = _epoch(record.get("bucket_start_ts"), "bucket_start_ts")
    end = _epoch(record.get("bucket_end_ts"), "bucket_end_ts")
    if not end > start:
        raise ValueError("bucket_end_ts: expected a time after bucket_start_ts")
    start_us, end_us = round(start * _US), round(end * _US)
    try:
        span = parse_time_span(record, start_us, end_us)
    except WindowError as exc:
        raise ValueError(str(exc)) from None
    if span is None:
        span = TimeSpan(start_us, min(end_us, start_us + _MAX_SPAN_US))
    label = _text(record, "label")
    smoothed = _text(record, "smoothed_label", label)
    rejected = record.get("is_rejected")
    if rejected is None:
        rejected = label == REJECT_LABEL
    if not isinstance(rejected, bool):
        raise ValueError(f"is_rejected: expected true/false, got {type(rejected).__name__}")
    confidence = record.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise ValueError(f"confidence: expected a number, got {type(confidence).__name__}")
        confidence = float(confidence)
        if not math.isfinite(confidence):
            raise ValueError("confidence: expected a finite number")
    return LoggedLabel(
        user_id=_text(record, "user_id"),
        start=start,
        end=end,
        label=label,
        smoothed_label=smoothed,
        mapped_label=_text(record, "mapped_label", smoothed),
        mapped=isinstance(record.get("mapped_probs"), Mapping),
        confidence=confidence,
        is_rejected=rejected,
        model_bundle_id=_optional_text(record, "model_bundle_id"),
        store_id=_optional_text(record, "store_id"),
        time=span,
    )


def parse_label_lines(lines: Iterable[bytes | str]) -> ParsedLog:
    """Records of label-log lines; a blank line is ignored, a damaged one skipped and counted."""
    labels: list[LoggedLabel] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            labels.append(label_from_record(json.loads(line)))
        except (ValueError, UnicodeDecodeError, RecursionError):
            skipped += 1
    return ParsedLog(tuple(labels), skipped)


# --- local days -----------------------------------------------------------------------


def local_date(epoch: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(epoch, tz).date()


def day_bounds(day: date, tz: tzinfo) -> tuple[float, float]:
    """``[start, end)`` of local ``day`` in epoch seconds (23 or 25 hours on DST days)."""

    def midnight(d: date) -> float:
        # a zone that skips midnight (DST at 00:00) starts the day at the first instant
        # that exists; fold=0 maps a skipped time with the earlier offset, which is that
        return datetime.combine(d, time(0), tzinfo=tz).timestamp()

    return midnight(day), midnight(day + timedelta(days=1))


def reach_days(days: Iterable[date], tz: tzinfo) -> list[date]:
    """The local days whose windows' time can fall on ``days`` (a span lasts at most
    :data:`~taskclf_core.timespan.MAX_SPAN`): each day and those up to a span before it."""
    out: set[date] = set()
    for day in days:
        start, _ = day_bounds(day, tz)
        first = local_date(start - MAX_SPAN.total_seconds(), tz)
        while first <= day:
            out.add(first)
            first += timedelta(days=1)
    return sorted(out)


def utc_days_overlapping(days: Iterable[date], tz: tzinfo) -> list[date]:
    """The UTC days (label-log files) whose windows can fall on the given local days."""
    out: set[date] = set()
    for day in days:
        start, end = day_bounds(day, tz)
        first = datetime.fromtimestamp(start, UTC).date()
        last = datetime.fromtimestamp(end - 1e-6, UTC).date()
        while first <= last:
            out.add(first)
            first += timedelta(days=1)
    return sorted(out)


# --- the figures ----------------------------------------------------------------------


def _changes(labels: Sequence[str]) -> int:
    return sum(1 for a, b in pairwise(labels) if a != b)


def _flap_rate(labels: Sequence[str]) -> float:
    # taskclf's flap_rate: label changes / total windows, 0.0 for one window or none
    return _changes(labels) / len(labels) if len(labels) > 1 else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _ordered_unique(values: Iterable[str | None]) -> tuple[str | None, ...]:
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class _Timed:
    """One window of a user with its time (cut at the next window), story label and bucket."""

    window: LoggedLabel
    time: TimeSpan
    story: str
    bucket: str


@dataclass
class _Run:
    label: str
    bucket: str
    start: int
    end: int
    us: int = 0
    windows: int = 0
    confidences: list[float] = field(default_factory=list)
    parts: list[Interval] = field(default_factory=list)

    def add(self, first: int, last: int) -> None:
        self.end = last
        self.us += last - first
        if self.parts and first - self.parts[-1][1] < _MINUTE_US:
            self.parts[-1] = (self.parts[-1][0], last)
        else:
            self.parts.append((first, last))

    def segment(self) -> Segment:
        return Segment(
            self.start / _US,
            self.end / _US,
            self.label,
            self.windows,
            _mean(self.confidences),
            self.us / _US,
            self.bucket,
            tuple((a / _US, b / _US) for a, b in self.parts),
        )


def _segments(timed: Sequence[tuple[_Timed, list[Interval]]], idle_gap_us: int) -> list[Segment]:
    """Runs of one story label over ``(window, its active parts in the day)`` in time order;
    a gap over ``idle_gap_us`` between two active parts (of one window or two) ends one. A
    window counts in each segment it has time in."""
    out: list[Segment] = []
    run: _Run | None = None
    for item, parts in timed:
        counted = False
        for first, last in parts:
            if run is None or item.story != run.label or first - run.end > idle_gap_us:
                if run is not None:
                    out.append(run.segment())
                run, counted = _Run(item.story, item.bucket, first, last), False
            run.add(first, last)
            if not counted:
                counted = True
                run.windows += 1
                if item.window.confidence is not None:
                    run.confidences.append(item.window.confidence)
    if run is not None:
        out.append(run.segment())
    return out


def _day_report(
    user_id: str,
    day: date,
    bounds: tuple[int, int],
    own: Sequence[_Timed],
    reach: Sequence[_Timed],
    idle_gap: float,
) -> DayReport | None:
    """The figures of ``day`` (``bounds`` in epoch µs): counts from ``own`` (the windows
    that start in it, in time order), time from ``reach`` (those whose time falls in it)."""
    lo, hi = bounds
    core_us: dict[str, int] = {}
    mapped_us: dict[str, int] = {}
    total_us = 0
    counted: list[tuple[_Timed, list[Interval]]] = []
    away: list[Interval] = []
    for item in reach:
        inside = lo <= item.time.start_us and item.time.end_us <= hi
        away.extend(item.time.away if inside else clip(item.time.away, lo, hi))
        parts = item.time.active() if inside else clip(item.time.active(), lo, hi)
        if not parts:
            continue
        us = sum(b - a for a, b in parts)
        total_us += us
        core_us[item.story] = core_us.get(item.story, 0) + us
        mapped_us[item.bucket] = mapped_us.get(item.bucket, 0) + us
        counted.append((item, parts))
    if not own and not total_us:
        return None
    windows = [item.window for item in own]
    confidences = [w.confidence for w in windows if w.confidence is not None]
    models = [w.model_bundle_id for w in windows if w.model_bundle_id is not None]
    mapped = any(w.mapped for w in windows) or any(i.window.mapped for i, _ in counted)
    return DayReport(
        user_id=user_id,
        date=day,
        windows=len(windows),
        rejected=sum(1 for w in windows if w.is_rejected),
        total_minutes=total_us / _MINUTE_US,
        core_breakdown={k: v / _MINUTE_US for k, v in sorted(core_us.items())},
        mapped_breakdown=(
            {k: v / _MINUTE_US for k, v in sorted(mapped_us.items())} if mapped else None
        ),
        segments=tuple(_segments(counted, round(idle_gap * _US))),
        flap_rate_raw=_flap_rate([w.label for w in windows]),
        flap_rate_smoothed=_flap_rate([item.story for item in own]),
        mean_confidence=_mean(confidences),
        models=tuple(m for m in _ordered_unique(models) if m is not None),
        stores=_ordered_unique(w.store_id for w in windows),
        away=tuple((a / _US, b / _US) for a, b in merge(away)),
    )


def story_labels(labels: Sequence[str], times: Sequence[TimeSpan]) -> list[str]:
    """taskclf's centred vote over a day's raw labels, one label per minute of time: taskclf's
    buckets are minutes, and a row that stands for a 17-minute call is 17 minutes of it (by
    rows, two one-minute neighbours would outvote the call). Each window takes the label most
    of its minutes got (its own on a tie); a window of under a minute counts as one."""
    votes: list[str] = []
    ranges: list[tuple[int, int]] = []
    for label, span in zip(labels, times, strict=True):
        n = max(1, round(span.active_us / _MINUTE_US))
        ranges.append((len(votes), len(votes) + n))
        votes.extend([label] * n)
    smoothed = rolling_majority(votes, STORY_WINDOW)
    out: list[str] = []
    for label, (lo, hi) in zip(labels, ranges, strict=True):
        if hi - lo == 1:
            out.append(smoothed[lo])
            continue
        counts: dict[str, int] = {}
        for vote in smoothed[lo:hi]:
            counts[vote] = counts.get(vote, 0) + 1
        top = max(counts.values())
        out.append(label if counts.get(label) == top else max(counts, key=counts.__getitem__))
    return out


def _user_timeline(windows: Sequence[LoggedLabel], tz: tzinfo) -> dict[date, list[_Timed]]:
    """A user's windows (sorted by start, one per start) by the local day they start in,
    each with its time cut where the next one's starts, its story label and bucket."""
    by_time = sorted(range(len(windows)), key=lambda i: (windows[i].time.start_us, i))
    times: list[TimeSpan] = [windows[i].time for i in range(len(windows))]
    for i, j in pairwise(by_time):
        times[i] = times[i].cut(windows[j].time.start_us)
    days: dict[date, list[int]] = {}
    for i, w in enumerate(windows):
        days.setdefault(local_date(w.start, tz), []).append(i)
    out: dict[date, list[_Timed]] = {}
    for day, members in days.items():
        story = story_labels([windows[i].label for i in members], [times[i] for i in members])
        # the bucket the daemon mapped each label to that day (one taxonomy: one answer)
        buckets: dict[str, str] = {}
        for i in members:
            buckets.setdefault(windows[i].smoothed_label, windows[i].mapped_label)
        out[day] = [
            _Timed(
                windows[i],
                times[i],
                label,
                buckets.get(label, windows[i].mapped_label) if windows[i].mapped else label,
            )
            for i, label in zip(members, story, strict=True)
        ]
    return out


def _bounds_us(day: date, tz: tzinfo) -> tuple[int, int]:
    lo, hi = day_bounds(day, tz)
    return round(lo * _US), round(hi * _US)


def build_day_reports(
    labels: Iterable[LoggedLabel],
    tz: tzinfo,
    *,
    idle_gap: float = DEFAULT_IDLE_GAP_SECONDS,
    days: Iterable[date] | None = None,
    users: Iterable[str] | None = None,
) -> list[DayReport]:
    """One report per (user, local day) with windows or time in it, sorted by user then day.

    ``days`` / ``users`` keep only those (default: all). ``labels`` must hold every window
    of the local days :func:`reach_days` gives for ``days`` (whose time can fall on them).
    A window logged twice (same user and ``bucket_start_ts``) counts once: the first read.
    """
    wanted_days = None if days is None else frozenset(days)
    wanted_users = None if users is None else frozenset(users)
    by_user: dict[str, list[LoggedLabel]] = {}
    for label in labels:
        if wanted_users is None or label.user_id in wanted_users:
            by_user.setdefault(label.user_id, []).append(label)
    reports: list[DayReport] = []
    for user_id in sorted(by_user):
        ordered: list[LoggedLabel] = []
        for window in sorted(by_user[user_id], key=lambda w: w.start):  # stable: first wins
            if not ordered or window.start != ordered[-1].start:
                ordered.append(window)
        timeline = _user_timeline(ordered, tz)
        every = sorted(
            (item for items in timeline.values() for item in items),
            key=lambda item: (item.time.start_us, item.window.start),
        )
        starts = [item.time.start_us for item in every]
        ends = [item.time.end_us for item in every]  # sorted too: the times never overlap
        bounds = {day: _bounds_us(day, tz) for day in timeline}
        candidates = set(timeline)
        for day, items in timeline.items():
            # a window's time past its own day (a call across midnight) falls on the next
            last = max(item.time.end_us for item in items)
            while last > bounds[day][1]:
                day += timedelta(days=1)
                candidates.add(day)
                bounds.setdefault(day, _bounds_us(day, tz))
        for day in sorted(candidates):
            if wanted_days is not None and day not in wanted_days:
                continue
            lo, hi = bounds[day]
            reach = every[bisect_right(ends, lo) : bisect_left(starts, hi)]
            own = sorted(timeline.get(day, []), key=lambda item: item.window.start)
            report = _day_report(user_id, day, (lo, hi), own, reach, idle_gap)
            if report is not None:
                reports.append(report)
    return reports


# --- JSON (`report --json`) -----------------------------------------------------------


def _iso(epoch: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def _segment_json(segment: Segment, tz: tzinfo) -> list[Any]:
    return [_iso(segment.start, tz), _iso(segment.end, tz), segment.label, segment.windows]


def day_report_json(report: DayReport, tz: tzinfo) -> dict[str, Any]:
    """taskclf's ``DailyReport`` fields (rounded as taskclf rounds them) plus ours.

    Times are local ISO-8601 with their UTC offset, so they read right and stay exact.
    """
    mapped = report.mapped_breakdown
    return {
        "user_id": report.user_id,
        "date": report.date.isoformat(),
        "total_minutes": round(report.total_minutes, 2),
        "core_breakdown": {k: round(v, 2) for k, v in report.core_breakdown.items()},
        "mapped_breakdown": None if mapped is None else {k: round(v, 2) for k, v in mapped.items()},
        "segments_count": report.segments_count,
        "flap_rate_raw": round(report.flap_rate_raw, 4),
        "flap_rate_smoothed": round(report.flap_rate_smoothed, 4),
        "reject_rate": round(report.reject_rate, 4),
        "segments": [_segment_json(s, tz) for s in report.segments],
        "models": list(report.models),
        "windows": report.windows,
        "mean_confidence": (
            None if report.mean_confidence is None else round(report.mean_confidence, 4)
        ),
        "stores": list(report.stores),
        "focus_blocks": [_segment_json(s, tz) for s in report.focus_blocks()],
        "away_minutes": round(report.away_minutes, 2),
    }
