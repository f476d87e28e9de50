"""The daemon as a real process: spool in, label log out, lifecycle, status, config, privacy."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons
from helpers import MakeStore, window_stream

from daemon.lock import running_pid
from daemon.runtime.status import evaluate
from taskclf_core.labels import CORE_LABELS
from taskclf_core.synthetic import generate_windows

RECORD_FIELDS = {
    "user_id",
    "bucket_start_ts",
    "bucket_end_ts",
    "core_label",
    "core_probs",
    "confidence",
    "is_rejected",
    "label",
    "smoothed_label",
    "mapped_label",
    "calibrator",
    "reject_threshold",
    "model_bundle_id",
    "model_schema_hash",
    "store_id",
    "source",
    "processed_at",
    "model_probs",
}
STATUS_KEYS: dict[str, set[str] | None] = {
    "running": None,
    "healthy": None,
    "pid": None,
    "started_at": None,
    "heartbeat_at": None,
    "spool": {"new", "cur", "rejected"},
    "windows": {"labelled", "refused", "duplicates"},
    "last_window": {"user_id", "bucket_start_ts", "label", "at"},
    "model": {"bundle_id", "schema_hash"},
    "store": {"path", "id", "method", "user_count", "loaded_at", "last_error"},
    "label_log": None,
    "latency_ms": {"p50", "p99"},
}


@pytest.fixture(scope="module")
def stream(training_windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unlabelled windows, each user's in time order."""
    return window_stream(training_windows)


def keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["user_id"], r["bucket_start_ts"]) for r in records]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- the basic flow -----------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_dropped_files_are_labelled_and_a_stop_signal_exits_0(
    daemons: Daemons, stream: list[dict[str, Any]], bundle_dir: Path, stop_signal: int
) -> None:
    d = daemons.new()
    d.start()
    singles = d.drop_windows(stream[:3], prefix="a")
    d.drop("b-list.json", stream[3:5])
    d.drop("c-lines.jsonl", "".join(json.dumps(w) + "\n" for w in stream[5:7]))
    # producers' partial files are never touched
    for ignored in (".hidden.json", "d.json.tmp", "e.json.part"):
        d.drop(ignored, stream[7])

    records = d.wait_labelled(stream[:7])
    assert len(records) == 7
    assert sorted(keys(records)) == sorted((w["user_id"], w["bucket_start_ts"]) for w in stream[:7])
    by_key = {(r["user_id"], r["bucket_start_ts"]): r for r in records}
    assert [by_key[(w["user_id"], w["bucket_start_ts"])]["source"] for w in stream[:7]] == [
        *singles,
        "b-list.json",
        "b-list.json",
        "c-lines.jsonl",
        "c-lines.jsonl",
    ]
    for record in records:
        assert set(record) == RECORD_FIELDS, record
        assert record["model_bundle_id"] == bundle_dir.name
        assert record["store_id"] is None
        assert record["calibrator"] == "identity"
        assert list(record["core_probs"]) == list(CORE_LABELS)
        assert abs(sum(record["core_probs"].values()) - 1.0) < 1e-5
        assert abs(record["confidence"] - max(record["core_probs"].values())) < 1e-6
        assert record["label"] in (*CORE_LABELS, "Mixed/Unknown")
        assert record["mapped_label"] == record["smoothed_label"]
    assert sorted(p.name for p in d.labels_dir.glob("*.jsonl")) == ["2026-01-05.jsonl"]

    d.wait_for(lambda: len(d.files("done")) == 5, 10, "5 files in done/")
    assert d.files("cur") == []
    assert d.files("new") == sorted([".hidden.json", "d.json.tmp", "e.json.part"])

    rc = d.signal_and_wait(stop_signal, 20)
    assert rc == 0, d.stderr_tail()
    status = d.status()
    assert status is not None
    assert status["running"] is False
    assert status["windows"]["labelled"] == 7
    assert d.log_events("daemon_stopped"), d.stderr_tail()


