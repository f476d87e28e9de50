"""The collector loop: fetch new events, build the minutes that became final, write, advance."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from daemon.collector.cursor import Cursor, read_cursor, write_cursor
from daemon.collector.emit import write_windows
from daemon.collector.status import write_status
from daemon.collector.transport import Stopped
from daemon.fsutil import utc_now
from daemon.paths import ensure_private_dir
from taskclf_core.activity import (
    DAY_US,
    DayState,
    InputEvent,
    RowSpec,
    WindowEvent,
    build_rows,
    day_start_us,
    final_until,
    format_us,
    splice,
)
from taskclf_core.errors import ActivityError, OperationalError, UnreachableError

__all__ = ["Collector", "CollectorLock", "Source", "collector_lock"]

_MAX_BACKOFF_SECONDS = 300.0
_log = structlog.get_logger("taskclf.collector")


class Source(Protocol):
    @property
    def description(self) -> str: ...

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]: ...

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]: ...


class CollectorLock(OperationalError):
    """Another collector runs for this data dir (two would race on the cursor)."""


@contextmanager
def collector_lock(directory: Path) -> Iterator[None]:
    ensure_private_dir(directory)
    path = directory / "collector.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise CollectorLock(
                f"another collector (pid {other}) is running for {directory}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@dataclass
class _Day:
    state: DayState
    windows: list[WindowEvent]
    inputs: list[InputEvent]


@dataclass
class Collector:
    """Emits each final minute once, in order, from ``position`` on (see ``final_until``).

    ``position`` is where emission resumes; the persisted cursor only ever moves forward, so
    a back-fill of older minutes never makes a later live run skip or repeat one.
    """

    source: Source
    spec: RowSpec
    spool: Path
    cursor_path: Path
    status_path: Path
    hostname: str
    position: int
    settle_us: int
    mode: str
    to_us: int | None = None
    clock: Callable[[], float] = time.time
    windows_emitted: int = 0
    files_written: int = 0
    _day: _Day | None = field(default=None, init=False, repr=False)
    _status: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._status = {
            "state": "running",
            "pid": os.getpid(),
            "mode": self.mode,
            "started_at": utc_now(),
            "source": self.source.description,
            "aw_hostname": self.hostname,
            "user_id": self.spec.user_id,
            "schema_version": self.spec.schema_version,
            "spool_dir": str(self.spool),
            "last_poll_at": None,
            "cursor": None,
            "windows_emitted": 0,
            "last_file": None,
            "last_error": None,
            "last_error_at": None,
        }
        persisted = read_cursor(self.cursor_path)
        if persisted is not None:
            self._status["cursor"] = format_us(persisted.next_us)

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def _load_day(self, day: int) -> _Day:
        end = day + DAY_US
        windows = self.source.window_events(day, end)
        inputs = self.source.input_events(day, end)
        # replay the day up to where emission resumes: the carried state, nothing written
        state, _ = build_rows(
            DayState.start(day),
            windows,
            inputs,
            until_us=self.position,
            spec=self.spec,
            has_input=bool(inputs),
        )
        return _Day(state, windows, inputs)

    def _refresh(self, day: _Day) -> None:
        end = day.state.day_end_us
        fresh_windows = self.source.window_events(self.position, end)
        fresh_inputs = self.source.input_events(self.position, end)
        day.windows = splice(day.windows, fresh_windows, self.position)
        day.inputs = splice(day.inputs, fresh_inputs, self.position)

    def step(self) -> int:
        """One poll: emit every minute that became final; returns the windows written."""
        refresh = getattr(self.source, "refresh", None)
        if callable(refresh):
            refresh()  # buckets can appear (a watcher started) or be recreated
        written = 0
        while True:
            now = self._now_us()
            day_us = day_start_us(self.position)
            if self._day is None or self._day.state.day_us != day_us:
                self._day = None
                self._day = self._load_day(day_us)
            else:
                self._refresh(self._day)
            day = self._day
            until = final_until(
                day.windows, from_us=self.position, now_us=now, settle_us=self.settle_us
            )
            if self.to_us is not None:
                until = max(min(until, self.to_us), self.position)
            state, rows = build_rows(
                day.state,
                day.windows,
                day.inputs,
                until_us=until,
                spec=self.spec,
                has_input=bool(day.inputs),
            )
            if rows:
                name = write_windows(self.spool, rows)
                written += len(rows)
                self.files_written += 1
                self._status["last_file"] = name
                _log.info(
                    "windows_emitted",
                    file=name,
                    windows=len(rows),
                    first=rows[0]["bucket_start_ts"],
                    last=rows[-1]["bucket_start_ts"],
                )
            # only now that the rows are in new/: a failed write leaves them to be built again
            day.state = state
            self.position = until
            self._advance_cursor()
            day_done = until == day.state.day_end_us
            if not day_done or (self.to_us is not None and until >= self.to_us):
                break
        self.windows_emitted += written
        self._status.update(
            last_poll_at=utc_now(), windows_emitted=self.windows_emitted, last_error=None
        )
        self._write_status()
        return written

    def _advance_cursor(self) -> None:
        persisted = read_cursor(self.cursor_path)
        ours = persisted is not None and (persisted.user_id, persisted.hostname) == (
            self.spec.user_id,
            self.hostname,
        )
        if persisted is not None and ours and persisted.next_us >= self.position:
            return
        ensure_private_dir(self.cursor_path.parent)
        write_cursor(self.cursor_path, Cursor(self.position, self.spec.user_id, self.hostname))
        self._status["cursor"] = format_us(self.position)

    def _write_status(self) -> None:
        ensure_private_dir(self.status_path.parent)
        write_status(self.status_path, self._status)

    def record_error(self, message: str) -> None:
        self._status.update(last_error=message, last_error_at=utc_now(), last_poll_at=utc_now())
        self._write_status()

    def stopped(self) -> None:
        self._status["state"] = "stopped"
        self._write_status()

    def run(self, stop: threading.Event, interval: float) -> None:
        """Poll until ``stop`` is set (a request waiting on ActivityWatch ends too: the client
        sees the same event); ActivityWatch being down (or answering without this host's
        bucket) is retried with a doubling wait capped at 5 minutes."""
        failures = 0
        while not stop.is_set():
            try:
                written = self.step()
            except Stopped:
                return
            except (UnreachableError, ActivityError, OSError) as exc:
                # a running collector outlives all three: ActivityWatch restarts, a watcher
                # creates its bucket only when it first runs, a full disk is freed; the cursor
                # moves only after a window file is in new/, so a retry re-emits nothing
                failures += 1
                wait = min(interval * 2 ** min(failures - 1, 10), _MAX_BACKOFF_SECONDS)
                message = _describe(exc)
                with contextlib.suppress(OSError):  # the status may share the full disk
                    self.record_error(message)
                event = (
                    "aw_unreachable"
                    if isinstance(exc, UnreachableError)
                    else "aw_data_refused"
                    if isinstance(exc, ActivityError)
                    else "spool_write_failed"
                )
                _log.warning(event, error=message, retry_in_s=wait, failures=failures)
            else:
                if failures:
                    _log.info("aw_reachable_again", after_failures=failures)
                failures = 0
                wait = interval
                _log.debug("poll_completed", windows=written, cursor=format_us(self.position))
            stop.wait(wait)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot write{where}: {exc.strerror or exc}; the minutes wait for the next try"
    return str(exc)
