"""Real-process test helpers: start `taskclf-daemon run` as a subprocess, feed it, watch it."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = [
    "DaemonProcess",
    "Daemons",
    "Producer",
    "isolated_env",
    "read_records",
    "run_cli",
    "running_daemons",
    "wait_for",
]

POLL = 0.02  # the only sleep: between checks of a condition with a deadline
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    context: Callable[[], str] = lambda: "",
    abort: Callable[[], str | None] = lambda: None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``.

    ``abort`` may name a reason to fail at once (a daemon that died); ``context`` is added
    to the failure message (the daemon's stderr tail).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        reason = abort()
        if reason is None and time.monotonic() >= deadline:
            reason = f"timed out after {timeout:.1f} s"
        if reason is not None:
            raise AssertionError(f"waiting for {what}: {reason}\n{context()}")
        time.sleep(POLL)


def read_records(labels_dir: Path) -> list[dict[str, Any]]:
    """Every complete record in ``labels_dir/*.jsonl`` (a line still being written is skipped)."""
    records: list[dict[str, Any]] = []
    for path in sorted(labels_dir.glob("*.jsonl")):
        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        records.extend(json.loads(line) for line in complete.splitlines() if line.strip())
    return records


def run_cli(
    *args: str, timeout: float = 60.0, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m daemon ARGS`` to completion, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else os.environ.copy(),
        check=False,
    )


# never inherited by a test or its subprocesses: the user's settings, systemd's notify/watchdog
_NOT_INHERITED = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def isolated_env(home: Path, *, runtime_dir: bool = True) -> dict[str, str]:
    """``os.environ`` with HOME and XDG_* under ``home`` and no TASKCLF_*/sd_notify variables.

    The one isolation: conftest applies it to every test's own environment, and daemons shared
    by several tests (which outlive that) get it explicitly. ``runtime_dir=False`` leaves
    XDG_RUNTIME_DIR unset (an ssh, su or cron shell).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TASKCLF_") and k not in _NOT_INHERITED
    }
    dirs = {
        "HOME": "",
        "XDG_CONFIG_HOME": ".config",
        "XDG_DATA_HOME": ".local/share",
        "XDG_STATE_HOME": ".local/state",
        "XDG_CACHE_HOME": ".cache",
        "XDG_RUNTIME_DIR": "run",
    }
    if not runtime_dir:
        del dirs["XDG_RUNTIME_DIR"]
        env.pop("XDG_RUNTIME_DIR", None)
    for key, sub in dirs.items():
        path = home / sub
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[key] = str(path)
    return env


