"""The report's segments for ActivityWatch's label bucket: the one call into the report's day.

`report` builds a user's local day from the label log in :mod:`daemon.reporting.summaries`
(over :func:`taskclf_core.daily.build_day_reports`): its segments, their labels and mean
confidence. The label bucket shows exactly those, so nothing here computes a segment: it
calls :meth:`DaySummaries.load` (sharing the report's cache) and takes ``DayReport.segments``
as they are. How the report counts time is the report's business; when it changes, the
bucket follows (:data:`MODEL_KEY` changes with the report cache's version and rewrites it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from daemon.localtz import zone_key
from daemon.reporting.summaries import CACHE_VERSION, DaySummaries, read_day_file
from taskclf_core.daily import (
    LoggedLabel,
    day_bounds,
    label_from_record,
    reach_days,
    utc_days_overlapping,
)
from taskclf_core.timerange import day_in_range
from taskclf_core.timespan import MAX_SPAN

__all__ = ["MODEL_KEY", "LabelSegment", "ReportSegments"]

# what the segments of a day depend on besides its day files: the report's own format
MODEL_KEY: Final = f"report-cache-v{CACHE_VERSION}"
_US: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class LabelSegment:
    """One segment of the report's day, as the label bucket shows it (times in epoch µs)."""

    start_us: int
    end_us: int
    label: str
    confidence: float | None  # the mean confidence of its windows
    model: str | None  # the bundle that labelled most of its windows


class ReportSegments:
    """The report's day model for one label log, local zone and ``idle_gap_seconds``."""

    def __init__(
        self, labels_dir: Path, tz: tzinfo, *, cache_dir: Path | None, idle_gap: float
    ) -> None:
        self.tz = tz
        self.idle_gap = idle_gap
        self._summaries = DaySummaries(labels_dir, tz, cache_dir=cache_dir, idle_gap=idle_gap)

    def key(self) -> dict[str, Any]:
        """What the segments depend on besides the day files (a change rewrites the bucket)."""
        return {"model": MODEL_KEY, "zone": zone_key(self.tz), "idle_gap": self.idle_gap}

    def days(self, until: float | None = None) -> list[date]:
        """The local days the label log's windows can have time on, oldest first: those its
        day files (UTC days) fall on, and after them those a window's time can reach (it lasts
        up to :data:`~taskclf_core.timespan.MAX_SPAN`: a call past midnight), but not after
        ``until`` (epoch seconds: now, when nothing can have reached further; None: no limit).
        """
        out: set[date] = set()
        for utc_day in self._summaries.day_files():
            if not day_in_range(utc_day):
                continue  # an older daemon's day outside the supported times: every reader skips it
            start = datetime.combine(utc_day, time(0), tzinfo=UTC)
            last = start + timedelta(days=1) - timedelta(microseconds=1)
            reach = last + MAX_SPAN
            if until is not None:
                reach = min(reach, datetime.fromtimestamp(until, UTC))
            day, end = start.astimezone(self.tz).date(), max(last, reach).astimezone(self.tz).date()
            while day <= end and day_in_range(day):
                out.add(day)
                day += timedelta(days=1)
        return sorted(out)

    def sources(self, days: Iterable[date]) -> dict[date, dict[str, Any]]:
        """Per local day, its day files' size and mtime: unchanged, the same segments."""
        return self._summaries.day_sources(days)

    def bounds_us(self, day: date) -> tuple[int, int]:
        """``[start, end)`` of the local ``day`` in epoch µs (23 or 25 hours on DST days)."""
        start, end = day_bounds(day, self.tz)
        return round(start * _US), round(end * _US)

    def segments(self, day: date, user_id: str) -> list[LabelSegment]:
        """``user_id``'s segments of the local ``day``, as `report` shows them."""
        reports = self._summaries.load([day], users=[user_id]).reports
        out: list[LabelSegment] = []
        for report in reports:
            models = report.models
            # one model among the day's own windows: that one; none (a day that only a call
            # from the day before reaches) or several (a deploy): the windows decide
            windows = None if len(models) == 1 else self._windows(day, user_id)
            for segment in report.segments:
                model = (
                    models[0] if windows is None else _model_of(segment.start, segment.end, windows)
                )
                out.append(
                    LabelSegment(
                        start_us=round(segment.start * _US),
                        end_us=round(segment.end * _US),
                        label=segment.label,
                        confidence=segment.confidence,
                        model=model,
                    )
                )
        return out

    def _windows(self, day: date, user_id: str) -> list[LoggedLabel]:
        """The user's records of the day files ``day`` is built from, those of the days
        before whose time can reach it included (for the models: a deploy put more than one
        to work that day, or a call from the day before is all it has)."""
        out: list[LoggedLabel] = []
        for utc_day in utc_days_overlapping(reach_days([day], self.tz), self.tz):
            for record in read_day_file(self._summaries.path_for(utc_day)).records:
                if record.get("user_id") != user_id:
                    continue
                try:
                    out.append(label_from_record(record))
                except ValueError:
                    continue  # damaged: the report skips it too
        return out


def _model_of(start: float, end: float, windows: Iterable[LoggedLabel]) -> str | None:
    """The bundle that labelled most windows whose time falls in ``[start, end)`` (a window
    stands for the time its span says, which starts after its minute does and may reach the
    next day); a tie: the later."""
    lo, hi = round(start * _US), round(end * _US)
    counts: Counter[str] = Counter()
    last: dict[str, float] = {}
    for window in windows:
        inside = window.time.start_us < hi and window.time.end_us > lo
        if inside and window.model_bundle_id is not None:
            counts[window.model_bundle_id] += 1
            last[window.model_bundle_id] = max(last.get(window.model_bundle_id, 0.0), window.start)
    if not counts:
        return None
    return max(counts, key=lambda m: (counts[m], last[m]))