def test_lone_window_is_labelled_at_once_without_waiting_for_a_rescan(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    # rescan and heartbeat far away: only a file event can wake the loop in time
    d = daemons.new(rescan_interval_seconds=60.0, heartbeat_seconds=60.0)
    d.start()
    for i, window in enumerate(stream[:5]):
        dropped = time.monotonic()
        d.drop(f"lone-{i}.json", window)
        d.wait_records(i + 1, timeout=5)
        assert time.monotonic() - dropped < 1.0, "a lone window took a second or more"
    status = d.wait_status(lambda s: s["windows"]["labelled"] == 5, 5, "status to count 5 windows")
    assert status["latency_ms"]["p50"] is not None
    assert status["latency_ms"]["p50"] < 500
    d.stop()


def test_run_once_drains_the_backlog_and_exits_0(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new()
    d.drop_windows(stream[:300])
    d.drop("zz-bad.json", b"{not json")
    # a file left in cur/ by a previous run is re-queued too
    (d.spool / "cur").mkdir(mode=0o700)
    (d.spool / "cur" / "left-over.json").write_text(json.dumps(stream[300]))

    result = d.cli("run", "--once", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]

    records = d.records()
    assert sorted(keys(records)) == sorted(
        (w["user_id"], w["bucket_start_ts"]) for w in stream[:301]
    )
    assert d.files("new") == []
    assert d.files("cur") == []
    assert len(d.files("done")) == 301
    assert d.files("rejected") == ["zz-bad.json", "zz-bad.json.error.json"]
    status = d.status()
    assert status is not None
    assert status["running"] is False
    assert status["windows"] == {"labelled": 301, "refused": 1, "duplicates": 0}

    # nothing left to do: a second --once exits at once and logs nothing new
    again = d.cli("run", "--once", timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(d.records()) == 301


# --- status ---------------------------------------------------------------------------------


def status_json(d: DaemonProcess) -> tuple[int, dict[str, Any]]:
    result = d.cli("status", "--json")
    return result.returncode, json.loads(result.stdout)


@pytest.mark.slow
def test_status_in_each_state(daemons: Daemons, stream: list[dict[str, Any]]) -> None:
    # a heartbeat is stale after 3 intervals + 2 s: at 0.3 s (2.9 s) a daemon starved on a
    # loaded 2-core machine running the suite on two workers looked hung while it was not
    d = daemons.new(heartbeat_seconds=1.0)

    code, doc = status_json(d)
    assert code == 3
    assert doc["running"] is False
    human = d.cli("status")
    assert human.returncode == 3
    assert "not running" in human.stdout

    d.start()
    d.drop_windows(stream[:2])
    d.wait_status(lambda s: s["windows"]["labelled"] == 2, 10, "2 windows in status")
    code, doc = status_json(d)
    assert code == 0, doc["problems"]
    for key, sub in STATUS_KEYS.items():
        assert key in doc, f"status --json lacks {key!r}"
        if sub is not None:
            assert isinstance(doc[key], dict), (key, doc[key])
            assert sub <= set(doc[key]), f"status --json {key} lacks {sub - set(doc[key])}"
    assert doc["running"] is True
    assert doc["healthy"] is True
    assert doc["pid"] == d.pid
    assert doc["windows"] == {"labelled": 2, "refused": 0, "duplicates": 0}
    assert doc["last_window"]["user_id"] == stream[1]["user_id"]
    assert doc["last_window"]["bucket_start_ts"] == stream[1]["bucket_start_ts"]
    assert doc["spool"] == {**doc["spool"], "new": 0, "cur": 0, "rejected": 0}
    assert doc["label_log"] == str(d.labels_dir)
    human = d.cli("status")
    assert human.returncode == 0
    assert "running (healthy)" in human.stdout
    assert "2 labelled" in human.stdout

    # a hung daemon: the heartbeat goes stale and status says so
    os.kill(d.pid, signal.SIGSTOP)
    try:
        # wait with the status module in-process (the CLI takes a second to start), then ask it
        d.wait_for(lambda: evaluate(d.status(), d.pid)[0] == 1, 30, "the heartbeat to go stale")
        code, doc = status_json(d)
        assert code == 1, doc
        assert doc["healthy"] is False
        assert any("stale" in p for p in doc["problems"]), doc["problems"]
    finally:
        os.kill(d.pid, signal.SIGCONT)
    d.wait_for(lambda: evaluate(d.status(), d.pid)[0] == 0, 10, "a fresh heartbeat")
    assert status_json(d)[0] == 0

    d.stop()
    code, doc = status_json(d)
    assert code == 3
    assert doc["running"] is False


# --- one instance, stale lock, torn line ----------------------------------------------------


def test_second_instance_is_refused(daemons: Daemons, stream: list[dict[str, Any]]) -> None:
    d = daemons.new()
    d.start()
    for extra in ((), ("--once",)):
        second = d.cli("run", *extra, timeout=30)
        assert second.returncode not in (0, None), second
        assert "already running" in second.stderr, second.stderr
        assert str(d.pid) in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    # the first one is untouched and still working
    assert d.alive()
    d.drop_windows(stream[:1])
    d.wait_labelled(stream[:1])
    status = d.status()
    assert status is not None
    assert status["pid"] == d.pid
    d.stop()


def test_stale_lock_after_sigkill_is_recovered(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new()
    d.start()
    d.drop_windows(stream[:3])
    d.wait_labelled(stream[:3])
    d.kill()
    assert d.lock_path.exists()
    assert d.labels_lock_path.exists()
    assert d.cli("status").returncode == 3  # the lock file is there but nobody holds it
    assert d.cli("reload").returncode == 3

    d.start()
    d.drop_windows(stream[3:6])
    records = d.wait_labelled(stream[:6])
    assert len(records) == 6
    d.stop()


def test_torn_last_line_is_repaired_and_the_window_labelled_once(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new()
    d.start()
    d.drop_windows(stream[:5])
    d.wait_labelled(stream[:5])
    d.stop()

    # a crash mid-append: half of window 5's record, no newline; its file still in cur/
    day_file = d.labels_dir / "2026-01-05.jsonl"
    good = day_file.read_bytes()
    record = json.loads(good.splitlines()[-1])
    record.update(
        bucket_start_ts=stream[5]["bucket_start_ts"], bucket_end_ts=stream[5]["bucket_end_ts"]
    )
    line = json.dumps(record, separators=(",", ":")).encode()
    with open(day_file, "ab") as fh:
        fh.write(line[: len(line) // 2])
    (d.spool / "cur" / "torn.json").write_text(json.dumps(stream[5]))

    d.start()
    d.wait_labelled(stream[:6])
    d.drop_windows(stream[6:7])
    d.wait_labelled(stream[:7])
    d.stop()

    data = day_file.read_bytes()
    assert data.startswith(good)
    assert data.endswith(b"\n")
    lines = data.splitlines()
    parsed = [json.loads(x) for x in lines]  # nothing glued onto a torn fragment
    assert keys(parsed) == [(w["user_id"], w["bucket_start_ts"]) for w in stream[:7]]
    assert parsed[5]["source"] == "torn.json"
    assert d.log_events("label_log_repaired"), d.stderr_tail()


# --- privacy ----------------------------------------------------------------------------------


def test_files_are_0600_and_dirs_0700(daemons: Daemons, stream: list[dict[str, Any]]) -> None:
    d = daemons.new()
    # loose permissions left by someone else are tightened at start
    for sub in ("tmp", "new", "cur", "done", "rejected"):
        (d.spool / sub).mkdir(parents=True, exist_ok=True)
        (d.spool / sub).chmod(0o755)
    d.spool.chmod(0o755)
    d.data_dir.mkdir(mode=0o700)
    d.labels_dir.mkdir()
    d.labels_dir.chmod(0o755)
    old_day = d.labels_dir / "2026-01-04.jsonl"
    old_day.write_text("")
    old_day.chmod(0o644)
    d.lock_path.write_text("")
    d.lock_path.chmod(0o644)

    d.start()
    d.drop_windows(stream[:2])
    d.drop("bad.json", b"")
    d.wait_labelled(stream[:2])
    d.wait_spool_file("rejected", "bad.json.error.json")
    d.wait_status(lambda s: s["windows"]["refused"] == 1, 10, "the refusal in status")

    dirs = [d.spool, *(d.spool / s for s in ("tmp", "new", "cur", "done", "rejected"))]
    dirs += [d.data_dir, d.labels_dir]
    for path in dirs:
        assert mode(path) == 0o700, f"{path}: {oct(mode(path))}"
    files = [*d.labels_dir.iterdir(), d.status_path, d.lock_path]
    files.append(d.spool / "rejected" / "bad.json.error.json")
    for path in files:
        assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"
    d.stop()
    assert mode(d.status_path) == 0o600


# --- reload, rescan, config -------------------------------------------------------------------


def test_reload_exits_0_when_running_and_3_when_not(
    daemons: Daemons, make_store: MakeStore
) -> None:
    store = make_store("store", 1.0, users={"u-ada": 0.8})
    d = daemons.new(calibrator_store=str(store))

    before = d.cli("reload")
    assert before.returncode == 3
    assert "not running" in before.stderr

    d.start()
    loaded = d.status()["store"]["loaded_at"]  # type: ignore[index]
    result = d.cli("reload")
    assert result.returncode == 0, result.stderr
    d.wait_status(lambda s: s["store"]["loaded_at"] != loaded, 10, "the store to be reloaded")
    d.stop()
    assert d.cli("reload").returncode == 3


def test_without_file_events_the_rescan_picks_files_up(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new(observer="none", rescan_interval_seconds=0.3, heartbeat_seconds=60.0)
    status = d.start().wait_ready()
    assert status["watcher"] == "none"
    d.drop_windows(stream[:5])
    d.wait_labelled(stream[:5], timeout=10)
    d.drop_windows(stream[5:6])
    d.wait_labelled(stream[:6], timeout=10)
    d.stop()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"colour": "blue"}, "colour"),
        ({"model_dir": "/nonexistent/model-xyz"}, "/nonexistent/model-xyz"),
        ({"calibrator_store": "/nonexistent/store-xyz"}, "/nonexistent/store-xyz"),
        ({"reject_threshold": 1.5}, "reject_threshold"),
        ({"observer": "inotify-please"}, "observer"),
    ],
    ids=["unknown-key", "missing-model", "missing-store", "bad-threshold", "bad-observer"],
)
def test_bad_config_exits_2_with_one_line_naming_it(
    daemons: Daemons, change: dict[str, Any], named: str
) -> None:
    d = daemons.new()
    d.write_config(**change)
    for extra in ((), ("--once",)):
        result = d.cli("run", *extra, timeout=60)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert named in lines[0], lines[0]


def test_bad_toml_and_bad_flags_exit_2(daemons: Daemons) -> None:
    d = daemons.new()
    d.config.write_text('spool_dir = "unterminated\n')
    result = d.cli("run", timeout=60)
    assert result.returncode == 2
    assert "TOML" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    d.write_config()
    result = d.cli("run", "--smooth-window", "0", timeout=60)
    assert result.returncode == 2
    assert "smooth_window" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- volume -----------------------------------------------------------------------------------


BURST = 10_000


@pytest.mark.slow
def test_burst_of_files_is_labelled_with_bounded_memory(daemons: Daemons) -> None:
    # more windows than the session fixture has: 32 days of the three synthetic users
    windows = window_stream(generate_windows(days=32, seed=11))[:BURST]
    assert len(windows) == BURST
    d = daemons.new()
    d.start()
    started = time.monotonic()
    d.drop_windows(windows, prefix="burst")
    peak = 0

    def all_done() -> bool:
        nonlocal peak
        peak = max(peak, d.rss_peak_kib())
        return len(d.files("done")) == BURST

    d.wait_for(all_done, 120, f"{BURST} files in done/")
    elapsed = time.monotonic() - started
    records = d.records()
    assert len(records) == BURST
    assert len(set(keys(records))) == BURST
    peak = max(peak, d.rss_peak_kib())
    assert peak < 300 * 1024, f"peak RSS {peak / 1024:.0f} MiB"
    status = d.wait_status(
        lambda s: s["windows"]["labelled"] == BURST, 10, "status to count the burst"
    )
    assert status["spool"]["new"] == 0
    d.stop()
    print(f"burst of {BURST} files: {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MiB")


def test_duplicate_windows_are_counted_not_logged_twice(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new()
    d.start()
    first, second = stream[0], stream[1]
    d.drop("a.json", first)
    d.wait_labelled([first])

    d.drop("b.json", first)  # the same window under another name
    # the same instant spelled differently is the same window
    assert first["bucket_start_ts"].endswith("T09:00:00Z")
    respelled = {**first, "bucket_start_ts": first["bucket_start_ts"][:10] + "T10:00:00+01:00"}
    d.drop("c.json", respelled)
    d.drop("d.json", [second, second])  # twice in one file
    d.wait_status(lambda s: s["windows"]["duplicates"] == 3, 10, "3 duplicates counted")
    d.wait_labelled([first, second])
    d.wait_for(lambda: len(d.files("done")) == 4, 10, "4 files in done/")
    assert sorted(keys(d.records())) == sorted(
        (w["user_id"], w["bucket_start_ts"]) for w in (first, second)
    )
    assert d.status()["windows"]["labelled"] == 2  # type: ignore[index]
    d.stop()

    # after a restart the dedupe set comes back from the log
    d.start()
    d.drop("e.json", first)
    d.wait_status(lambda s: s["windows"]["duplicates"] == 1, 10, "the replay counted")
    d.wait_for(lambda: "e.json" in d.files("done"), 10, "e.json in done/")
    assert len(d.records()) == 2
    d.stop()


@pytest.mark.slow
def test_sigterm_during_a_backlog_drains_the_batch_and_acknowledges_nothing_unlogged(
    daemons: Daemons,
) -> None:
    windows = window_stream(generate_windows(days=8, seed=5))[:2500]
    d = daemons.new(batch_max_windows=64)
    d.drop_windows(windows)
    d.start()
    d.wait_for(lambda: len(d.records()) >= 100, 30, "the backlog to start draining")
    d.stop()
    done = d.files("done")
    records = d.records()
    assert d.files("cur") == [], "SIGTERM left claimed files in cur/"
    assert 0 < len(done) == len(records) <= len(windows)
    assert {r["source"] for r in records} == set(done)
    assert len(d.files("new")) == len(windows) - len(done)
    assert d.files("new"), "the backlog was finished before SIGTERM: nothing was tested"


# --- sd_notify --------------------------------------------------------------------------------


def test_sd_notify_messages_on_a_real_socket(
    daemons: Daemons, make_store: MakeStore, stream: list[dict[str, Any]]
) -> None:
    store = make_store("store", 1.0)
    short = Path(tempfile.mkdtemp(prefix="nfy", dir="/tmp"))  # AF_UNIX paths are short
    path = short / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(str(path))
        sock.settimeout(0.05)
        daemons.env.update(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="1000000")
        d = daemons.new(calibrator_store=str(store))
        messages: list[str] = []

        def received(predicate: Any) -> bool:
            try:
                while True:
                    messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
            return any(predicate(m) for m in messages)

        d.start()
        d.wait_for(lambda: received(lambda m: "READY=1" in m), 10, "READY=1")
        d.wait_for(lambda: received(lambda m: m == "WATCHDOG=1"), 10, "WATCHDOG=1")
        d.drop_windows(stream[:1])
        d.wait_for(
            lambda: received(lambda m: m.startswith("STATUS=") and "1 labelled" in m),
            10,
            "STATUS= with the window count",
        )
        messages.clear()
        os.kill(d.pid, signal.SIGHUP)
        d.wait_for(lambda: received(lambda m: "RELOADING=1" in m), 10, "RELOADING=1")
        reloading = next(m for m in messages if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in reloading
        usec = int(reloading.split("MONOTONIC_USEC=")[1].split()[0])
        assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 30_000_000
        start = messages.index(reloading)
        d.wait_for(
            lambda: (
                received(lambda m: "READY=1" in m) and any("READY=1" in m for m in messages[start:])
            ),
            10,
            "READY=1 after the reload",
        )
        d.stop()
        received(lambda m: False)
        assert "STOPPING=1" in messages, messages
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        short.rmdir()


def test_reload_during_start_up_does_not_kill_the_daemon(
    daemons: Daemons, stream: list[dict[str, Any]]
) -> None:
    d = daemons.new()
    # a long label log makes start-up (lock taken, log still being read) take a moment
    d.data_dir.mkdir(mode=0o700)
    d.labels_dir.mkdir(mode=0o700)
    template = {"user_id": "u", "bucket_start_ts": "", "bucket_end_ts": "", "label": "Build"}
    for day in ("2026-01-03", "2026-01-04"):
        lines = []
        for i in range(20_000):
            start = f"{day}T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
            end = f"{day}T{i // 60 % 24:02d}:{i % 60:02d}:30Z"
            record = {**template, "user_id": f"u-{i // 1440}", "bucket_start_ts": start}
            lines.append(json.dumps({**record, "bucket_end_ts": end}) + "\n")
        (d.labels_dir / f"{day}.jsonl").write_text("".join(lines))

    d.start(wait=False)
    lock = d.lock_path
    # what `taskclf-daemon reload` does, as soon as the lock names the starting daemon
    d.wait_for(lambda: running_pid(lock) == d.pid, 30, "the lock to be taken")
    os.kill(d.pid, signal.SIGHUP)
    d.wait_ready()
    d.drop_windows(stream[:1])
    d.wait_labelled(stream[:1])
    d.stop()
