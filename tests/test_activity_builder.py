"""Invariants of the pure ActivityWatch → rows builder: order, finality, incremental = batch."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskclf_core.activity import (
    AFK_WAIT_US,
    DAY_US,
    MINUTE_US,
    DayState,
    Finality,
    RowSpec,
    afk_intervals,
    build_day,
    build_rows,
    finality,
    format_us,
    parse_afk_events,
    parse_input_events,
    parse_timestamp_us,
    parse_window_events,
    select_buckets,
)
from taskclf_core.errors import ActivityError
from taskclf_core.timerange import EARLIEST, LATEST, RANGE

DAY = parse_timestamp_us("2026-03-02T00:00:00Z", "day")
SALT = "s3cret"
SETTLE_US = 60 * 1_000_000
_HEARTBEAT_US = 2_000_000
APPS = ("Code", "Firefox", "iTerm2", "Slack", "zoom.us", "Weird/App")
TITLES = ("main.py — proj", "Inbox (3)", "pytest -x", "", "Standup 10:00")


@dataclass(frozen=True)
class RawWindow:
    start_us: int
    duration_us: int
    app: str
    title: str

    def visible(self, now_us: int) -> dict[str, Any] | None:
        """The event as the server shows it at ``now_us``: not yet there, or still growing."""
        if self.start_us + _HEARTBEAT_US > now_us:  # the watcher's first heartbeat is late
            return None
        duration = min(self.duration_us, now_us - self.start_us)
        return {
            "timestamp": format_us(self.start_us).replace("Z", "+00:00"),
            "duration": duration / 1e6,
            "data": {"app": self.app, "title": self.title},
        }


@dataclass(frozen=True)
class RawInput:
    start_us: int
    presses: int
    clicks: int
    dx: int

    def visible(self, now_us: int) -> dict[str, Any] | None:
        if self.start_us + 5_000_000 > now_us:  # aw-watcher-input posts a sample when it ends
            return None
        return {
            "timestamp": format_us(self.start_us),
            "duration": 5.0,
            "data": {
                "presses": self.presses,
                "clicks": self.clicks,
                "deltaX": self.dx,
                "deltaY": self.dx // 2,
                "scrollX": 0,
                "scrollY": self.clicks % 3,
            },
        }


@st.composite
def days(draw: st.DrawFn) -> tuple[list[RawWindow], list[RawInput]]:
    """A few hours of back-to-back window events with idle gaps, ties and input samples."""
    n = draw(st.integers(1, 40))
    t = DAY + draw(st.integers(0, 3_600)) * 1_000_000 + draw(st.integers(0, 999_999))
    windows: list[RawWindow] = []
    for _ in range(n):
        duration = draw(st.sampled_from([0, 1, 7, 30, 59, 61, 120, 400, 1_000])) * 1_000_000
        duration += draw(st.integers(0, 999_999))
        windows.append(
            RawWindow(t, duration, draw(st.sampled_from(APPS)), draw(st.sampled_from(TITLES)))
        )
        step = draw(st.sampled_from(["tie", "next", "gap", "idle"]))
        if step == "tie":
            continue  # the next event starts at the same instant
        t += duration
        if step == "gap":
            t += draw(st.integers(1, 200)) * 1_000_000
        elif step == "idle":
            t += draw(st.integers(290, 900)) * 1_000_000
    inputs: list[RawInput] = []
    if draw(st.booleans()):
        first = windows[0].start_us - windows[0].start_us % MINUTE_US
        last = max(w.start_us + w.duration_us for w in windows)
        rng = random.Random(draw(st.integers(0, 2**32)))
        for start in range(first, last, 5_000_000):
            if rng.random() < 0.8:
                inputs.append(
                    RawInput(
                        start, rng.choice([0, 0, 3, 40]), rng.choice([0, 1, 4]), rng.randint(0, 900)
                    )
                )
    return windows, inputs


def parse_at(
    windows: list[RawWindow], inputs: list[RawInput], now_us: int, *, sketches: bool = False
) -> tuple[list[Any], list[Any]]:
    w = [r for e in windows if (r := e.visible(now_us)) is not None]
    i = [r for e in inputs if (r := e.visible(now_us)) is not None]
    return (
        parse_window_events(w, bucket_id="win", salt=SALT, sketches=sketches).events,
        parse_input_events(i, bucket_id="in").events,
    )


def batch(windows: list[RawWindow], inputs: list[RawInput], version: str = "v1") -> list[Any]:
    w, i = parse_at(windows, inputs, DAY + 2 * DAY_US, sketches=version == "v3")
    return build_day(DAY, w, i, spec=RowSpec("u1", version))


def collect_incrementally(
    windows: list[RawWindow],
    inputs: list[RawInput],
    polls: list[int],
    *,
    restart_at: int | None = None,
) -> list[dict[str, object]]:
    """What the collector does: per poll, emit the final minutes after the cursor."""
    spec = RowSpec("u1", "v1")
    state = DayState.start(DAY)
    cursor = DAY
    emitted: list[dict[str, object]] = []
    for k, now in enumerate(polls):
        w, i = parse_at(windows, inputs, now)
        if k == restart_at:
            # a restart keeps only the cursor: replay the day up to it without emitting
            state, _ = build_rows(
                DayState.start(DAY), w, i, until_us=cursor, spec=spec, has_input=bool(i)
            )
        until = finality(w, from_us=cursor, now_us=now, settle_us=SETTLE_US).until_us
        state, rows = build_rows(state, w, i, until_us=until, spec=spec, has_input=bool(i))
        for row in rows:
            end = parse_timestamp_us(row["bucket_end_ts"], "end")
            assert end + SETTLE_US <= now, "a minute was emitted before it settled"
            start = end - MINUTE_US
            for event in w:
                if start <= event.start_us < end:
                    assert event.end_us + SETTLE_US <= now, "a growing event's minute was emitted"
        emitted.extend(rows)
        cursor = until
    return emitted


def poll_times(windows: list[RawWindow], data: st.DataObject) -> list[int]:
    last = max(w.start_us + w.duration_us for w in windows)
    span = last - DAY + 3 * 60 * 1_000_000
    # polls cluster around minute boundaries, where an early emission would show
    minutes = data.draw(
        st.lists(st.integers(0, span // MINUTE_US), min_size=1, max_size=30), label="polls"
    )
    offsets = st.sampled_from([0, 1, 2, 3, 30, 59, 61, 62, 63, 90])
    times = sorted(m * MINUTE_US + data.draw(offsets) * 1_000_000 for m in minutes)
    return [DAY + t for t in times] + [last + 5 * 60 * 1_000_000]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), data=st.data())
def test_incremental_emission_equals_the_batch(day: Any, data: st.DataObject) -> None:
    windows, inputs = day
    polls = poll_times(windows, data)
    assert collect_incrementally(windows, inputs, polls) == batch(windows, inputs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), data=st.data())
def test_a_restart_mid_day_re_emits_nothing_and_misses_nothing(
    day: Any, data: st.DataObject
) -> None:
    windows, inputs = day
    polls = poll_times(windows, data)
    restart = data.draw(st.integers(0, len(polls) - 1), label="restart")
    rows = collect_incrementally(windows, inputs, polls, restart_at=restart)
    starts = [r["bucket_start_ts"] for r in rows]
    assert len(starts) == len(set(starts))
    assert rows == batch(windows, inputs)


@settings(max_examples=40, deadline=None)
@given(day=days(), seed=st.integers(0, 2**32))
def test_order_of_events_never_matters(day: Any, seed: int) -> None:
    """Shuffled input, equal timestamps included: the same rows (and the same every time)."""
    windows, inputs = day
    rng = random.Random(seed)
    shuffled_w, shuffled_i = windows[:], inputs[:]
    rng.shuffle(shuffled_w)
    rng.shuffle(shuffled_i)
    first = batch(windows, inputs, "v3")
    assert batch(shuffled_w, shuffled_i, "v3") == first
    assert batch(windows, inputs, "v3") == first


@settings(max_examples=40, deadline=None)
@given(day=days())
def test_rows_are_whole_minutes_with_an_event_starting_in_them(day: Any) -> None:
    windows, inputs = day
    rows = batch(windows, inputs)
    starts = {w.start_us - w.start_us % MINUTE_US for w in windows if w.start_us < DAY + DAY_US}
    got = [parse_timestamp_us(r["bucket_start_ts"], "s") for r in rows]
    assert got == sorted(starts)
    for r in rows:
        begin = parse_timestamp_us(r["bucket_start_ts"], "s")
        assert parse_timestamp_us(r["bucket_end_ts"], "e") - begin == MINUTE_US
        assert begin % MINUTE_US == 0


def test_a_growing_event_holds_its_minute_and_all_later_ones_back() -> None:
    long = RawWindow(DAY + 10 * MINUTE_US + 5_000_000, 20 * MINUTE_US, "zoom.us", "Standup")
    before = RawWindow(DAY + 9 * MINUTE_US, 65_000_000, "Code", "x")
    now = DAY + 20 * MINUTE_US
    w, _ = parse_at([before, long], [], now)
    held = finality(w, from_us=DAY, now_us=now, settle_us=SETTLE_US)
    assert held.until_us == DAY + 10 * MINUTE_US
    assert held.held_by is not None
    assert held.held_by.start_us == long.start_us
    # once it ended a settle ago its minute is final
    later = long.start_us + long.duration_us + SETTLE_US
    w, _ = parse_at([before, long], [], later)
    assert finality(w, from_us=DAY, now_us=later, settle_us=SETTLE_US) == Finality(
        later - later % MINUTE_US - MINUTE_US
    )


def test_final_until_never_passes_the_day() -> None:
    now = DAY + 3 * DAY_US
    assert finality([], from_us=DAY, now_us=now, settle_us=SETTLE_US).until_us == DAY + DAY_US


def test_events_of_other_days_do_not_enter_a_day() -> None:
    ours = RawWindow(DAY + 60_000_000, 30_000_000, "Code", "a")
    yesterday = RawWindow(DAY - 120_000_000, 400_000_000, "Slack", "b")
    tomorrow = RawWindow(DAY + DAY_US + 1, 30_000_000, "Slack", "c")
    rows = batch([yesterday, ours, tomorrow], [])
    assert [r["bucket_start_ts"] for r in rows] == ["2026-03-02T00:01:00Z"]
    assert rows[0]["app_entropy_15m"] == 0.0  # yesterday's Slack is not in the look-back
    assert rows[0]["idle_return_indicator"] is True


def test_input_flag_is_the_days_when_samples_arrive_late() -> None:
    """The one look-ahead: taskclf lists aw-watcher-input in source_ids when the day has any
    sample, so a minute emitted before the first sample of the day says window-only."""
    w = [RawWindow(DAY + MINUTE_US, 10_000_000, "Code", "a")]
    late = [RawInput(DAY + 30 * MINUTE_US, 1, 0, 0)]
    early = collect_incrementally(w, late, [DAY + 5 * MINUTE_US, DAY + 40 * MINUTE_US])
    assert early[0]["source_ids"] == ["aw-watcher-window"]
    assert batch(w, late)[0]["source_ids"] == ["aw-watcher-window", "aw-watcher-input"]
    assert {k: v for k, v in early[0].items() if k != "source_ids"} == {
        k: v for k, v in batch(w, late)[0].items() if k != "source_ids"
    }


# --- parsing ----------------------------------------------------------------------------


def test_a_bad_event_is_skipped_with_its_reason_and_never_its_title() -> None:
    secret = "Salary review — Alice"
    good = {"timestamp": "2026-03-02T08:00:00Z", "duration": 1, "data": {"title": secret}}
    cases: list[tuple[Any, str, str]] = [
        ({**good, "timestamp": "yesterday"}, "bad_timestamp", "event 1.timestamp"),
        ({**good, "duration": -1}, "bad_duration", "event 1.duration: expected a finite"),
        ({**good, "duration": "5"}, "bad_duration", "event 1.duration: expected a number"),
        ({**good, "data": {"app": None, "title": secret}}, "bad_app", "event 1.data.app"),
        ({**good, "data": {"title": 3}}, "bad_title", "event 1.data.title: expected a string"),
        ({**good, "data": []}, "bad_data", "event 1.data: expected an object"),
        (7, "not_an_object", "event 1: expected an event object"),
    ]
    for bad, reason, detail in cases:
        parsed = parse_window_events(
            [good, bad, good], bucket_id="aw-watcher-window_h", salt=SALT, sketches=True
        )
        assert len(parsed.events) == 2  # the others are read
        [skipped] = parsed.skipped
        assert (skipped.reason, skipped.index) == (reason, 1)
        assert skipped.detail.startswith("aw-watcher-window_h: ")
        assert detail in skipped.detail
        assert secret not in skipped.detail
        assert "Salary" not in skipped.detail
    with pytest.raises(ActivityError, match="aw-watcher-window_h: events: expected an array"):
        parse_window_events(
            {"events": []}, bucket_id="aw-watcher-window_h", salt=SALT, sketches=True
        )


def test_events_are_read_within_the_supported_times_only() -> None:
    """The events module takes its bounds from taskclf_core.timerange (one definition): an
    event starts at EARLIEST at the soonest and a minute before LATEST at the latest (its
    minute must end by LATEST), and a skipped one names the supported times."""
    us = timedelta(microseconds=1)
    inside = [EARLIEST, LATEST - timedelta(minutes=1), LATEST - us]
    outside = [EARLIEST - us, LATEST]
    for bucket in ("w", "in"):
        raw = [{"timestamp": t.isoformat(), "duration": 0} for t in [*inside, *outside]]
        parsed = (
            parse_window_events(raw, bucket_id=bucket, salt=SALT, sketches=False)
            if bucket == "w"
            else parse_input_events(raw, bucket_id=bucket)
        )
        assert [e.start_us for e in parsed.events] == [
            parse_timestamp_us(t.isoformat(), "t") for t in inside
        ]
        assert [s.reason for s in parsed.skipped] == ["bad_timestamp"] * len(outside)
        assert all(RANGE in s.detail for s in parsed.skipped)


def test_input_parse_errors() -> None:
    ok = {"timestamp": "2026-03-02T08:00:00+00:00", "duration": 5, "data": {"presses": 3}}
    assert parse_input_events([ok], bucket_id="in").events[0].presses == 3
    for data, field in (({"presses": -1}, "presses"), ({"clicks": True}, "clicks")):
        parsed = parse_input_events([{**ok, "data": data}, ok], bucket_id="in")
        assert len(parsed.events) == 1
        assert parsed.skipped[0].reason == "bad_count"
        assert f"in: event 0.data.{field}" in parsed.skipped[0].detail


def test_missing_app_and_title_are_taskclfs_defaults() -> None:
    event = parse_window_events(
        [{"timestamp": "2026-03-02T08:00:00Z", "duration": 2.5, "data": {}}],
        bucket_id="w",
        salt=SALT,
        sketches=True,
    ).events[0]
    assert event.app.app_id == "unknown.unknown"
    assert event.title is not None
    assert event.title.char_count == 0
    assert event.end_us - event.start_us == 2_500_000


# --- which buckets -------------------------------------------------------------------------


def test_no_window_bucket_at_all_says_to_start_the_window_watcher() -> None:
    """With no window bucket anywhere, the collector said to set aw_hostname (`window buckets
    exist for: none`): no hostname would help; the watcher would."""
    from taskclf_core.activity import select_buckets

    afk = {"aw-watcher-afk_vm": {"type": "afkstatus", "hostname": "vm"}}
    with pytest.raises(ActivityError) as info:
        select_buckets(afk, "vm", source="http://127.0.0.1:5600")
    message = str(info.value)
    assert "no 'currentwindow' bucket at all: start aw-watcher-window" in message
    assert message.endswith("buckets there: aw-watcher-afk_vm")
    assert "aw_hostname" not in message
    with pytest.raises(ActivityError, match=r"at all: .* buckets there: none$"):
        select_buckets({}, "vm", source="x")
    # window buckets of another host: that one is what to name
    other = {**afk, "aw-watcher-window_laptop": {"type": "currentwindow", "hostname": "laptop"}}
    with pytest.raises(ActivityError, match=r"window buckets exist for: laptop\); set aw_hostname"):
        select_buckets(other, "vm", source="x")


# --- the time each row stands for (span fields) and afk -------------------------------------


def _union_us(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of ``intervals`` as sorted disjoint parts (done here, apart from the core)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _length(parts: list[tuple[int, int]]) -> int:
    return sum(b - a for a, b in parts)


def _minus(parts: list[tuple[int, int]], holes: list[tuple[int, int]]) -> int:
    """Microseconds of ``parts`` outside ``holes`` (both unions)."""
    return _length(parts) - sum(max(0, min(b, y) - max(a, x)) for a, b in parts for x, y in holes)


def spans_of(rows: list[dict[str, Any]]) -> list[tuple[int, int, list[tuple[int, int]]]]:
    out = []
    for r in rows:
        away = [(parse_timestamp_us(a, "a"), parse_timestamp_us(b, "b")) for a, b in r["span_away"]]
        out.append(
            (
                parse_timestamp_us(r["span_start_ts"], "s"),
                parse_timestamp_us(r["span_end_ts"], "e"),
                away,
            )
        )
    return out


@st.composite
def away_stretches(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Times aw-watcher-afk marks afk: a few stretches of 1 s to 20 min in the first hours."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = DAY + draw(st.integers(0, 3 * 3600)) * 1_000_000
        out.append((start, start + draw(st.integers(1, 1200)) * 1_000_000))
    return out


def afk_raw(stretches: list[tuple[int, int]], now_us: int) -> list[dict[str, Any]]:
    """The afk bucket at ``now_us``: aw-watcher-afk posts an away stretch once its timeout
    (3 minutes) has passed, dated back to its start, and extends it while it lasts."""
    out = []
    for a, b in stretches:
        if a + 180_000_000 <= now_us:
            out.append(
                {
                    "timestamp": format_us(a),
                    "duration": (min(b, now_us) - a) / 1e6,
                    "data": {"status": "afk"},
                }
            )
    return out


def afk_known(stretches: list[tuple[int, int]], now_us: int) -> int:
    """How far the afk bucket's data reaches at ``now_us``: now, less a stretch not yet posted."""
    pending = [a for a, _ in stretches if a <= now_us < a + 180_000_000]
    return min(pending, default=now_us)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), away=away_stretches())