class DaemonProcess:
    """One daemon configuration under ``root`` and the process currently running it."""

    def __init__(self, root: Path, settings: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.root = root
        self.settings = dict(settings)
        self.env = dict(env)
        self.config = root / "daemon.toml"
        self.spool = Path(self.settings["spool_dir"])
        self.data_dir = Path(self.settings["data_dir"])
        self.labels_dir = self.data_dir / "labels"
        # the lock and status live with the data they guard (README: one daemon per spool)
        self.status_path = self.spool / ".daemon-status.json"
        self.lock_path = self.spool / ".daemon.lock"
        self.labels_lock_path = self.labels_dir / ".daemon.lock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._stderr_path: Path | None = None
        self._seq = 0
        self.write_config()
        for sub in ("tmp", "new"):
            (self.spool / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    # --- configuration -------------------------------------------------------------

    def write_config(self, **changes: Any) -> Path:
        """(Re)write daemon.toml; a value of None removes the key."""
        for key, value in changes.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = value
        # imported here: bench/_common.py imports this module under older checkouts' venvs too
        # (bench/ab.py --baseline), which have no daemon.config.render (or no daemon.configfile)
        name = "daemon.config.render"
        if importlib.util.find_spec("daemon.config") is None:
            name = "daemon.configfile"
        toml_value: Callable[[Any], str] = importlib.import_module(name).toml_value

        body = "".join(f"{k} = {toml_value(v)}\n" for k, v in self.settings.items())
        self.config.write_text(body)
        return self.config

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """A ``python -m daemon`` command against this configuration (``--config`` appended)."""
        return run_cli(*args, "--config", str(self.config), timeout=timeout, env=self.env)

    # --- process lifecycle ---------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.proc is not None, "daemon not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(
        self,
        *extra: str,
        wait: bool = True,
        preexec_fn: Callable[[], object] | None = None,
    ) -> DaemonProcess:
        """``run --config ... EXTRA``; ``preexec_fn`` runs in the child (e.g. to set rlimits)."""
        assert not self.alive(), "daemon already running"
        self.runs += 1
        self._stderr_path = self.root / f"stderr.{self.runs}.log"
        with open(self._stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run", "--config", str(self.config), *extra],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                env=self.env,
                preexec_fn=preexec_fn,  # only setrlimit calls: safe after fork
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Until the status file names this process as running."""

        def ready() -> dict[str, Any] | None:
            status = self.status()
            if status and status.get("pid") == self.pid and status.get("running"):
                return status
            return None

        result: dict[str, Any] = self.wait_for(ready, timeout, "the daemon to start")
        return result

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM; the daemon must drain and exit 0."""
        rc = self.signal_and_wait(signal.SIGTERM, timeout)
        assert rc == 0, f"SIGTERM: expected exit 0, got {rc}\n{self.stderr_tail()}"
        return rc

    def kill(self) -> None:
        """SIGKILL: a crash at whatever the daemon was doing."""
        if self.alive():
            self.signal_and_wait(signal.SIGKILL, STOP_TIMEOUT)

    def signal_and_wait(self, signum: int, timeout: float) -> int:
        assert self.proc is not None
        with suppress(ProcessLookupError):
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"the daemon did not exit within {timeout} s of signal {signum}\n"
                f"{self.stderr_tail()}"
            ) from None

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon did not exit within {timeout} s\n{self.stderr_tail()}"
            ) from None

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # --- observation ---------------------------------------------------------------

    def stderr_text(self, run: int | None = None) -> str:
        path = self.root / f"stderr.{run or self.runs}.log"
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines: int = 30) -> str:
        tail = self.stderr_text().splitlines()[-lines:]
        state = "not started"
        if self.proc is not None:
            rc = self.proc.poll()
            state = "running" if rc is None else f"exited with {rc}"
        return f"--- daemon ({state}) stderr, last {len(tail)} lines ---\n" + "\n".join(tail)

    def log_events(
        self, event: str | None = None, *, all_runs: bool = False
    ) -> list[dict[str, Any]]:
        """The structured log lines (JSON) of the current run (or all), optionally one event."""
        runs = range(1, self.runs + 1) if all_runs else [self.runs]
        text = "\n".join(self.stderr_text(run) for run in runs)
        out = []
        for line in text.splitlines():
            with suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict) and (event is None or item.get("event") == event):
                    out.append(item)
        return out

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """:func:`wait_for` that fails at once (with the stderr tail) if the daemon dies."""

        def died() -> str | None:
            if self.proc is not None and self.proc.poll() is not None:
                if predicate():  # it may have finished its work and then exited
                    return None
                return f"the daemon exited with {self.proc.returncode}"
            return None

        return wait_for(predicate, timeout, what, context=self.stderr_tail, abort=died)

    def status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def wait_status(
        self, predicate: Callable[[dict[str, Any]], Any], timeout: float, what: str
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.status()
            return status if status is not None and predicate(status) else None

        result: dict[str, Any] = self.wait_for(check, timeout, what)
        return result

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.labels_dir)

    def wait_records(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Until at least ``count`` records are in the label log."""
        result: list[dict[str, Any]] = self.wait_for(
            lambda: r if len(r := self.records()) >= count else None,
            timeout,
            f"{count} records in the label log (have {len(self.records())})",
        )
        return result

    def wait_labelled(
        self, windows: Iterable[Mapping[str, Any]], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Until every window in ``windows`` has a record; returns all records."""
        want = {(w["user_id"], _utc(w["bucket_start_ts"])) for w in windows}

        def done() -> list[dict[str, Any]] | None:
            records = self.records()
            have = {(r["user_id"], r["bucket_start_ts"]) for r in records}
            return records if want <= have else None

        result: list[dict[str, Any]] = self.wait_for(
            done, timeout, f"records for {len(want)} windows"
        )
        return result

    def files(self, sub: str) -> list[str]:
        try:
            return sorted(os.listdir(self.spool / sub))
        except FileNotFoundError:
            return []

    def wait_spool_file(self, sub: str, name: str, timeout: float = 15.0) -> Path:
        path = self.spool / sub / name
        self.wait_for(lambda: os.path.lexists(path), timeout, f"{sub}/{name}")
        return path

    def rss_peak_kib(self) -> int:
        """VmHWM (peak resident set size) of the running daemon, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("VmHWM not found in /proc/<pid>/status")

    # --- producing -----------------------------------------------------------------

    def drop(self, name: str, content: bytes | str | Mapping[str, Any] | list[Any]) -> Path:
        """Write ``content`` into tmp/ and rename it into new/ (what a producer does)."""
        if isinstance(content, str):
            data = content.encode()
        elif isinstance(content, bytes):
            data = content
        else:
            data = json.dumps(content).encode()
        tmp = self.spool / "tmp" / name
        with open(tmp, "wb") as fh:
            fh.write(data)
        target = self.spool / "new" / name
        os.rename(tmp, target)
        return target

    def drop_windows(self, windows: Iterable[Mapping[str, Any]], prefix: str = "w") -> list[str]:
        """One window per file, named so that name order is drop order."""
        names = []
        for window in windows:
            self._seq += 1
            name = f"{prefix}-{self._seq:07d}.json"
            self.drop(name, dict(window))
            names.append(name)
        return names

    @contextmanager
    def producing(
        self, windows: Sequence[Mapping[str, Any]], rate: float, prefix: str = "w"
    ) -> Iterator[Producer]:
        """A :class:`Producer` dropping ``windows`` into this spool; stopped on leaving."""
        producer = Producer(self, windows, rate, prefix)
        try:
            yield producer
        finally:
            producer.stop()


class Producer:
    """A thread that drops windows one file each at ``rate`` a second, paced by the clock."""

    def __init__(
        self, daemon: DaemonProcess, windows: Sequence[Mapping[str, Any]], rate: float, prefix: str
    ) -> None:
        self.dropped_at: dict[str, float] = {}  # file name -> time.monotonic() of its rename
        self._daemon = daemon
        self._windows = windows
        self._rate = rate
        self._prefix = prefix
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collector")
        self._thread.start()

    def _run(self) -> None:
        t0 = time.monotonic()
        for i, window in enumerate(self._windows):
            if self._stop.wait(max(0.0, t0 + i / self._rate - time.monotonic())):
                return
            [name] = self._daemon.drop_windows([window], prefix=self._prefix)
            self.dropped_at[name] = time.monotonic()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def finish(self, timeout: float = 60.0) -> None:
        """Until every window is dropped."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the producer did not finish within {timeout} s"
        assert len(self.dropped_at) == len(self._windows), "the producer stopped early"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _utc(ts: str) -> str:
    """A window's ``bucket_start_ts`` as the label log writes it (UTC, ``Z``)."""
    from taskclf_core.schema import format_ts, parse_ts

    return format_ts(parse_ts(ts, "bucket_start_ts"))


class Daemons:
    """Makes daemon configurations under one directory and kills whatever they started."""

    def __init__(self, root: Path, bundle_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.bundle_dir = bundle_dir
        self.env = dict(env) if env is not None else os.environ.copy()
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.made: list[DaemonProcess] = []

    def new(self, name: str = "daemon", **settings: Any) -> DaemonProcess:
        """A configuration under ``root/name``; ``settings`` add to or override the defaults."""
        root = self.root / name
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        defaults: dict[str, Any] = {
            "spool_dir": str(root / "spool"),
            "model_dir": str(self.bundle_dir),
            "data_dir": str(root / "data"),
            "rescan_interval_seconds": 0.5,
            "heartbeat_seconds": 0.5,
            "reload_debounce_seconds": 0.1,
        }
        defaults.update({k: v for k, v in settings.items() if v is not None})
        for key in [k for k, v in settings.items() if v is None]:
            defaults.pop(key, None)
        daemon = DaemonProcess(root, defaults, self.env)
        self.made.append(daemon)
        return daemon

    def cleanup(self) -> None:
        for daemon in self.made:
            daemon.cleanup()


@contextmanager
def running_daemons(
    root: Path, bundle_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[Daemons]:
    """A :class:`Daemons` whose processes are always killed on exit (use it in a fixture)."""
    daemons = Daemons(root, bundle_dir, env)
    try:
        yield daemons
    finally:
        daemons.cleanup()
