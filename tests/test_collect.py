"""`taskclf-daemon collect`: export back-fill parity, identity, cursor, refusals, the poll loop."""

from __future__ import annotations

import errno
import json
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from aw_fixtures import HOSTNAME, active_minutes, aw_day, load_case, row_differences
from collector_kit import (
    FakeClock,
    GrowingDay,
    TickingClock,
    aw_args,
    export_args,
    live_collector,
    make_home,
    run,
    seed_cursor,
    spool_rows,
    spool_rows_in,
)
from daemon_harness import isolated_env, wait_for

from daemon.collector.client import AWClient, check_loopback_url
from daemon.collector.cursor import read_cursor
from daemon.collector.health import check_aw_reachable
from daemon.collector.status import read_collector_status
from daemon.config.settings import load_settings
from taskclf_core.activity import (
    AfkEvent,
    RowSpec,
    WindowEvent,
    build_day,
    parse_timestamp_us,
    parse_window_events,
)
from taskclf_core.errors import ConfigError, UnreachableError
from taskclf_core.timespan import parse_time_span

DAY = "2026-03-02"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("case_name", "version"), [("workday", "v1"), ("workday", "v3"), ("no-input", "v1")]
)
def test_export_backfill_equals_taskclf(tmp_path: Path, case_name: str, version: str) -> None:
    case = load_case(case_name)
    data = make_home(tmp_path, version=version, salt=case.salt, user_id=case.user_id)
    code, _, err = run(*export_args(case, data))
    assert code == 0, err
    assert row_differences(case.expected(version), spool_rows(data)) == []
    # raw titles never leave memory: not in the spool, the cursor, the status or the log
    titles = {
        e["data"]["title"]
        for b in case.export()["buckets"].values()
        for e in b["events"]
        if "title" in e.get("data", {}) and len(e["data"]["title"]) > 8
    }
    written = err + "".join(p.read_text() for p in data.rglob("*") if p.is_file())
    assert titles
    assert not [t for t in titles if t in written]
    assert case.salt not in err


# what the collector, which runs all day beside the daemon, must not carry: the model's stack
# (LightGBM, numpy, scikit-learn), the settings' (pydantic) and structlog's (asyncio, ssl)
HEAVY = (
    "lightgbm",
    "numpy",
    "sklearn",
    "scipy",
    "pandas",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "structlog",
    "asyncio",
    "ssl",
)
PROBE = f"""
import io, sys
from contextlib import redirect_stderr, redirect_stdout
from daemon.cli import main
err = io.StringIO()
with redirect_stdout(io.StringIO()), redirect_stderr(err):
    code = main(sys.argv[1:])
print(code, sorted(m for m in {HEAVY!r} if m in sys.modules), repr(err.getvalue()[-300:]))
"""


