"""Nothing lost when the clock misbehaves: finality by ActivityWatch's data, the cursor's rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aw_fixtures import load_case, row_differences
from collector_kit import (
    FakeClock,
    GrowingDay,
    aw_args,
    export_args,
    live_collector,
    make_home,
    rows_written_since,
    run,
    seed_cursor,
    spool_rows,
    spool_rows_in,
)
from fake_aw import fake_aw

from daemon.collector.collector import Collector
from daemon.collector.cursor import read_cursor
from daemon.collector.status import format_collector_status
from taskclf_core.activity import (
    MINUTE_US,
    RowSpec,
    WindowEvent,
    build_day,
    floor_minute,
    format_us,
    normalize_app,
    parse_timestamp_us,
)

DAY = parse_timestamp_us("2026-03-02T00:00:00Z", "day")
T0 = DAY + 9 * 3600 * 1_000_000
HOUR_US = 3600 * 1_000_000
POLL_US = 30 * 1_000_000
SETTLE_US = 60 * 1_000_000
SPEC = RowSpec("u1", "v1")


def minute_events(minutes: int, *, start_us: int = T0) -> list[WindowEvent]:
    """One 50 s window event in each of ``minutes`` minutes (apps alternate)."""
    return [
        WindowEvent(
            start_us + m * MINUTE_US + 5_000_000,
            50.0,
            start_us + m * MINUTE_US + 55_000_000,
            normalize_app("Code" if m % 2 else "Firefox"),
            f"{m:012x}",
            None,
        )
        for m in range(minutes)
    ]


def emitted(tmp_path: Path) -> list[str]:
    return [r["bucket_start_ts"] for r in spool_rows_in(tmp_path / "spool")]


def status_doc(tmp_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((tmp_path / "c" / "status.json").read_text())
    return doc


def status_text(tmp_path: Path) -> str:
    """What `collect --status` prints for this collector."""
    return format_collector_status({**status_doc(tmp_path), "running": True})


def poll(
    collector: Collector, source: GrowingDay, clock: FakeClock, true_us: int, offset_us: int
) -> None:
    """One poll at real time ``true_us`` with the system clock ``offset_us`` off."""
    source.now_us = clock.true_us = true_us
    clock.offset_us = offset_us
    collector.step()


def test_a_clock_two_hours_ahead_for_one_poll_loses_no_minute(tmp_path: Path) -> None:
    """The issue's figure: 210 minutes of activity, one poll with the clock 2 h ahead lost
    119 of them (the cursor jumped to the bogus "now"). Finality follows AW's data now."""
    events = minute_events(210)
    source, clock = GrowingDay(events), FakeClock()
    collector = live_collector(
        tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock
    )
    for k in range(8 * 60):  # every 30 s for four hours
        true_us = T0 + k * POLL_US
        poll(collector, source, clock, true_us, 2 * HOUR_US if k == 180 else 0)
        cursor = read_cursor(tmp_path / "c" / "cursor.json")
        # never past what has happened (the real time, less the settle time)
        assert cursor is None or cursor.next_us <= floor_minute(true_us - SETTLE_US)
    assert spool_rows_in(tmp_path / "spool") == build_day(DAY, events, [], spec=SPEC)
    assert len(emitted(tmp_path)) == 210
    clock_status = status_doc(tmp_path)["clock"]
    assert clock_status["steps"] == 2  # 2 h ahead, then back
    assert clock_status["last_step"]["by_s"] == -7200.0
    text = status_text(tmp_path)
    assert "clock steps:     2" in text


def test_a_clock_stepping_back_neither_re_emits_nor_stalls(tmp_path: Path) -> None:
    events = minute_events(210)
    source, clock = GrowingDay(events), FakeClock()
    collector = live_collector(
        tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock
    )
    first_seen: dict[str, int] = {}
    for k in range(8 * 60):
        true_us = T0 + k * POLL_US
        # from 90 minutes on the system clock is two hours behind, and stays so
        poll(collector, source, clock, true_us, -2 * HOUR_US if k >= 180 else 0)
        for minute in emitted(tmp_path):
            first_seen.setdefault(minute, true_us)
    minutes = emitted(tmp_path)
    assert len(minutes) == len(set(minutes)) == 210  # none twice, none missing
    assert spool_rows_in(tmp_path / "spool") == build_day(DAY, events, [], spec=SPEC)
    for event in events:
        # written as soon as it settled, clock or no clock: no stall
        minute = format_us(floor_minute(event.start_us)).replace(".000000", "")
        assert first_seen[minute] <= event.end_us + SETTLE_US + MINUTE_US + POLL_US
    assert status_doc(tmp_path)["clock"]["steps"] == 1


