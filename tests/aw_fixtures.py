"""The taskclf-made ActivityWatch cases in tests/fixtures/aw-sample, and a row comparison."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from taskclf_core.timespan import SPAN_FIELDS

AW_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "aw-sample"
CASES = ("workday", "no-input")
HOSTNAME = "fixturehost"


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    date: str
    user_id: str
    salt: str
    versions: tuple[str, ...]

    @property
    def export_path(self) -> Path:
        return self.path / "aw-export.json"

    def export(self) -> dict[str, Any]:
        return _export(self.export_path)

    def expected(self, version: str) -> list[dict[str, Any]]:
        return _expected(self.path / f"expected_{version}.jsonl")


@cache
def _export(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def _expected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_case(name: str) -> Case:
    path = AW_SAMPLE / name
    meta = json.loads((path / "case.json").read_text())
    return Case(
        name=name,
        path=path,
        date=meta["date"],
        user_id=meta["user_id"],
        salt=meta["title_salt"],
        versions=tuple(meta["schema_versions"]),
    )


def still_watching(buckets: dict[str, Any]) -> dict[str, Any]:
    """``buckets`` (an export's) with the window watcher still running: an event now.

    A live collector's clock is ActivityWatch's data plus the time it measured since: on a
    server whose data stops with the fixture's day it writes the day's last minute only
    ``collect_settle_seconds`` after its first poll. A live test that wants the whole day at
    its first poll models a running desktop with this. ``collect --once`` needs no such event.
    """
    out = dict(buckets)
    for bucket_id, bucket in buckets.items():
        if bucket.get("type") == "currentwindow":
            now = datetime.now(UTC).isoformat()
            event = {"timestamp": now, "duration": 1.0, "data": {"app": "later"}}
            out[bucket_id] = {**bucket, "events": [*bucket["events"], event]}
    return out


def parity_cases() -> list[tuple[str, str]]:
    return [(name, v) for name in CASES for v in load_case(name).versions]


def row_differences(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    """Every field that differs (numbers within 1e-9; types of bool/int/str/null must match).

    taskclf's columns must be the same, in the same order; our rows may add only the span
    fields (the time a row stands for, docs/windows.md), after them.
    """
    problems: list[str] = []
    if len(expected) != len(got):
        problems.append(f"{len(got)} rows, expected {len(expected)}")
    for want, have in zip(expected, got, strict=False):
        where = want.get("bucket_start_ts")
        ours = [k for k in have if k not in want]
        if list(want) != [k for k in have if k in want] or set(want) - set(have):
            problems.append(f"{where}: columns differ: {sorted(set(want) ^ set(have))}")
        if ours not in ([], list(SPAN_FIELDS)) or list(have)[len(want) :] != ours:
            problems.append(f"{where}: columns taskclf does not make: {ours}")
        for key, value in want.items():
            other = have.get(key)
            if isinstance(value, float) or isinstance(other, float):
                same = (
                    isinstance(value, int | float)
                    and isinstance(other, int | float)
                    and not isinstance(value, bool)
                    and not isinstance(other, bool)
                    and math.isclose(value, other, rel_tol=0.0, abs_tol=1e-9)
                )
            else:
                same = value == other and type(value) is type(other)
            if not same:
                problems.append(f"{where}: {key}: expected {value!r}, got {other!r}")
    return problems


# --- ActivityWatch days made here: long calls, away stretches, an afk bucket -------------------

_WORK: tuple[tuple[str, str], ...] = (
    ("Code", "daily.py — taskclf-daemon"),
    ("Code", "test_daily.py — taskclf-daemon"),
    ("Firefox", "rolling_majority — taskclf docs — Mozilla Firefox"),
    ("iTerm2", "pytest -x tests/"),
    ("Slack", "#team | Slack"),
    ("Obsidian", "notes — week 12"),
)
CALL_SECONDS = 17.7 * 60  # a call in the morning
MEETING_SECONDS = 16 * 60  # and a meeting after it


def _iso(t: datetime) -> str:
    return t.isoformat()


def aw_day(
    day: str,
    *,
    seed: int = 0,
    start: str = "08:30",
    minutes: float = 120,
    afk: bool = True,
    hostname: str = HOSTNAME,
) -> dict[str, Any]:
    """A morning as ActivityWatch records it, as an export: window events back to back (a
    switch every few seconds to minutes), a 17.7-minute call (zoom.us) and a 16-minute
    meeting (FaceTime) as one event each, two coffee breaks during which the window watcher
    keeps its window while aw-watcher-afk marks the person away, and a locked screen (no
    window event at all). With ``afk``, the aw-watcher-afk bucket tiles the morning with
    ``afk`` / ``not-afk`` events as that watcher does.
    """
    rng = random.Random(seed)
    t0 = datetime.fromisoformat(f"{day}T{start}:00+00:00") + timedelta(seconds=rng.uniform(0, 50))
    end = t0 + timedelta(minutes=minutes)
    windows: list[dict[str, Any]] = []
    away: list[tuple[datetime, datetime]] = []
    specials = {
        0.25: ("zoom.us", "Zoom Meeting", CALL_SECONDS),
        0.55: ("FaceTime", "FaceTime — design review", MEETING_SECONDS),
        0.40: ("coffee", "", 11 * 60.0),
        0.80: ("coffee", "", 7 * 60.0),
        0.70: ("locked", "", 4 * 60.0),
    }
    t = t0
    while t < end:
        progress = (t - t0) / (end - t0)
        due = [k for k in specials if k <= progress]
        if due:
            app, title, seconds = specials.pop(min(due))
            if app == "locked":  # the screen locks: no window event, the person is away
                away.append((t, t + timedelta(seconds=seconds)))
                t += timedelta(seconds=seconds)
                continue
            if app == "coffee":  # the window stays focused; the person leaves a minute in
                app, title = rng.choice(_WORK)
                away.append((t + timedelta(seconds=60), t + timedelta(seconds=seconds)))
        else:
            app, title = rng.choice(_WORK)
            seconds = min(rng.lognormvariate(3.2, 1.1), 600.0)
        seconds = round(seconds, 3)
        windows.append(
            {"timestamp": _iso(t), "duration": seconds, "data": {"app": app, "title": title}}
        )
        t += timedelta(seconds=seconds)
    buckets: dict[str, Any] = {
        f"aw-watcher-window_{hostname}": {
            "id": f"aw-watcher-window_{hostname}",
            "type": "currentwindow",
            "client": "aw-watcher-window",
            "hostname": hostname,
            "events": windows,
        }
    }
    if afk:
        events: list[dict[str, Any]] = []
        at = t0
        for a, b in away:
            events.append(_afk_event(at, a, "not-afk"))
            events.append(_afk_event(a, b, "afk"))
            at = b
        events.append(_afk_event(at, t, "not-afk"))
        buckets[f"aw-watcher-afk_{hostname}"] = {
            "id": f"aw-watcher-afk_{hostname}",
            "type": "afkstatus",
            "client": "aw-watcher-afk",
            "hostname": hostname,
            "events": [e for e in events if e["duration"] > 0],
        }
    return {"buckets": buckets}


def _afk_event(a: datetime, b: datetime, status: str) -> dict[str, Any]:
    return {"timestamp": _iso(a), "duration": (b - a).total_seconds(), "data": {"status": status}}


def _intervals(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    out = []
    for e in events:
        start = datetime.fromisoformat(e["timestamp"]).timestamp()
        out.append((start, start + float(e["duration"])))
    return out


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        elif b > a:
            merged.append((a, b))
    return merged


def active_minutes(export: dict[str, Any], *, lo: float, hi: float) -> float:
    """What ActivityWatch counts as active in ``[lo, hi)`` (epoch seconds): the time its
    window events cover, without the time its afk bucket marks ``afk`` (worked out here,
    apart from the code under test)."""
    windows: list[tuple[float, float]] = []
    afk: list[tuple[float, float]] = []
    for bucket in export["buckets"].values():
        if bucket["type"] == "currentwindow":
            windows += _intervals(bucket["events"])
        elif bucket["type"] == "afkstatus":
            afk += _intervals([e for e in bucket["events"] if e["data"]["status"] == "afk"])
    seconds = 0.0
    for a, b in _union(windows):
        a, b = max(a, lo), min(b, hi)
        if b <= a:
            continue
        seconds += b - a
        for x, y in _union(afk):
            seconds -= max(0.0, min(b, y) - max(a, x))
    return seconds / 60
