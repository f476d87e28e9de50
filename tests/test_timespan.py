"""The time a window stands for: the span fields, their checks, and the interval arithmetic."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskclf_core.errors import WindowError
from taskclf_core.timespan import (
    MAX_AWAY,
    SPAN_FIELDS,
    TimeSpan,
    clip,
    format_us,
    merge,
    parse_time_span,
    subtract,
)

S = 1_000_000
MINUTE = 60 * S
BUCKET = 1_772_438_400 * S  # 2026-03-02T08:00:00Z


def at(seconds: float) -> str:
    return format_us(BUCKET + round(seconds * S))


def window(**fields: Any) -> dict[str, Any]:
    return {"user_id": "u", "bucket_start_ts": at(0), "bucket_end_ts": at(60), **fields}


def parse(**fields: Any) -> TimeSpan | None:
    return parse_time_span(window(**fields), BUCKET, BUCKET + MINUTE)


def test_a_window_without_a_span_stands_for_its_own_minute_elsewhere() -> None:
    assert parse() is None
    assert parse(span_start_ts=None, span_end_ts=None, span_away=None) is None


def test_a_span_and_its_away_parts_round_trip() -> None:
    span = TimeSpan(BUCKET + 18 * S, BUCKET + 1062 * S, ((BUCKET + 100 * S, BUCKET + 400 * S),))
    fields = span.to_fields()
    assert list(fields) == list(SPAN_FIELDS)
    assert fields == {
        "span_start_ts": "2026-03-02T08:00:18Z",
        "span_end_ts": "2026-03-02T08:17:42Z",
        "span_away": [["2026-03-02T08:01:40Z", "2026-03-02T08:06:40Z"]],
    }
    assert parse(**fields) == span
    assert span.active_us == (1062 - 18 - 300) * S
    assert span.active() == [(BUCKET + 18 * S, BUCKET + 100 * S), (BUCKET + 400 * S, span.end_us)]


def test_microseconds_are_kept_and_naive_times_are_utc() -> None:
    span = parse(span_start_ts="2026-03-02T08:00:18.095182", span_end_ts=at(75.5))
    assert span == TimeSpan(BUCKET + 18_095_182, BUCKET + 75_500_000)
    assert span.to_fields()["span_start_ts"] == "2026-03-02T08:00:18.095182Z"


def test_a_span_of_zero_length_stands_for_no_time() -> None:
    span = parse(span_start_ts=at(5), span_end_ts=at(5))
    assert span is not None
    assert span.active_us == 0


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"span_start_ts": at(1)}, "span_end_ts", "expected together with span_start_ts"),
        ({"span_end_ts": at(9)}, "span_start_ts", "expected together with span_end_ts"),
        ({"span_away": []}, "span_away", "expected span_start_ts and span_end_ts with it"),
        ({"span_start_ts": 5, "span_end_ts": at(9)}, "span_start_ts", "ISO-8601"),
        ({"span_start_ts": at(1), "span_end_ts": "noon"}, "span_end_ts", "ISO-8601"),
        (
            {"span_start_ts": "9999-12-31T00:00:00Z", "span_end_ts": at(9)},
            "span_start_ts",
            "supported times",
        ),
        ({"span_start_ts": at(-1), "span_end_ts": at(9)}, "span_start_ts", "own minute"),
        ({"span_start_ts": at(60), "span_end_ts": at(90)}, "span_start_ts", "own minute"),
        ({"span_start_ts": at(9), "span_end_ts": at(8)}, "span_end_ts", "at or after"),
        (
            {"span_start_ts": at(1), "span_end_ts": at(86_400.001)},
            "span_end_ts",
            "at most 24 hours after bucket_start_ts",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": {"a": 1}},
            "span_away",
            "expected a list of [start, end] pairs",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": [[at(2)]]},
            "span_away",
            "span_away[0]: expected a [start, end] pair",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": [[at(2), "x"]]},
            "span_away",
            "span_away[0][1]: expected an ISO-8601 timestamp",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": [[at(5), at(5)]]},
            "span_away",
            "span_away[0]: expected its start before its end",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": [[at(0), at(5)]]},
            "span_away",
            "inside [span_start_ts, span_end_ts]",
        ),
        (
            {"span_start_ts": at(1), "span_end_ts": at(99), "span_away": [[at(5), at(100)]]},
            "span_away",
            "inside [span_start_ts, span_end_ts]",
        ),
        (
            {
                "span_start_ts": at(1),
                "span_end_ts": at(99),
                "span_away": [[at(5), at(20)], [at(10), at(30)]],
            },
            "span_away",
            "span_away[1]: expected parts in time order, apart",
        ),
        (
            {
                "span_start_ts": at(0),
                "span_end_ts": at(86_000),
                "span_away": [[at(2 * i), at(2 * i + 1)] for i in range(MAX_AWAY + 1)],
            },
            "span_away",
            f"expected at most {MAX_AWAY} parts",
        ),
    ],
)
def test_bad_spans_are_refused_naming_the_field(
    fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(WindowError, match=r"^" + field.replace("[", r"\[")) as caught:
        parse(**fields)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_touching_away_parts_and_a_full_day_are_accepted() -> None:
    span = parse(
        span_start_ts=at(0),
        span_end_ts=at(86_400),
        span_away=[[at(0), at(10)], [at(10), at(20)], [at(86_000), at(86_400)]],
    )
    assert span is not None
    assert span.active_us == (86_400 - 20 - 400) * S


def test_cut_keeps_the_away_parts_before_the_cut() -> None:
    span = TimeSpan(0, 100, ((10, 20), (50, 70)))
    assert span.cut(60) == TimeSpan(0, 60, ((10, 20), (50, 60)))
    assert span.cut(200) is span
    assert span.cut(-5) == TimeSpan(0, 0, ())


intervals = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), max_size=12)


@given(intervals)
def test_merge_covers_the_same_points_with_sorted_disjoint_parts(parts: list[Any]) -> None:
    merged = merge(parts)
    covered = {x for a, b in parts for x in range(a, b)}
    assert {x for a, b in merged for x in range(a, b)} == covered
    assert all(a < b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(merged))


@given(st.integers(0, 100), st.integers(0, 100), intervals)
def test_subtract_and_clip_are_set_difference_and_intersection(
    lo: int, length: int, parts: list[Any]
) -> None:
    base = (lo, lo + length)
    holes = merge(parts)
    points = set(range(*base))
    hole_points = {x for a, b in holes for x in range(a, b)}
    assert {x for a, b in subtract(base, holes) for x in range(a, b)} == points - hole_points
    assert {x for a, b in clip(holes, *base) for x in range(a, b)} == points & hole_points


@given(st.integers(0, 100), st.integers(0, 100), intervals, st.integers(-10, 210))
def test_active_time_and_cut_are_the_span_without_its_away_parts(
    start: int, length: int, parts: list[Any], end: int
) -> None:
    """With away parts or without (most windows, a shorter path): the active parts are the
    span's points outside them, active_us their length, and a cut keeps the points before it."""
    span = TimeSpan(start, start + length, tuple(clip(merge(parts), start, start + length)))
    points = set(range(start, start + length)) - {x for a, b in span.away for x in range(a, b)}
    active = span.active()
    assert {x for a, b in active for x in range(a, b)} == points
    assert all(a < b for a, b in active)
    assert span.active_us == len(points)
    cut = span.cut(end)
    assert {x for a, b in cut.active() for x in range(a, b)} == {x for x in points if x < end}
    assert cut.active_us == len([x for x in points if x < end])
