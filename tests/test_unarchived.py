"""Labelled days the feature archive does not hold: which, their minutes, how they come in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from taskclf_core.spans import LabelSpan
from taskclf_core.unarchived import Unarchived, unarchived

NOW = datetime(2026, 12, 7, 6, 40, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)


def day(n: int) -> date:
    return date(2026, 11, 24) + timedelta(days=n)


def spans_on(*days: int, minutes: int = 60) -> list[LabelSpan]:
    """A span of ``minutes`` from 09:00 UTC on each of ``days``."""
    out = []
    for n in days:
        start = datetime(day(n).year, day(n).month, day(n).day, 9, tzinfo=UTC)
        out.append(LabelSpan(start, start + timedelta(minutes=minutes), "Build"))
    return out


def test_an_empty_archive_holds_none_and_retrain_rebuilds_them_all() -> None:
    got = unarchived(spans_on(1, 2, 3, 6), set(), since=SINCE, now=NOW)
    assert got.days == (day(1), day(2), day(3), day(6))
    assert got.minutes == 240.0
    assert got.rebuilt == 4
    assert got.runs == ((day(1), day(6)),)  # no archived day between: one back-fill
    assert got.to_json() == {
        "days": ["2026-11-25", "2026-11-26", "2026-11-27", "2026-11-30"],
        "minutes": 240,
        "rebuilt_by_retrain": 4,
    }


def test_every_labelled_day_archived_is_nothing_to_say() -> None:
    assert unarchived(spans_on(1, 2), {day(1), day(2), day(5)}, since=SINCE, now=NOW) == (
        Unarchived()
    )
    assert unarchived([], set(), since=SINCE, now=NOW) == Unarchived()


def test_days_after_the_archives_first_are_back_filled_a_stretch_at_a_time() -> None:
    """`retrain` rebuilds only the days before the archive's first day; a back-fill of each
    stretch of missing days with no archived day inside never collects an archived one again."""
    got = unarchived(
        spans_on(0, 1, 3, 4, 6, 7, 8, minutes=30), {day(2), day(5)}, since=SINCE, now=NOW
    )
    assert got.days == (day(0), day(1), day(3), day(4), day(6), day(7), day(8))
    assert got.rebuilt == 2
    assert got.runs == ((day(0), day(1)), (day(3), day(4)), (day(6), day(8)))
    assert got.minutes == 7 * 30.0


def test_only_the_lookback_counts_and_a_span_over_midnight_is_cut_at_it() -> None:
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    spans = [
        LabelSpan(late, late + timedelta(hours=1), "BreakIdle"),  # 30 min on each side
        *spans_on(-30),  # older than the lookback
    ]
    got = unarchived(spans, {day(2)}, since=SINCE, now=NOW)
    assert got.days == (day(1),)
    assert got.minutes == 30.0
    assert got.rebuilt == 1
