"""Labelled days the feature archive does not hold yet: counted apart, nothing concluded."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from taskclf_core.spans import LabelSpan, span_days, span_minutes

__all__ = ["Unarchived", "unarchived"]


@dataclass(frozen=True, slots=True)
class Unarchived:
    """The lookback's labelled UTC days the archive has no file of, oldest first, and the
    labelled minutes on them. Their windows were not read, so they are in no count and no
    conclusion (BreakIdle spans with no window in them are no sign of anything there).

    ``rebuilt``: how many of them come before the archive's first day (all of them, with an
    empty archive), which `retrain` rebuilds from ActivityWatch. ``runs``: the first and last
    day of each stretch of them with no archived day inside, one back-fill each."""

    days: tuple[date, ...] = ()
    minutes: float = 0.0
    rebuilt: int = 0
    runs: tuple[tuple[date, date], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "days": [d.isoformat() for d in self.days],
            "minutes": round(self.minutes),
            "rebuilt_by_retrain": self.rebuilt,
        }


def unarchived(
    spans: Sequence[LabelSpan], archived: Collection[date], *, since: datetime, now: datetime
) -> Unarchived:
    """The days of ``spans`` in ``[since, now)`` not among the ``archived`` days (UTC)."""
    days = tuple(
        sorted(d for d in span_days(spans) if since.date() <= d <= now.date() and d not in archived)
    )
    if not days:
        return Unarchived()
    first = min(archived, default=None)
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and not any(runs[-1][1] < a < day for a in archived):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return Unarchived(
        days,
        sum(span_minutes(spans, since, now, days=set(days)).values()),
        sum(1 for d in days if first is None or d < first),
        tuple(runs),
    )
