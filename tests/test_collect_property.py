"""Polls, restarts, back-fills and clock steps in any order: every active minute labelled once.

The in-process :class:`Collector` on a :class:`FakeClock` against a day that happens in
memory (:class:`GrowingDay`, on real time). The daemon's dedupe is by identity
``(user_id, bucket_start_ts)``, so "labelled exactly once" is: the emitted identities,
deduplicated, are the batch's, each emitted row is the batch row, and the cursor (the first
minute not yet emitted) never passes a minute that was not emitted. The one exception is
docs/collector.md's bound for ``collect --once``: a run with the system clock ahead may
emit the minute of the newest event while it still grows (that minute only, and the cursor
does not pass it).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from collector_kit import FakeClock, GrowingDay, live_collector, rows_written_since
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.collector.collector import Collector
from daemon.collector.cursor import read_cursor
from taskclf_core.activity import (
    MINUTE_US,
    RowSpec,
    WindowEvent,
    build_day,
    day_start_us,
    floor_minute,
    format_us,
    normalize_app,
    parse_timestamp_us,
)

DAY = parse_timestamp_us("2026-03-02T00:00:00Z", "day")
SETTLE_US = 60 * 1_000_000
SPEC = RowSpec("u1", "v1")
APPS = ("Code", "Firefox", "iTerm2", "Slack", "zoom.us")
_S = 1_000_000


@st.composite
def days(draw: st.DrawFn) -> list[WindowEvent]:
    """Back-to-back window events between 08:00 and 16:00 with gaps, idle stretches, long ones."""
    t = DAY + 8 * 3600 * _S + draw(st.integers(0, 600)) * _S
    events: list[WindowEvent] = []
    for i in range(draw(st.integers(1, 30))):
        if t > DAY + 18 * 3600 * _S:  # the day's events stay in the day
            break
        seconds = draw(st.sampled_from([1, 7, 30, 59, 61, 200, 1_000, 2_400]))
        app = normalize_app(draw(st.sampled_from(APPS)))
        events.append(WindowEvent(t, float(seconds), t + seconds * _S, app, f"{i:012x}", None))
        t += seconds * _S + draw(st.sampled_from([0, 0, 3, 120, 900])) * _S
    return events


ACTIONS = st.one_of(
    st.tuples(st.just("poll"), st.sampled_from([5, 30, 30, 61, 300, 1_800])),
    st.tuples(st.just("restart"), st.just(0)),
    st.tuples(st.just("once"), st.sampled_from([0, 30, 61, 300, 1_800])),
    st.tuples(st.just("backfill"), st.integers(-30, 600)),
    st.tuples(st.just("clock"), st.sampled_from([-7_200, -300, -30, 0, 30, 300, 7_200])),
)


class World:
    """One collector's day: real time, the system clock's error, the process, the spool."""

    def __init__(self, root: Path, events: list[WindowEvent]) -> None:
        self.root = root
        self.events = events
        self.batch = {str(r["bucket_start_ts"]): r for r in build_day(DAY, events, [], spec=SPEC)}
        self.start = floor_minute(events[0].start_us) - 10 * MINUTE_US
        self.source = GrowingDay(events, now_us=self.start)
        self.clock = FakeClock(true_us=self.start)
        self.live = self.collector(DAY)
        self.emitted: list[dict[str, Any]] = []  # every row written, in the order written
        self.files: dict[str, bytes] = {}
        self.early: set[str] = set()  # minutes a --once run may emit while they still grow

    def collector(self, position: int, **more: Any) -> Collector:
        return live_collector(
            self.root,
            self.source,
            SPEC,
            position=position,
            settle_us=SETTLE_US,
            clock=self.clock,
            cursor_default_us=day_start_us(int(self.clock.wall() * 1e6)),
            **more,
        )

    def advance(self, seconds: int) -> None:
        self.clock.true_us += seconds * _S
        self.source.now_us = self.clock.true_us

    def cursor_us(self) -> int | None:
        cursor = read_cursor(self.root / "c" / "cursor.json")
        return None if cursor is None else cursor.next_us

    def act(self, action: str, value: int) -> None:
        before = self.cursor_us()
        if action == "poll":
            self.advance(value)
            self.live.step()
        elif action == "restart":  # a new process resumes where the cursor says
            self.live = self.collector(before or DAY)
        elif action == "once":  # collect --once (from the cursor, no end), a while later
            self.advance(value)
            self.collector(self.cursor_us() or DAY, mode="once").step()
        elif action == "backfill":  # collect --once --from F --to F + 1 h
            first = self.start + value * MINUTE_US
            self.collector(first, mode="once", to_us=first + 60 * MINUTE_US).step()
        else:
            self.clock.offset_us = value * _S
        growing = self.growing_minute()  # at the time the action ran
        # docs/collector.md's bound: only a --once run, and only with the system clock ahead
        # by the settle time or more, may write the minute of an event that still grows
        ahead = self.clock.offset_us >= SETTLE_US
        once = action in ("once", "backfill")
        self.take_written(early=growing if once and ahead else None)
        self.check_cursor()
        if growing is not None and (before is None or before <= self.us(growing)):
            after = self.cursor_us()
            assert after is None or after <= self.us(growing), (
                f"the cursor passed {growing}, whose event still grows"
            )

    @staticmethod
    def us(minute: str) -> int:
        return parse_timestamp_us(minute, "minute")

    def growing_minute(self) -> str | None:
        """The minute of the event that is still growing now, if one is."""
        now = self.clock.true_us
        for event in self.events:
            if event.start_us < now < event.end_us:
                return format_us(floor_minute(event.start_us))
        return None

    def take_written(self, early: str | None) -> None:
        """The rows this action wrote: each is the batch's row, but ``early``'s."""
        for row in rows_written_since(self.root / "spool", self.files):
            minute = row["bucket_start_ts"]
            self.emitted.append(row)
            if row != self.batch.get(minute):
                assert minute == early, f"{minute}: a row that is not the batch's"
                self.early.add(minute)

    def check_cursor(self) -> None:
        """Every minute with activity before the cursor has been emitted."""
        cursor = self.cursor_us()
        if cursor is None:
            return
        emitted = {row["bucket_start_ts"] for row in self.emitted}
        skipped = [
            minute for minute in self.batch if self.us(minute) < cursor and minute not in emitted
        ]
        assert skipped == [], f"the cursor passed minutes never emitted: {skipped[:3]}"

    def drain(self) -> None:
        """The day is over: real time well past the last event and the system clock right
        again (NTP; a collector started while it was behind the data waits for it,
        docs/collector.md). A `collect --once` then emits every minute left, the last one
        included (nothing newer will come to show it is over); the live collector polls on."""
        self.clock.offset_us = 0
        last_end = max(e.end_us for e in self.events)
        self.advance(max(0, (last_end - self.clock.true_us) // _S) + 300)
        self.collector(self.cursor_us() or DAY, mode="once").step()
        self.take_written(early=None)
        missing = set(self.batch) - {row["bucket_start_ts"] for row in self.emitted}
        assert missing == set(), f"collect --once left minutes out: {sorted(missing)[:3]}"
        for _ in range(4):
            self.live.step()
            self.advance(61)
        self.take_written(early=None)
        self.check_cursor()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=days(), actions=st.lists(ACTIONS, max_size=40))
def test_any_interleaving_labels_every_active_minute_exactly_once(
    events: list[WindowEvent], actions: list[tuple[str, int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)  # durability is not what is tested here
        world = World(Path(tmp), events)
        for action, value in actions:
            world.act(action, value)
        world.drain()
        # the daemon keeps the first of each identity: every active minute, the batch's row
        # (but a minute a --once run wrote while it still grew, docs/collector.md's bound)
        first: dict[str, dict[str, Any]] = {}
        for row in world.emitted:
            first.setdefault(row["bucket_start_ts"], row)
        assert sorted(first) == sorted(world.batch)
        for minute, row in first.items():
            assert row == world.batch[minute] or minute in world.early, minute
        assert {row["user_id"] for row in world.emitted} <= {SPEC.user_id}
