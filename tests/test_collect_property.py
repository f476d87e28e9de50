"""Polls, restarts, back-fills and clock steps in any order: every active minute labelled once.

The in-process :class:`Collector` on a :class:`FakeClock` against a day that happens in
memory (:class:`GrowingDay`, on real time). The daemon's dedupe is by identity
``(user_id, bucket_start_ts)``, so "labelled exactly once" is: the emitted identities,
deduplicated, are the batch's, each emitted row is the batch row, and the cursor (the first
minute not yet emitted) never passes a minute that was not emitted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from collector_kit import FakeClock, GrowingDay, live_collector, spool_rows_in
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
    st.tuples(st.just("backfill"), st.integers(-30, 600)),
    st.tuples(st.just("clock"), st.sampled_from([-7_200, -300, -30, 0, 30, 300, 7_200])),
)


class World:
    """One collector's day: real time, the system clock's error, the process, the spool."""

    def __init__(self, root: Path, events: list[WindowEvent]) -> None:
        self.root = root
        self.events = events
        self.start = floor_minute(events[0].start_us) - 10 * MINUTE_US
        self.source = GrowingDay(events, now_us=self.start)
        self.clock = FakeClock(true_us=self.start)
        self.live = self.collector(DAY)

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

    def act(self, action: str, value: int) -> None:
        if action == "poll":
            self.advance(value)
            self.live.step()
        elif action == "restart":  # a new process resumes where the cursor says
            cursor = read_cursor(self.root / "c" / "cursor.json")
            self.live = self.collector(cursor.next_us if cursor is not None else DAY)
        elif action == "backfill":  # collect --once --from F --to F + 1 h
            first = self.start + value * MINUTE_US
            self.collector(first, to_us=first + 60 * MINUTE_US).step()
        else:
            self.clock.offset_us = value * _S
        self.check_cursor()

    def check_cursor(self) -> None:
        """Every minute with activity before the cursor has been emitted."""
        cursor = read_cursor(self.root / "c" / "cursor.json")
        if cursor is None:
            return
        emitted = {row["bucket_start_ts"] for row in spool_rows_in(self.root / "spool")}
        batch = build_day(DAY, self.events, [], spec=SPEC)
        skipped = [
            r["bucket_start_ts"]
            for r in batch
            if parse_timestamp_us(r["bucket_start_ts"], "m") < cursor.next_us
            and r["bucket_start_ts"] not in emitted
        ]
        assert skipped == [], f"the cursor passed minutes never emitted: {skipped[:3]}"

    def drain(self) -> None:
        """The day goes on: real time well past the last event, a few more polls, and the
        system clock is right again (NTP): a collector started while it was behind the data
        waits for it (docs/collector.md)."""
        self.clock.offset_us = 0
        last_end = max(e.end_us for e in self.events)
        self.advance(max(0, (last_end - self.clock.true_us) // _S) + 300)
        for _ in range(4):
            self.live.step()
            self.advance(61)
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
        batch = {str(r["bucket_start_ts"]): r for r in build_day(DAY, events, [], spec=SPEC)}
        rows = spool_rows_in(Path(tmp) / "spool")
        # the daemon keeps the first of each identity: every active minute, the batch's row
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            first.setdefault(row["bucket_start_ts"], row)
        assert sorted(first) == sorted(batch)
        for row in rows:
            assert row == batch[row["bucket_start_ts"]], row["bucket_start_ts"]
        assert {row["user_id"] for row in rows} <= {SPEC.user_id}
