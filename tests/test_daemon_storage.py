"""Storage faults: a full disk, a label log that refuses writes, files vanishing, a stopped process.

The daemon must stay up, acknowledge nothing that is not on disk, never leave a torn line,
say what is wrong in `status`, and carry on by itself once the fault is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons
from helpers import (
    Window,
    by_window,
    in_time_order,
    read_only_bind,
    require_root,
    require_tool,
    unavailable,
    window_stream,
)

from taskclf_core.synthetic import generate_windows


@pytest.fixture(scope="module")
def windows() -> list[Window]:
    """Three users interleaved in time order (each user's in time order)."""
    return in_time_order(generate_windows(days=7, seed=41))


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only: helpers.require_root)."""
    require_root("mounting a small tmpfs")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    if mounted.returncode != 0:
        unavailable("a tmpfs mount", mounted.stderr.strip())
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def resize(path: Path, size: str) -> None:
    result = _run("mount", "-o", f"remount,size={size}", str(path))
    assert result.returncode == 0, result.stderr


class TornLineWatch:
    """Reads the label log over and over from a thread: every complete line must parse, and
    a partial last line (an append in flight) must not outlive ``grace`` seconds."""

    def __init__(self, labels_dir: Path, grace: float = 1.0) -> None:
        self.labels_dir = labels_dir
        self.grace = grace
        self.problems: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._tails: dict[Path, tuple[bytes, float]] = {}
        self._thread = threading.Thread(target=self._watch, name="torn-line-watch")

    def __enter__(self) -> TornLineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            for path in sorted(self.labels_dir.glob("*.jsonl")):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                self.reads += 1
                cut = data.rfind(b"\n") + 1
                for line in data[:cut].splitlines():
                    try:
                        json.loads(line)
                    except ValueError:
                        self.problems.append(f"{path.name}: unparseable line {line[:80]!r}")
                tail, now = data[cut:], time.monotonic()
                seen, since = self._tails.get(path, (b"", now))
                if tail and tail == seen and now - since > self.grace:
                    self.problems.append(f"{path.name}: torn last line {tail[:80]!r}")
                    self._tails[path] = (b"", now)
                elif tail != seen:
                    self._tails[path] = (tail, now)


def reference(daemons: Daemons, windows: list[Window]) -> dict[tuple[str, str], Any]:
    """What one uninterrupted ``run --once`` over the same windows logs."""
    d = daemons.new("reference")
    d.drop_windows(windows, prefix="w")
    result = d.cli("run", "--once", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return by_window(d.records())


def status_cli(d: DaemonProcess) -> tuple[int, dict[str, Any]]:
    result = d.cli("status", "--json")
    return result.returncode, json.loads(result.stdout)


def _two_days(windows: list[Window], n: int) -> tuple[list[Window], list[Window]]:
    days: dict[str, list[Window]] = {}
    for window in windows:
        days.setdefault(window["bucket_start_ts"][:10], []).append(window)
    first, second = list(days.values())[:2]
    return first[:n], second[:n]


# --- a full disk ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_disk_stalls_degraded_and_resumes_exactly_once_without_a_restart(
    daemons: Daemons, windows: list[Window]
) -> None:
    todo = windows[:600]  # ~500 KB of records: twice what the disk holds
    d = daemons.new()
    with small_tmpfs(d.labels_dir, "256k"), TornLineWatch(d.labels_dir) as watch:
        d.start()
        with d.producing(todo, rate=300.0) as producer:
            status = d.wait_status(
                lambda s: s.get("storage_error"), 60, "the full disk to show in status"
            )
            producer.finish()
        error = status["storage_error"]
        assert error["errno"] == "ENOSPC", error
        assert str(d.labels_dir) in error["message"], error
        assert status["healthy"] is False
        code, doc = status_cli(d)
        assert code == 1, doc
        assert any("ENOSPC" in p and str(d.labels_dir) in p for p in doc["problems"]), doc

        # stalled, not stopped: nothing new is claimed, nothing unlogged left cur/
        logged = {r["source"] for r in d.records()}
        stuck = d.files("cur")
        assert stuck, "the batch whose records failed must stay in cur/"
        assert not set(stuck) & logged
        assert set(d.files("done")) <= logged
        d.wait_for(
            lambda: len(d.files("new")) + len(stuck) + len(d.files("done")) == 600,
            20,
            "every file dropped",
        )
        failures = d.wait_for(
            lambda: f if len(f := d.log_events("label_log_write_failed")) >= 3 else None,
            20,
            "two more retries",
        )
        # capped exponential backoff (1 s, 2 s, 4 s ...), not a retry storm
        assert [e["retry_in_seconds"] for e in failures[:3]] == [1.0, 2.0, 4.0]
        at = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in failures[:3]]
        assert at[1] - at[0] > 0.9, at
        assert at[2] - at[1] > 1.9, at
        assert d.files("cur") == stuck
        assert d.alive()
        assert d.runs == 1

        resize(d.labels_dir, "4m")  # space comes back
        d.wait_labelled(todo, timeout=60)
        d.wait_for(lambda: len(d.files("done")) == len(todo), 20, "every file in done/")
        healthy = d.wait_status(
            lambda s: not s.get("storage_error") and s["windows"]["labelled"] == len(todo),
            15,
            "status healthy again",
        )
        assert healthy["healthy"] is True
        assert status_cli(d)[0] == 0
        assert d.runs == 1, "it restarted"
        assert d.alive()
        d.wait_for(lambda: d.log_events("label_log_recovered"), 5, "label_log_recovered")
        d.stop()
        records = by_window(d.records())
    assert watch.reads > 100, "the torn-line watch barely ran"
    assert not watch.problems, watch.problems[:5]
    assert len(records) == len(todo)
    assert d.files("cur") == []
    assert d.files("new") == []
    expected = reference(daemons, todo)
    differing = [k for k in expected if expected[k] != records.get(k)]
    assert not differing, f"{len(differing)} records differ from an uninterrupted run"


@pytest.mark.slow
def test_while_the_disk_is_full_the_watchdog_is_pinged_and_sigterm_exits_0(
    daemons: Daemons, windows: list[Window]
) -> None:
    todo = windows[:500]
    short = Path(tempfile.mkdtemp(prefix="nfy", dir="/tmp"))  # AF_UNIX paths are short
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(short / "notify.sock"))
    sock.settimeout(0.05)
    messages: list[tuple[float, str]] = []

    def received() -> list[tuple[float, str]]:
        with suppress(TimeoutError):
            while True:
                messages.append((time.monotonic(), sock.recv(4096).decode()))
        return messages

    try:
        daemons.env.update(NOTIFY_SOCKET=str(short / "notify.sock"), WATCHDOG_USEC="1000000")
        d = daemons.new()
        with small_tmpfs(d.labels_dir, "128k"):
            d.drop_windows(todo)
            d.start()
            d.wait_status(lambda s: s.get("storage_error"), 60, "the full disk in status")
            stalled_at = time.monotonic()
            # the main loop is alive while it waits: systemd must not kill it for a full disk
            d.wait_for(
                lambda: sum(1 for t, m in received() if t > stalled_at and m == "WATCHDOG=1") >= 4,
                10,
                "watchdog pings while stalled",
            )
            assert any("waiting: cannot write the label log" in m for _, m in messages)
            stuck = d.files("cur")
            assert stuck
            started = time.monotonic()
            d.stop()  # exit 0: a clean stop, even while waiting for space
            assert time.monotonic() - started < 5, "SIGTERM waited for the backoff"
            assert d.files("cur") == stuck, "a file whose records are not on disk left cur/"
            resize(d.labels_dir, "4m")
            d.env.pop("NOTIFY_SOCKET")  # the socket is going away; the restart needs none
            d.start()
            d.wait_labelled(todo, timeout=60)
            d.wait_for(lambda: len(d.files("done")) == len(todo), 20, "every file in done/")
            d.stop()
            assert len(by_window(d.records())) == len(todo)
    finally:
        sock.close()
        shutil.rmtree(short)


def fill(path: Path) -> Path:
    """Write ``path`` until its filesystem is full."""
    with open(path, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return path


@pytest.mark.slow
def test_full_disk_under_the_spool_too_is_reported_and_waited_out(
    daemons: Daemons, windows: list[Window], tmp_path: Path
) -> None:
    """One filesystem for spool, status and label log (the default layout), filled up:
    `status` still names the error (the status file is rewritten in place)."""
    disk = tmp_path / "disk"
    with small_tmpfs(disk, "2m"):
        d = daemons.new(spool_dir=str(disk / "spool"), data_dir=str(disk / "data"))
        d.start()
        d.drop_windows(windows[:20])
        d.wait_labelled(windows[:20])
        os.kill(d.pid, signal.SIGSTOP)
        try:
            d.drop_windows(windows[20:80])
            filler = fill(disk / "filler")
        finally:
            os.kill(d.pid, signal.SIGCONT)
        status = d.wait_status(lambda s: s.get("storage_error"), 30, "the full disk in status")
        assert status["storage_error"]["errno"] == "ENOSPC"
        code, doc = status_cli(d)
        assert code == 1, doc
        assert any("ENOSPC" in p for p in doc["problems"]), doc["problems"]
        assert d.log_events("status_write_failed") == [], "the status file could not be written"
        filler.unlink()
        d.wait_labelled(windows[:80], timeout=60)
        d.wait_status(lambda s: not s.get("storage_error"), 15, "status healthy again")
        assert status_cli(d)[0] == 0
        d.stop()
        assert len(by_window(d.records())) == 80
        assert d.files("cur") == []
        assert d.files("new") == []


# --- a label log that refuses writes -------------------------------------------------------------


def _chattr(flag: str, path: Path) -> None:
    result = _run("chattr", flag, str(path))
    if result.returncode != 0:
        unavailable(f"chattr {flag}", f"{path}: {result.stderr.strip()}")


@pytest.mark.slow
def test_label_directory_that_refuses_new_files_is_waited_out(
    daemons: Daemons, windows: list[Window], tmp_path: Path
) -> None:
    """chattr +i on the label directory: a new day's file cannot be created (EPERM, even
    for root); the daemon waits, degraded, and carries on when the attribute is removed."""
    require_root("chattr +i")
    require_tool("chattr", "to make a directory immutable (e2fsprogs)")
    first_day, second_day = _two_days(windows, 20)
    d = daemons.new()
    with small_tmpfs(d.labels_dir, "4m"):  # tmpfs takes chattr on any host filesystem
        d.start()
        d.drop_windows(first_day)
        d.wait_labelled(first_day)
        _chattr("+i", d.labels_dir)
        try:
            d.drop_windows(second_day)
            status = d.wait_status(lambda s: s.get("storage_error"), 20, "EPERM in status")
            assert status["storage_error"]["errno"] == "EPERM", status["storage_error"]
            assert d.alive()
        finally:
            _chattr("-i", d.labels_dir)
        d.wait_labelled(first_day + second_day, timeout=60)
        d.wait_status(lambda s: not s.get("storage_error"), 10, "status healthy again")
        d.stop()
        assert len(by_window(d.records())) == 40


@pytest.mark.slow
def test_a_spool_that_refuses_claims_is_waited_out(daemons: Daemons, windows: list[Window]) -> None:
    """chattr +i on new/: a claim cannot unlink there (EPERM). Nothing is half-claimed (a
    file in new/ and cur/ at once), the daemon waits degraded and claims once it can."""
    require_root("chattr +i")
    require_tool("chattr", "to make a directory immutable (e2fsprogs)")
    d = daemons.new()
    d.start()
    new = d.spool / "new"
    os.kill(d.pid, signal.SIGSTOP)
    try:
        d.drop_windows(windows[:10])
        _chattr("+i", new)
    finally:
        os.kill(d.pid, signal.SIGCONT)
    try:
        status = d.wait_status(lambda s: s.get("storage_error"), 20, "EPERM in status")
        assert status["storage_error"]["what"] == "spool", status["storage_error"]
        assert status["storage_error"]["errno"] == "EPERM", status["storage_error"]
        assert d.files("cur") == [], "a file was left under two names"
        assert len(d.files("new")) == 10
    finally:
        _chattr("-i", new)
    d.wait_labelled(windows[:10])
    d.wait_for(lambda: len(d.files("done")) == 10, 15, "every file in done/")
    d.wait_status(lambda s: not s.get("storage_error"), 10, "status healthy again")
    d.wait_for(lambda: d.log_events("spool_recovered"), 5, "spool_recovered")
    d.stop()
    assert len(by_window(d.records())) == 10
    assert d.files("new") == []
    assert d.files("cur") == []


@pytest.mark.slow
def test_read_only_label_directory_is_waited_out(daemons: Daemons, windows: list[Window]) -> None:
    first_day, second_day = _two_days(windows, 20)
    d = daemons.new()
    d.start()
    d.drop_windows(first_day)
    d.wait_labelled(first_day)
    with read_only_bind(d.labels_dir):
        d.drop_windows(second_day)  # a new day file: opened anew, on a read-only mount
        status = d.wait_status(lambda s: s.get("storage_error"), 20, "EROFS in status")
        assert status["storage_error"]["errno"] == "EROFS", status["storage_error"]
        code, doc = status_cli(d)
        assert code == 1
        assert any("read-write" in p for p in doc["problems"]), doc["problems"]
        assert d.alive()
    d.wait_labelled(first_day + second_day, timeout=60)
    d.wait_status(lambda s: not s.get("storage_error"), 10, "status healthy again")
    assert d.runs == 1
    d.stop()
    assert len(by_window(d.records())) == 40


def test_start_on_a_read_only_label_directory_fails_in_one_line(daemons: Daemons) -> None:
    d = daemons.new()
    d.labels_dir.mkdir(parents=True, mode=0o700)
    with read_only_bind(d.labels_dir):
        result = d.cli("run", timeout=60)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(d.labels_dir / ".daemon.lock") in lines[0]
        assert "writable" in lines[0]
        assert not d.status_path.exists()
        assert d.cli("status").returncode == 3
    d.start()  # writable again: it starts
    d.stop()


# --- files vanishing, a stopped process, a huge backlog -------------------------------------------


def test_files_vanishing_from_cur_do_not_stop_the_daemon(
    daemons: Daemons, windows: list[Window]
) -> None:
    """Another tool (or a second daemon in the old days) removes a claimed file before we
    move it: the daemon says so and goes on; its windows are logged (they were read)."""
    d = daemons.new(batch_max_windows=1)
    d.start()
    d.drop_windows(windows[:3], prefix="v")
    d.wait_labelled(windows[:3])
    d.drop("empty.json", b"")  # refused: moved to rejected/
    d.wait_spool_file("rejected", "empty.json.error.json")
    # pull files out of cur/ as fast as they are claimed
    stop = threading.Event()

    def thief() -> None:
        while not stop.is_set():
            for name in d.files("cur"):
                (d.spool / "cur" / name).unlink(missing_ok=True)

    thread = threading.Thread(target=thief)
    thread.start()
    try:
        d.drop_windows(windows[3:60], prefix="v")
        d.drop("empty2.json", b"")
        d.wait_for(lambda: not d.files("new"), 20, "new/ to be drained")
    finally:
        stop.set()
        thread.join()
    d.drop_windows(windows[60:61], prefix="v")
    d.wait_labelled(windows[60:61])
    assert d.alive(), d.stderr_tail()
    assert d.log_events("spool_file_vanished"), "the thief never won a race: nothing was tested"
    records = d.records()
    assert len(records) == len(by_window(records))  # none twice
    d.stop()


def test_sigstop_and_sigcont_lose_and_duplicate_nothing(
    daemons: Daemons, windows: list[Window]
) -> None:
    """Five times: windows arrive, the daemon is stopped while it labels them, more arrive
    while it is stopped, it is continued and catches up. Each step waits on what it needs
    (files piled up, new/ drained), never on the pace of a producer."""
    d = daemons.new()
    d.start()
    todo = windows[:200]
    rounds = [todo[i : i + 40] for i in range(0, len(todo), 40)]
    assert len(rounds) == 5
    for n, batch in enumerate(rounds):
        d.drop_windows(batch[:20], prefix=f"r{n}a")  # it starts on these...
        os.kill(d.pid, signal.SIGSTOP)  # ...and is stopped, perhaps mid-batch
        try:
            d.drop_windows(batch[20:], prefix=f"r{n}b")
            assert len(d.files("new")) >= 20, "files arriving while stopped must pile up"
        finally:
            os.kill(d.pid, signal.SIGCONT)
        d.wait_for(lambda: not d.files("new") and not d.files("cur"), 30, "catch up")
    d.wait_labelled(todo, timeout=30)
    assert len(by_window(d.records())) == len(todo)
    d.wait_status(lambda s: s["windows"]["labelled"] == len(todo), 10, "the count in status")
    d.stop()


@pytest.mark.slow
def test_thirty_thousand_files_in_new_are_drained_once_with_bounded_memory(
    daemons: Daemons,
) -> None:
    todo = window_stream(generate_windows(days=96, seed=43))[:30_000]
    assert len(todo) == 30_000
    d = daemons.new()
    d.drop_windows(todo, prefix="b")  # all there before the daemon starts
    d.start(wait=False)
    peak = 0

    def drained() -> bool:
        nonlocal peak
        if d.alive():
            peak = max(peak, d.rss_peak_kib())
        return len(d.files("done")) == len(todo)

    started = time.monotonic()
    d.wait_for(drained, 300, "30,000 files in done/")
    elapsed = time.monotonic() - started
    status = d.wait_status(lambda s: s["windows"]["labelled"] == len(todo), 15, "the count")
    assert status["spool"]["new"] == 0
    assert len(by_window(d.records())) == len(todo)
    assert peak < 400 * 1024, f"peak RSS {peak / 1024:.0f} MiB"
    d.stop()
    print(f"30,000 files: {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MiB")
