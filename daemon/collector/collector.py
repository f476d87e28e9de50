"""The collector loop: fetch new events, build the minutes that became final, write, advance."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.collector.clock import SYSTEM_CLOCK, AWClock, Clock
from daemon.collector.cursor import Cursor, read_cursor, write_cursor
from daemon.collector.emit import WindowFile
from daemon.collector.source import EventSource
from daemon.collector.status import write_status
from daemon.collector.transport import Stopped
from daemon.fsutil import utc_now
from daemon.logs import get_logger
from daemon.paths import ensure_private_dir
from taskclf_core.activity import (
    DAY_US,
    MINUTE_US,
    DayState,
    Finality,
    InputEvent,
    RowSpec,
    WindowEvent,
    build_rows,
    day_start_us,
    finality,
    floor_minute,
    format_us,
    latest_end,
    once_finality,
    splice,
)
from taskclf_core.errors import ActivityError, OperationalError, UnreachableError
from taskclf_core.timespan import Interval

if TYPE_CHECKING:
    from daemon.collector.awlabels import LabelWriter

__all__ = ["Collector", "CollectorLock", "Holder", "collector_lock"]

_MAX_BACKOFF_SECONDS = 300.0
_ROWS_AT_ONCE_US = 60 * MINUTE_US  # rows built and written an hour at a time
_log = get_logger("taskclf.collector")


class CollectorLock(OperationalError):
    """Another live collector runs for this data dir (two would race on the cursor)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """The collector that holds the lock: its pid and mode ("live", "once", "export"; "?"
    for a holder that has not written them yet, or an older version's lock file)."""

    pid: str
    mode: str


@contextmanager
def collector_lock(directory: Path, mode: str = "live") -> Iterator[Holder | None]:
    """Try the data dir's collector lock (``<collector_dir>/collector.lock``, flock'd).

    Yields None while this process holds it: the cursor and the status file are then this
    run's. Yields the :class:`Holder` when another process holds it: a one-off run goes on
    beside it without touching either (docs/collector.md, "Beside a running collector").
    """
    ensure_private_dir(directory)
    path = directory / "collector.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, _, held_as = os.pread(fd, 64, 0).decode(errors="replace").strip().partition(" ")
            yield Holder(pid or "?", held_as or "?")
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {mode}\n".encode(), 0)
        yield None
    finally:
        os.close(fd)


@dataclass
class _Day:
    state: DayState
    windows: list[WindowEvent]
    inputs: list[InputEvent]
    afk: list[Interval] = field(default_factory=list)  # from the position on


_LOGGED_SKIPS_PER_POLL = 20


