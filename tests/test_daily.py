"""Daily report figures on hand-made label logs with known answers, and their invariants."""

from __future__ import annotations

import itertools
import json
import math
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.daily import (
    DayReport,
    LoggedLabel,
    build_day_reports,
    day_bounds,
    day_report_json,
    label_from_record,
    local_date,
    parse_label_lines,
    reach_days,
    utc_days_overlapping,
)
from taskclf_core.smoothing import rolling_majority

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(
    start: datetime,
    label: str = "Build",
    *,
    user: str = "alice",
    smoothed: str | None = None,
    mapped: str | None = None,
    confidence: float = 0.8,
    model: str = "model-a",
    store: str | None = "store1",
    length: timedelta = MINUTE,
    **extra: Any,
) -> dict[str, Any]:
    """A label-log record as the daemon writes it (fields of docs/windows.md)."""
    rejected = label == "Mixed/Unknown"
    smoothed = label if smoothed is None else smoothed
    rec: dict[str, Any] = {
        "user_id": user,
        "bucket_start_ts": _z(start),
        "bucket_end_ts": _z(start + length),
        "core_label": "Build" if rejected else label,
        "core_probs": {"Build": 1.0},
        "confidence": confidence,
        "is_rejected": rejected,
        "label": label,
        "smoothed_label": smoothed,
        "mapped_label": smoothed if mapped is None else mapped,
    }
    if mapped is not None:
        rec["mapped_probs"] = {mapped: 1.0}
    rec.update(
        calibrator="global",
        reject_threshold=0.55,
        model_bundle_id=model,
        model_schema_hash="abc",
        store_id=store,
        source="f.json",
        processed_at=_z(start + length),
    )
    rec.update(extra)
    return rec


def run(start: datetime, n: int, label: str = "Build", **kw: Any) -> list[dict[str, Any]]:
    return [record(start + i * MINUTE, label, **kw) for i in range(n)]


def labels_of(records: list[dict[str, Any]]) -> list[LoggedLabel]:
    return [label_from_record(r) for r in records]


def one_day(records: list[dict[str, Any]], tz: Any = UTC, **kw: Any) -> DayReport:
    reports = build_day_reports(labels_of(records), tz, **kw)
    assert len(reports) == 1, reports
    return reports[0]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- known answers ---------------------------------------------------------------------


def test_a_plain_day() -> None:
    t = utc(2026, 1, 5, 9)
    records = (
        run(t, 30, "Build")  # 09:00-09:30
        + run(t + 30 * MINUTE, 10, "Debug")  # 09:30-09:40
        + [record(t + 40 * MINUTE, "Mixed/Unknown", smoothed="Debug", confidence=0.3)]
        + run(t + 41 * MINUTE, 9, "Debug")  # 09:41-09:50
    )
    report = one_day(records)
    assert report.date == date(2026, 1, 5)
    assert report.windows == 50
    assert report.total_minutes == 50
    assert dict(report.core_breakdown) == {"Build": 30.0, "Debug": 20.0}
    assert report.mapped_breakdown is None  # no taxonomy: no mapped_probs
    assert [(s.label, s.windows) for s in report.segments] == [("Build", 30), ("Debug", 20)]
    assert report.segments[1].start == t.timestamp() + 30 * 60
    assert report.segments[1].end == t.timestamp() + 50 * 60
    # raw labels: Build->Debug, Debug->Mixed, Mixed->Debug = 3 changes over 50 windows
    assert report.flap_rate_raw == pytest.approx(3 / 50)
    assert report.flap_rate_smoothed == pytest.approx(1 / 50)
    assert report.reject_rate == pytest.approx(1 / 50)
    assert report.rejected == 1
    assert report.models == ("model-a",)
    assert report.stores == ("store1",)
    assert report.mean_confidence == pytest.approx((49 * 0.8 + 0.3) / 50)
    assert report.segments[1].confidence == pytest.approx((19 * 0.8 + 0.3) / 20)


def test_gaps_end_a_run_only_when_longer_than_idle_gap() -> None:
    t = utc(2026, 1, 5, 9)
    # 5 windows, a 300 s gap (kept), 5 windows, a 301 s gap (split), 5 windows
    second = t + 10 * MINUTE
    third = second + 5 * MINUTE + timedelta(seconds=301)
    records = run(t, 5) + run(second, 5) + run(third, 5)
    report = one_day(records)
    assert [s.windows for s in report.segments] == [10, 5]
    assert report.segments[0].end == (second + 5 * MINUTE).timestamp()
    assert report.segments[1].start == third.timestamp()
    assert report.total_minutes == 15  # the gaps are not time spent
    shorter = one_day(records, idle_gap=60.0)
    assert [s.windows for s in shorter.segments] == [5, 5, 5]


