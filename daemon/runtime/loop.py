"""The daemon: claim spool files, label their windows, log them durably, keep status fresh."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import structlog

from daemon.runtime.faults import Backoff, errno_name, fix_for, is_retried
from daemon.runtime.intake import FileRefusal, ParsedFile, parse_spool_file
from daemon.runtime.labellog import AppendFailed, LabelLog
from daemon.runtime.lock import DataLocks
from daemon.runtime.notify import Notifier
from daemon.runtime.planner import BatchPlan, plan_batch
from daemon.runtime.reloader import (
    Reloader,
    ReloadOutcome,
    SnapshotHolder,
    build_snapshot,
    store_fingerprint,
)
from daemon.runtime.spool import Claimed, Spool
from daemon.runtime.status import LatencyWindow, utc_now, write_status
from daemon.runtime.watcher import Waker, Watcher
from daemon.settings import Settings
from taskclf_core.errors import LabelLogError, OperationalError
from taskclf_core.record import LabelRecord
from taskclf_core.smoothing import SmoothingState

__all__ = ["Daemon", "log_window_labelled"]

log = structlog.get_logger()
_MAX_FILES_PER_BATCH = 512
_RETENTION_EVERY = 3600.0
_RELOAD_STATUS: dict[ReloadOutcome, str] = {
    "swapped": "store reloaded",
    "cleared": "store reloaded",
    "refused": "store refused; old store kept",
    "unsettled": "store changing while read; old store kept until it settles",
}
_STATUS_MIN_INTERVAL = 0.5  # a trickle of windows must not turn into a trickle of status writes


def log_window_labelled(record: LabelRecord) -> None:
    """The canonical one line per window (ids and labels only, never feature values)."""
    log.info(
        "window_labelled",
        user_id=record.user_id,
        bucket_start_ts=record.bucket_start_ts,
        label=record.label,
        smoothed_label=record.smoothed_label,
        confidence=round(record.confidence, 4),
        calibrator=record.calibrator,
        store_id=record.store_id,
        source=record.source,
    )


@dataclass(slots=True)
class Counters:
    labelled: int = 0
    refused: int = 0
    duplicates: int = 0
    files_done: int = 0
    files_rejected: int = 0
    last_window: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    latency: LatencyWindow = field(default_factory=LatencyWindow)


@dataclass(frozen=True, slots=True)
class _Pending:
    claimed: Claimed
    parsed: ParsedFile


Store = Literal["label_log", "spool"]  # where a storage fault happened


@dataclass(frozen=True, slots=True)
class _Stall:
    """A storage fault the loop is waiting out; it claims nothing new meanwhile.

    ``batch``: files in cur/ whose records are not on disk yet (a label-log stall), retried
    with the same ``plan`` when the failed append was rolled back cleanly, planned again if
    not. ``requeue``: files were left in cur/ with their records on disk; they go back to
    new/ (and come out as duplicates) once the spool works again.
    """

    what: Store
    error: OSError
    message: str
    path: Path
    retry_at: float  # time.monotonic()
    batch: tuple[_Pending, ...] = ()
    plan: BatchPlan | None = None
    requeue: bool = False


class Daemon:
    """``taskclf-daemon run``: the imperative shell around :mod:`taskclf_core.pipeline`."""

    def __init__(
        self, settings: Settings, *, once: bool = False, notifier: Notifier | None = None
    ) -> None:
        self.settings = settings
        self.once = once
        self.notifier = notifier if notifier is not None else Notifier.from_env(os.environ)
        self.spool = Spool(settings.spool_path)
        self.labels = LabelLog(settings.labels_path)
        self.counters = Counters()
        self.waker = Waker()
        self.started_at = utc_now()
        self._stop_requested = False
        self._reload_requested = False
        self._last_status = 0.0
        self._last_ping = 0.0
        self._last_rescan = 0.0
        self._last_retention = -math.inf
        self._dirty = True
        self._backlog = 0
        self._days_merged: set[str] = set()
        self._stall: _Stall | None = None
        self._fault: tuple[Store, str] | None = None  # what failed, since when (until recovered)
        self._backoff = Backoff(first=1.0, cap=30.0)
        self._status_failing = False
        self.holder: SnapshotHolder
        self.state: SmoothingState
        self.watcher: Watcher | None = None
        self.reloader: Reloader | None = None

    # --- lifecycle -------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or the backlog is drained with ``once``); 0 on a clean stop.

        Start-up problems (model, store, taxonomy, paths) raise TaskclfError for the CLI
        to report with exit 2; a lost label-log write returns 1.
        """
        os.umask(0o077)
        # handlers first: a `reload` or SIGTERM landing while we start up (the lock already
        # names us) is remembered and honoured, instead of killing the process
        try:
            with self._signals():
                return self._run()
        finally:
            self.waker.close()

    def _run(self) -> int:
        settings = self.settings
        # first of all: a second daemon on this spool or label log must touch nothing
        with DataLocks(*settings.lock_paths):
            if settings.state_dir is not None:
                log.warning(
                    "setting_ignored",
                    key="state_dir",
                    reason="the lock and status file live in the spool directory now",
                    status_file=str(settings.status_path),
                )
            snapshot, info, fingerprint = build_snapshot(settings, pause=self.waker.wait)
            self.holder = SnapshotHolder(snapshot, info, fingerprint)
            try:
                self._prepare_storage(snapshot.policy.empty_state())
            except OSError as exc:
                # nothing claimed yet: say what to fix in one line and exit 1 (not a traceback)
                raise OperationalError(
                    f"cannot start: {exc.filename or self.spool.root}: {errno_name(exc)} "
                    f"{exc.strerror or exc}; {fix_for(exc)}"
                ) from exc
            try:
                self._start_threads()
                log.info(
                    "daemon_started",
                    pid=os.getpid(),
                    bundle_id=snapshot.bundle.bundle_id,
                    store_id=snapshot.store_id,
                    spool=str(self.spool.root),
                    label_log=str(self.labels.directory),
                    once=self.once,
                )
                self._write_status()
                self.notifier.ready(status="labelling windows")
                self._loop()
            except OperationalError as exc:
                self.counters.last_error = {"message": str(exc), "at": utc_now()}
                log.error("fatal_error", error=str(exc))
                self._shutdown(fatal=str(exc))
                return 1
            self._shutdown(fatal=None)
            return 0

    def _prepare_storage(self, empty: SmoothingState) -> None:
        """The spool's layout, the label log's recent days (smoothing), cur/ re-queued."""
        for path in self.spool.ensure():
            log.warning("permissions_tightened", path=str(path), mode="0700")
        self.state = empty.merged((w.user_id, w.entry) for w in self.labels.open())
        requeued = list(self.spool.requeue())
        if requeued:
            log.info("spool_requeued", files=len(requeued))

    def _start_threads(self) -> None:
        settings = self.settings
        if self.once:
            return
        store_path = settings.calibrator_store
        if store_path is not None:
            self.reloader = Reloader(
                self.holder,
                store_path,
                debounce=settings.reload_debounce_seconds,
                on_reloading=self.notifier.reloading,
                on_done=self._reloaded,
            )
            self.reloader.start()
        self.watcher = Watcher(
            self.spool.new,
            store_path,
            on_spool=self.waker.wake,
            on_store=self._store_changed,
            mode=settings.observer,
            waker=self.waker,
        )
        self.watcher.start()

    def _store_changed(self) -> None:
        if self.reloader is not None:
            self.reloader.request()

    def _reloaded(self, outcome: ReloadOutcome) -> None:
        if outcome != "refused" and self.watcher is not None:
            self.watcher.rewatch_store()  # follow the path's new target for events
        self._dirty = True
        self.waker.wake()  # get the new status out promptly
        self.notifier.ready(status=_RELOAD_STATUS[outcome])

    @contextmanager
    def _signals(self) -> Iterator[None]:
        def stop(signum: int, _frame: object) -> None:
            self._stop_requested = True

        def reload(_signum: int, _frame: object) -> None:
            self._reload_requested = True

        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        old_fd = signal.set_wakeup_fd(self.waker.signal_fd, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)
        try:
            yield
        finally:
            signal.set_wakeup_fd(old_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _shutdown(self, *, fatal: str | None) -> None:
        self.notifier.stopping()
        if self.watcher is not None:
            self.watcher.stop()
        if self.reloader is not None:
            self.reloader.stop()
        self.labels.close()
        self._write_status(running=False, fatal=fatal)
        log.info(
            "daemon_stopped",
            labelled=self.counters.labelled,
            refused=self.counters.refused,
            duplicates=self.counters.duplicates,
            fatal=fatal is not None,
        )
        self.notifier.close()

    # --- the loop --------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop_requested:
            if self._reload_requested:
                self._reload_requested = False
                if self.reloader is not None:
                    log.info("reload_requested", via="SIGHUP")
                    self.reloader.request(force=True)
            names: list[str] = []
            if self._stall is None or self._retry_stall():
                names = self._pending_names()
                if names:
                    self._drain(names)
                elif self.once:
                    return
                if self._stall is None and self._fault is not None:
                    self._recovered()
            self._tick()
            if (not names or self._stall is not None) and not self._stop_requested:
                self.waker.wait(self._sleep_time())

    def _sleep_time(self) -> float:
        s = self.settings
        interval = min(s.rescan_interval_seconds, s.heartbeat_seconds)
        if self.notifier.watchdog_interval is not None:
            interval = min(interval, self.notifier.watchdog_interval)
        if self._dirty:
            # news waits at most _STATUS_MIN_INTERVAL to reach the status file
            since = time.monotonic() - self._last_status
            interval = min(interval, max(0.0, _STATUS_MIN_INTERVAL - since))
        if self._stall is not None:
            interval = min(interval, max(0.0, self._stall.retry_at - time.monotonic()))
        return interval

    # --- storage faults --------------------------------------------------------------

    def _storage_failed(
        self,
        what: Store,
        exc: OSError,
        path: Path,
        *,
        batch: tuple[_Pending, ...] = (),
        plan: BatchPlan | None = None,
        requeue: bool = False,
    ) -> None:
        """Wait ``exc`` out (degraded, backing off) if someone can clear it; else stop (exit 1).

        Either way nothing in ``batch`` leaves cur/: its records are not on disk.
        """
        where = "the label log" if what == "label_log" else "the spool"
        directory = self.labels.directory if what == "label_log" else self.spool.root
        message = (
            f"cannot write {where} in {directory} ({path}: {errno_name(exc)} "
            f"{exc.strerror or exc}); {fix_for(exc)}"
        )
        if not is_retried(exc) or self.once:
            waiting = f"; {len(batch)} file(s) stay in {self.spool.cur}" if batch else ""
            error = LabelLogError if what == "label_log" else OperationalError
            raise error(f"{message}{waiting}; nothing unlogged was acknowledged") from exc
        if self._stall is not None and self._stall.batch and not batch:
            # never drop a batch we still owe the label log; its retry comes first
            log.error(f"{what}_write_failed", path=str(path), error=str(exc))
            return
        delay = self._backoff.next_delay()
        if self._fault is None:
            self._fault = (what, utc_now())
        self._stall = _Stall(
            what=what,
            error=exc,
            message=message,
            path=path,
            retry_at=time.monotonic() + delay,
            batch=batch,
            plan=plan,
            requeue=requeue or (self._stall is not None and self._stall.requeue),
        )
        log.error(
            f"{what}_write_failed",
            path=str(path),
            errno=errno_name(exc),
            error=exc.strerror or str(exc),
            attempt=self._backoff.attempts,
            retry_in_seconds=delay,
            files_waiting=len(batch),
            fix=fix_for(exc),
        )
        self.counters.last_error = {"message": message, "at": utc_now()}
        self._dirty = True

    def _retry_stall(self) -> bool:
        """Try the stalled work again when its time has come; True once the stall is over."""
        stall = self._stall
        if stall is None:
            return True
        if time.monotonic() < stall.retry_at:
            return False
        self._stall = None
        if stall.what == "label_log":
            if stall.plan is not None:
                self._commit(stall.batch, stall.plan)  # the very same records
            else:
                self._process(stall.batch)
        if stall.requeue and self._stall is None:
            try:
                requeued = list(self.spool.requeue())
            except OSError as exc:
                self._storage_failed("spool", exc, self.spool.cur, requeue=True)
            else:
                if requeued:
                    log.info("spool_requeued", files=len(requeued))
        return self._stall is None

    def _recovered(self) -> None:
        assert self._fault is not None
        what, since = self._fault
        log.info(f"{what}_recovered", failing_since=since, retries=self._backoff.attempts)
        self._fault = None
        self._backoff.reset()
        self._dirty = True

    def _pending_names(self) -> list[str]:
        try:
            return self.spool.pending()
        except OSError as exc:
            self._storage_failed("spool", exc, self.spool.new)
            return []

    def _tick(self) -> None:
        now = time.monotonic()
        s = self.settings
        since = now - self._last_status
        if (self._dirty and since >= _STATUS_MIN_INTERVAL) or since >= s.heartbeat_seconds:
            self._write_status()
        interval = self.notifier.watchdog_interval
        if interval is not None and now - self._last_ping >= interval * 0.9:
            threads_ok = (self.watcher is None or self.watcher.is_alive()) and (
                self.reloader is None or self.reloader.is_alive()
            )
            if threads_ok:
                self.notifier.watchdog()
                self._last_ping = now
            else:
                log.error("watchdog_withheld", reason="a watcher or reloader thread died")
        if self.reloader is not None and now - self._last_rescan >= s.rescan_interval_seconds:
            # the safety net for store events that never arrived
            self._last_rescan = now
            holder = self.holder
            if s.calibrator_store is not None:
                found = store_fingerprint(s.calibrator_store)
                if found != holder.refused_fingerprint and (
                    found != holder.fingerprint or holder.refused_fingerprint is not None
                ):
                    self.reloader.request()
        if now - self._last_retention >= _RETENTION_EVERY:
            self._last_retention = now
            self._retention()

    def _retention(self) -> None:
        s = self.settings
        try:
            pruned = self.spool.prune_done(s.retention_days * 86400)
            days: list[str] = []
            if s.label_retention_days is not None:
                days = self.labels.prune(s.label_retention_days, datetime.now(UTC).date())
        except OSError as exc:
            # pruning is housekeeping: try again at the next round rather than stop
            log.warning("retention_failed", error=str(exc), path=str(exc.filename))
            return
        if pruned or days:
            log.info("retention_pruned", done_files=pruned, label_log_days=days)

    def _drain(self, names: list[str]) -> None:
        """Label everything in ``names`` in batches (one LightGBM call each), stop-aware."""
        i = 0
        schema = self.holder.snapshot.bundle.schema
        while i < len(names) and not self._stop_requested and self._stall is None:
            batch: list[_Pending] = []
            n_windows = 0
            while (
                i < len(names)
                and n_windows < self.settings.batch_max_windows
                and len(batch) < _MAX_FILES_PER_BATCH
                and self._stall is None
            ):
                name = names[i]
                try:
                    claimed = self.spool.claim(name)
                except OSError as exc:
                    # what is claimed already is still labelled; claiming resumes later
                    self._storage_failed("spool", exc, self.spool.new / name)
                    break
                i += 1
                if claimed is None:
                    continue
                outcome = self._read(claimed, schema)
                if outcome is None:
                    continue
                if isinstance(outcome, FileRefusal):
                    self._reject_file(claimed, outcome)
                    continue
                batch.append(_Pending(claimed, outcome))
                n_windows += len(outcome.windows)
            self._backlog = len(names) - i
            if batch:
                self._process(tuple(batch))
            if time.monotonic() - self._last_status >= 2 * _STATUS_MIN_INTERVAL:
                self._write_status()

    def _read(self, claimed: Claimed, schema: Any) -> ParsedFile | FileRefusal | None:
        """The parsed file, why it is refused, or None if it vanished from cur/ meanwhile."""
        if claimed.kind != "file":
            return FileRefusal("not_a_file", f"expected a regular file, found a {claimed.kind}")
        if claimed.size > self.settings.max_file_bytes:
            return FileRefusal(
                "too_large",
                f"{claimed.size} bytes exceeds max_file_bytes = {self.settings.max_file_bytes}",
            )
        try:
            with open(claimed.path, "rb") as fh:
                # the size seen at claim time, +1 to notice a file that grew past the limit
                data = fh.read(min(claimed.size, self.settings.max_file_bytes) + 1)
        except FileNotFoundError:
            self._vanished(claimed, "before it was read; it was not labelled")
            return None
        except OSError as exc:
            return FileRefusal("unreadable", f"cannot read the file ({exc.strerror or exc})")
        if len(data) > self.settings.max_file_bytes:
            return FileRefusal(
                "too_large", f"exceeds max_file_bytes = {self.settings.max_file_bytes}"
            )
        return parse_spool_file(claimed.name, data, schema)

    def _vanished(self, claimed: Claimed, when: str) -> None:
        log.warning(
            "spool_file_vanished",
            file=claimed.name,
            path=str(claimed.path),
            detail=f"something else removed it from cur/ {when}",
        )

    def _move(self, claimed: Claimed, move: Callable[[], object]) -> OSError | None:
        """Run one move out of cur/: None if done (or the file vanished), else the error."""
        try:
            move()
        except FileNotFoundError as exc:
            if os.path.lexists(claimed.path):
                return exc  # the target directory is what is missing
            self._vanished(claimed, "after it was read; its windows are logged")
        except OSError as exc:
            return exc
        return None

    def _reject_file(self, claimed: Claimed, refusal: FileRefusal) -> None:
        error = self._move(
            claimed, partial(self.spool.reject, claimed, refusal.error, refusal.detail)
        )
        if error is not None:
            self._storage_failed("spool", error, claimed.path, requeue=True)
            return
        self.counters.refused += 1
        self.counters.files_rejected += 1
        self.counters.last_error = {"message": f"{claimed.name}: {refusal.detail}", "at": utc_now()}
        self._dirty = True
        log.warning(
            "file_rejected",
            file=claimed.name,
            error=refusal.error,
            detail=refusal.detail,
            moved_to=str(self.spool.rejected),
        )

    def _ensure_day(self, day: str) -> None:
        """Load a day's logged ids (and the days smoothing may look back into) on first use."""
        if day in self._days_merged:
            # merged entries stay in the smoothing state; dedupe re-reads an evicted day itself
            return
        lookback = self.holder.snapshot.policy
        span = (lookback.smooth_window - 1) * (lookback.idle_gap_seconds + 3600.0)
        last = date.fromisoformat(day)
        for back in range(math.ceil(span / 86400), -1, -1):
            if back > (last - date.min).days:
                continue  # no days before 0001-01-01 to look back into
            key = (last - timedelta(days=back)).isoformat()
            if not self.labels.is_loaded(key):
                index = self.labels.load(key)
                self.state = self.state.merged((w.user_id, w.entry) for w in index.windows)
        self._days_merged.add(day)  # only once every day it needs is in (merging is idempotent)

    def _process(self, batch: tuple[_Pending, ...]) -> None:
        """Plan the batch (nothing happens yet), then make it durable and acknowledge it."""
        snapshot = self.holder.snapshot  # read once: a swap lands between batches
        try:
            for day in sorted({w.key[1][:10] for p in batch for w in p.parsed.windows}):
                self._ensure_day(day)
            plan = plan_batch(
                [(p.claimed.name, p.parsed) for p in batch],
                is_logged=self.labels.contains,
                snapshot=snapshot,
                state=self.state,
                processed_at=utc_now(),
            )
        except OSError as exc:  # a day of the label log could not be read
            path = Path(exc.filename) if exc.filename else self.labels.directory
            self._storage_failed("label_log", exc, path, batch=batch)
            return
        self._commit(batch, plan)

    def _commit(self, batch: tuple[_Pending, ...], plan: BatchPlan) -> None:
        try:
            self.labels.append(plan.records)
        except AppendFailed as exc:
            if not exc.clean:
                # a day file could not be cut back: it is re-read (and merged) before a new plan
                self._days_merged.difference_update(r.day for r in plan.records)
            self._storage_failed(
                "label_log", exc.cause, exc.path, batch=batch, plan=plan if exc.clean else None
            )
            return
        self.state = plan.state
        self._acknowledge(batch, plan)

    def _acknowledge(self, batch: tuple[_Pending, ...], plan: BatchPlan) -> None:
        """Records are durable: move files out of cur/, count, and log one line per window."""
        now_ns = time.time_ns()
        c = self.counters
        for record in plan.records:
            log_window_labelled(record)
        failed: tuple[OSError, Path] | None = None
        for pending, outcome in zip(batch, plan.files, strict=True):
            claimed, parsed = pending.claimed, pending.parsed
            for user_id, bucket_start_ts in outcome.duplicates:
                log.info(
                    "window_duplicate",
                    user_id=user_id,
                    bucket_start_ts=bucket_start_ts,
                    source=claimed.name,
                )
            refused = [r.to_json(jsonl=parsed.jsonl) for r in parsed.refused]
            if parsed.refused:
                c.refused += len(parsed.refused)
                c.last_error = {
                    "message": f"{claimed.name}: {parsed.refused[0].reason}",
                    "at": utc_now(),
                }
                for r in parsed.refused:
                    log.warning("window_refused", file=claimed.name, field=r.field, reason=r.reason)
            error = self._move(claimed, partial(self._file_away, claimed, parsed, refused))
            if error is not None:
                # the records are on disk: the file stays in cur/ and goes back to new/ later,
                # where its windows come out as duplicates
                failed = failed or (error, claimed.path)
            elif parsed.windows:
                c.files_done += 1
            else:
                c.files_rejected += 1
            c.labelled += outcome.labelled
            c.duplicates += len(outcome.duplicates)
            c.latency.add((now_ns - claimed.arrived_ns) / 1e6)
        if plan.records:
            last = plan.records[-1]
            c.last_window = {
                "user_id": last.user_id,
                "bucket_start_ts": last.bucket_start_ts,
                "label": last.label,
                "smoothed_label": last.smoothed_label,
                "at": last.processed_at,
            }
        self._dirty = True
        if failed is not None:
            self._storage_failed("spool", *failed, requeue=True)

    def _file_away(self, claimed: Claimed, parsed: ParsedFile, refused: list[Any]) -> None:
        """done/ (with a sidecar for refused windows), or rejected/ if none was good."""
        if parsed.windows:
            if refused:
                self.spool.write_sidecar(
                    self.spool.free_rejected_name(claimed.name),
                    "invalid_windows",
                    f"{len(refused)} of {len(refused) + len(parsed.windows)} windows refused; "
                    "the others were labelled (the file is in done/)",
                    refused=refused,
                )
            self.spool.finish(claimed)
        else:
            self.spool.reject(
                claimed,
                "invalid_windows",
                f"all {len(refused)} windows refused; first: {parsed.refused[0].reason}",
                refused=refused,
            )

    # --- status ----------------------------------------------------------------------

    def _stall_json(self) -> dict[str, Any] | None:
        stall = self._stall
        if stall is None:
            return None
        return {
            "what": stall.what,
            "path": str(stall.path),
            "errno": errno_name(stall.error),
            "message": stall.message,
            "since": self._fault[1] if self._fault is not None else None,
            "retries": self._backoff.attempts,
            "next_retry_at": (
                datetime.now(UTC) + timedelta(seconds=max(0.0, stall.retry_at - time.monotonic()))
            )
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "files_waiting": len(stall.batch),
        }

    def _write_status(self, *, running: bool = True, fatal: str | None = None) -> None:
        s = self.settings
        snapshot = self.holder.snapshot
        c = self.counters
        now = utc_now()
        data: dict[str, Any] = {
            "running": running,
            "healthy": running
            and fatal is None
            and not self.holder.info.last_error
            and self._stall is None,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "heartbeat_at": now,
            "heartbeat_interval_seconds": s.heartbeat_seconds,
            "stopped_at": None if running else now,
            "once": self.once,
            "spool": {
                "path": str(self.spool.root),
                # mid-drain the count is known; otherwise (idle, or stalled while files
                # keep arriving) count new/
                "new": self._backlog
                if self._backlog and self._stall is None
                else self.spool.count(self.spool.new),
                "cur": self.spool.count(self.spool.cur),
                "rejected": self.spool.count(self.spool.rejected, suffix_excluded=".error.json"),
            },
            "windows": {"labelled": c.labelled, "refused": c.refused, "duplicates": c.duplicates},
            "files": {"done": c.files_done, "rejected": c.files_rejected},
            "last_window": c.last_window,
            "model": {
                "bundle_id": snapshot.bundle.bundle_id,
                "schema_hash": snapshot.bundle.schema_hash,
                "path": str(s.model_path),
            },
            "store": self.holder.info.to_json(),
            "label_log": str(self.labels.directory),
            "latency_ms": c.latency.summary(),
            "last_error": c.last_error,
            "fatal_error": fatal,
            "storage_error": self._stall_json(),
            "watcher": self.watcher.kind if self.watcher is not None else "none",
        }
        self._last_status = time.monotonic()
        try:
            write_status(s.status_path, data)
        except OSError as exc:
            # the spool's disk is full or read-only too: labelling must not stop for status,
            # which then shows a stale heartbeat; tried again in _STATUS_MIN_INTERVAL
            if not self._status_failing:
                log.error("status_write_failed", path=str(s.status_path), error=str(exc))
            self._status_failing = True
        else:
            if self._status_failing:
                log.info("status_write_recovered", path=str(s.status_path))
            self._status_failing = False
            self._dirty = False
        if self._stall is not None:
            self.notifier.status(f"waiting: {self._stall.message}")
            return
        self.notifier.status(
            f"{c.labelled} labelled, {data['spool']['new']} waiting, store {snapshot.store_id}"
        )
