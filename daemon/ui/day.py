"""The page's day: a thin adapter over the report's day model, never a second count.

Segments, minutes per label and the day's figures are :class:`taskclf_core.daily.DayReport`
as `report` builds it (:class:`daemon.reporting.summaries.DaySummaries`, its cache
included): whatever section 15 of the contract makes the report count, the page shows.
This module only reshapes it into JSON for the page, with the user's own spans beside it.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from daemon.localtz import zone_key
from daemon.paths import report_cache_dir, spans_file
from daemon.reporting.palette import LABEL_COLOURS, REJECT_COLOUR
from daemon.reporting.summaries import DaySummaries, ReportData
from daemon.spanfile import load_spans
from taskclf_core.daily import DayReport, Segment, day_bounds
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.schema import format_ts

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from taskclf_core.spans import LabelSpan

__all__ = ["day_json", "label_json", "span_json", "summaries_for"]


def summaries_for(settings: Settings, tz: tzinfo) -> DaySummaries:
    """The report's reader of the label log, with the report's cache."""
    return DaySummaries(
        settings.labels_path,
        tz,
        cache_dir=report_cache_dir(settings.data_dir),
        idle_gap=settings.idle_gap_seconds,
    )


def label_json() -> list[dict[str, str]]:
    """The eight labels in their key order (1-8) with the report's colours."""
    return [{"name": name, "colour": LABEL_COLOURS[name]} for name in CORE_LABELS]


def _segment_json(segment: Segment, report: DayReport) -> dict[str, Any]:
    """A segment as the page draws it: from start to end, the time it counts (``seconds``,
    what its hover says and the totals add up), the away (AFK) time inside it as
    ``[start, end]`` epoch pairs (drawn hatched, as the report does)."""
    return {
        "start": segment.start,
        "end": segment.end,
        "seconds": round(segment.seconds, 3),
        "label": segment.label,
        "confidence": None if segment.confidence is None else round(segment.confidence, 4),
        "windows": segment.windows,
        "away": [[a, b] for a, b in report.away_in(segment)],
    }


def span_json(span: LabelSpan) -> dict[str, Any]:
    """A span as the page (and its undo) sends it back: the span file's own fields, plus
    epoch times to draw with."""
    return {
        **span.to_json(),
        "start": span.start_ts.timestamp(),
        "end": span.end_ts.timestamp(),
    }


def _day_spans(settings: Settings, user: str | None, lo: float, hi: float) -> list[LabelSpan]:
    if user is None:
        return []
    return [
        s
        for s in load_spans(spans_file(settings.data_dir))
        if s.applies_to(user) and s.start_ts.timestamp() < hi and s.end_ts.timestamp() > lo
    ]


def _figures(report: DayReport | None) -> dict[str, Any]:
    if report is None:
        return {
            "total_minutes": 0.0,
            "breakdown": {},
            "windows": 0,
            "rejected": 0,
            "reject_rate": 0.0,
            "mean_confidence": None,
            "models": [],
            "segments": [],
            "away_minutes": 0.0,
        }
    breakdown = sorted(report.core_breakdown.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total_minutes": round(report.total_minutes, 3),
        "breakdown": {k: round(v, 3) for k, v in breakdown},
        "windows": report.windows,
        "rejected": report.rejected,
        "reject_rate": round(report.reject_rate, 4),
        "mean_confidence": (
            None if report.mean_confidence is None else round(report.mean_confidence, 4)
        ),
        "models": list(report.models),
        "segments": [_segment_json(s, report) for s in report.segments],
        "away_minutes": round(report.away_minutes, 3),
    }


def day_json(
    settings: Settings,
    data: ReportData,
    day: date,
    *,
    user: str | None,
    tz: tzinfo,
    now: datetime,
) -> dict[str, Any]:
    """The page's view of one user's local ``day``, from the report's summaries of it."""
    report = next((r for r in data.reports if r.user_id == user), None)
    lo, hi = day_bounds(day, tz)
    spans = _day_spans(settings, user, lo, hi)
    labelled = sum(
        max(0.0, min(s.end_ts.timestamp(), hi) - max(s.start_ts.timestamp(), lo)) for s in spans
    )
    figures = _figures(report)
    return {
        "date": day.isoformat(),
        "timezone": zone_key(tz),
        "user": user,
        "users": sorted({r.user_id for r in data.reports}),
        "day_start": lo,
        "day_end": hi,
        "now": now.timestamp(),
        **figures,
        "labelled_minutes": round(labelled / 60.0, 3),
        "spans": [span_json(s) for s in spans],
        "skipped_lines": data.skipped,
        "reject_label": REJECT_LABEL,
        "reject_colour": REJECT_COLOUR,
        "generated_at": format_ts(now),
    }
