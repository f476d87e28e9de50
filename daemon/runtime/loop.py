"""The daemon: claim spool files, label their windows, log them durably, keep status fresh."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from daemon.runtime.intake import FileRefusal, ParsedFile, parse_spool_file
from daemon.runtime.labellog import LabelLog
from daemon.runtime.lock import DataLocks
from daemon.runtime.notify import Notifier
from daemon.runtime.reloader import Reloader, SnapshotHolder, build_snapshot, store_fingerprint
from daemon.runtime.spool import Claimed, Spool
from daemon.runtime.status import LatencyWindow, utc_now, write_status
from daemon.runtime.watcher import Waker, Watcher
from daemon.settings import Settings
from taskclf_core.pipeline import label_window, label_windows
from taskclf_core.record import LabelRecord
from taskclf_core.schema import FeatureWindow
from taskclf_core.smoothing import SmoothingState

__all__ = ["Daemon", "FatalError", "log_window_labelled"]

log = structlog.get_logger()
_MAX_FILES_PER_BATCH = 512
_RETENTION_EVERY = 3600.0
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


class FatalError(Exception):
    """The label log could not be made durable; stop without acknowledging anything."""


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


@dataclass(slots=True)
class _Pending:
    claimed: Claimed
    parsed: ParsedFile
    labelled: int = 0
    duplicates: int = 0


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
            snapshot, info, fingerprint = build_snapshot(settings)
            self.holder = SnapshotHolder(snapshot, info, fingerprint)
            for path in self.spool.ensure():
                log.warning("permissions_tightened", path=str(path), mode="0700")
            self.state = snapshot.policy.empty_state().merged(
                (w.user_id, w.entry) for w in self.labels.open()
            )
            requeued = list(self.spool.requeue())
            if requeued:
                log.info("spool_requeued", files=len(requeued))
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
            except FatalError as exc:
                self.counters.last_error = {"message": str(exc), "at": utc_now()}
                log.error("fatal_error", error=str(exc))
                self._shutdown(fatal=str(exc))
                return 1
            self._shutdown(fatal=None)
            return 0

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

    def _reloaded(self, ok: bool) -> None:
        if ok and self.watcher is not None:
            self.watcher.rewatch_store()
        self._dirty = True
        self.waker.wake()  # get the new status out promptly
        self.notifier.ready(status="store reloaded" if ok else "store refused; old store kept")

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
            names = self.spool.pending()
            if names:
                self._drain(names)
            elif self.once:
                return
            self._tick()
            if not names and not self._stop_requested:
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
        return interval

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
        pruned = self.spool.prune_done(s.retention_days * 86400)
        days: list[str] = []
        if s.label_retention_days is not None:
            days = self.labels.prune(s.label_retention_days, datetime.now(UTC).date())
        if pruned or days:
            log.info("retention_pruned", done_files=pruned, label_log_days=days)

    def _drain(self, names: list[str]) -> None:
        """Label everything in ``names`` in batches (one LightGBM call each), stop-aware."""
        i = 0
        schema = self.holder.snapshot.bundle.schema
        while i < len(names) and not self._stop_requested:
            batch: list[_Pending] = []
            n_windows = 0
            while (
                i < len(names)
                and n_windows < self.settings.batch_max_windows
                and len(batch) < _MAX_FILES_PER_BATCH
            ):
                claimed = self.spool.claim(names[i])
                i += 1
                if claimed is None:
                    continue
                outcome = self._read(claimed, schema)
                if isinstance(outcome, FileRefusal):
                    self._reject_file(claimed, outcome)
                    continue
                batch.append(_Pending(claimed, outcome))
                n_windows += len(outcome.windows)
            self._backlog = len(names) - i
            if batch:
                self._process(batch)
            if time.monotonic() - self._last_status >= 2 * _STATUS_MIN_INTERVAL:
                self._write_status()

    def _read(self, claimed: Claimed, schema: Any) -> ParsedFile | FileRefusal:
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
        except OSError as exc:
            return FileRefusal("unreadable", f"cannot read the file ({exc.strerror or exc})")
        if len(data) > self.settings.max_file_bytes:
            return FileRefusal(
                "too_large", f"exceeds max_file_bytes = {self.settings.max_file_bytes}"
            )
        return parse_spool_file(claimed.name, data, schema)

    def _reject_file(self, claimed: Claimed, refusal: FileRefusal) -> None:
        target = self.spool.reject(claimed, refusal.error, refusal.detail)
        self.counters.refused += 1
        self.counters.files_rejected += 1
        self.counters.last_error = {"message": f"{claimed.name}: {refusal.detail}", "at": utc_now()}
        self._dirty = True
        log.warning(
            "file_rejected",
            file=claimed.name,
            error=refusal.error,
            detail=refusal.detail,
            moved_to=str(target),
        )

    def _ensure_day(self, day: str) -> None:
        """Load a day's logged ids (and the days smoothing may look back into) on first use."""
        if day in self._days_merged:
            # merged entries stay in the smoothing state; dedupe re-reads an evicted day itself
            return
        self._days_merged.add(day)
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

    def _process(self, batch: list[_Pending]) -> None:
        snapshot = self.holder.snapshot  # read once: a swap lands between batches
        todo: list[FeatureWindow] = []
        sources: list[str] = []
        owners: list[_Pending] = []
        seen: set[tuple[str, str]] = set()
        for pending in batch:
            for window in pending.parsed.windows:
                key = window.key
                self._ensure_day(key[1][:10])
                if key in seen or self.labels.contains(key):
                    pending.duplicates += 1
                    log.info(
                        "window_duplicate",
                        user_id=window.user_id,
                        bucket_start_ts=key[1],
                        source=pending.claimed.name,
                    )
                    continue
                seen.add(key)
                todo.append(window)
                sources.append(pending.claimed.name)
                owners.append(pending)
        processed_at = utc_now()
        records: list[LabelRecord]
        if len(todo) == 1:
            state, record = label_window(
                snapshot, self.state, todo[0], source=sources[0], processed_at=processed_at
            )
            records = [record]
        else:
            state, records = label_windows(
                snapshot, self.state, todo, sources=sources, processed_at=processed_at
            )
        try:
            self.labels.append(records)
        except OSError as exc:
            raise FatalError(
                f"cannot write the label log in {self.labels.directory}: {exc}"
            ) from exc
        self.state = state
        for pending in owners:
            pending.labelled += 1
        self._acknowledge(batch, records)

    def _acknowledge(self, batch: list[_Pending], records: list[LabelRecord]) -> None:
        """Records are durable: move files out of cur/, count, and log one line per window."""
        now_ns = time.time_ns()
        c = self.counters
        for record in records:
            log_window_labelled(record)
        for pending in batch:
            claimed, parsed = pending.claimed, pending.parsed
            refused = [r.to_json(jsonl=parsed.jsonl) for r in parsed.refused]
            if parsed.refused:
                c.refused += len(parsed.refused)
                c.last_error = {
                    "message": f"{claimed.name}: {parsed.refused[0].reason}",
                    "at": utc_now(),
                }
                for r in parsed.refused:
                    log.warning("window_refused", file=claimed.name, field=r.field, reason=r.reason)
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
                c.files_done += 1
            else:
                self.spool.reject(
                    claimed,
                    "invalid_windows",
                    f"all {len(refused)} windows refused; first: {parsed.refused[0].reason}",
                    refused=refused,
                )
                c.files_rejected += 1
            c.labelled += pending.labelled
            c.duplicates += pending.duplicates
            c.latency.add((now_ns - claimed.arrived_ns) / 1e6)
        if records:
            last = records[-1]
            c.last_window = {
                "user_id": last.user_id,
                "bucket_start_ts": last.bucket_start_ts,
                "label": last.label,
                "smoothed_label": last.smoothed_label,
                "at": last.processed_at,
            }
        self._dirty = True

    # --- status ----------------------------------------------------------------------

    def _write_status(self, *, running: bool = True, fatal: str | None = None) -> None:
        s = self.settings
        snapshot = self.holder.snapshot
        c = self.counters
        now = utc_now()
        data: dict[str, Any] = {
            "running": running,
            "healthy": running and fatal is None and not self.holder.info.last_error,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "heartbeat_at": now,
            "heartbeat_interval_seconds": s.heartbeat_seconds,
            "stopped_at": None if running else now,
            "once": self.once,
            "spool": {
                "path": str(self.spool.root),
                "new": self._backlog if self._backlog else self.spool.count(self.spool.new),
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
            "watcher": self.watcher.kind if self.watcher is not None else "none",
        }
        write_status(s.status_path, data)
        self._last_status = time.monotonic()
        self._dirty = False
        self.notifier.status(
            f"{c.labelled} labelled, {data['spool']['new']} waiting, store {snapshot.store_id}"
        )