def test_rejected_windows_and_several_models() -> None:
    t = utc(2026, 2, 1, 12)
    records = (
        run(t, 6, "Write", model="m1", store=None)
        + run(t + 6 * MINUTE, 4, "Mixed/Unknown", model="m2", store="s2", confidence=0.4)
        + run(t + 10 * MINUTE, 10, "Write", model="m1", store="s3")
    )
    report = one_day(records)
    assert report.reject_rate == pytest.approx(4 / 20)
    assert report.models == ("m1", "m2")
    assert report.stores == (None, "s2", "s3")
    assert dict(report.core_breakdown) == {"Mixed/Unknown": 4.0, "Write": 16.0}
    assert [s.label for s in report.segments] == ["Write", "Mixed/Unknown", "Write"]
    assert [s.label for s in report.focus_blocks()] == ["Write", "Write"]
    assert report.focus_blocks()[0].windows == 10


def test_focus_blocks_are_solo_work() -> None:
    t = utc(2026, 2, 1, 9)
    records = (
        run(t, 60, "Meet")
        + run(t + 60 * MINUTE, 40, "Communicate")
        + run(t + 100 * MINUTE, 30, "BreakIdle")
        + run(t + 130 * MINUTE, 5, "Debug")
        + run(t + 135 * MINUTE, 20, "Review")
        + run(t + 155 * MINUTE, 10, "ReadResearch")
        + run(t + 165 * MINUTE, 25, "Build")
    )
    report = one_day(records)
    assert [(s.label, s.windows) for s in report.focus_blocks()] == [
        ("Build", 25),
        ("Review", 20),
        ("ReadResearch", 10),
    ]
    assert len(report.focus_blocks(n=10)) == 4


def test_dst_spring_forward_day_has_23_hours() -> None:
    # Europe/Berlin 2026-03-29: 02:00 CET -> 03:00 CEST; the local day is 23 h long
    day = date(2026, 3, 29)
    start, end = day_bounds(day, BERLIN)
    assert end - start == 23 * 3600
    assert utc_days_overlapping([day], BERLIN) == [date(2026, 3, 28), date(2026, 3, 29)]
    # every minute from 22:00Z the day before to 23:30Z: 90 + 1440 + 60 + ... windows
    first = utc(2026, 3, 28, 22)
    records = run(first, 26 * 60)
    reports = build_day_reports(labels_of(records), BERLIN)
    by_day = {r.date: r for r in reports}
    assert by_day[day].windows == 23 * 60
    assert by_day[day].total_minutes == 23 * 60
    (_segment,) = by_day[day].segments
    assert json.dumps(day_report_json(by_day[day], BERLIN)["segments"][0][:2]) == (
        '["2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"]'
    )
    assert by_day[date(2026, 3, 28)].windows == 60  # 22:00Z-23:00Z is 23:00-24:00 CET
    assert by_day[date(2026, 3, 30)].windows == 26 * 60 - 60 - 23 * 60


