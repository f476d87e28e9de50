"""A person's seeded working days as ActivityWatch records them, and the spans they would label.

Window events (``aw-watcher-window``: app and title, from a few seconds to many minutes, a
brief look at another app now and then) and input samples (``aw-watcher-input``: key presses,
clicks, mouse movement and scrolling per 5 s, zero while nobody is there), for tasks done in
segments that start on the minute (people label with minutes: ``label add --from 10:32``).
Breaks are the lock screen or whatever app was left in front, with no input; a meeting is a
long call with little input. The collector turns these into taskclf's rows, as from a real
ActivityWatch (tests and `bench/learning.py` use them end to end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from taskclf_core.activity import (
    DAY_US,
    RowSpec,
    build_day,
    parse_input_events,
    parse_window_events,
)
from taskclf_core.spans import LabelSpan

__all__ = ["LOOKS", "AWDays", "AWPerson", "Look", "aw_days", "collector_rows", "merge_spans"]

_SAMPLE_SECONDS: Final = 5


@dataclass(frozen=True, slots=True)
class Look:
    """What one task looks like to ActivityWatch: the apps in front (with titles and how
    often each), how long a window stays in front (mean seconds), and the input per 5 s
    sample (mean presses, clicks, mouse distance, scroll). Tasks share apps, as people's do:
    a browser for research, mail and calls; an editor for code and for prose."""

    apps: tuple[tuple[str, tuple[str, ...], float], ...]
    event_seconds: float
    presses: float
    clicks: float
    mouse: float
    scroll: float

    def pick(self, rng: np.random.Generator) -> tuple[str, str]:
        weights = np.asarray([w for _, _, w in self.apps])
        app, titles, _ = self.apps[int(rng.choice(len(self.apps), p=weights / weights.sum()))]
        title = titles[int(rng.integers(len(titles)))]
        # a page, a file, a thread: titles vary within a task
        return app, title.replace("#", str(int(rng.integers(1, 400))))


LOOKS: Final[dict[str, Look]] = {
    "Build": Look(
        (
            ("Code", ("main.py — app", "models.py — app", "test_#.py — app"), 0.55),
            ("iTerm2", ("pytest -x (zsh)", "make build", "git diff", "python -m app"), 0.3),
            ("Firefox", ("asyncio — Python docs", "Stack Overflow — question #"), 0.15),
        ),
        70.0,
        11.0,
        0.5,
        80.0,
        1.0,
    ),
    "ReadResearch": Look(
        (
            ("Firefox", ("asyncio — Python docs", "Stack Overflow — question #", "arXiv #"), 0.5),
            ("Google Chrome", ("LightGBM parameters", "Wikipedia — Isotonic regression"), 0.35),
            ("Obsidian", ("reading notes", "ideas"), 0.15),
        ),
        55.0,
        1.5,
        1.0,
        200.0,
        6.0,
    ),
    "Communicate": Look(
        (
            ("Slack", ("#team | Slack", "DM Ana | Slack", "#support | Slack"), 0.5),
            ("Mail", ("Inbox (#)", "Re: release plan", "Re: invoice #"), 0.25),
            ("Google Chrome", ("Gmail — Inbox", "Calendar — Week"), 0.25),
        ),
        45.0,
        7.0,
        1.4,
        150.0,
        2.0,
    ),
    "Meet": Look(
        (
            ("zoom.us", ("Zoom Meeting", "standup — Zoom"), 0.7),
            ("Google Chrome", ("Meet — weekly sync", "Calendar — Week"), 0.3),
        ),
        300.0,
        0.8,
        0.3,
        40.0,
        0.2,
    ),
    "Write": Look(
        (
            ("Obsidian", ("design notes", "weekly report draft", "ideas"), 0.45),
            ("Code", ("README.md — app", "CHANGELOG.md — app"), 0.3),
            ("Google Chrome", ("Docs — Spec: retraining", "Docs — Meeting notes"), 0.25),
        ),
        100.0,
        14.0,
        0.4,
        45.0,
        1.2,
    ),
}
_LOCK: Final = ("loginwindow", "Login Window")


@dataclass(frozen=True, slots=True)
class AWPerson:
    """One person: the tasks they do (each one of :data:`LOOKS`), minutes of work a day,
    a break every ``break_every`` minutes or so (5–15 min, a longer one at lunch), and how
    often they glance at another app in the middle of a task."""

    tasks: tuple[str, ...] = ("Build", "ReadResearch", "Communicate", "Meet", "Write")
    minutes_per_day: int = 300
    break_every: int = 70
    glances: float = 0.2
    first_hour: int = 8  # UTC
    # a span is typed to this many minutes: 1, to the minute (what the labelling page's drag
    # and the report's away time give); 5, a person who types 10:30 for 10:32, so the minutes
    # between the true switch and the typed one carry the other task's label
    label_rounding: int = 1
    # every switch falls at a random second inside its minute, as in life; False: on a minute
    # mark, where a span typed to the minute is exactly right
    mid_minute: bool = False
    # the lock screen wakes now and then during a break (a notification, the mouse nudged),
    # a window each time; False: one lock event a break, so one window (a locked Mac or PC)
    lock_wakes: bool = True


@dataclass(frozen=True, slots=True)
class AWDays:
    """The days' events (ActivityWatch's JSON, timestamps in UTC) and the person's spans."""

    window_events: tuple[dict[str, Any], ...]
    input_events: tuple[dict[str, Any], ...]
    spans: tuple[LabelSpan, ...]
    segments: tuple[tuple[datetime, datetime, str], ...] = field(default=())

    def export(self, hostname: str) -> dict[str, Any]:
        """An ActivityWatch export (what ``GET /api/0/export`` returns) of these events."""
        return {
            "buckets": {
                f"aw-watcher-window_{hostname}": {
                    "id": f"aw-watcher-window_{hostname}",
                    "type": "currentwindow",
                    "client": "aw-watcher-window",
                    "hostname": hostname,
                    "events": list(self.window_events),
                },
                f"aw-watcher-input_{hostname}": {
                    "id": f"aw-watcher-input_{hostname}",
                    "type": "os.hid.input",
                    "client": "aw-watcher-input",
                    "hostname": hostname,
                    "events": list(self.input_events),
                },
            }
        }

    def label_of(self, start: datetime) -> str | None:
        """The task under way at ``start`` (None outside the segments)."""
        for begin, end, label in self.segments:
            if begin <= start < end:
                return label
        return None


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


