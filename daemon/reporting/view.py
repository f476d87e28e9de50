"""What a report shows: the requested days per user, their totals, drift; and the JSON form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from daemon.reporting.palette import LABEL_COLOURS, SPARE_COLOURS
from taskclf_core.daily import DayReport, Segment, day_report_json
from taskclf_core.labels import REJECT_LABEL

__all__ = ["RangeTotals", "ReportView", "UserView", "fmt_minutes", "local_hm", "report_json"]


def fmt_minutes(minutes: float) -> str:
    """``6 h 05 min``, ``45 min``; rounded to the minute."""
    total = round(minutes)
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def local_hm(epoch: float, tz: tzinfo) -> str:
    """``HH:MM`` local time; in the hour a DST change repeats, with the zone's abbreviation."""
    at = datetime.fromtimestamp(epoch, tz)
    text = at.strftime("%H:%M")
    if at.replace(fold=1 - at.fold).utcoffset() != at.utcoffset():
        text += f" {at.tzname()}"
    return text


@dataclass(frozen=True, slots=True)
class RangeTotals:
    """One user's figures summed over the days shown."""

    total_minutes: float
    windows: int
    rejected: int
    core_breakdown: dict[str, float]
    mapped_breakdown: dict[str, float] | None
    segments_count: int
    flap_rate_raw: float
    flap_rate_smoothed: float
    mean_confidence: float | None
    focus_blocks: list[tuple[date, Segment]]
    models: list[str]
    stores: list[str | None]
    days_with_windows: int
    away_minutes: float = 0.0

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.windows if self.windows else 0.0


def _totals(reports: Sequence[DayReport]) -> RangeTotals:
    core: dict[str, float] = {}
    mapped: dict[str, float] | None = None
    windows = sum(r.windows for r in reports)
    confident = [r for r in reports if r.mean_confidence is not None]
    for report in reports:
        for label, minutes in report.core_breakdown.items():
            core[label] = core.get(label, 0.0) + minutes
        if report.mapped_breakdown is not None:
            mapped = {} if mapped is None else mapped
            for label, minutes in report.mapped_breakdown.items():
                mapped[label] = mapped.get(label, 0.0) + minutes

    def weighted(values: Sequence[tuple[float, int]]) -> float:
        n = sum(w for _, w in values)
        return sum(v * w for v, w in values) / n if n else 0.0

    blocks = [(r.date, s) for r in reports for s in r.focus_blocks()]
    blocks.sort(key=lambda b: (-b[1].seconds, b[1].start))
    return RangeTotals(
        total_minutes=sum(r.total_minutes for r in reports),
        windows=windows,
        rejected=sum(r.rejected for r in reports),
        core_breakdown=dict(sorted(core.items(), key=lambda kv: (-kv[1], kv[0]))),
        mapped_breakdown=(
            None if mapped is None else dict(sorted(mapped.items(), key=lambda kv: (-kv[1], kv[0])))
        ),
        segments_count=sum(r.segments_count for r in reports),
        flap_rate_raw=weighted([(r.flap_rate_raw, r.windows) for r in reports]),
        flap_rate_smoothed=weighted([(r.flap_rate_smoothed, r.windows) for r in reports]),
        mean_confidence=(
            weighted([(r.mean_confidence or 0.0, r.windows) for r in confident])
            if confident
            else None
        ),
        focus_blocks=blocks[:3],
        models=list(dict.fromkeys(m for r in reports for m in r.models)),
        stores=list(dict.fromkeys(s for r in reports for s in r.stores)),
        days_with_windows=len(reports),
        away_minutes=sum(r.away_minutes for r in reports),
    )


@dataclass(frozen=True, slots=True)
class UserView:
    user_id: str
    days: dict[date, DayReport]  # only days with windows
    totals: RangeTotals
    drift: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ReportView:
    """Everything the text, JSON and HTML forms draw from."""

    days: list[date]
    tz: tzinfo
    zone_name: str
    users: list[UserView]
    skipped: int
    label_log: Path
    generated_at: datetime
    bucket_colours: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_range(self) -> bool:
        return len(self.days) > 1

    @classmethod
    def build(
        cls,
        *,
        days: Sequence[date],
        tz: tzinfo,
        zone_name: str,
        users: Sequence[str],
        reports: Sequence[DayReport],
        skipped: int,
        label_log: Path,
        generated_at: datetime,
        drift: Mapping[str, Mapping[str, Any]] | None = None,
        bucket_colours: Mapping[str, str] | None = None,
    ) -> ReportView:
        colours = dict(bucket_colours or {})
        spare = iter(SPARE_COLOURS)
        mapped = sorted({k for r in reports for k in (r.mapped_breakdown or {})})
        for name in mapped:
            # a bucket the taxonomy gives no colour gets its own (until the spares run out)
            if name not in colours and name not in LABEL_COLOURS and name != REJECT_LABEL:
                colour = next(spare, None)
                if colour is not None:
                    colours[name] = colour
        views = []
        for user_id in users:
            own = [r for r in reports if r.user_id == user_id]
            views.append(
                UserView(
                    user_id=user_id,
                    days={r.date: r for r in own},
                    totals=_totals(own),
                    drift=(drift or {}).get(user_id),
                )
            )
        return cls(
            days=sorted(days),
            tz=tz,
            zone_name=zone_name,
            users=views,
            skipped=skipped,
            label_log=label_log,
            generated_at=generated_at,
            bucket_colours=colours,
        )


def report_json(view: ReportView) -> dict[str, Any]:
    """``report --json``: one taskclf ``DailyReport`` (plus ours) per user and day."""
    return {
        "timezone": view.zone_name,
        "from": view.days[0].isoformat(),
        "to": view.days[-1].isoformat(),
        "label_log": str(view.label_log),
        "skipped_lines": view.skipped,
        "reports": [
            day_report_json(user.days[day], view.tz)
            for user in view.users
            for day in view.days
            if day in user.days
        ],
        "drift": {user.user_id: user.drift for user in view.users if user.drift is not None},
    }