def test_an_idle_desktop_still_gets_its_last_minute_and_the_cursor_moves_on(
    tmp_path: Path,
) -> None:
    """No event arrives any more (the watcher went quiet): the minutes up to the last event
    are emitted once it settled by the real time that passed, and the cursor moves on through
    the empty minutes after it at the pace of real time."""
    events = minute_events(10)
    source, clock = GrowingDay(events), FakeClock()
    collector = live_collector(
        tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock
    )
    last_end = events[-1].end_us
    true_us = T0
    while true_us < last_end + HOUR_US:
        poll(collector, source, clock, true_us, 0)
        true_us += POLL_US
    assert len(emitted(tmp_path)) == 10
    cursor = read_cursor(tmp_path / "c" / "cursor.json")
    assert cursor is not None
    # an hour of nothing later, the cursor is within a poll of "now less the settle time"
    assert cursor.next_us >= floor_minute(true_us - SETTLE_US - POLL_US) - MINUTE_US


def test_a_restart_with_the_clock_ahead_emits_nothing_early(tmp_path: Path) -> None:
    """A collector that starts while the system clock is 2 h ahead (a dual-boot RTC before
    NTP) has no history to compare the clock with; AW's data still bounds it."""
    events = minute_events(120)
    source, clock = GrowingDay(events), FakeClock()
    poll(
        live_collector(tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock),
        source,
        clock,
        T0 + 30 * MINUTE_US,
        0,
    )
    cursor = read_cursor(tmp_path / "c" / "cursor.json")
    assert cursor is not None
    restarted = live_collector(
        tmp_path, source, SPEC, position=cursor.next_us, settle_us=SETTLE_US, clock=clock
    )
    poll(restarted, source, clock, T0 + 31 * MINUTE_US, 2 * HOUR_US)
    after = read_cursor(tmp_path / "c" / "cursor.json")
    assert after is not None
    assert after.next_us <= T0 + 31 * MINUTE_US - SETTLE_US
    for k in range(2 * 60 * 2 + 10):
        poll(restarted, source, clock, T0 + 31 * MINUTE_US + k * POLL_US, 0)
    assert spool_rows_in(tmp_path / "spool") == build_day(DAY, events, [], spec=SPEC)


def _meeting(start_us: int, seconds: float) -> WindowEvent:
    return WindowEvent(
        start_us, seconds, start_us + int(seconds * 1e6), normalize_app("zoom.us"), "m", None
    )