def test_spans_tile_the_window_events_without_their_afk_time(day: Any, away: Any) -> None:
    """Each row stands for its events from the first one's start; the rows' spans never
    overlap, cover every event from its start to its end, and their active time is exactly
    the time the window events cover without the afk time (worked out here independently)."""
    windows, inputs = day
    w, i = parse_at(windows, inputs, DAY + 2 * DAY_US)
    afk = parse_afk_events(afk_raw(away, DAY + 2 * DAY_US), bucket_id="afk").events
    rows = build_day(DAY, w, i, spec=RowSpec("u1", "v1"), afk_events=afk)
    spans = spans_of(rows)
    for (s, _e, _), row in zip(spans, rows, strict=True):
        begin = parse_timestamp_us(row["bucket_start_ts"], "b")
        assert begin <= s < begin + MINUTE_US
        assert s == min(x.start_us for x in w if begin <= x.start_us < begin + MINUTE_US)
    assert all(e1 <= s2 for (_, e1, _), (s2, _, _) in itertools.pairwise(spans))
    events = _union_us([(x.start_us, x.end_us) for x in w if DAY <= x.start_us < DAY + DAY_US])
    covered = _union_us([(s, e) for s, e, _ in spans])
    assert _minus(events, covered) == 0  # no false gap: every event is inside the spans
    active = sum(e - s - _length(a) for s, e, a in spans)
    assert active == _minus(events, _union_us(away))
    for s, e, parts in spans:
        assert all(s <= a < b <= e for a, b in parts)