class _Day:
    def __init__(self, rng: np.random.Generator, person: AWPerson) -> None:
        self.rng = rng
        self.person = person
        self.windows: list[dict[str, Any]] = []
        self.inputs: list[dict[str, Any]] = []

    def window(self, start: datetime, seconds: float, app: str, title: str) -> None:
        self.windows.append(
            {"timestamp": _stamp(start), "duration": round(seconds, 3), "data": {"app": app,
                                                                                "title": title}}
        )  # fmt: skip

    def samples(self, start: datetime, end: datetime, look: Look | None) -> None:
        """Input samples every 5 s from ``start`` to ``end``; ``None``: nobody there."""
        rng = self.rng
        t = start
        while t < end:
            if look is None:
                data = {"presses": 0, "clicks": 0, "deltaX": 0, "deltaY": 0, "scrollX": 0,
                        "scrollY": 0}  # fmt: skip
            else:
                mouse = float(rng.gamma(2.0, look.mouse / 2.0))
                data = {
                    "presses": int(rng.poisson(look.presses)),
                    "clicks": int(rng.poisson(look.clicks)),
                    "deltaX": int(mouse * 0.6),
                    "deltaY": int(mouse * 0.4),
                    "scrollX": 0,
                    "scrollY": int(rng.poisson(look.scroll)),
                }
            self.inputs.append({"timestamp": _stamp(t), "duration": float(_SAMPLE_SECONDS),
                                "data": data})  # fmt: skip
            t += timedelta(seconds=_SAMPLE_SECONDS)

    def work(self, start: datetime, end: datetime, task: str) -> None:
        rng, look = self.rng, LOOKS[task]
        t = start
        while t < end:
            seconds = min(
                float(rng.exponential(look.event_seconds)) + 5.0, (end - t).total_seconds()
            )
            if rng.random() < self.person.glances and seconds > 20:
                # a look at another task (a message, a lookup, a quick reply): the person is
                # still on their task, and the minute may look like the other one
                other = LOOKS[self.person.tasks[int(rng.integers(len(self.person.tasks)))]]
                app, title = other.pick(rng)
                glance = min(float(rng.uniform(8, 120)), (end - t).total_seconds())
                self.window(t, glance, app, title)
                self.samples(t, t + timedelta(seconds=glance), other if glance > 45 else look)
                t += timedelta(seconds=glance)
                continue
            app, title = look.pick(rng)
            self.window(t, seconds, app, title)
            self.samples(t, t + timedelta(seconds=seconds), look)
            t += timedelta(seconds=seconds)

    def rest(self, start: datetime, end: datetime) -> None:
        """A break: the screen locks, or the app in front stays there a while before it does;
        now and then the lock screen wakes (a notification, the mouse nudged) and the watcher
        sees it again. The app left in front is the event already under way: aw-watcher-window
        merges heartbeats with the same app and title, so it goes on, no new event starts."""
        rng = self.rng
        left = rng.random() >= 0.7 and bool(self.windows)
        t = start
        while t < end:
            seconds = (end - t).total_seconds()
            if self.person.lock_wakes:
                seconds = min(float(rng.uniform(90, 360)), seconds)
            if left:
                last = self.windows[-1]
                last["duration"] = round(last["duration"] + seconds, 3)
                left = False
            else:
                self.window(t, seconds, *_LOCK)
            t += timedelta(seconds=seconds)
        self.samples(start, end, None)