def test_dst_fall_back_day_has_25_hours() -> None:
    day = date(2026, 10, 25)
    start, end = day_bounds(day, BERLIN)
    assert end - start == 25 * 3600
    assert utc_days_overlapping([day], BERLIN) == [date(2026, 10, 24), date(2026, 10, 25)]
    records = run(utc(2026, 10, 24, 20), 30 * 60, "Debug")
    by_day = {r.date: r for r in build_day_reports(labels_of(records), BERLIN)}
    assert by_day[day].windows == 25 * 60
    assert by_day[day].core_breakdown["Debug"] == 25 * 60
    doc = day_report_json(by_day[day], BERLIN)
    assert doc["segments"] == [
        ["2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "Debug", 1500]
    ]


def test_a_local_day_spans_two_utc_files() -> None:
    # New York is UTC-5 in January: 2026-01-15 local is 05:00Z on the 15th to 05:00Z on the 16th
    day = date(2026, 1, 15)
    assert utc_days_overlapping([day], NEW_YORK) == [date(2026, 1, 15), date(2026, 1, 16)]
    evening = utc(2026, 1, 16, 3, 30)  # 22:30 local on the 15th, in the 16th's UTC file
    records = run(utc(2026, 1, 15, 14), 60, "Meet") + run(evening, 45, "Write")
    report = one_day(records, NEW_YORK)
    assert report.date == day
    assert dict(report.core_breakdown) == {"Meet": 60.0, "Write": 45.0}
    doc = day_report_json(report, NEW_YORK)
    assert doc["segments"][1] == [
        "2026-01-15T22:30:00-05:00",
        "2026-01-15T23:15:00-05:00",
        "Write",
        45,
    ]
    # the same windows in UTC fall on two days
    assert [r.date for r in build_day_reports(labels_of(records), UTC)] == [
        date(2026, 1, 15),
        date(2026, 1, 16),
    ]


def test_fixed_offset_timezone_and_filters() -> None:
    plus_530 = timezone(timedelta(hours=5, minutes=30))
    records = run(utc(2026, 1, 1, 18), 60) + run(utc(2026, 1, 1, 20), 10, user="bob")
    # 18:00Z is 23:30 local: 30 windows on Jan 1, 30 on Jan 2
    reports = build_day_reports(labels_of(records), plus_530)
    assert [(r.user_id, r.date.day, r.windows) for r in reports] == [
        ("alice", 1, 30),
        ("alice", 2, 30),
        ("bob", 2, 10),
    ]
    only = build_day_reports(labels_of(records), plus_530, days=[date(2026, 1, 2)], users=["bob"])
    assert [(r.user_id, r.windows) for r in only] == [("bob", 10)]


def test_mapped_breakdown_when_a_taxonomy_was_used() -> None:
    t = utc(2026, 1, 5, 9)
    records = run(t, 20, "Build", mapped="Deep work") + run(
        t + 20 * MINUTE, 5, "Meet", mapped="Talk"
    )
    report = one_day(records)
    assert dict(report.mapped_breakdown or {}) == {"Deep work": 20.0, "Talk": 5.0}
    assert dict(report.core_breakdown) == {"Build": 20.0, "Meet": 5.0}


def test_a_window_logged_twice_counts_once() -> None:
    t = utc(2026, 1, 5, 9)
    records = run(t, 10)
    records.append(record(t + 3 * MINUTE, "Debug"))  # same window again, another label
    report = one_day(records)
    assert report.windows == 10
    assert dict(report.core_breakdown) == {"Build": 10.0}


def test_window_length_counts() -> None:
    t = utc(2026, 1, 5, 9)
    records = [record(t + i * 5 * MINUTE, length=5 * MINUTE) for i in range(4)]
    assert one_day(records).total_minutes == 20


# --- reading records -------------------------------------------------------------------


def test_damaged_lines_are_skipped_and_counted() -> None:
    good = record(utc(2026, 1, 5, 9))
    bad_records = [
        {k: v for k, v in good.items() if k != "label"},
        {**good, "bucket_start_ts": "yesterday"},
        {**good, "bucket_end_ts": good["bucket_start_ts"]},
        {**good, "user_id": ""},
        {**good, "confidence": "high"},
        {**good, "confidence": True},
        {**good, "is_rejected": "no"},
        {**good, "store_id": 7},
    ]
    lines: list[bytes | str] = [json.dumps(good).encode(), b"", b"   "]
    lines += [json.dumps(r) for r in bad_records]
    lines += [b'{"user_id": "alice", "bucket_st', b"[1, 2]", b"\xff\xfe", b"null", b"[" * 100000]
    parsed = parse_label_lines(lines)
    assert len(parsed.labels) == 1
    assert parsed.skipped == len(bad_records) + 5


def test_old_records_and_unknown_keys() -> None:
    old = {
        "user_id": "alice",
        "bucket_start_ts": "2026-01-05T09:00:00",  # naive means UTC
        "bucket_end_ts": "2026-01-05T09:01:00",
        "label": "Mixed/Unknown",
        "some_future_field": {"x": 1},
    }
    label = label_from_record(old)
    assert label.smoothed_label == "Mixed/Unknown"
    assert label.mapped_label == "Mixed/Unknown"
    assert label.is_rejected
    assert label.confidence is None
    assert label.model_bundle_id is None
    assert label.start == utc(2026, 1, 5, 9).timestamp()
    report = one_day([old])
    assert report.mean_confidence is None
    assert report.models == ()
    assert report.segments[0].confidence is None


def test_json_has_taskclf_daily_report_fields_and_ours() -> None:
    t = utc(2026, 1, 5, 9)
    records = run(t, 3, "Build") + run(t + 3 * MINUTE, 4, "Debug", confidence=0.123456)
    doc = day_report_json(one_day(records), UTC)
    taskclf_fields = {
        "date",
        "total_minutes",
        "core_breakdown",
        "mapped_breakdown",
        "segments_count",
        "flap_rate_raw",
        "flap_rate_smoothed",
    }
    assert taskclf_fields | {"reject_rate", "segments", "models"} <= set(doc)
    assert doc["date"] == "2026-01-05"
    assert doc["total_minutes"] == 7.0
    assert doc["flap_rate_raw"] == round(1 / 7, 4)
    assert doc["segments"] == [
        ["2026-01-05T09:00:00+00:00", "2026-01-05T09:03:00+00:00", "Build", 3],
        ["2026-01-05T09:03:00+00:00", "2026-01-05T09:07:00+00:00", "Debug", 4],
    ]
    assert doc["segments_count"] == 2
    assert doc["models"] == ["model-a"]
    assert doc["mean_confidence"] == round((3 * 0.8 + 4 * 0.123456) / 7, 4)
    json.dumps(doc, allow_nan=False)


def test_cache_form_round_trips() -> None:
    t = utc(2026, 1, 5, 9)
    records = [
        *run(t, 3, "Build", mapped="Deep"),
        record(t + 3 * MINUTE, "Mixed/Unknown", store=None, confidence=0.1),
    ]
    report = one_day(records)
    again = DayReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report


def test_cache_form_leaves_out_a_segments_defaults_and_round_trips_the_rest() -> None:
    """A bucket equal to its label and a segment in one piece are written as "" and [] (most
    segments: a year's cache entries read faster); a bucket of its own and a segment with a
    break inside it are written out, and all of them read back equal."""
    t = utc(2026, 1, 5, 9)
    plain = one_day([*run(t, 3, "Build"), *run(t + 3 * MINUTE, 2, "Meet", mapped="Talk")])
    broken = one_day([spanned(t, "Write", 1200.0, away=[(300, 540)])])
    for report in (plain, broken):
        again = DayReport.from_dict(json.loads(json.dumps(report.to_dict())))
        assert again == report
    assert [s[6:] for s in plain.to_dict()["segments"]] == [["", []], ["Talk", []]]
    (written,) = broken.to_dict()["segments"]
    assert written[7] == broken.segments[0].parts
    assert len(written[7]) == 2


# --- the time a window stands for (span fields) ----------------------------------------------


def _zu(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def spanned(
    start: datetime,
    label: str = "Build",
    seconds: float = 60.0,
    *,
    offset: float = 0.0,
    away: list[tuple[float, float]] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A record of the minute at ``start`` standing for ``seconds`` from ``offset`` s into it
    (``away``: parts as seconds after the span's start), as the collector writes them."""
    rec = record(start, label, **kw)
    begin = start + timedelta(seconds=offset)
    rec["span_start_ts"] = _zu(begin)
    rec["span_end_ts"] = _zu(begin + timedelta(seconds=seconds))
    rec["span_away"] = [
        [_zu(begin + timedelta(seconds=a)), _zu(begin + timedelta(seconds=b))]
        for a, b in away or []
    ]
    return rec


CALL = 17.7 * 60


def test_a_window_stands_for_its_span_and_a_long_call_is_one_segment() -> None:
    """A 17.7-minute call is one taskclf row: it counts 17.7 minutes and is one Meet segment
    from its start to its end, though its one-minute neighbours would outvote it by rows."""
    t = utc(2026, 1, 5, 9)
    records = [
        *(spanned(t + i * MINUTE, "Build") for i in range(3)),
        spanned(t + 3 * MINUTE, "Meet", CALL, offset=12),
        *(
            spanned(t + 3 * MINUTE + timedelta(seconds=12 + CALL) + i * MINUTE, "Build")
            for i in range(3)
        ),
    ]
    # the rows after the call start in the minute it ended in, at its end
    for r in records[4:]:
        r["bucket_start_ts"] = r["span_start_ts"][:17] + "00Z"
        r["bucket_end_ts"] = _z(datetime.fromisoformat(r["bucket_start_ts"]) + MINUTE)
    report = one_day(records)
    assert report.total_minutes == pytest.approx(6 + 17.7)  # 12 s before the call: no event
    assert [(s.label, round(s.minutes, 2)) for s in report.segments] == [
        ("Build", 3.0),
        ("Meet", 17.7),
        ("Build", 3.0),
    ]
    call = report.segments[1]
    assert (call.start, call.end) == (t.timestamp() + 192, t.timestamp() + 192 + CALL)
    assert rolling_majority(["Build", "Meet", "Build"]) == ["Build", "Build", "Build"]


def test_a_record_without_a_span_stands_for_its_own_minute() -> None:
    t = utc(2026, 1, 5, 9)
    records = [record(t, "Build"), spanned(t + MINUTE, "Build", 300.0), record(t + 6 * MINUTE)]
    report = one_day(records)
    assert report.total_minutes == 7
    assert [(s.windows, s.minutes) for s in report.segments] == [(3, 7.0)]


def test_away_time_is_not_counted_and_ends_a_segment_when_longer_than_the_idle_gap() -> None:
    t = utc(2026, 1, 5, 9)
    short = [spanned(t, "Write", 1200.0, away=[(300, 540)]), spanned(t + 20 * MINUTE, "Write")]
    report = one_day(short)
    assert report.total_minutes == pytest.approx(21 - 4)
    assert report.away_minutes == pytest.approx(4)
    assert report.away == ((t.timestamp() + 300, t.timestamp() + 540),)
    assert [round(s.minutes, 6) for s in report.segments] == [17.0]  # 4 min away: one block
    (block,) = report.segments
    assert report.away_in(block) == report.away
    assert block.parts == (
        (t.timestamp(), t.timestamp() + 300),
        (t.timestamp() + 540, t.timestamp() + 1260),
    )
    long = [spanned(t, "Write", 1200.0, away=[(300, 900)]), spanned(t + 20 * MINUTE, "Write")]
    report = one_day(long)
    assert [round(s.minutes, 6) for s in report.segments] == [5.0, 6.0]  # 10 min away: two
    assert report.segments[0].end == t.timestamp() + 300
    assert report.segments[1].start == t.timestamp() + 900
    doc = day_report_json(report, UTC)
    assert doc["away_minutes"] == 10.0
    assert doc["total_minutes"] == 11.0


def test_the_idle_gap_is_measured_between_the_times_windows_stand_for() -> None:
    """A 10-minute event then the next row 11 minutes after its bucket started: 1 minute
    apart in time, so no gap (by bucket starts it was 10 minutes: a false gap)."""
    t = utc(2026, 1, 5, 9)
    report = one_day([spanned(t, "Debug", 600.0), spanned(t + 11 * MINUTE, "Debug")])
    assert [(s.windows, s.minutes) for s in report.segments] == [(2, 11.0)]
    assert report.total_minutes == 11


def test_a_span_across_midnight_is_split_between_the_days() -> None:
    late = datetime(2026, 3, 10, 23, 50, tzinfo=BERLIN)
    records = [spanned(late, "Meet", 40 * 60.0), spanned(late + 45 * MINUTE, "Write")]
    first, second = build_day_reports(labels_of(records), BERLIN)
    assert (first.date, first.windows, first.total_minutes) == (date(2026, 3, 10), 1, 10.0)
    assert (second.date, second.windows, second.total_minutes) == (date(2026, 3, 11), 1, 31.0)
    assert dict(second.core_breakdown) == {"Meet": 30.0, "Write": 1.0}
    assert second.segments[0].start == day_bounds(date(2026, 3, 11), BERLIN)[0]
    assert first.segments[-1].end == day_bounds(date(2026, 3, 10), BERLIN)[1]
    # a day with time but no window of its own still gets its report
    (alone,) = build_day_reports(labels_of(records[:1]), BERLIN, days=[date(2026, 3, 11)])
    assert (alone.windows, alone.total_minutes, alone.flap_rate_raw) == (0, 30.0, 0.0)


def test_overlapping_spans_are_cut_where_the_next_window_starts() -> None:
    t = utc(2026, 1, 5, 9)
    report = one_day([spanned(t, "Build", 600.0), spanned(t + 3 * MINUTE, "Debug", 60.0)])
    assert dict(report.core_breakdown) == {"Build": 3.0, "Debug": 1.0}
    a, b = report.segments
    assert a.end <= b.start


def test_the_story_label_is_taskclfs_centred_vote_per_minute_not_the_live_one() -> None:
    """The live record's trailing vote labels a switch one window late; the report's centred
    vote does not (smoothed_label is ignored by the report)."""
    t = utc(2026, 1, 5, 9)
    raw = ["Build"] * 5 + ["Debug"] * 5
    live = ["Build"] * 6 + ["Debug"] * 4  # what the trailing 3-window vote logged
    records = [
        record(t + i * MINUTE, r, smoothed=s)
        for i, (r, s) in enumerate(zip(raw, live, strict=True))
    ]
    report = one_day(records)
    assert [(s.label, s.windows) for s in report.segments] == [("Build", 5), ("Debug", 5)]
    assert report.flap_rate_smoothed == pytest.approx(1 / 10)
    spike = [*raw[:2], "Write", *raw[3:]]  # a one-minute spike inside a task is voted away
    records = [record(t + i * MINUTE, r) for i, r in enumerate(spike)]
    assert [s.label for s in one_day(records).segments] == ["Build", "Debug"]


def test_buckets_follow_the_story_label_as_the_daemon_mapped_it() -> None:
    t = utc(2026, 1, 5, 9)
    records = [
        *run(t, 4, "Build", mapped="Deep work"),
        record(t + 4 * MINUTE, "Meet", smoothed="Build", mapped="Deep work"),
        *run(t + 5 * MINUTE, 4, "Build", mapped="Deep work"),
        *run(t + 9 * MINUTE, 3, "Meet", mapped="Talk"),
    ]
    report = one_day(records)
    assert dict(report.mapped_breakdown or {}) == {"Deep work": 9.0, "Talk": 3.0}
    assert [(s.label, s.bucket) for s in report.segments] == [
        ("Build", "Deep work"),
        ("Meet", "Talk"),
    ]
    assert [s.bucket for s in one_day(run(t, 3, "Build")).segments] == ["Build"]


# --- invariants ------------------------------------------------------------------------

LABELS = ["Build", "Debug", "Write", "Mixed/Unknown", "BreakIdle"]


@st.composite
def label_logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Windows of 1-3 users: gaps (0 to 2 h), minute windows with or without a span (up to
    40 minutes, some across midnight), away parts, overlaps, 30-120 s windows of old logs."""
    records = []
    for user in draw(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
    ):
        t = utc(2026, 3, 28, 20) + timedelta(seconds=draw(st.integers(0, 86400)))
        t -= timedelta(seconds=t.second)
        for _ in range(draw(st.integers(1, 60))):
            label = draw(st.sampled_from(LABELS))
            kind = draw(st.sampled_from(["plain", "span", "span", "long"]))
            extra: dict[str, Any] = {
                "user": user,
                "model": draw(st.sampled_from(["m1", "m2"])),
                "confidence": draw(st.floats(0, 1)),
            }
            if kind == "plain":
                length = timedelta(seconds=draw(st.sampled_from([30, 60, 60, 120])))
                records.append(record(t, label, length=length, **extra))
                step = length
            else:
                seconds = draw(st.floats(0, 59)) if kind == "span" else draw(st.floats(60, 2400))
                offset = draw(st.floats(0, 59))
                away = []
                if seconds > 30 and draw(st.booleans()):
                    a = draw(st.floats(0, seconds / 2))
                    away = [(a, a + draw(st.floats(1, seconds / 2)))]
                records.append(spanned(t, label, seconds, offset=offset, away=away, **extra))
                step = MINUTE * max(1, math.ceil((offset + seconds) / 60) - draw(st.integers(0, 1)))
            gap = draw(st.sampled_from([0, 0, 0, 60, 300, 360, 3600, 7200]))
            t += step + timedelta(seconds=gap)
    return records


def _expected_day_seconds(labels: list[LoggedLabel], user: str, lo: float, hi: float) -> float:
    """A user's active seconds in ``[lo, hi)``: each window's time (its span, else its own
    window) without its away parts, cut where the next window's starts (worked out here)."""
    mine = sorted(
        {w.start: w for w in reversed(labels) if w.user_id == user}.values(), key=lambda w: w.start
    )
    total = 0.0
    for i, w in enumerate(mine):
        a, b = w.time.start_us / 1e6, w.time.end_us / 1e6
        if i + 1 < len(mine):
            b = max(a, min(b, mine[i + 1].time.start_us / 1e6))
        parts = [(a, b)]
        for x, y in ((x / 1e6, y / 1e6) for x, y in w.time.away):
            parts = [
                p for pa, pb in parts for p in ((pa, min(pb, x)), (max(pa, y), pb)) if p[1] > p[0]
            ]
        total += sum(max(0.0, min(pb, hi) - max(pa, lo)) for pa, pb in parts)
    return total


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(label_logs(), st.sampled_from([UTC, BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]))
def test_invariants(records: list[dict[str, Any]], tz: Any) -> None:
    """Minutes per label sum to the total, segments sum to it too, never overlap and stay in
    their day; each day's total is the time its windows stand for in it, so the days together
    count every window's time once; the same answer in any order, and from only the files a
    day reads (its own and the day before's)."""
    labels = labels_of(records)
    reports = build_day_reports(labels, tz)
    firsts = {(r["user_id"], r["bucket_start_ts"]) for r in records}
    assert sum(r.windows for r in reports) == len(firsts)
    for report in reports:
        total = report.total_minutes
        assert sum(report.core_breakdown.values()) == pytest.approx(total, abs=1e-6)
        assert sum(s.minutes for s in report.segments) == pytest.approx(total, abs=1e-6)
        if report.mapped_breakdown is not None:
            assert sum(report.mapped_breakdown.values()) == pytest.approx(total, abs=1e-6)
        for a, b in itertools.pairwise(report.segments):
            assert a.start < a.end <= b.start
        for seg in report.segments:  # the parts it counts: in order, from its start to its end
            assert (seg.parts[0][0], seg.parts[-1][1]) == (seg.start, seg.end)
            assert all(y + 60 <= z for (_, y), (z, _) in itertools.pairwise(seg.parts))
            assert sum(y - x for x, y in seg.parts) >= seg.seconds - 1e-6
        lo, hi = day_bounds(report.date, tz)
        assert all(lo <= s.start < s.end <= hi for s in report.segments)
        want = _expected_day_seconds(labels, report.user_id, lo, hi)
        assert total * 60 == pytest.approx(want, abs=1e-3)
        assert 0 <= report.flap_rate_smoothed < 1
        assert 0 <= report.reject_rate <= 1
        assert set(report.core_breakdown) >= {s.label for s in report.segments}
        # only the day's reach: the report of one day from the days it reads
        reach = set(reach_days([report.date], tz))
        near = [w for w in labels if local_date(w.start, tz) in reach]
        (alone,) = build_day_reports(near, tz, days=[report.date], users=[report.user_id])
        assert alone == report
    everything = sum(
        _expected_day_seconds(labels, u, -1e12, 1e12) for u in {w.user_id for w in labels}
    )
    assert sum(r.total_minutes for r in reports) * 60 == pytest.approx(everything, abs=1e-3)
    shuffled = list(labels)
    random.Random(0).shuffle(shuffled)
    assert build_day_reports(shuffled, tz) == reports


def test_taskclf_reads_the_json_as_a_daily_report() -> None:
    """Each report validates against taskclf's DailyReport schema (its fields and types)."""
    from pydantic import BaseModel, Field

    class DailyReport(BaseModel, frozen=True):  # taskclf 1f207a9 report/daily.py, fields only
        date: str
        total_minutes: float = Field(ge=0)
        core_breakdown: dict[str, float]
        mapped_breakdown: dict[str, float] | None = None
        segments_count: int = Field(ge=0)
        context_switch_stats: dict[str, Any] | None = None
        flap_rate_raw: float | None = None
        flap_rate_smoothed: float | None = None

    t = utc(2026, 1, 5, 9)
    doc = day_report_json(
        one_day(
            run(t, 30, "Build", mapped="Deep") + run(t + 30 * MINUTE, 5, "Meet", mapped="Talk")
        ),
        UTC,
    )
    parsed = DailyReport.model_validate(json.loads(json.dumps(doc)))
    assert parsed.total_minutes == 35.0
    assert parsed.core_breakdown == {"Build": 30.0, "Meet": 5.0}
    assert parsed.mapped_breakdown == {"Deep": 30.0, "Talk": 5.0}
    assert parsed.segments_count == 2
    assert parsed.flap_rate_raw == round(1 / 35, 4)