def test_once_runs_with_the_clock_two_hours_ahead_lose_at_most_the_newest_minute(
    tmp_path: Path,
) -> None:
    """`collect --once` every 7 minutes through a day, the system clock 2 h ahead: a run may
    write the newest event's minute while it still grows (docs/collector.md's bound), never
    another row, and the cursor never passes that minute; when the day is over a run writes
    the last minute too (by ActivityWatch's clock alone it waited for newer data for ever)."""
    meeting = _meeting(T0 + 40 * MINUTE_US + 5_000_000, 1_200.0)
    events = [*minute_events(40), meeting, *minute_events(20, start_us=T0 + 61 * MINUTE_US)]
    batch = {str(r["bucket_start_ts"]): r for r in build_day(DAY, events, [], spec=SPEC)}
    source, clock = GrowingDay(events), FakeClock(offset_us=2 * HOUR_US)
    seen: dict[str, bytes] = {}
    first: dict[str, dict[str, Any]] = {}  # what the daemon keeps: the first of each minute
    early: set[str] = set()
    for k in range(14):
        # half past a minute: the newest event still grows at most runs
        source.now_us = clock.true_us = T0 + 3 * MINUTE_US + 30_000_000 + k * 7 * MINUTE_US
        growing = [e for e in events if e.start_us < clock.true_us < e.end_us]
        newest = format_us(floor_minute(growing[0].start_us)) if growing else None
        cursor = read_cursor(tmp_path / "c" / "cursor.json")
        position = cursor.next_us if cursor is not None else DAY
        live_collector(
            tmp_path, source, SPEC, position=position, settle_us=SETTLE_US, clock=clock, mode="once"
        ).step()
        for row in rows_written_since(tmp_path / "spool", seen):
            minute = row["bucket_start_ts"]
            first.setdefault(minute, row)
            if row != batch[minute]:
                assert minute == newest, f"{minute}: not the batch's row, not the newest minute"
                early.add(minute)
        cursor = read_cursor(tmp_path / "c" / "cursor.json")
        if newest is not None:
            assert cursor is not None
            assert format_us(cursor.next_us) <= newest, "the cursor passed a growing event"
    assert clock.true_us > events[-1].end_us + SETTLE_US  # the day is over
    assert sorted(first) == sorted(batch)  # every minute, the last one included
    assert [m for m in first if first[m] != batch[m]] == sorted(early)
    assert early  # the scenario reaches the bound (the meeting's minute, 5 minutes into it)


NEXT_DAY = DAY + 24 * HOUR_US
ONCE_EDGES = {
    # name: (events, --to, the minutes written, the cursor after; None: not written)
    "no data": ([], None, 0, None),
    "the newest event in a later day": (
        [*minute_events(10), _meeting(NEXT_DAY + HOUR_US, 30.0)],
        NEXT_DAY,
        10,
        NEXT_DAY,
    ),
    "--to before the newest minute": (
        [*minute_events(10), _meeting(T0 + 10 * MINUTE_US + 30_000_000, 10.0)],
        T0 + 10 * MINUTE_US,
        10,
        T0 + 10 * MINUTE_US,
    ),
    # the newest minute is written (with the meeting's whole 20 minutes); the cursor stays on it
    "a newest event longer than a minute": (
        [*minute_events(10), _meeting(T0 + 10 * MINUTE_US + 5_000_000, 1_200.0)],
        None,
        11,
        T0 + 10 * MINUTE_US,
    ),
}


@pytest.mark.parametrize("case", ONCE_EDGES, ids=list(ONCE_EDGES))
def test_once_edges(tmp_path: Path, case: str) -> None:
    """`collect --once` with the system clock right, ten minutes after the last event."""
    events, to_us, minutes, cursor_us = ONCE_EDGES[case]
    now = max((e.end_us for e in events), default=T0) + 10 * MINUTE_US
    source, clock = GrowingDay(events, now_us=now), FakeClock(true_us=now)
    live_collector(
        tmp_path,
        source,
        SPEC,
        position=DAY,
        settle_us=SETTLE_US,
        clock=clock,
        mode="once",
        to_us=to_us,
    ).step()
    rows = spool_rows_in(tmp_path / "spool")
    assert rows == build_day(DAY, events, [], spec=SPEC)[:minutes]
    assert len(rows) == minutes
    cursor = read_cursor(tmp_path / "c" / "cursor.json")
    assert (cursor.next_us if cursor is not None else None) == cursor_us


# --- an event that claims to end in the future; a minute held back ---------------------


def test_an_event_that_ends_far_in_the_future_holds_nothing_back(tmp_path: Path) -> None:
    """``duration`` 1e10 held back that minute and every later one, forever, silently."""
    events = minute_events(30)
    broken = events[5]
    events[5] = WindowEvent(
        broken.start_us, 1e10, broken.start_us + 10**16, broken.app, broken.title_hash, None
    )
    source, clock = GrowingDay(events, as_posted=frozenset({5})), FakeClock()
    collector = live_collector(
        tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock
    )
    for k in range(2 * 45):
        poll(collector, source, clock, T0 + k * POLL_US, 0)
    assert len(emitted(tmp_path)) == 30
    doc = status_doc(tmp_path)
    assert doc["events_end_beyond_data"] == 1
    assert doc["waiting"] is None
    assert "odd events:      1" in status_text(tmp_path)


