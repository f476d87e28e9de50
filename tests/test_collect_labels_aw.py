"""aw_write_labels against a real aw-server (its default peewee storage): the bucket equals
`report --json`, exactly once across re-runs, growth and restarts, with and without a key."""

from __future__ import annotations

import functools
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aw_fixtures import HOSTNAME, load_case, row_differences
from aw_server import AWKind, AWServer
from collector_kit import (
    aw_args,
    collector_process,
    label_record,
    labels_once_args,
    make_home,
    spool_rows_in,
    write_label_log,
)
from daemon_harness import isolated_env, run_cli, wait_for

from daemon.collector.awlabels import BUCKET_CLIENT, BUCKET_TYPE, label_bucket_id
from taskclf_core.synthetic import generate_label_log

pytestmark = pytest.mark.slow

BUCKET = label_bucket_id(HOSTNAME)
KEY = "a-key-for-the-test-0123456789"
MINUTE = timedelta(minutes=1)


# conftest's aw fixture on ActivityWatch's default storage (peewee), plain or asking for
# ``Authorization: Bearer <KEY>`` (tests/aw_server.py)
plain = pytest.mark.parametrize("aw", [AWKind("peewee")], indirect=True, ids=["peewee"])
keyed = pytest.mark.parametrize("aw", [AWKind("peewee", KEY)], indirect=True, ids=["peewee-key"])


def _fresh(server: AWServer) -> AWServer:
    server.reset()
    server.load_export(load_case("workday").export())
    return server


def _env(tmp_path: Path) -> dict[str, str]:
    return {**isolated_env(tmp_path / "home"), "TZ": "Europe/Berlin"}


def _collect(data: Path, server: AWServer, env: dict[str, str], *more: str) -> Any:
    return run_cli(*labels_once_args(data, server.url, load_case("workday").date, *more), env=env)


def _events(server: AWServer) -> list[dict[str, Any]]:
    """The label bucket's events, oldest first (none before the bucket is made)."""
    if BUCKET not in server.request("GET", "/buckets/"):
        return []
    events: list[dict[str, Any]] = server.request("GET", f"/buckets/{BUCKET}/events?limit=-1")
    return sorted(events, key=lambda e: e["timestamp"])


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@plain
def test_the_bucket_holds_the_reports_segments_once(aw: AWServer, tmp_path: Path) -> None:
    """Two days of a label log (Berlin; a deploy mid-day): every segment of `report --json`
    is one event with the label as its title, nothing else in ActivityWatch changes, and
    running `collect --once` again changes nothing."""
    server = _fresh(aw)
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    first = date.fromisoformat(case.date)
    berlin = ZoneInfo("Europe/Berlin")
    records = generate_label_log(
        user_id=case.user_id, start=first, days=2, tz=berlin, seed=5, model_bundle_ids=("a",)
    )
    deploy = datetime(first.year, first.month, first.day, 13, tzinfo=berlin)
    for r in records:
        if _epoch(r["bucket_start_ts"].replace("Z", "+00:00")) >= deploy.timestamp():
            r["model_bundle_id"] = "b"
    write_label_log(data / "labels", records)
    env = _env(tmp_path)
    before = {k: len(v["events"]) for k, v in case.export()["buckets"].items()}

    done = _collect(data, server, env)
    assert done.returncode == 0, done.stderr
    assert row_differences(case.expected("v1"), spool_rows_in(data / "spool")) == []

    report = run_cli(
        "report",
        "--json",
        "--from",
        first.isoformat(),
        "--to",
        (first + timedelta(days=1)).isoformat(),
        "--data-dir",
        str(data),
        env=env,
    )
    assert report.returncode == 0, report.stderr
    segments = [s for day in json.loads(report.stdout)["reports"] for s in day["segments"]]
    assert len(segments) > 20
    events = _events(server)
    got = [
        (_epoch(e["timestamp"]), _epoch(e["timestamp"]) + e["duration"], e["data"]["title"])
        for e in events
    ]
    assert got == [(_epoch(a), _epoch(b), label) for a, b, label, _n in segments]
    assert all(e["data"]["label"] == e["data"]["title"] for e in events)
    assert {e["data"]["model"] for e in events} == {"a", "b"}
    assert all(0.0 <= e["data"]["confidence"] <= 1.0 for e in events)
    meta = server.request("GET", "/buckets/")
    assert (meta[BUCKET]["client"], meta[BUCKET]["type"], meta[BUCKET]["hostname"]) == (
        BUCKET_CLIENT,
        BUCKET_TYPE,
        HOSTNAME,
    )
    # nothing else written: the watchers' buckets are as they were
    assert set(meta) == {*before, BUCKET}
    for bucket_id, n in before.items():
        assert len(server.request("GET", f"/buckets/{bucket_id}/events?limit=-1")) == n

    again = _collect(data, server, env)
    assert again.returncode == 0, again.stderr
    assert _events(server) == events  # the same events, ids and all
    assert "aw_labels_written" not in again.stderr
    # a lost state file: each day is compared with the bucket again, and nothing changes
    (data / "collector" / "aw-labels.json").unlink()
    again = _collect(data, server, env)
    assert again.returncode == 0, again.stderr
    assert _events(server) == events