def test_a_long_call_is_one_row_standing_for_all_of_it() -> None:
    """A 17.7-minute call is one taskclf row (its minute); the row stands for 17.7 minutes,
    cut where the next event starts should the call's end overlap it."""
    call = RawWindow(DAY + 10 * MINUTE_US + 18_000_000, 1_062_000_000, "zoom.us", "Standup")
    before = RawWindow(DAY + 9 * MINUTE_US, 78_000_000, "Code", "x")
    after = RawWindow(call.start_us + call.duration_us, 5_000_000, "Code", "x")
    rows = batch([before, call, after], [])
    assert [r["bucket_start_ts"][11:16] for r in rows] == ["00:09", "00:10", "00:28"]
    (_, e0, _), (s1, e1, away), _ = spans_of(rows)
    assert (s1, e1 - s1, away) == (call.start_us, 1_062_000_000, [])
    assert e0 == s1  # the 78 s before it end where the call starts
    overlapping = RawWindow(DAY + 20 * MINUTE_US, 5_000_000, "Slack", "ping")
    rows = batch([before, call, overlapping], [])
    assert spans_of(rows)[1][1] == overlapping.start_us


def test_moments_no_event_covers_are_away_and_so_is_afk_time() -> None:
    first = RawWindow(DAY + MINUTE_US, 10_000_000, "Code", "a")
    second = RawWindow(DAY + MINUTE_US + 40_000_000, 600_000_000, "Code", "a")  # 30 s later
    afk = [(second.start_us + 100_000_000, second.start_us + 400_000_000)]
    w, _ = parse_at([first, second], [], DAY + DAY_US)
    events = parse_afk_events(afk_raw(afk, DAY + DAY_US), bucket_id="afk").events
    [row] = build_day(DAY, w, [], spec=RowSpec("u1", "v1"), afk_events=events)
    [(s, e, away)] = spans_of([row])
    assert (s, e) == (first.start_us, second.start_us + second.duration_us)
    assert away == [(first.start_us + 10_000_000, second.start_us), afk[0]]
    without = build_day(DAY, w, [], spec=RowSpec("u1", "v1"))
    assert spans_of(without)[0][2] == [(first.start_us + 10_000_000, second.start_us)]