def test_a_minute_held_by_a_growing_event_shows_in_status(tmp_path: Path) -> None:
    meeting = WindowEvent(
        T0 + 5_000_000, 3600.0, T0 + 5_000_000 + HOUR_US, normalize_app("zoom.us"), "m", None
    )
    later = minute_events(3, start_us=T0 + HOUR_US + MINUTE_US)
    source, clock = GrowingDay([meeting, *later]), FakeClock()
    collector = live_collector(
        tmp_path, source, SPEC, position=DAY, settle_us=SETTLE_US, clock=clock
    )
    poll(collector, source, clock, T0 + 20 * MINUTE_US, 0)
    waiting = status_doc(tmp_path)["waiting"]
    assert waiting["minute"] == "2026-03-02T09:00:00Z"
    assert "still growing" in waiting["reason"]
    text = status_text(tmp_path)
    assert "waiting:         minute 2026-03-02T09:00:00Z" in text
    poll(collector, source, clock, T0 + 40 * MINUTE_US, 0)
    assert status_doc(tmp_path)["waiting"]["since"] == waiting["since"]  # the same minute
    for k in range(10):
        poll(collector, source, clock, T0 + HOUR_US + 5 * MINUTE_US + k * POLL_US, 0)
    assert status_doc(tmp_path)["waiting"] is None
    assert len(emitted(tmp_path)) == 4


# --- the cursor: the first minute not yet emitted -----------------------------------------


def test_a_back_fill_after_the_cursor_leaves_the_cursor(tmp_path: Path) -> None:
    """``--from F --to T`` with F after the cursor moved the cursor to T: the minutes
    between the cursor and F were never emitted."""
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    cursor_path = seed_cursor(data, "2026-03-02T09:00:00Z", case.user_id)
    base = export_args(case, data)
    assert run(*base, "--from", "2026-03-02T12:00Z", "--to", "2026-03-02T13:00Z")[0] == 0
    cursor = read_cursor(cursor_path)
    assert cursor is not None
    assert format_us(cursor.next_us) == "2026-03-02T09:00:00Z"
    expected = case.expected("v1")
    assert {r["bucket_start_ts"][11:13] for r in spool_rows(data)} == {"12"}
    # the run from the cursor on emits the gap (and the rest): nothing lost
    assert run(*base)[0] == 0
    got = {r["bucket_start_ts"] for r in spool_rows(data)}
    assert {r["bucket_start_ts"] for r in expected if r["bucket_start_ts"] >= "2026-03-02T09"} <= (
        got
    )
    cursor = read_cursor(cursor_path)
    assert cursor is not None
    assert format_us(cursor.next_us) == "2026-03-03T00:00:00Z"


def test_once_from_after_the_cursor_against_activitywatch(tmp_path: Path) -> None:
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    cursor_path = seed_cursor(data, "2026-03-02T09:00:00Z", case.user_id)
    with fake_aw(case.export()["buckets"]) as aw:  # the day as recorded, nothing after it
        backfill = ("--from", "2026-03-02T12:00Z", "--to", "2026-03-02T13:00Z")
        code, _, err = run(*aw_args(data, aw.url, "--once", *backfill))
        assert code == 0, err
        cursor = read_cursor(cursor_path)
        assert cursor is not None
        assert format_us(cursor.next_us) == "2026-03-02T09:00:00Z"
        assert {r["bucket_start_ts"][11:13] for r in spool_rows(data)} == {"12"}
        # the cursor's run: every minute from 09:00 on, as taskclf makes them
        code, _, err = run(*aw_args(data, aw.url, "--once", "--to", "2026-03-03T00:00Z"))
        assert code == 0, err
    expected = [r for r in case.expected("v1") if r["bucket_start_ts"] >= "2026-03-02T09"]
    by_minute = {r["bucket_start_ts"]: r for r in spool_rows(data)}
    assert row_differences(expected, [by_minute[r["bucket_start_ts"]] for r in expected]) == []