def _polled(data: Path, pid: int, after: str = "") -> bool:
    try:
        doc = json.loads((data / "collector" / "status.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return bool(doc.get("pid") == pid and (doc.get("last_poll_at") or "") > after)


@keyed
def test_a_live_collector_grows_the_event_and_restarts_add_nothing(
    aw: AWServer, tmp_path: Path
) -> None:
    """With aw_api_key on a server that asks for one: a segment that grows keeps its event
    (replaced in place, same id), a new label adds one, and neither a restart nor a lost
    state file adds a second copy."""
    server = _fresh(aw)
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    start = datetime.fromisoformat(f"{case.date}T09:00:00+00:00")
    records = [label_record(start + i * MINUTE, "Build", user=case.user_id) for i in range(10)]
    write_label_log(data / "labels", records)
    more = ("--aw-write-labels", "true", "--aw-api-key", KEY, "--log-format", "json")
    live_args = aw_args(data, server.url, "--collect-interval-seconds", "0.2", *more)
    args = [sys.executable, "-m", "daemon", *live_args]
    env = _env(tmp_path)
    log = tmp_path / "collect.log"

    def shape() -> list[tuple[int, str, float]]:
        return [(e["id"], e["data"]["title"], e["duration"]) for e in _events(server)]

    def live(step: Any) -> None:
        with collector_process(args, log, env) as proc:
            step(proc.pid)

    first: dict[str, Any] = {}

    def grow(_pid: int) -> None:
        wait_for(lambda: len(shape()) == 1, 30, "the first segment's event", context=log.read_text)
        ((first["id"], _, duration),) = shape()
        assert duration == 600.0
        records.extend(
            label_record(start + (10 + i) * MINUTE, "Build", user=case.user_id) for i in range(5)
        )
        write_label_log(data / "labels", records)
        wait_for(lambda: shape() == [(first["id"], "Build", 900.0)], 30, "the event grown")
        records.extend(
            label_record(start + (15 + i) * MINUTE, "Meet", user=case.user_id) for i in range(3)
        )
        write_label_log(data / "labels", records)
        wait_for(lambda: len(shape()) == 2, 30, "a second event for the new label")

    live(grow)
    assert [(t, d) for _i, t, d in shape()] == [("Build", 900.0), ("Meet", 180.0)]
    ids = [i for i, _t, _d in shape()]
    assert ids[0] == first["id"]

    def restart(_pid: int) -> None:
        records.extend(
            label_record(start + (18 + i) * MINUTE, "Meet", user=case.user_id) for i in range(2)
        )
        write_label_log(data / "labels", records)
        wait_for(
            lambda: shape() == [(ids[0], "Build", 900.0), (ids[1], "Meet", 300.0)],
            30,
            "the Meet event grown after a restart, nothing added",
        )

    live(restart)
    (data / "collector" / "aw-labels.json").unlink()
    after = datetime.now(UTC).isoformat()

    def without_state(pid: int) -> None:
        wait_for(functools.partial(_polled, data, pid, after), 30, "a poll without the state")

    live(without_state)
    assert shape() == [(ids[0], "Build", 900.0), (ids[1], "Meet", 300.0)]
    assert KEY not in log.read_text()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert not [line for line in lines if line["event"] == "aw_labels_failed"]


@keyed
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ((), "asks for an API key; set aw_api_key"),
        (("--aw-api-key", "wrong-key"), "refused aw_api_key (401 UNAUTHORIZED"),
    ],
    ids=["no-key", "wrong-key"],
)
def test_a_server_that_wants_a_key_refuses_a_missing_or_wrong_one_in_one_line(
    aw: AWServer, tmp_path: Path, given: tuple[str, ...], message: str
) -> None:
    server = _fresh(aw)
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    done = _collect(data, server, _env(tmp_path), *given)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("taskclf-daemon: ActivityWatch at "), done.stderr
    assert message in lines[-1]
    assert "Traceback" not in done.stderr
    assert KEY not in done.stderr
    assert BUCKET not in server.request("GET", "/buckets/")
