"""Daily report figures from label-log records: time per label, segments, flap and reject rates.

The figures are taskclf's ``DailyReport`` (``report/daily.py``) computed from the daemon's
label log instead of a segments file, per user and *local* calendar day:

- a window belongs to the local day of its ``bucket_start_ts``;
- minutes per label = the summed length of that label's windows (windows × window length),
  counted by ``smoothed_label`` as taskclf counts its (smoothed) segments;
- a segment is a run of one ``smoothed_label``; a gap over ``idle_gap`` seconds ends it;
- ``flap_rate_raw`` / ``flap_rate_smoothed`` = label changes / windows, in time order.

Everything here is pure: records in, frozen values out; reading files is the daemon's job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final

from taskclf_core.labels import REJECT_LABEL
from taskclf_core.timerange import epoch_in_range, out_of_range

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
    "utc_days_overlapping",
]

DEFAULT_IDLE_GAP_SECONDS: Final = 300.0
# a focus block is a stretch of solo work (Build, Debug, Write, Review, ReadResearch): not a
# break, a meeting, chat/e-mail or an unsure stretch
NON_FOCUS_LABELS: Final = frozenset({"BreakIdle", "Meet", "Communicate", REJECT_LABEL})
FOCUS_BLOCKS: Final = 3
_US: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class LoggedLabel:
    """What the report needs of one label-log record (times in UTC epoch seconds)."""

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


@dataclass(frozen=True, slots=True)
class ParsedLog:
    """The records of some label-log lines, and how many lines could not be read."""

    labels: tuple[LoggedLabel, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of one smoothed label: ``[start, end)`` from its first window to its last."""

    start: float
    end: float
    label: str
    windows: int
    confidence: float | None  # mean confidence of its windows (None: none recorded one)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class DayReport:
    """One user's local calendar day, as taskclf's ``DailyReport`` plus our additions."""

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
            "segments": [[s.start, s.end, s.label, s.windows, s.confidence] for s in self.segments],
            "flap_rate_raw": self.flap_rate_raw,
            "flap_rate_smoothed": self.flap_rate_smoothed,
            "mean_confidence": self.mean_confidence,
            "models": list(self.models),
            "stores": list(self.stores),
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
                Segment(float(a), float(b), str(lbl), int(n), None if c is None else float(c))
                for a, b, lbl, n, c in data["segments"]
            ),
            flap_rate_raw=float(data["flap_rate_raw"]),
            flap_rate_smoothed=float(data["flap_rate_smoothed"]),
            mean_confidence=(
                None if data["mean_confidence"] is None else float(data["mean_confidence"])
            ),
            models=tuple(str(m) for m in data["models"]),
            stores=tuple(None if s is None else str(s) for s in data["stores"]),
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
    stand for (``smoothed_label`` = ``label``, ``is_rejected`` = label is the reject label).
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    start = _epoch(record.get("bucket_start_ts"), "bucket_start_ts")
    end = _epoch(record.get("bucket_end_ts"), "bucket_end_ts")
    if not end > start:
        raise ValueError("bucket_end_ts: expected a time after bucket_start_ts")
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


def _segments(windows: Sequence[LoggedLabel], idle_gap: float) -> tuple[Segment, ...]:
    out: list[Segment] = []
    run: list[LoggedLabel] = []

    def close(next_start: float | None) -> None:
        end = max(w.end for w in run)
        if next_start is not None:
            end = min(end, next_start)  # overlapping windows never make segments overlap
        confidences = [w.confidence for w in run if w.confidence is not None]
        out.append(Segment(run[0].start, end, run[0].smoothed_label, len(run), _mean(confidences)))

    prev_end = -math.inf
    for window in windows:
        if run and (
            window.smoothed_label != run[0].smoothed_label or window.start - prev_end > idle_gap
        ):
            close(window.start)
            run = []
        run.append(window)
        prev_end = max(prev_end, window.end)
    if run:
        close(None)
    return tuple(out)


def _ordered_unique(values: Iterable[str | None]) -> tuple[str | None, ...]:
    return tuple(dict.fromkeys(values))


def _day_report(
    user_id: str, day: date, windows: Sequence[LoggedLabel], idle_gap: float
) -> DayReport:
    core_us: dict[str, int] = {}
    mapped_us: dict[str, int] = {}
    total_us = 0
    for w in windows:
        # integer microseconds: the breakdown sums to the total exactly
        us = round((w.end - w.start) * _US)
        total_us += us
        core_us[w.smoothed_label] = core_us.get(w.smoothed_label, 0) + us
        mapped_us[w.mapped_label] = mapped_us.get(w.mapped_label, 0) + us
    minutes = 60 * _US
    confidences = [w.confidence for w in windows if w.confidence is not None]
    models = [w.model_bundle_id for w in windows if w.model_bundle_id is not None]
    return DayReport(
        user_id=user_id,
        date=day,
        windows=len(windows),
        rejected=sum(1 for w in windows if w.is_rejected),
        total_minutes=total_us / minutes,
        core_breakdown={k: v / minutes for k, v in sorted(core_us.items())},
        mapped_breakdown=(
            {k: v / minutes for k, v in sorted(mapped_us.items())}
            if any(w.mapped for w in windows)
            else None
        ),
        segments=_segments(windows, idle_gap),
        flap_rate_raw=_flap_rate([w.label for w in windows]),
        flap_rate_smoothed=_flap_rate([w.smoothed_label for w in windows]),
        mean_confidence=_mean(confidences),
        models=tuple(m for m in _ordered_unique(models) if m is not None),
        stores=_ordered_unique(w.store_id for w in windows),
    )


def build_day_reports(
    labels: Iterable[LoggedLabel],
    tz: tzinfo,
    *,
    idle_gap: float = DEFAULT_IDLE_GAP_SECONDS,
    days: Iterable[date] | None = None,
    users: Iterable[str] | None = None,
) -> list[DayReport]:
    """One report per (user, local day) that has windows, sorted by user then day.

    ``days`` / ``users`` keep only those (default: all). A window logged twice (same user
    and ``bucket_start_ts``) counts once: the first one read.
    """
    wanted_days = None if days is None else frozenset(days)
    wanted_users = None if users is None else frozenset(users)
    by_user: dict[str, list[LoggedLabel]] = {}
    for label in labels:
        if wanted_users is None or label.user_id in wanted_users:
            by_user.setdefault(label.user_id, []).append(label)
    reports: list[DayReport] = []
    for user_id in sorted(by_user):
        ordered = sorted(by_user[user_id], key=lambda w: w.start)  # stable: first read wins
        by_day: dict[date, list[LoggedLabel]] = {}
        last_start = None
        for window in ordered:
            if window.start == last_start:
                continue
            last_start = window.start
            day = local_date(window.start, tz)
            if wanted_days is None or day in wanted_days:
                by_day.setdefault(day, []).append(window)
        for day in sorted(by_day):
            reports.append(_day_report(user_id, day, by_day[day], idle_gap))
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
    }
