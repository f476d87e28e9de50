"""ActivityWatch days → `collect` → `run --once` → `report`: the time ActivityWatch shows.

Each day goes through the real commands as processes. The time ActivityWatch counts as active
(its window events, without what its afk bucket marks afk) is worked out here from the export
(tests/aw_fixtures.py: active_minutes), apart from the code under test.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aw_fixtures import (
    CALL_SECONDS,
    HOSTNAME,
    MEETING_SECONDS,
    active_minutes,
    aw_day,
    load_case,
)
from aw_server import AWServer
from collector_kit import write_identity
from daemon_harness import DaemonProcess, isolated_env, running_daemons

pytestmark = pytest.mark.slow

ZONE = "Europe/Berlin"


@pytest.fixture
def home(tmp_path: Path, bundle_dir: Path) -> Iterator[DaemonProcess]:
    """A configuration with the session's bundle; the report reads days in Berlin. The reject
    threshold is low enough that the model's own label of a call shows (this is about time)."""
    env = isolated_env(tmp_path / "home")
    env["TZ"] = ZONE
    with running_daemons(tmp_path / "d", bundle_dir, env) as daemons:
        yield daemons.new(reject_threshold=0.3)


def report_day(daemon: DaemonProcess, day: str) -> dict[str, Any]:
    done = daemon.cli("report", "--date", day, "--json")
    assert done.returncode == 0, done.stderr
    (only,) = json.loads(done.stdout)["reports"]
    assert isinstance(only, dict)
    return only


def day_bounds(day: str) -> tuple[float, float]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), ZoneInfo(ZONE))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def check_day(doc: dict[str, Any], export: dict[str, Any], day: str) -> None:
    """The day's total is what ActivityWatch counts (within 1 %), the minutes per label add up
    to it, and the segments never overlap."""
    lo, hi = day_bounds(day)
    want = active_minutes(export, lo=lo, hi=hi)
    assert abs(doc["total_minutes"] - want) <= 0.01 * want, (doc["total_minutes"], want)
    assert sum(doc["core_breakdown"].values()) == pytest.approx(doc["total_minutes"], abs=0.05)
    segments = doc["segments"]
    for a, b in itertools.pairwise(segments):
        assert a[1] <= b[0], (a, b)
    assert all(a[0] < a[1] for a in segments)


def long_events(export: dict[str, Any]) -> list[tuple[str, float, float]]:
    """The call and the meeting: (app, start, end) in epoch seconds."""
    out = []
    for bucket in export["buckets"].values():
        if bucket["type"] != "currentwindow":
            continue
        for e in bucket["events"]:
            if e["duration"] in (round(CALL_SECONDS, 3), round(MEETING_SECONDS, 3)):
                start = datetime.fromisoformat(e["timestamp"]).timestamp()
                out.append((e["data"]["app"], start, start + e["duration"]))
    return out


def check_meetings(doc: dict[str, Any], daemon: DaemonProcess, export: dict[str, Any]) -> None:
    """The 17.7-minute call and the 16-minute meeting are one row each, which the model
    labels Meet, and each is one Meet segment from the event's start to its end (no gap, no
    piece of it under another label)."""
    meetings = long_events(export)
    assert len(meetings) == 2
    rows = {r["span_start_ts"]: r for r in daemon.records()}
    for app, start, end in meetings:
        stamp = datetime.fromtimestamp(start).astimezone(ZoneInfo("UTC"))
        (row,) = [r for k, r in rows.items() if k.startswith(stamp.strftime("%Y-%m-%dT%H:%M:%S"))]
        covering = [
            s
            for s in doc["segments"]
            if datetime.fromisoformat(s[0]).timestamp() <= start + 1
            and datetime.fromisoformat(s[1]).timestamp() >= end - 1
        ]
        assert len(covering) == 1, (app, doc["segments"])
        assert (row["label"], covering[0][2]) == ("Meet", "Meet"), app


@pytest.mark.parametrize("case_name", ["workday", "no-input"])
def test_the_taskclf_made_days_add_up_to_what_activitywatch_covers(
    home: DaemonProcess, case_name: str
) -> None:
    """taskclf's own fixture days: the report showed 55 % and 53 % of them (a minute a row)."""
    case = load_case(case_name)
    write_identity(home.data_dir, salt=case.salt, user_id=case.user_id)
    done = home.cli("collect", "--export", str(case.export_path), "--aw-hostname", HOSTNAME)
    assert done.returncode == 0, done.stderr
    assert home.cli("run", "--once").returncode == 0
    doc = report_day(home, case.date)
    check_day(doc, case.export(), case.date)
    assert doc["windows"] == len(case.expected("v1"))


@pytest.mark.parametrize("afk", [True, False], ids=["with-afk", "without-afk"])
def test_a_morning_with_a_call_a_meeting_and_breaks(
    home: DaemonProcess, tmp_path: Path, afk: bool
) -> None:
    day = "2026-03-04"
    export = aw_day(day, seed=1, afk=afk)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    write_identity(home.data_dir, salt="salt", user_id="u1")
    done = home.cli("collect", "--export", str(path), "--aw-hostname", HOSTNAME)
    assert done.returncode == 0, done.stderr
    assert home.cli("run", "--once").returncode == 0
    doc = report_day(home, day)
    check_day(doc, export, day)
    check_meetings(doc, home, export)
    if afk:
        assert doc["away_minutes"] == pytest.approx(16, abs=0.05)  # coffee, less a minute each
    else:
        assert doc["away_minutes"] < 1


def test_through_a_real_aw_server_with_an_afk_bucket(aw: AWServer, home: DaemonProcess) -> None:
    """The same morning, read by `collect --once` from aw-server's REST API (its afk bucket
    through the same client): the same total, the afk time away."""
    aw.reset()
    day = "2026-03-05"
    export = aw_day(day, seed=2)
    aw.load_export(export)
    write_identity(home.data_dir, salt="salt", user_id="u1")
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    done = home.cli(
        "collect",
        "--once",
        "--from",
        day,
        "--to",
        next_day,
        "--aw-url",
        aw.url,
        "--aw-hostname",
        HOSTNAME,
    )
    assert done.returncode == 0, done.stderr
    assert home.cli("run", "--once").returncode == 0
    doc = report_day(home, day)
    check_day(doc, export, day)
    check_meetings(doc, home, export)
    assert doc["away_minutes"] == pytest.approx(16, abs=0.05)
    assert any(r["span_away"] for r in home.records())
    aw.reset()
