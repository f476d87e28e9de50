"""taskclf feature rows from one UTC day of ActivityWatch events, batch or minute by minute.

Equal to taskclf's ``build_features_from_aw_events`` (commit 1f207a9) over a UTC day. What a
row of minute ``B`` depends on, and so when it is final:

- events that start in ``B`` (dominant app, its whole duration, changes, title): final once
  each has stopped growing;
- events that start in the 5 / 15 minutes before ``B`` (switch counts, entropies, top-2);
- the end of the event just before ``B`` (a session starts after an idle gap);
- the rows before ``B`` on the same day (dwell, rolling means and deltas, title repeats);
- input samples that start in ``B``;
- whether the day has any input sample (``source_ids`` only, not a model feature).

Nothing else looks forward, so building rows minute by minute from a carried
:class:`DayState` gives the batch rows, as long as each minute is built only after its
events stopped changing (:func:`finality`).

Each row also says which time it stands for (:mod:`taskclf_core.timespan`): its events from
the first one's start to the latest end, cut at the next event that starts after its
minute; the moments none of them covers and the time aw-watcher-afk marks ``afk`` are its
away parts. Those depend on the next event's start and on the afk data up to the span's
end, which :func:`finality` waits for too.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Final

from taskclf_core.activity.events import AfkEvent, InputEvent, WindowEvent
from taskclf_core.activity.titles import CHAR3_BUCKETS, TOKEN_BUCKETS, title_hash_bucket
from taskclf_core.registries import registry
from taskclf_core.timespan import MAX_AWAY, MAX_SPAN, Interval, TimeSpan, merge, subtract

__all__ = [
    "AFK_WAIT_US",
    "DAY_US",
    "MINUTE_US",
    "DayState",
    "Finality",
    "RowSpec",
    "afk_intervals",
    "build_day",
    "build_rows",
    "day_start_us",
    "finality",
    "floor_minute",
    "latest_end",
    "once_finality",
    "row_span",
]

MINUTE_US: Final = 60_000_000
DAY_US: Final = 86_400 * 1_000_000
_BUCKET_SECONDS: Final = 60
_SWITCH_5M_US: Final = 5 * MINUTE_US
_WINDOW_15M_US: Final = 15 * MINUTE_US
_ROLLING_SHORT: Final = 5
_ROLLING_LONG: Final = 15
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_WINDOW_SOURCE: Final = "aw-watcher-window"
_INPUT_SOURCE: Final = "aw-watcher-input"
# how long a minute waits for aw-watcher-afk to say whether its time was away (the watcher
# says so only once its timeout, 3 minutes by default, has passed); then it is taken as active
AFK_WAIT_US: Final = 10 * MINUTE_US
_MAX_SPAN_US: Final = MAX_SPAN // timedelta(microseconds=1)
_TOKEN_COLUMNS: Final = tuple(f"title_token_sketch_{i:03d}" for i in range(TOKEN_BUCKETS))
_CHAR3_COLUMNS: Final = tuple(f"title_char3_sketch_{i:03d}" for i in range(CHAR3_BUCKETS))


def floor_minute(us: int) -> int:
    """The start of the minute holding ``us`` (taskclf's ``align_to_bucket``)."""
    return us - us % MINUTE_US


def day_start_us(us: int) -> int:
    """The start of the UTC day holding ``us``."""
    return us - us % DAY_US


@dataclass(frozen=True, slots=True)
class RowSpec:
    """Who the rows are for and in which schema."""

    user_id: str
    schema_version: str
    idle_gap_seconds: float = 300.0
    device_id: str | None = None

    def __post_init__(self) -> None:
        if registry(self.schema_version) is None:
            raise ValueError(f"schema_version: expected v1, v2 or v3, got {self.schema_version!r}")
        if not self.user_id:
            raise ValueError("user_id: expected a non-empty string")


@dataclass(frozen=True, slots=True)
class DayState:
    """What one day's rows carry forward, as of ``next_us`` (the first minute not built yet)."""

    day_us: int
    next_us: int
    prev_app: str | None = None
    dwell: float = 0.0
    keys: tuple[float | None, ...] = ()
    mouse: tuple[float | None, ...] = ()
    prev_clicks: float | None = None
    last_end_us: int | None = None
    session_us: int | None = None
    session_titles: tuple[tuple[str, int], ...] = ()
    reach_us: int | None = None  # the latest end of the day's events so far (spans)

    @classmethod
    def start(cls, day_us: int) -> DayState:
        """A day with nothing built yet (``day_us`` must be a UTC midnight)."""
        if day_us % DAY_US:
            raise ValueError("day_us: expected the start of a UTC day")
        return cls(day_us=day_us, next_us=day_us)

    @property
    def day_end_us(self) -> int:
        return self.day_us + DAY_US


@dataclass(frozen=True, slots=True)
class Finality:
    """Minutes before ``until_us`` are final. ``held_by``: the still-growing event that holds
    minute ``until_us`` back (None when the clock alone does: those minutes are too recent).
    ``provisional_from_us``: the newest event's minute, final on the system clock's word only
    (:func:`once_finality`): it is emitted, but a cursor must not pass it."""

    until_us: int
    held_by: WindowEvent | None = None
    provisional_from_us: int | None = None


def finality(
    window_events: Sequence[WindowEvent],
    *,
    from_us: int,
    now_us: int,
    settle_us: int,
    growing_from_us: int | None = None,
    afk_known_us: int | None = None,
) -> Finality:
    """The run of final minutes from ``from_us`` (a minute start), capped at the day.

    Minute ``B`` is final when ``now >= B + 1 min + settle`` and no event that starts in it
    ended less than ``settle`` ago (a growing event holds its minute, and all later, back).
    ActivityWatch extends only the newest event of a bucket (heartbeats merge into the last
    event): with ``growing_from_us``, the start of that newest event, an earlier event is
    over whatever its end says (a broken ``duration``) and holds nothing back.

    With an afk bucket, ``afk_known_us`` is how far its data reaches (its newest event's
    end): an event that ends after that also holds its minute back, for at most
    :data:`AFK_WAIT_US` after it ended (a stopped afk watcher does not stop the rows).
    """
    limit = floor_minute(now_us - settle_us)
    limit = min(limit, day_start_us(from_us) + DAY_US)
    horizon = now_us - settle_us
    starts = [e.start_us for e in window_events]
    for event in window_events[bisect_left(starts, from_us) : bisect_left(starts, limit)]:
        can_grow = growing_from_us is None or event.start_us >= growing_from_us
        if event.end_us > horizon and can_grow:
            return Finality(max(floor_minute(event.start_us), from_us), event)
        # an end past now is a broken duration (see above): no afk data can reach it
        if (
            afk_known_us is not None
            and afk_known_us < event.end_us <= now_us
            and event.end_us > now_us - AFK_WAIT_US
        ):
            return Finality(max(floor_minute(event.start_us), from_us), event)
    return Finality(max(limit, from_us))


def once_finality(
    by_data: Finality, by_system_clock: Finality, newest_start_us: int | None
) -> Finality:
    """Finality for a run that measures no time of its own (``collect --once``).

    ``by_data``: :func:`finality` by ActivityWatch's clock, which in such a run stands at the
    newest data, so the minute ``M`` of the newest window event (``newest_start_us``) would
    wait for newer data for ever. ``by_system_clock``: :func:`finality` by the system clock,
    from the same minute. ``M`` is final when the system clock says its events ended
    ``settle`` ago, but the system clock alone never makes a minute after ``M`` final:
    ``until = min(by_system_clock, max(by_data, end of M))``. When that emits ``M`` (it
    was not final by the data) ``M`` is ``provisional_from_us``: a clock set ahead can have
    made it final while its event still grows.
    """
    if by_system_clock.until_us <= by_data.until_us:  # the system clock is no further on
        return by_system_clock if by_system_clock.until_us < by_data.until_us else by_data
    if newest_start_us is None:
        return by_data
    newest = floor_minute(newest_start_us)
    until = min(by_system_clock.until_us, newest + MINUTE_US)
    if until <= by_data.until_us:
        return by_data
    held = by_system_clock.held_by if until == by_system_clock.until_us else None
    return Finality(until, held, provisional_from_us=newest)


def latest_end(events: Iterable[WindowEvent | InputEvent], ceiling_us: int) -> int | None:
    """The latest moment ``events`` show was recorded, not after ``ceiling_us``: the latest
    end, where an event that claims to end after the ceiling counts for its start only."""
    latest: int | None = None
    for event in events:
        seen = event.end_us if event.end_us <= ceiling_us else event.start_us
        if seen <= ceiling_us and (latest is None or seen > latest):
            latest = seen
    return latest


def _session_id(user_id: str, session_us: int) -> str:
    start = (_EPOCH + timedelta(microseconds=session_us)).isoformat()
    return hashlib.sha256(f"{user_id}:{start}".encode()).hexdigest()[:12]


def _window_stats(
    events: Sequence[WindowEvent], starts: Sequence[int], lo_us: int, hi_us: int
) -> tuple[int, float | None, float | None]:
    """Switch count, entropy and top-2 share of app durations for events starting in [lo, hi)."""
    durations: dict[str, float] = {}
    for event in events[bisect_left(starts, lo_us) : bisect_left(starts, hi_us)]:
        app = event.app.app_id
        durations[app] = durations.get(app, 0.0) + event.duration
    if not durations:
        return 0, None, None
    total = sum(durations.values())
    if total <= 0:
        return len(durations) - 1, 0.0, None
    entropy = 0.0
    for seconds in durations.values():
        p = seconds / total
        if p > 0:
            entropy -= p * math.log2(p)
    top2 = sorted(durations.values(), reverse=True)[:2]
    return len(durations) - 1, round(entropy, 4), round(sum(top2) / total, 4)


_NO_INPUT: Final = (None, None, None, None, None, None, None, None, None)


def _input_stats(samples: Sequence[InputEvent]) -> tuple[float | None, ...]:
    """taskclf's per-minute input aggregates (keys, clicks, scroll, distance, occupancy)."""
    if not samples:
        return _NO_INPUT
    presses = sum(s.presses for s in samples)
    clicks = sum(s.clicks for s in samples)
    scroll = sum(s.scroll_x + s.scroll_y for s in samples)
    distance = sum(s.delta_x + s.delta_y for s in samples)
    minutes = _BUCKET_SECONDS / 60.0
    keyboard = mouse = active = 0.0
    active_samples = 0
    idle_run = max_idle = 0.0
    for s in samples:
        has_keys = s.presses > 0
        has_mouse = s.clicks > 0 or s.delta_x + s.delta_y > 0 or s.scroll_x + s.scroll_y > 0
        if has_keys:
            keyboard += s.duration
        if has_mouse:
            mouse += s.duration
        if has_keys or has_mouse:
            active += s.duration
            active_samples += 1
            max_idle = max(max_idle, idle_run)
            idle_run = 0.0
        else:
            idle_run += s.duration
    max_idle = max(max_idle, idle_run)
    density = active_samples / active if active > 0 else 0.0
    return (
        round(presses / minutes, 2),
        round(clicks / minutes, 2),
        round(scroll / minutes, 2),
        float(distance),
        round(keyboard, 2),
        round(mouse, 2),
        round(active, 2),
        round(max_idle, 2),
        round(density, 4),
    )


def _rolling(history: Sequence[float | None], window: int) -> float | None:
    values = [v for v in history[-window:] if v is not None]
    if not values:
        return None
    return round(sum(values) / len(values), 4)


def _delta(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return round(current - previous, 4)


def afk_intervals(events: Iterable[AfkEvent]) -> list[Interval]:
    """The time aw-watcher-afk marks ``afk``, as sorted disjoint intervals."""
    return merge((e.start_us, e.end_us) for e in events if e.afk)


def _fit(parts: list[Interval]) -> tuple[Interval, ...]:
    # more away parts than a window may carry: join the ones closest together (never seen
    # in real data: it takes an away part every minute for a whole day)
    while len(parts) > MAX_AWAY:
        k = min(range(len(parts) - 1), key=lambda n: parts[n + 1][0] - parts[n][1])
        parts[k : k + 2] = [(parts[k][0], parts[k + 1][1])]
    return tuple(parts)


def row_span(
    bucket_us: int,
    events: Sequence[WindowEvent],
    next_start_us: int | None,
    afk: Sequence[Interval] = (),
    reach_us: int | None = None,
) -> TimeSpan:
    """The time the row of minute ``bucket_us`` stands for (``events``: those that start in
    it, by start; ``next_start_us``: the next event that starts after the minute, if any;
    ``afk``: :func:`afk_intervals`; ``reach_us``: the latest end of the day's earlier events,
    whose time past this row's start is this row's: cut at it, an event that overlaps the
    next one leaves no gap)."""
    start = events[0].start_us
    cover = merge(
        [(e.start_us, e.end_us) for e in events]
        + ([(start, reach_us)] if reach_us is not None else [])
    )
    end = min(max((b for _, b in cover), default=start), bucket_us + _MAX_SPAN_US)
    if next_start_us is not None:
        end = min(end, next_start_us)
    end = max(end, start)
    marked: list[Interval] = []
    for a, b in afk[bisect_right([b for _, b in afk], start) :]:
        if a >= end:
            break
        marked.append((max(a, start), min(b, end)))
    return TimeSpan(start, end, _fit(merge([*subtract((start, end), cover), *marked])))


def _stamp(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_rows(
    state: DayState,
    window_events: Sequence[WindowEvent],
    input_events: Sequence[InputEvent],
    *,
    until_us: int,
    spec: RowSpec,
    has_input: bool,
    afk: Sequence[Interval] = (),
) -> tuple[DayState, list[dict[str, object]]]:
    """Rows for the minutes in ``[state.next_us, until_us)`` of the day, and the state after.

    ``window_events`` (canonical order) must hold every event of the day that starts in
    ``[next_us - 15 min, until_us)`` and the first one after that, ``input_events`` every
    sample that starts in ``[next_us, until_us)``; more is fine. ``has_input``: the day has
    input samples (taskclf then lists ``aw-watcher-input`` in ``source_ids``). ``afk``: the
    time marked afk (:func:`afk_intervals`). A row exists for each minute in which a window
    event starts. The returned dicts are new and JSON-ready: taskclf's columns in registry
    order, then the span fields (:data:`taskclf_core.timespan.SPAN_FIELDS`).
    """
    until_us = min(until_us, state.day_end_us)
    if until_us <= state.next_us:
        return state, []
    reg = registry(spec.schema_version)
    assert reg is not None  # RowSpec checked it
    v3 = spec.schema_version == "v3"
    starts = [e.start_us for e in window_events]
    input_starts = [s.start_us for s in input_events]
    gap_us = timedelta(seconds=spec.idle_gap_seconds) // timedelta(microseconds=1)
    sources = [_WINDOW_SOURCE, _INPUT_SOURCE] if has_input else [_WINDOW_SOURCE]
    day_us = state.day_us

    prev_app, dwell = state.prev_app, state.dwell
    keys, mouse, prev_clicks = list(state.keys), list(state.mouse), state.prev_clicks
    last_end, session_us = state.last_end_us, state.session_us
    titles = dict(state.session_titles)
    reach = state.reach_us
    rows: list[dict[str, object]] = []

    i = bisect_left(starts, max(state.next_us, state.day_us))
    end = bisect_left(starts, until_us)
    while i < end:
        bucket = floor_minute(window_events[i].start_us)
        j = bisect_left(starts, bucket + MINUTE_US, i, end)
        events = window_events[i:j]
        i = j

        new_session = False
        for event in events:
            if last_end is None or event.start_us - last_end >= gap_us:
                new_session = True
            last_end = event.end_us
        if new_session or session_us is None:
            session_us, titles = bucket, {}

        durations: dict[str, float] = {}
        first: dict[str, WindowEvent] = {}
        for event in events:
            app = event.app.app_id
            durations[app] = durations.get(app, 0.0) + event.duration
            first.setdefault(app, event)
        dominant_app = max(durations, key=durations.__getitem__)
        dominant = first[dominant_app]
        seconds = durations[dominant_app]
        dwell = dwell + seconds if dominant_app == prev_app else seconds
        prev_app = dominant_app
        changes = sum(1 for a, b in pairwise(events) if a.app != b.app)

        # look-back windows see only this day's events: taskclf's batch holds one day
        switches_5m, entropy_5m, _ = _window_stats(
            window_events, starts, max(bucket - _SWITCH_5M_US, day_us), bucket + MINUTE_US
        )
        switches_15m, entropy_15m, top2_15m = _window_stats(
            window_events, starts, max(bucket - _WINDOW_15M_US, day_us), bucket + MINUTE_US
        )
        lo = bisect_left(input_starts, bucket)
        hi = bisect_left(input_starts, bucket + MINUTE_US, lo)
        (
            keys_pm,
            clicks_pm,
            scroll_pm,
            distance,
            kb_secs,
            mouse_secs,
            any_secs,
            max_idle,
            density,
        ) = _input_stats(input_events[lo:hi])

        hashed = dominant.title_hash
        titles[hashed] = titles.get(hashed, 0) + 1
        prev_keys = keys[-1] if keys else None
        prev_mouse = mouse[-1] if mouse else None
        keys = [*keys, keys_pm][-_ROLLING_LONG:]
        mouse = [*mouse, distance][-_ROLLING_LONG:]

        moment = _EPOCH + timedelta(microseconds=bucket)
        values: dict[str, object] = {
            "user_id": spec.user_id,
            "device_id": spec.device_id,
            "session_id": _session_id(spec.user_id, session_us),
            "bucket_start_ts": _stamp(bucket),
            "bucket_end_ts": _stamp(bucket + MINUTE_US),
            "schema_version": reg.version,
            "schema_hash": reg.schema_hash,
            "source_ids": list(sources),
            "app_id": dominant_app,
            "app_category": dominant.app.category,
            "window_title_hash": hashed,
            "is_browser": dominant.app.is_browser,
            "is_editor": dominant.app.is_editor,
            "is_terminal": dominant.app.is_terminal,
            "app_switch_count_last_5m": switches_5m,
            "app_foreground_time_ratio": round(min(seconds / _BUCKET_SECONDS, 1.0), 4),
            "app_change_count": changes,
            "app_dwell_time_seconds": round(dwell, 2),
            "app_entropy_5m": entropy_5m,
            "app_entropy_15m": entropy_15m,
            "top2_app_concentration_15m": top2_15m,
            "idle_return_indicator": bucket == session_us,
            "keys_per_min": keys_pm,
            "backspace_ratio": None,
            "shortcut_rate": None,
            "clicks_per_min": clicks_pm,
            "scroll_events_per_min": scroll_pm,
            "mouse_distance": distance,
            "active_seconds_keyboard": kb_secs,
            "active_seconds_mouse": mouse_secs,
            "active_seconds_any": any_secs,
            "max_idle_run_seconds": max_idle,
            "event_density": density,
            "domain_category": "unknown" if dominant.app.is_browser else "non_browser",
            "window_title_bucket": title_hash_bucket(hashed),
            "title_repeat_count_session": titles[hashed],
            "keys_per_min_rolling_5": _rolling(keys, _ROLLING_SHORT),
            "keys_per_min_rolling_15": _rolling(keys, _ROLLING_LONG),
            "mouse_distance_rolling_5": _rolling(mouse, _ROLLING_SHORT),
            "mouse_distance_rolling_15": _rolling(mouse, _ROLLING_LONG),
            "keys_per_min_delta": _delta(keys_pm, prev_keys),
            "clicks_per_min_delta": _delta(clicks_pm, prev_clicks),
            "mouse_distance_delta": _delta(distance, prev_mouse),
            "app_switch_count_last_15m": switches_15m,
            "hour_of_day": moment.hour,
            "day_of_week": moment.weekday(),
            "session_length_so_far": round((bucket - session_us) / MINUTE_US, 2),
        }
        prev_clicks = clicks_pm
        if v3:
            sketch = dominant.title
            if sketch is None:
                raise ValueError("schema v3 needs title sketches: parse events with sketches=True")
            values.update(zip(_TOKEN_COLUMNS, sketch.token_sketch, strict=True))
            values.update(zip(_CHAR3_COLUMNS, sketch.char3_sketch, strict=True))
            values["title_char_count"] = sketch.char_count
            values["title_token_count"] = sketch.token_count
            values["title_unique_token_ratio"] = sketch.unique_token_ratio
            values["title_digit_ratio"] = sketch.digit_ratio
            values["title_separator_count"] = sketch.separator_count
        row: dict[str, object] = {} if "user_id" in reg.column_types else {"user_id": spec.user_id}
        row.update((name, values[name]) for name, _type in reg.columns)
        following = bisect_left(starts, bucket + MINUTE_US, j)
        next_start = window_events[following].start_us if following < len(starts) else None
        row.update(row_span(bucket, events, next_start, afk, reach).to_fields())
        rows.append(row)
        ends = max(e.end_us for e in events)
        reach = ends if reach is None else max(reach, ends)

    after = replace(
        state,
        next_us=until_us,
        prev_app=prev_app,
        dwell=dwell,
        keys=tuple(keys),
        mouse=tuple(mouse),
        prev_clicks=prev_clicks,
        last_end_us=last_end,
        session_us=session_us,
        session_titles=tuple(titles.items()),
        reach_us=reach,
    )
    return after, rows


def build_day(
    day_us: int,
    window_events: Sequence[WindowEvent],
    input_events: Sequence[InputEvent],
    *,
    spec: RowSpec,
    afk_events: Iterable[AfkEvent] = (),
) -> list[dict[str, object]]:
    """taskclf's batch: every row of the UTC day starting at ``day_us``, from all its events.

    Events are assigned to the day they start in; the input flag is "any sample that day".
    """
    end = day_us + DAY_US
    windows = [e for e in window_events if day_us <= e.start_us < end]
    inputs = [s for s in input_events if day_us <= s.start_us < end]
    _, rows = build_rows(
        DayState.start(day_us),
        windows,
        inputs,
        until_us=end,
        spec=spec,
        has_input=bool(inputs),
        afk=afk_intervals(afk_events),
    )
    return rows
