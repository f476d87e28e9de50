"""`collect` against a real aw-server: parity over REST, the live process, and into the daemon."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aw_fixtures import HOSTNAME, load_case, row_differences
from aw_server import AWServer
from collector_kit import collector_process, seed_cursor, write_identity
from daemon_harness import isolated_env, run_cli, running_daemons, wait_for

from taskclf_core.schema import registry

pytestmark = pytest.mark.slow


@pytest.fixture
def loaded(aw: AWServer) -> Iterator[AWServer]:
    aw.reset()
    yield aw
    aw.reset()


def taskclf_home(root: Path, case_name: str, version: str) -> tuple[Path, dict[str, str]]:
    """A data dir with taskclf's salt and user id files and a model of ``version``."""
    case = load_case(case_name)
    data = root / "data"
    processed = data / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / ".title_secret").write_text(case.salt)
    (processed / ".user_id").write_text(case.user_id + "\n")
    (data / "model").mkdir()
    reg = registry(version)
    assert reg is not None
    meta = {"schema_version": version, "schema_hash": reg.schema_hash, "label_set": []}
    (data / "model" / "metadata.json").write_text(json.dumps(meta))
    return data, isolated_env(root / "home")


def polled(data: Path, pid: int) -> bool:
    """The collector process ``pid`` has finished a poll (its status file says so)."""
    path = data / "collector" / "status.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return bool(doc.get("pid") == pid and doc.get("last_poll_at"))