def collect_with_afk(
    windows: list[RawWindow], stretches: list[tuple[int, int]], polls: list[int]
) -> list[dict[str, object]]:
    """The collector's loop with an afk bucket: finality also waits for the afk data."""
    spec = RowSpec("u1", "v1")
    state, cursor = DayState.start(DAY), DAY
    emitted: list[dict[str, object]] = []
    for now in polls:
        w, _ = parse_at(windows, [], now)
        afk = afk_intervals(parse_afk_events(afk_raw(stretches, now), bucket_id="afk").events)
        known = afk_known(stretches, now)
        until = finality(
            w, from_us=cursor, now_us=now, settle_us=SETTLE_US, afk_known_us=known
        ).until_us
        state, rows = build_rows(state, w, [], until_us=until, spec=spec, has_input=False, afk=afk)
        emitted.extend(rows)
        cursor = until
    return emitted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), away=away_stretches(), data=st.data())
def test_with_afk_incremental_emission_equals_the_batch(
    day: Any, away: Any, data: st.DataObject
) -> None:
    windows, _ = day
    polls = poll_times(windows, data)
    polls.append(polls[-1] + AFK_WAIT_US + DAY_US)
    rows = collect_with_afk(windows, away, polls)
    w, _ = parse_at(windows, [], DAY + 2 * DAY_US)
    afk = parse_afk_events(afk_raw(away, DAY + 2 * DAY_US), bucket_id="afk").events
    assert rows == build_day(DAY, w, [], spec=RowSpec("u1", "v1"), afk_events=afk)