def aw_days(
    person: AWPerson, *, start: datetime, days: int, seed: int, user_id: str | None = None
) -> AWDays:
    """``days`` working days from the UTC midnight ``start``: events, spans and segments.

    ``user_id`` is put on the spans (None: spans for whoever labels them, as `label add`).
    """
    rng = np.random.default_rng(seed)
    # the second each switch falls on (mid_minute), drawn apart from the day itself
    seconds = np.random.default_rng((seed, 60))

    def switch(nominal: datetime) -> datetime:
        if not person.mid_minute:
            return nominal
        return nominal + timedelta(seconds=round(float(seconds.uniform(1, 59)), 3))

    windows: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    segments: list[tuple[datetime, datetime, str]] = []
    for d in range(days):
        day = _Day(rng, person)
        t = start + timedelta(days=d, hours=person.first_hour, minutes=int(rng.integers(0, 40)))
        at = switch(t)  # t on the minute; at, where the switch really falls
        worked = since_break = 0
        lunch = False
        while worked < person.minutes_per_day:
            if since_break >= person.break_every * float(rng.uniform(0.7, 1.3)):
                long = not lunch and worked >= person.minutes_per_day // 2
                minutes = int(rng.integers(30, 46)) if long else int(rng.integers(5, 16))
                lunch = lunch or long
                end = t + timedelta(minutes=minutes)
                until = switch(end)
                day.rest(at, until)
                segments.append((at, until, "BreakIdle"))
                t, at, since_break = end, until, 0
                continue
            task = person.tasks[int(rng.integers(len(person.tasks)))]
            minutes = int(rng.integers(25, 61)) if task == "Meet" else int(rng.integers(8, 41))
            minutes = min(minutes, person.minutes_per_day - worked)
            end = t + timedelta(minutes=minutes)
            until = switch(end)
            day.work(at, until, task)
            segments.append((at, until, task))
            t, at, worked, since_break = end, until, worked + minutes, since_break + minutes
        windows += day.windows
        inputs += day.inputs
    return AWDays(
        tuple(windows), tuple(inputs), _labelled(segments, person, user_id), tuple(segments)
    )


def collector_rows(
    days: AWDays,
    *,
    start: datetime,
    n_days: int,
    user_id: str,
    salt: str,
    version: str = "v3",
    with_input: bool = True,
) -> list[dict[str, Any]]:
    """The rows the collector builds from ``days`` (from the UTC midnight ``start``, as
    :func:`aw_days` made them): taskclf's feature windows of ``user_id``, titles hashed with
    ``salt``; without ``with_input``, as from an ActivityWatch without aw-watcher-input."""
    window_events = parse_window_events(
        list(days.window_events), bucket_id="w", salt=salt, sketches=True
    ).events
    input_events = (
        parse_input_events(list(days.input_events), bucket_id="i").events if with_input else []
    )
    first = int(start.timestamp()) * 1_000_000
    return [
        row
        for d in range(n_days)
        for row in build_day(
            first + d * DAY_US, window_events, input_events, spec=RowSpec(user_id, version)
        )
    ]


def _labelled(
    segments: Sequence[tuple[datetime, datetime, str]], person: AWPerson, user_id: str | None
) -> tuple[LabelSpan, ...]:
    """The spans the person types: each switch at the nearest ``label_rounding`` minutes (a
    span rounded to nothing is not labelled)."""
    step = timedelta(minutes=max(1, person.label_rounding))

    def typed(t: datetime) -> datetime:
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + step * round((t - midnight) / step)

    spans = []
    for begin, end, label in segments:
        a, b = typed(begin), typed(end)
        if a < b:
            spans.append(LabelSpan(a, b, label, "manual", user_id))
    return tuple(merge_spans(spans))


def merge_spans(spans: Sequence[LabelSpan]) -> list[LabelSpan]:
    """Adjacent spans of one label and user as one (what a person labelling a day does)."""
    out: list[LabelSpan] = []
    for s in sorted(spans, key=lambda s: s.start_ts):
        last = out[-1] if out else None
        if (
            last
            and last.end_ts == s.start_ts
            and (last.label, last.user_id) == (s.label, s.user_id)
        ):
            out[-1] = LabelSpan(last.start_ts, s.end_ts, s.label, s.provenance, s.user_id)
        else:
            out.append(s)
    return out