def rows(spool: Path) -> list[dict[str, Any]]:
    files = sorted((spool / "new").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("to", ["next day", None], ids=["to-next-day", "no-to"])
@pytest.mark.parametrize(
    ("case_name", "version"), [("workday", "v1"), ("workday", "v3"), ("no-input", "v1")]
)
def test_rest_collect_equals_taskclf(
    loaded: AWServer, tmp_path: Path, case_name: str, version: str, to: str | None
) -> None:
    """A finished day loaded as it was recorded (nothing after it): `collect --once` emits
    every row taskclf made, the day's last minute included (it was held back for ever)."""
    case = load_case(case_name)
    loaded.load_export(case.export())
    data, env = taskclf_home(tmp_path, case_name, version)
    until = () if to is None else ("--to", f"{next_day(case.date)}T00:00Z")
    proc = run_cli(
        "collect",
        "--once",
        "--from",
        f"{case.date}T00:00Z",
        *until,
        "--data-dir",
        str(data),
        "--aw-url",
        loaded.url,
        "--aw-hostname",
        HOSTNAME,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    got = rows(data / "spool")
    expected = case.expected(version)
    assert [r["bucket_start_ts"] for r in got[-1:]] == [expected[-1]["bucket_start_ts"]]
    assert row_differences(expected, got) == []
    if to is not None:
        return
    # what the collector found, and what doctor makes of a host without aw-watcher-input
    status = run_cli("collect", "--status", "--data-dir", str(data), env=env).stdout
    args = ("--data-dir", str(data), "--aw-url", loaded.url, "--aw-hostname", HOSTNAME)
    doctor = run_cli("doctor", *args, env=env).stdout
    collector = next(line for line in doctor.splitlines() if line[6:].startswith("collector "))
    if case_name == "no-input":
        assert "keyboard/mouse:  none: ActivityWatch has no aw-watcher-input bucket" in status
        assert collector.startswith("warn  collector ")
        assert "install aw-watcher-input" in collector
    else:
        assert f"keyboard/mouse:  aw-watcher-input_{HOSTNAME}" in status
        assert collector.startswith("ok    collector ")


def test_a_once_run_that_ends_before_the_cursor_says_so(loaded: AWServer, tmp_path: Path) -> None:
    case = load_case("workday")
    loaded.load_export(case.export())
    data, env = taskclf_home(tmp_path, "workday", "v3")
    aw = ("--data-dir", str(data), "--aw-url", loaded.url, "--aw-hostname", HOSTNAME)
    # no cursor yet: collecting starts today, and the fixture's day is long before it
    early = run_cli("collect", "--once", "--to", f"{case.date}T10:00Z", *aw, env=env)
    assert early.returncode == 0, early.stderr
    assert "where collecting starts (today: no cursor yet): for earlier minutes give --from" in (
        early.stderr
    )
    # a collector that emitted the day up to noon left its cursor there
    seed_cursor(data, f"{case.date}T12:00:00Z", case.user_id)
    again = run_cli("collect", "--once", "--to", f"{case.date}T10:00Z", *aw, env=env)
    assert again.returncode == 0, again.stderr
    assert (
        f"nothing to collect: --to {case.date}T10:00:00Z is not after {case.date}T12:00:00Z, "
        "where collecting starts (the cursor): the minutes before it were collected already"
    ) in again.stderr
    assert "(--once --from TIME --to TIME)" in again.stderr
    assert rows(data / "spool") == []


def test_live_collector_stops_on_sigterm_and_a_restart_re_emits_nothing(
    loaded: AWServer, tmp_path: Path
) -> None:
    case = load_case("workday")
    loaded.load_export(case.export(), watching=True)  # a live collector on a running desktop
    data, env = taskclf_home(tmp_path, "workday", "v1")
    expected = case.expected("v1")
    # the cursor starts at the fixture's day; the live run then walks up to today
    cursor = data / "collector" / "cursor.json"
    cursor.parent.mkdir(mode=0o700)
    cursor.write_text(
        json.dumps(
            {
                "next_bucket_start_ts": f"{case.date}T00:00:00Z",
                "user_id": case.user_id,
                "aw_hostname": HOSTNAME,
            }
        )
    )
    args = [
        sys.executable,
        "-m",
        "daemon",
        "collect",
        "--data-dir",
        str(data),
        "--aw-url",
        loaded.url,
        "--aw-hostname",
        HOSTNAME,
        "--collect-interval-seconds",
        "0.2",
    ]
    log = tmp_path / "collect.log"
    for run in range(2):
        with collector_process(args, log, env) as proc:
            wait_for(functools.partial(polled, data, proc.pid), timeout=60, what="a completed poll")
            if run == 0:
                assert row_differences(expected, rows(data / "spool")) == []
        status = run_cli("collect", "--status", "--data-dir", str(data), env=env)
        assert "not running" in status.stdout
    assert row_differences(expected, rows(data / "spool")) == [], log.read_text()[-3000:]
    assert len(list((data / "spool" / "new").iterdir())) == 1
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("collector_stopped") == 2
    assert not any(t in log.read_text() for t in ("git log --oneline", case.salt))


def test_activitywatch_to_the_daemon_to_the_label_log(
    loaded: AWServer, tmp_path: Path, bundle_dir: Path
) -> None:
    """The whole product: aw-server → collect → the real daemon → one record per minute."""
    case = load_case("workday")
    loaded.load_export(case.export())
    env = isolated_env(tmp_path / "home")
    with running_daemons(tmp_path / "d", bundle_dir, env) as daemons:
        daemon = daemons.new()
        write_identity(daemon.data_dir, salt=case.salt, user_id=case.user_id)
        daemon.start()
        proc = daemon.cli(
            "collect",
            "--once",
            "--from",
            f"{case.date}T00:00Z",
            "--to",
            f"{case.date}T23:59Z",
            "--aw-url",
            loaded.url,
            "--aw-hostname",
            HOSTNAME,
        )
        assert proc.returncode == 0, proc.stderr
        expected = case.expected("v1")
        records = daemon.wait_records(len(expected), timeout=60)
        assert [r["bucket_start_ts"] for r in records] == [r["bucket_start_ts"] for r in expected]
        assert {r["user_id"] for r in records} == {case.user_id}
        assert all(r["source"].endswith("_aw.jsonl") for r in records)
        assert daemon.status()["windows"]["refused"] == 0  # type: ignore[index]
        assert daemon.stop() == 0


def live_args(data: Path, url: str) -> list[str]:
    """A live collector of ``data`` polling ``url`` (collector_process runs it)."""
    return [sys.executable, "-m", "daemon", "collect", "--data-dir", str(data), "--aw-url", url,
            "--aw-hostname", HOSTNAME, "--collect-interval-seconds", "0.2",
            "--collect-settle-seconds", "600"]  # fmt: skip


def test_a_back_fill_runs_beside_the_live_collector(loaded: AWServer, tmp_path: Path) -> None:
    """`collect --once --from …` was refused while the live collector (the service) ran:
    it runs beside it, writes its windows, and leaves the live collector's cursor and status
    alone; a second live collector is still refused."""
    case = load_case("workday")
    loaded.load_export(case.export(), watching=True)
    data, env = taskclf_home(tmp_path, "workday", "v1")
    cursor = seed_cursor(data, f"{case.date}T00:00:00Z", case.user_id)
    log = tmp_path / "live.log"
    with collector_process(live_args(data, loaded.url), log, env) as live:
        wait_for(functools.partial(polled, data, live.pid), timeout=60, what="a completed poll")
        held = cursor.read_bytes()
        status = json.loads((data / "collector" / "status.json").read_text())
        # a back-fill from before the cursor to past it: had it owned the cursor, it would
        # have moved it to the end of the range
        backfill = run_cli("collect", "--once", "--from", f"{case.date}T10:00Z", "--to",
                           f"{case.date}T23:00Z", "--data-dir", str(data), "--aw-url",
                           loaded.url, "--aw-hostname", HOSTNAME, env=env)  # fmt: skip
        assert backfill.returncode == 0, backfill.stderr
        events = [json.loads(x) for x in backfill.stderr.splitlines() if x.startswith("{")]
        beside = next(e for e in events if e["event"] == "collector_beside")
        assert beside["holder_pid"] == str(live.pid)
        assert beside["holder_mode"] == "live"
        finished = next(e for e in events if e["event"] == "collector_finished")
        assert finished["windows"] > 0
        # the cursor is the live collector's: it may have polled on across a minute meanwhile
        # (it follows the clock, 600 s behind), but never back to the back-fill's range
        before, now = json.loads(held), json.loads(cursor.read_text())
        assert now["user_id"] == before["user_id"] == case.user_id
        # its last line says where it ended and where the (live collector's) cursor is
        assert finished["until"] == f"{case.date}T23:00:00Z"
        assert finished["cursor"] >= before["next_bucket_start_ts"]
        assert now["next_bucket_start_ts"] >= before["next_bucket_start_ts"]
        assert now["next_bucket_start_ts"] > f"{case.date}T23:00:00Z"
        after = json.loads((data / "collector" / "status.json").read_text())
        assert (after["pid"], after["state"], after["mode"]) == (live.pid, "running", "live")
        assert after["started_at"] == status["started_at"]
        # one live collector per data dir
        second = run_cli("collect", "--data-dir", str(data), "--aw-url", loaded.url,
                         "--aw-hostname", HOSTNAME, env=env)  # fmt: skip
        assert second.returncode == 1
        assert f"another collector (pid {live.pid}) is running" in second.stderr
        assert "a back-fill runs beside it: taskclf-daemon collect --once" in second.stderr
        assert live.poll() is None
    # the daemon keeps one record per minute: the back-fill's rows are the live ones again
    got = rows(data / "spool")
    expected = {r["bucket_start_ts"] for r in case.expected("v1")}
    assert {r["bucket_start_ts"] for r in got} >= expected


def test_a_live_collector_waits_for_a_one_off_run_that_holds_the_cursor(
    loaded: AWServer, tmp_path: Path
) -> None:
    """A live collector that starts while `collect --once` owns the cursor waits for it,
    instead of exiting 1 for the service manager to retry."""
    from daemon.collector.collector import collector_lock

    case = load_case("workday")
    loaded.load_export(case.export(), watching=True)
    data, env = taskclf_home(tmp_path, "workday", "v1")
    seed_cursor(data, f"{case.date}T00:00:00Z", case.user_id)
    log = tmp_path / "live.log"
    with contextlib.ExitStack() as once:
        assert once.enter_context(collector_lock(data / "collector", "once")) is None
        with collector_process(live_args(data, loaded.url), log, env) as live:
            wait_for(lambda: "collector_waiting" in log.read_text(), timeout=30,
                     what="the live collector waiting")  # fmt: skip
            assert not polled(data, live.pid)
            assert live.poll() is None
            once.close()  # the one-off run ends: the live collector takes the cursor
            wait_for(functools.partial(polled, data, live.pid), timeout=60, what="a completed poll")


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_retrain_rebuilds_a_past_day_as_the_collector_writes_it(
    loaded: AWServer, tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A labelled day older than the feature archive, rebuilt from ActivityWatch for retrain:
    the rows taskclf made of that day (the collector's rows), field for field."""
    from daemon.collector.rebuild import activitywatch_rebuilder
    from daemon.config.settings import load_settings

    case = load_case("workday")
    loaded.load_export(case.export())
    data, env = taskclf_home(tmp_path, "workday", version)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(
        None, {"data_dir": str(data), "aw_url": loaded.url, "aw_hostname": HOSTNAME}
    )
    rebuilt = activitywatch_rebuilder(settings)([date.fromisoformat(case.date)], version)
    assert row_differences(case.expected(version), list(rebuilt.windows)) == []
    assert rebuilt.lines == (
        f"{case.date}: older than the archive, {len(rebuilt.windows)} windows rebuilt from "
        f"ActivityWatch ({loaded.url}) for {case.user_id}",
    )
    # a server that is not there: a line, no windows, no error
    gone = load_settings(
        None, {"data_dir": str(data), "aw_url": "http://127.0.0.1:9", "aw_hostname": HOSTNAME}
    )
    nothing = activitywatch_rebuilder(gone)([date.fromisoformat(case.date)] * 2, version)
    assert nothing.windows == ()
    assert nothing.lines[0].startswith(f"{case.date}: not rebuilt from ActivityWatch (")
    assert nothing.lines[1] == "  nor the 1 days after it"