@dataclass
class Collector:
    """Emits each final minute once, in order, from ``position`` on (see ``finality``).

    ``position`` is where emission resumes. "Now" is ActivityWatch's (:class:`AWClock`),
    never the system clock alone; ``mode`` "once" (a run that measures no time of its own)
    also lets the system clock make the newest event's minute final (``once_finality``).
    The persisted cursor is the first minute not yet emitted: it moves only when this run
    emitted every minute from it on (``_advance_cursor``). A run that is not the ``owner``
    (a back-fill beside a running collector, which holds the lock) writes windows only: the
    cursor, the status file and the label bucket (``labels``) are the other's.
    """

    source: EventSource
    spec: RowSpec
    spool: Path
    cursor_path: Path
    status_path: Path
    hostname: str
    position: int
    settle_us: int
    mode: str
    to_us: int | None = None
    # with no cursor saved, the first minute not yet emitted is taken to be this one (the
    # start a live run would take); None: whatever this run starts at
    cursor_default_us: int | None = None
    clock: Clock = SYSTEM_CLOCK
    owner: bool = True
    # aw_write_labels: the label log's segments written into ActivityWatch after each poll
    # (by the owner only: a back-fill beside a running collector leaves them to it)
    labels: LabelWriter | None = None
    windows_emitted: int = 0
    files_written: int = 0
    _day: _Day | None = field(default=None, init=False, repr=False)
    _status: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _origin: int = field(default=0, init=False, repr=False)
    _aw: AWClock = field(default_factory=AWClock, init=False, repr=False)
    _skipped: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _odd_ends: set[tuple[int, int]] = field(default_factory=set, init=False, repr=False)
    _held_since: tuple[int, str] | None = field(default=None, init=False, repr=False)
    # a minute this run emitted on the system clock's word only (--once): the cursor stops there
    _provisional: int | None = field(default=None, init=False, repr=False)
    # why the last poll could not write the labels into ActivityWatch (None: it could)
    labels_error: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.source.complete and self.to_us is None:
            raise ValueError("to_us: a complete source (an export) needs an end")
        if self.labels is not None and not self.owner:
            raise ValueError("labels: only the owner writes them (the cursor's collector)")
        self._origin = self.position
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
            "events_skipped": {},
            "events_end_beyond_data": 0,
            "waiting": None,
            "clock": {"aw_now": None, "system_ahead_s": None, "steps": 0, "last_step": None},
            "aw_labels": None
            if self.labels is None
            else {
                "bucket": self.labels.bucket,
                "last_written_at": None,
                "added": 0,
                "updated": 0,
                "removed": 0,
                "failures": 0,
                "last_error": None,
                "last_error_at": None,
            },
        }
        persisted = read_cursor(self.cursor_path)
        if persisted is not None:
            self._status["cursor"] = format_us(persisted.next_us)

    def _read_clock(self) -> tuple[int, int]:
        """The system and elapsed clocks now (µs); a step of the system clock is logged."""
        wall_us = int(self.clock.wall() * 1_000_000)
        elapsed_us = int(self.clock.elapsed() * 1_000_000)
        step = self._aw.step(wall_us, elapsed_us)
        if step is not None:
            clock = self._status["clock"]
            clock["steps"] += 1
            clock["last_step"] = {"at": utc_now(), "by_s": round(step / 1e6, 1)}
            _log.warning(
                "clock_step_detected",
                by_s=round(step / 1e6, 1),
                direction="ahead" if step > 0 else "back",
                note="finality follows ActivityWatch's data, not the system clock",
            )
        return wall_us, elapsed_us

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
        # the spans of the rows still to come start from the position on, and may end the
        # next day (a meeting past midnight)
        return _Day(state, windows, inputs, self.source.afk_intervals(self.position, end + DAY_US))

    def _refresh(self, day: _Day) -> None:
        end = day.state.day_end_us
        fresh_windows = self.source.window_events(self.position, end)
        fresh_inputs = self.source.input_events(self.position, end)
        day.windows = splice(day.windows, fresh_windows, self.position)
        day.inputs = splice(day.inputs, fresh_inputs, self.position)
        # aw-watcher-afk dates an away stretch back to the last input: read it afresh
        day.afk = self.source.afk_intervals(self.position, end + DAY_US)

    def _final(
        self,
        day: _Day,
        ceiling: int,
        wall_us: int,
        elapsed_us: int,
        newest: int | None,
        afk_seen: int | None = None,
    ) -> Finality:
        """Which minutes of ``day`` from ``position`` on are final by ActivityWatch's clock
        (``--once``: and, for the newest event's minute only, the system clock's).

        ``newest``: the start of the newest window event the source reported (only that
        one can grow; the day's own events count too, they may be fresher). ``afk_seen``:
        how far the afk bucket's data reaches (None: no afk bucket)."""
        if self.source.complete:  # an export: nothing grows any more
            return Finality(day.state.day_end_us)
        aw_now = self._aw.observe(latest_end([*day.windows, *day.inputs], ceiling), elapsed_us)
        if aw_now is None:  # no data at all yet: nothing is known to be over
            return Finality(self.position)
        for event in day.windows:
            if event.end_us > ceiling and (event.start_us, event.end_us) not in self._odd_ends:
                self._odd_ends.add((event.start_us, event.end_us))
                _log.warning(
                    "event_end_beyond_data",
                    minute=format_us(floor_minute(event.start_us)),
                    duration_s=event.duration,
                    note="it ends later than the clocks allow: broken, or the clock is behind",
                )
        if day.windows and (newest is None or day.windows[-1].start_us > newest):
            newest = day.windows[-1].start_us
        final_at = functools.partial(
            finality,
            day.windows,
            from_us=self.position,
            settle_us=self.settle_us,
            growing_from_us=newest,
            afk_known_us=afk_seen,
        )
        by_data = final_at(now_us=aw_now)
        if self.mode != "once":
            return by_data
        # a one-off run measures no time after the newest data: without the system clock the
        # newest event's minute would wait for ActivityWatch to record something newer
        return once_finality(by_data, final_at(now_us=wall_us), newest)

    def step(self) -> int:
        """One poll: emit every minute that became final; returns the windows written."""
        refresh = getattr(self.source, "refresh", None)
        if callable(refresh):
            refresh()  # buckets can appear (a watcher started) or be recreated
        wall_us, elapsed_us = self._read_clock()
        ceiling = self._aw.ceiling(wall_us, elapsed_us, self.settle_us)
        newest: int | None = None
        afk_seen: int | None = None
        if not self.source.complete:
            # the newest data, whatever day the cursor is on (a catch-up reads old days)
            frontier = self.source.frontier(ceiling)
            self._aw.observe(frontier.seen_us, elapsed_us)
            newest = frontier.newest_start_us
            afk_seen = frontier.afk_seen_us
        written = 0
        while True:
            day_us = day_start_us(self.position)
            if self._day is None or self._day.state.day_us != day_us:
                self._day = None
                self._day = self._load_day(day_us)
            else:
                self._refresh(self._day)
            day = self._day
            final = self._final(day, ceiling, wall_us, elapsed_us, newest, afk_seen)
            until, provisional = final.until_us, final.provisional_from_us
            if self.to_us is not None and until >= self.to_us:
                until, final = max(self.to_us, self.position), Finality(self.to_us)
            if provisional is not None and provisional < until and self._provisional is None:
                self._provisional = provisional
            state, name, rows = self._emit(day, until)
            if name is not None:
                written += rows
                self.files_written += 1
                self._status["last_file"] = name
            # only now that the rows are in new/: a failed write leaves them to be built again
            day.state = state
            self.position = until
            if name is not None:
                self._advance_cursor()
            day_done = until == day.state.day_end_us
            if not day_done or (self.to_us is not None and until >= self.to_us):
                break
        self._advance_cursor()
        self.windows_emitted += written
        if self.labels is not None:
            self._write_labels(self.labels)
        self._note_poll(final, wall_us, elapsed_us)
        self._write_status()
        return written

    def _write_labels(self, labels: LabelWriter) -> None:
        """The label log's segments into ActivityWatch. A failure never stops the windows:
        it is counted, shown in the status and retried at the next poll."""
        doc = self._status["aw_labels"]
        try:
            done = labels.sync(now=self.clock.wall())
        except (UnreachableError, ActivityError, OSError) as exc:
            message = (
                f"cannot write {exc.filename or labels.state_path}: {exc.strerror or exc}"
                if isinstance(exc, OSError)
                else str(exc)
            )
            self.labels_error = message
            doc.update(failures=doc["failures"] + 1, last_error=message, last_error_at=utc_now())
            _log.warning("aw_labels_failed", error=message, failures=doc["failures"])
            return
        self.labels_error = None
        doc["last_error"] = None
        if done.added or done.updated or done.removed:
            doc.update(
                last_written_at=utc_now(),
                added=doc["added"] + done.added,
                updated=doc["updated"] + done.updated,
                removed=doc["removed"] + done.removed,
            )
            _log.info(
                "aw_labels_written",
                bucket=labels.bucket,
                days=done.days,
                added=done.added,
                updated=done.updated,
                removed=done.removed,
            )

    def _emit(self, day: _Day, until: int) -> tuple[DayState, str | None, int]:
        """Build the rows of ``[position, until)`` of ``day`` and write them as one spool file,
        an hour of rows at a time (a day of schema-v3 rows is ~13 MB); the state after them,
        the file's name (None: no rows) and how many rows it holds."""
        state = day.state
        with WindowFile(self.spool) as out:
            start = self.position
            while start < until:
                end = min(until, start + _ROWS_AT_ONCE_US)
                state, rows = build_rows(
                    state,
                    day.windows,
                    day.inputs,
                    until_us=end,
                    spec=self.spec,
                    has_input=bool(day.inputs),
                    afk=day.afk,
                )
                out.write(rows)
                start = end
            first, last = out.first, out.last
            name = out.commit()
        if name is not None:
            _log.info("windows_emitted", file=name, windows=out.rows, first=first, last=last)
        return state, name, out.rows

    def _note_poll(self, final: Finality, wall_us: int, elapsed_us: int) -> None:
        """What the status shows about this poll: skipped events, a held minute, the clocks."""
        skipped = self.source.drain_skipped()
        for i, bad in enumerate(skipped):
            self._skipped[bad.reason] += 1
            if i < _LOGGED_SKIPS_PER_POLL:
                _log.warning("event_skipped", reason=bad.reason, detail=bad.detail)
        if len(skipped) > _LOGGED_SKIPS_PER_POLL:
            _log.warning("events_skipped", more=len(skipped) - _LOGGED_SKIPS_PER_POLL)
        held = final.held_by
        if held is None:
            self._held_since = None
        elif self._held_since is None or self._held_since[0] != final.until_us:
            self._held_since = (final.until_us, utc_now())
        aw_now = self._aw.now(elapsed_us)
        clock = self._status["clock"]
        clock["aw_now"] = format_us(aw_now) if aw_now is not None else None
        clock["system_ahead_s"] = round((wall_us - aw_now) / 1e6, 1) if aw_now is not None else None
        self._status.update(
            last_poll_at=utc_now(),
            input_bucket=self.source.input_bucket,
            windows_emitted=self.windows_emitted,
            last_error=None,
            events_skipped=dict(sorted(self._skipped.items())),
            events_end_beyond_data=len(self._odd_ends),
            waiting=None
            if held is None or self._held_since is None
            else {
                "minute": format_us(final.until_us),
                "since": self._held_since[1],
                "reason": "an event that starts in it is still growing",
            },
        )

    def _advance_cursor(self) -> None:
        """Move the cursor to ``position`` if this run emitted every minute from the cursor on:
        a back-fill of a later range (``--from`` after the cursor) leaves it where it is. A
        minute emitted on the system clock's word only is not passed: the next run emits it
        again, from data that shows whether it was over."""
        if not self.owner:
            return  # the cursor is the collector's that holds the lock
        upto = self.position if self._provisional is None else self._provisional
        persisted = read_cursor(self.cursor_path)
        ours = persisted is not None and (persisted.user_id, persisted.hostname) == (
            self.spec.user_id,
            self.hostname,
        )
        if persisted is not None and ours:
            first_unemitted = persisted.next_us
        elif self.cursor_default_us is not None:
            first_unemitted = self.cursor_default_us
        else:
            first_unemitted = self._origin
        if not self._origin <= first_unemitted < upto:
            return
        ensure_private_dir(self.cursor_path.parent)
        write_cursor(self.cursor_path, Cursor(upto, self.spec.user_id, self.hostname))
        self._status["cursor"] = format_us(upto)

    def _write_status(self) -> None:
        if not self.owner:
            return  # `collect --status` shows the collector that holds the lock
        ensure_private_dir(self.status_path.parent)
        write_status(self.status_path, self._status)

    def record_error(self, message: str) -> None:
        self._status.update(last_error=message, last_error_at=utc_now(), last_poll_at=utc_now())
        self._write_status()

    def stopped(self) -> None:
        self._status.update(state="stopped", stopped_at=utc_now())
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