def test_a_minute_waits_for_the_afk_data_at_most_afk_wait() -> None:
    """An event that ended after the afk bucket's data holds its minute back until the afk
    watcher has spoken (it posts an away stretch only after its timeout), or AFK_WAIT_US."""
    event = RawWindow(DAY + 10 * MINUTE_US, 30_000_000, "Code", "x")
    end = event.start_us + event.duration_us
    now = DAY + 11 * MINUTE_US + SETTLE_US + 1  # its minute is over, a settle ago
    w, _ = parse_at([event], [], now)
    free = finality(w, from_us=DAY, now_us=now, settle_us=SETTLE_US)
    assert free.until_us > event.start_us
    held = finality(w, from_us=DAY, now_us=now, settle_us=SETTLE_US, afk_known_us=end - 1)
    assert (held.until_us, held.held_by) == (DAY + 10 * MINUTE_US, w[0])
    known = finality(w, from_us=DAY, now_us=now, settle_us=SETTLE_US, afk_known_us=end)
    assert known == free
    late = end + AFK_WAIT_US
    stale = finality(w, from_us=DAY, now_us=late, settle_us=SETTLE_US, afk_known_us=DAY)
    assert stale == finality(w, from_us=DAY, now_us=late, settle_us=SETTLE_US)


def test_afk_events_are_parsed_and_a_bad_status_is_skipped() -> None:
    good = {"timestamp": "2026-03-02T08:00:00Z", "duration": 60, "data": {"status": "afk"}}
    raw = [good, {**good, "data": {"status": "AFK"}}, {**good, "data": {"status": "not-afk"}}]
    parsed = parse_afk_events(raw, bucket_id="aw-watcher-afk_h")
    assert sorted(e.afk for e in parsed.events) == [False, True]
    [skipped] = parsed.skipped
    assert skipped.reason == "bad_status"
    assert "event 1.data.status: expected 'afk' or 'not-afk', got 'AFK'" in skipped.detail
    [afk] = [e for e in parsed.events if e.afk]
    assert afk_intervals(parsed.events) == [(afk.start_us, afk.end_us)]


def test_the_afk_bucket_of_the_host_is_chosen_like_the_others() -> None:
    """aw-watcher-afk's bucket (type afkstatus) of the host, ``aw-watcher-afk_<host>`` first;
    none is fine (no afk information: everything the window events cover is active)."""
    meta = {
        "aw-watcher-window_h": {"type": "currentwindow", "hostname": "h"},
        "aw-watcher-afk_other": {"type": "afkstatus", "hostname": "other"},
        "a-afk": {"type": "afkstatus", "hostname": "h"},
        "aw-watcher-afk_h": {"type": "afkstatus", "hostname": "h"},
    }
    assert select_buckets(meta, "h", source="s").afk == "aw-watcher-afk_h"
    del meta["aw-watcher-afk_h"]
    assert select_buckets(meta, "h", source="s").afk == "a-afk"
    del meta["a-afk"]
    assert select_buckets(meta, "h", source="s").afk is None