def test_the_collect_process_never_imports_the_model_stack(tmp_path: Path) -> None:
    """A day's back-fill (schema v3: the title sketches), a poll of ActivityWatch that writes
    the labels into it, and `collect --status`, each in a fresh process: no LightGBM, numpy,
    scikit-learn, pydantic or structlog (the collector's memory: bench/collector.py). With an
    afk bucket and a record that stands for more than its minute: the time each window stands
    for is worked out on the same imports."""
    from fake_aw import fake_aw

    case = load_case("workday")
    data = make_home(tmp_path, version="v3", salt=case.salt, user_id=case.user_id)
    (data / "labels").mkdir()
    (data / "labels" / f"{DAY}.jsonl").write_text(
        json.dumps(
            {
                "user_id": case.user_id,
                "bucket_start_ts": f"{DAY}T09:00:00Z",
                "bucket_end_ts": f"{DAY}T09:01:00Z",
                "label": "Build",
                "confidence": 0.9,
                "model_bundle_id": "m",
                "span_start_ts": f"{DAY}T09:00:10Z",
                "span_end_ts": f"{DAY}T09:20:00Z",
                "span_away": [[f"{DAY}T09:05:00Z", f"{DAY}T09:08:00Z"]],
            }
        )
        + "\n"
    )
    afk = aw_day(DAY)["buckets"][f"aw-watcher-afk_{HOSTNAME}"]
    buckets = {**case.export()["buckets"], afk["id"]: afk}
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"buckets": buckets}))
    env = isolated_env(tmp_path / "home")
    with fake_aw(buckets) as server:
        runs = [
            (
                "collect",
                "--export",
                str(export),
                "--data-dir",
                str(data),
                "--aw-hostname",
                HOSTNAME,
            ),
            (
                *aw_args(data, server.url, "--once", "--from", DAY, "--to", f"{DAY}T23:59"),
                "--aw-write-labels",
                "true",
            ),
            ("collect", "--status", "--data-dir", str(data)),
        ]
        for argv in runs:
            done = subprocess.run(
                [sys.executable, "-c", PROBE, *argv],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=env,
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("0 [] "), (argv, done.stdout)
        assert any(w.startswith("POST") for w in server.writes)  # the labels were written
        assert any(f"aw-watcher-afk_{HOSTNAME}" in r for r in server.requests)
    assert any(r["span_away"] for r in spool_rows(data))


@pytest.mark.parametrize("how", ["flag", "variable"])
@pytest.mark.parametrize("fmt", ["json", "console"])
def test_log_format_is_honoured(tmp_path: Path, fmt: str, how: str) -> None:
    """`collect --log-format` and TASKCLF_LOG_FORMAT as for `run`: JSON for journald and
    programs, the console lines for a person tailing a file, whatever the terminal says
    (stderr is a pipe here; test_logs.py: the same lines as `run`)."""
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    env = isolated_env(tmp_path / "home")
    given = ["--log-format", fmt] if how == "flag" else []
    if how == "variable":
        env["TASKCLF_LOG_FORMAT"] = fmt
    done = subprocess.run(
        [sys.executable, "-m", "daemon", *export_args(case, data), *given],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "collector_finished" in line]
    assert len(lines) == 1, done.stderr
    if fmt == "json":
        assert json.loads(lines[0])["event"] == "collector_finished"
    else:
        assert not lines[0].startswith("{")


def test_files_are_private_and_named_by_time(tmp_path: Path) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    seed_cursor(data, "2026-03-03T00:00:00Z", case.user_id)  # replaced: it moves to the end
    assert run(*export_args(case, data))[0] == 0
    new = data / "spool" / "new"
    names = [p.name for p in new.iterdir()]
    assert names == ["20260303T090000Z_20260303T112400Z_aw.jsonl"]
    collector = data / "collector"
    for path in [new / names[0], collector / "cursor.json", collector / "status.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "collector").stat().st_mode) == 0o700
    assert not list((data / "spool" / "tmp").iterdir())


def test_a_second_run_re_emits_nothing_and_from_to_select_minutes(tmp_path: Path) -> None:
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    seed_cursor(data, f"{DAY}T10:00:00Z", case.user_id)
    base = export_args(case, data)
    assert run(*base, "--from", f"{DAY}T10:00Z", "--to", f"{DAY}T11:00Z")[0] == 0
    first = spool_rows(data)
    expected = case.expected("v1")
    window = [r for r in expected if f"{DAY}T10:00" <= r["bucket_start_ts"] < f"{DAY}T11:00"]
    # rows in the middle of a day carry the day's state: equal to the whole-day batch rows
    assert row_differences(window, first) == []
    cursor = read_cursor(data / "collector" / "cursor.json")
    assert cursor is not None
    assert cursor.next_us == parse_timestamp_us(f"{DAY}T11:00:00Z", "c")
    # the cursor moves forward only: an export back-fill from the cursor emits the rest once
    assert run(*base, "--from", f"{DAY}T11:00Z")[0] == 0
    assert (
        row_differences(
            expected[len([r for r in expected if r["bucket_start_ts"] < f"{DAY}T10:00"]) :],
            spool_rows(data),
        )
        == []
    )


def test_from_and_to_are_local_times_as_label_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`collect --from` refused `yesterday 08:00` and read a naive time as UTC, where `label
    add` read it as local: one parser now (docs/times.md). Berlin is UTC+1 on 2 March."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    base = export_args(case, data)
    assert run(*base, "--from", f"{DAY}T11:00", "--to", f"{DAY} 12:00")[0] == 0
    hours = {r["bucket_start_ts"][11:13] for r in spool_rows(data)}
    assert hours == {"10"}  # 11:00-12:00 in Berlin


@pytest.mark.slow
def test_collect_takes_yesterday_from_outside(tmp_path: Path) -> None:
    from helpers import faketime_env

    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    env = {
        **isolated_env(tmp_path / "home"),
        "TZ": "Europe/Berlin",
        **faketime_env("@2026-03-03 12:00:00"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "daemon", *export_args(case, data), "--from", "yesterday 11:00",
         "--to", "yesterday 11:30"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    starts = sorted(r["bucket_start_ts"] for r in spool_rows(data))
    assert starts
    assert starts[0] >= f"{DAY}T10:00:00Z"
    assert starts[-1] < f"{DAY}T10:30:00Z"


@pytest.mark.parametrize(
    ("first", "end"),
    [
        (f"{DAY}T12:00", f"{DAY}T11:00"),
        (f"{DAY}T12:00", f"{DAY}T12:00"),  # an empty range
        (f"{DAY}T12:00+01:00", f"{DAY}T11:00Z"),  # the same instant
        (DAY, "2026-03-01"),
    ],
)
@pytest.mark.parametrize("source", ["activitywatch", "export"])
def test_a_range_that_ends_before_it_starts_is_refused(
    tmp_path: Path, first: str, end: str, source: str
) -> None:
    """`--to` at or before `--from` exited 0 without a word; it is exit 2, one line naming
    both flags, before anything is read (ActivityWatch is down here: that would be exit 1)."""
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    reader = (
        ("--once", "--aw-url", f"http://127.0.0.1:{free_port()}")
        if source == "activitywatch"
        else ("--export", str(case.export_path))
    )
    code, out, err = run("collect", "--data-dir", str(data), *reader, "--from", first, "--to", end)
    assert code == 2, err
    assert out == ""
    [line] = err.strip().splitlines()
    assert "--from" in line
    assert "--to" in line
    assert first in line
    assert end in line
    assert not (data / "spool").exists()
    assert not (data / "collector").exists()


def test_missing_salt_exits_2_naming_the_path(tmp_path: Path) -> None:
    data = make_home(tmp_path, salt=None, user_id="u1")
    code, _, err = run("collect", "--once", "--data-dir", str(data))
    assert code == 2
    assert str(data / "data" / "processed" / ".title_secret") in err
    other = tmp_path / "elsewhere" / "salt"
    code, _, err = run(
        "collect", "--once", "--data-dir", str(data), "--title-salt-file", str(other)
    )
    assert code == 2
    assert str(other) in err


def test_user_id_from_setting_else_taskclfs_file(tmp_path: Path) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=None)
    base = export_args(case, data)
    code, _, err = run(*base)
    assert code == 2
    assert ".user_id" in err
    assert "collect_user_id" in err
    assert run(*base, "--collect-user-id", "alice")[0] == 0
    assert {r["user_id"] for r in spool_rows(data)} == {"alice"}


def test_the_model_decides_the_schema_and_a_missing_model_is_named(tmp_path: Path) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, version="v2", salt=case.salt, user_id=case.user_id)
    args = export_args(case, data)
    assert run(*args)[0] == 0
    rows = spool_rows(data)
    assert {r["schema_version"] for r in rows} == {"v2"}
    assert {r["user_id"] for r in rows} == {case.user_id}
    (data / "model" / "metadata.json").unlink()
    code, _, err = run(*args)
    assert code == 2
    assert "metadata.json" in err


def test_only_loopback_urls(tmp_path: Path) -> None:
    for url in ("http://127.0.0.1:5600", "http://localhost:5600/", "http://[::1]:5600"):
        assert check_loopback_url(url) == url.rstrip("/")
    for url in (
        "http://192.168.1.2:5600",
        "http://example.com:5600",
        "ftp://127.0.0.1",
        "http://user:pw@127.0.0.1:5600",
        "http://127.0.0.1.evil.com",
    ):
        with pytest.raises(ConfigError, match="aw_url"):
            check_loopback_url(url)
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    code, _, err = run(
        "collect", "--once", "--data-dir", str(data), "--aw-url", "http://10.0.0.1:5600"
    )
    assert code == 2
    assert "not a loopback address" in err


def test_activitywatch_down_exits_1_with_once_and_says_so(tmp_path: Path) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run("collect", "--once", "--data-dir", str(data), "--aw-url", url)
    assert code == 1
    assert "not reachable" in err
    assert url in err
    status = read_collector_status(load_settings(None, {"data_dir": data}).data_dir)
    assert status is not None
    assert "not reachable" in status["last_error"]
    assert status["running"] is False
    ok, message, _ = check_aw_reachable(load_settings(None, {"data_dir": data, "aw_url": url}))
    assert not ok
    assert "not reachable" in message
    code, out, _ = run("collect", "--status", "--data-dir", str(data))
    assert code == 0
    assert "last error" in out


def test_status_when_never_run(tmp_path: Path) -> None:
    code, out, _ = run("collect", "--status", "--data-dir", str(tmp_path))
    assert code == 0
    assert "never ran" in out


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = load_settings(None, {"data_dir": tmp_path})
    assert s.aw_url == "http://127.0.0.1:5600"
    assert s.aw_hostname == socket.gethostname()
    assert s.collect_interval_seconds == 30
    assert s.collect_settle_seconds == 60
    assert s.title_salt_path == tmp_path / "data" / "processed" / ".title_secret"
    monkeypatch.setenv("TASKCLF_COLLECT_SETTLE_SECONDS", "5")
    monkeypatch.setenv("TASKCLF_AW_HOSTNAME", "laptop")
    s = load_settings(None, {"data_dir": tmp_path})
    assert (s.collect_settle_seconds, s.aw_hostname) == (5, "laptop")
    with pytest.raises(ConfigError, match="collect_user_id"):
        load_settings(None, {"collect_user_id": "../x"})


def test_client_timeout_is_an_unreachable_error() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # accepts the connection, never answers
        client = AWClient(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.3)
        with pytest.raises(UnreachableError, match=r"did not answer within 0\.3 s"):
            client.info()


# --- the poll loop, on a clock and a growing day -------------------------------------------


def workday_events() -> list[WindowEvent]:
    case = load_case("workday")
    bucket = case.export()["buckets"]["aw-watcher-window_fixturehost"]
    return parse_window_events(
        bucket["events"], bucket_id="w", salt=case.salt, sketches=False
    ).events


def test_polling_through_a_day_emits_each_minute_once_equal_to_the_batch(tmp_path: Path) -> None:
    events = workday_events()
    day = parse_timestamp_us(f"{DAY}T00:00:00Z", "d")
    source = GrowingDay(events)
    spec = RowSpec("u1", "v1")
    collector = live_collector(tmp_path, source, spec, position=day, settle_us=60_000_000)
    start = events[0].start_us - 120_000_000
    for k in range(8 * 60 * 2 + 10):  # every 30 s for 8 hours
        source.now_us = start + k * 30_000_000
        collector.step()
    assert spool_rows_in(tmp_path / "spool") == build_day(day, events, [], spec=spec)
    # after the first load each poll asks only for what can still change
    assert all(end - begin <= 25 * 3600 * 1_000_000 for begin, end in source.seen[2:])


class Pacer(threading.Event):
    """The stop event the loop waits on, as a clock: each wait is recorded and returns at
    once; after ``polls`` waits the event is set (the loop's stop)."""

    def __init__(self, polls: int) -> None:
        super().__init__()
        self.polls = polls
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        if len(self.waits) >= self.polls:
            self.set()
        return self.is_set()


@pytest.mark.parametrize("failure", ["down", "no bucket"])
def test_run_retries_with_backoff_and_stops_on_the_event(tmp_path: Path, failure: str) -> None:
    source = GrowingDay(workday_events(), down=True, failure=failure)
    collector = live_collector(
        tmp_path,
        source,
        RowSpec("u1", "v1"),
        position=parse_timestamp_us(f"{DAY}T00:00:00Z", "d"),
        settle_us=0,
        clock=FakeClock(),
    )
    stop = Pacer(polls=12)
    collector.run(stop, 0.05)
    # one try per wait; the wait doubles from the interval, 2**10 times it at most
    assert source.calls == 12
    assert stop.waits == [0.05 * 2**n for n in range(10)] + [51.2, 51.2]
    status = json.loads((tmp_path / "c/status.json").read_text())
    assert ("not reachable" if failure == "down" else "no 'currentwindow'") in status["last_error"]
    # up again: the next poll succeeds and the wait is the interval again
    source.down = False
    source.now_us = parse_timestamp_us(f"{DAY}T09:00:00Z", "n")
    stop = Pacer(polls=2)
    collector.run(stop, 0.05)
    assert stop.waits == [0.05, 0.05]


def test_status_reader_ignores_a_dead_pid(tmp_path: Path) -> None:
    settings = load_settings(None, {"data_dir": tmp_path})
    (tmp_path / "collector").mkdir()
    (tmp_path / "collector" / "status.json").write_text(
        json.dumps({"state": "running", "pid": 2**22 + 12345})
    )
    doc = read_collector_status(settings.data_dir)
    assert doc is not None
    assert doc["running"] is False


def test_a_back_fill_beside_a_running_collector_leaves_its_cursor_and_status(
    tmp_path: Path,
) -> None:
    """An export back-fill while another collector holds the lock (the live one, the
    service): its windows are written, the cursor and the status file are the other's."""
    from daemon.collector.collector import collector_lock

    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    cursor = seed_cursor(data, f"{case.date}T00:00:00Z", case.user_id)
    held = cursor.read_bytes()
    with collector_lock(data / "collector", "live") as holder:
        assert holder is None
        code, _, err = run(*export_args(case, data))
    assert code == 0, err
    assert row_differences(case.expected("v1"), spool_rows(data)) == []
    assert cursor.read_bytes() == held
    assert not (data / "collector" / "status.json").exists()
    # alone, the same run owns the cursor and moves it over what it emitted
    assert run(*export_args(case, data))[0] == 0
    assert cursor.read_bytes() != held
    assert (data / "collector" / "status.json").exists()


def test_a_second_live_collector_is_refused_naming_the_back_fill(tmp_path: Path) -> None:
    from daemon.collector.collector import collector_lock

    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with collector_lock(data / "collector", "live") as holder:
        assert holder is None
        code, _, err = run("collect", "--data-dir", str(data), "--aw-url",
                           f"http://127.0.0.1:{free_port()}")  # fmt: skip
    assert code == 1
    assert "another collector (pid " in err
    assert "one live collector per data dir" in err
    assert not (data / "spool" / "new").exists()


def test_doctor_checks_the_collector_only_for_its_users(tmp_path: Path) -> None:
    from daemon.commands.doctor import diagnose

    def names(overrides: dict[str, Any]) -> dict[str, str]:
        checks = diagnose(None, overrides, probe=lambda argv: (1, ""))
        return {c.name: c.state for c in checks if c.name.startswith("collector")}

    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=None)
    assert names({"data_dir": str(data)}) == {}  # no collector here: no ActivityWatch needed
    url = f"http://127.0.0.1:{free_port()}"
    got = names({"data_dir": str(data), "aw_url": url})
    assert got == {"collector": "FAIL", "collector identity": "FAIL"}  # down; no user id
    (data / "data" / "processed" / ".user_id").write_text(case.user_id)
    assert names({"data_dir": str(data), "aw_url": url})["collector identity"] == "ok"


def test_a_spool_write_that_fails_is_retried_and_nothing_is_lost_or_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under the spool: the collector waits it out; the cursor never ran ahead."""
    from daemon.collector.emit import WindowFile

    events = workday_events()
    day = parse_timestamp_us(f"{DAY}T00:00:00Z", "d")
    source = GrowingDay(events, now_us=events[-1].end_us + 3_600_000_000)
    spec = RowSpec("u1", "v1")
    real = WindowFile.commit
    failures = {"left": 3}

    def full_disk(self: WindowFile) -> str | None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device", str(self.spool / "tmp"))
        return real(self)

    monkeypatch.setattr(WindowFile, "commit", full_disk)
    # the last event ended an hour ago: ActivityWatch's clock moves on with real time
    clock = TickingClock(source.now_us)
    collector = live_collector(tmp_path, source, spec, position=day, settle_us=0, clock=clock)
    stop = threading.Event()
    worker = threading.Thread(target=collector.run, args=(stop, 0.01))
    worker.start()
    try:
        wait_for(lambda: failures["left"] == 0, 10, "three failed writes")
        status = json.loads((tmp_path / "c/status.json").read_text())
        assert "No space left on device" in status["last_error"]
        wait_for(
            lambda: (
                (tmp_path / "spool" / "new").is_dir()
                and spool_rows_in(tmp_path / "spool") == build_day(day, events, [], spec=spec)
            ),
            10,
            "every minute written once after the disk was freed",
        )
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_a_spool_file_written_a_few_rows_at_a_time_is_the_same_file(tmp_path: Path) -> None:
    """The collector writes a day's rows an hour at a time (its memory): the file is the one a
    single write makes, and a failure half way leaves nothing in tmp/ or new/."""
    from daemon.collector.emit import WindowFile, write_windows

    rows = build_day(
        parse_timestamp_us(f"{DAY}T00:00:00Z", "d"), workday_events(), [], spec=RowSpec("u1", "v1")
    )
    whole = write_windows(tmp_path / "one", rows)
    with WindowFile(tmp_path / "many") as out:
        for i in range(0, len(rows), 7):
            out.write(rows[i : i + 7])
        assert out.commit() == whole
    assert (tmp_path / "many/new" / whole).read_bytes() == (
        tmp_path / "one/new" / whole
    ).read_bytes()
    assert not list((tmp_path / "many/tmp").iterdir())

    def half_way() -> None:
        with WindowFile(tmp_path / "broken") as out:
            out.write(rows[:10])
            raise RuntimeError("the build failed half way")

    with pytest.raises(RuntimeError):
        half_way()
    assert not list((tmp_path / "broken/tmp").iterdir())
    assert not list((tmp_path / "broken/new").iterdir())


# --- the time each row stands for, and the afk bucket -------------------------------------


def test_an_export_with_an_afk_bucket_gives_rows_standing_for_their_events_without_afk(
    tmp_path: Path,
) -> None:
    """`collect --export` reads the host's aw-watcher-afk bucket too: the rows' spans tile the
    window events, and the time it marks afk is each span's away parts."""
    export = aw_day(DAY, seed=3)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    data = make_home(tmp_path, salt="s", user_id="u1")
    code, _, err = run(
        "collect", "--export", str(path), "--data-dir", str(data), "--aw-hostname", HOSTNAME
    )
    assert code == 0, err
    rows = spool_rows(data)
    lo = parse_timestamp_us(f"{DAY}T00:00:00Z", "d") / 1e6
    seconds = 0.0
    for r in rows:
        span = parse_time_span(
            r,
            parse_timestamp_us(r["bucket_start_ts"], "b"),
            parse_timestamp_us(r["bucket_end_ts"], "e"),
        )
        assert span is not None
        seconds += span.active_us / 1e6
    assert seconds / 60 == pytest.approx(active_minutes(export, lo=lo, hi=lo + 86400), abs=1e-6)
    assert any(r["span_away"] for r in rows)
    # without the afk bucket: the same rows, only the moments no event covers are away
    del export["buckets"][f"aw-watcher-afk_{HOSTNAME}"]
    path.write_text(json.dumps(export))
    other = make_home(tmp_path / "b", salt="s", user_id="u1")
    assert (
        run("collect", "--export", str(path), "--data-dir", str(other), "--aw-hostname", HOSTNAME)[
            0
        ]
        == 0
    )
    plain = spool_rows(other)
    assert [r["bucket_start_ts"] for r in plain] == [r["bucket_start_ts"] for r in rows]
    assert sum(len(r["span_away"]) for r in plain) < sum(len(r["span_away"]) for r in rows)


def test_a_live_collector_waits_for_aw_watcher_afk_before_it_writes_a_minute(
    tmp_path: Path,
) -> None:
    """aw-watcher-afk says a stretch was away only after its timeout (3 minutes), dated back:
    a minute whose events ended in that stretch waits for it, so the live rows equal the
    export's (and a bucket with no afk data at all holds nothing for longer than AFK_WAIT)."""
    events = workday_events()
    day = parse_timestamp_us(f"{DAY}T00:00:00Z", "d")
    first = events[0].start_us
    away = [
        (first + 20 * 60_000_000, first + 45 * 60_000_000),
        (first + 90 * 60_000_000, first + 92 * 60_000_000),
    ]
    source = GrowingDay(events, away=away)
    spec = RowSpec("u1", "v1")
    collector = live_collector(tmp_path, source, spec, position=day, settle_us=60_000_000)
    start = first - 120_000_000
    for k in range(3 * 60 * 2):  # every 30 s for 3 hours
        source.now_us = start + k * 30_000_000
        collector.step()
    rows = spool_rows_in(tmp_path / "spool")
    afk = [AfkEvent(a, (b - a) / 1e6, b, True) for a, b in away]
    expected = build_day(day, events, [], spec=spec, afk_events=afk)
    assert rows == expected[: len(rows)]
    assert len(rows) > 60
    assert any(r["span_away"] for r in rows)


def test_a_range_that_ends_before_collecting_starts_says_so(tmp_path: Path) -> None:
    case = load_case("workday")
    data = make_home(tmp_path, version="v3", salt=case.salt, user_id=case.user_id)
    code, _, err = run(*export_args(case, data), "--to", "2001-01-01T00:00:00")
    assert code == 0, err
    assert "nothing to collect: --to 2001-01-01T00:00:00" in err
    assert "where collecting starts (the export's first day)" in err
    assert "the export has no events before it" in err
    assert not (data / "spool" / "new").exists() or spool_rows(data) == []
