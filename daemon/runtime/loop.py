"""The loop: decides what happens next (reload, retry, drain, heartbeat), does none of it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from daemon.artifacts import sources_fingerprint
from daemon.config.settings import Settings
from daemon.runtime.notify import Notifier
from daemon.runtime.reloader import Holder, Reloader
from daemon.runtime.retention import Retention
from daemon.runtime.watcher import Waker, Watcher
from daemon.runtime.worker import Worker
from taskclf_core.drift import DriftTracker

__all__ = ["Control", "Loop"]

log = structlog.get_logger()
_RETENTION_EVERY = 3600.0
_STATUS_MIN_INTERVAL = 0.5  # a trickle of windows must not turn into a trickle of status writes


@dataclass(slots=True)
class Control:
    """What signal handlers ask of the loop (set from a handler, read by the loop)."""

    stop: bool = False
    reload: bool = False


class Loop:
    """Runs until asked to stop (or, with ``once``, until the backlog is drained).

    ``clock`` (monotonic seconds) paces the status writes, watchdog pings, rescans and
    retention rounds of :meth:`tick`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        control: Control,
        holder: Holder,
        worker: Worker,
        retention: Retention,
        waker: Waker,
        notifier: Notifier,
        drift: DriftTracker,
        write_status: Callable[[], bool],
        reloader: Reloader | None,
        watcher: Watcher | None,
        once: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.control = control
        self.holder = holder
        self.worker = worker
        self.retention = retention
        self.waker = waker
        self.notifier = notifier
        self.drift = drift
        self.write_status = write_status
        self.reloader = reloader
        self.watcher = watcher
        self.once = once
        self.clock = clock
        self.dirty = True
        # never yet: the first tick does each, whatever the clock's origin
        self._last_status = self._last_ping = self._last_rescan = -math.inf
        self._last_retention = -math.inf
        self._last_archive_sync = -math.inf

    def run(self) -> None:
        worker = self.worker
        while not self.control.stop:
            if self.control.reload:
                self.control.reload = False
                if self.reloader is not None:
                    log.info("reload_requested", via="SIGHUP")
                    self.reloader.request(force=True)
            names: list[str] = []
            if worker.retry_stall(self.holder.current.snapshot):
                names = worker.pending()
                if names:
                    worker.drain(
                        names, lambda: self.holder.current.snapshot, lambda: self.control.stop
                    )
                elif self.once:
                    return
            self.tick()
            if (not names or worker.stall is not None) and not self.control.stop:
                self.waker.wait(self._sleep_time())

    def _sleep_time(self) -> float:
        s = self.settings
        interval = min(s.rescan_interval_seconds, s.heartbeat_seconds)
        if self.notifier.watchdog_interval is not None:
            interval = min(interval, self.notifier.watchdog_interval)
        if self.dirty or self.worker.changed:
            # news waits at most _STATUS_MIN_INTERVAL to reach the status file
            since = self.clock() - self._last_status
            interval = min(interval, max(0.0, _STATUS_MIN_INTERVAL - since))
        retry = self.worker.seconds_to_retry()
        if retry is not None:
            interval = min(interval, retry)
        return interval

    def tick(self) -> None:
        """One round of bookkeeping: the status file, the watchdog, the rescan, retention."""
        now = self.clock()
        s = self.settings
        since = now - self._last_status
        news = self.dirty or self.worker.changed
        if (news and since >= _STATUS_MIN_INTERVAL) or since >= s.heartbeat_seconds:
            self._log_drift_changes()
            self._last_status = now
            # cleared before the write reads what is in force: a swap that lands on the
            # reloader's thread meanwhile sets it again, and is written next time
            self.dirty = self.worker.changed = False
            if not self.write_status():
                self.dirty = True  # a full disk refused it: try again soon
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
            # the safety net for file events that never arrived
            self._last_rescan = now
            if self.holder.current.news(sources_fingerprint(self.reloader.sources)) is not None:
                self.reloader.request()
        if now - self._last_archive_sync >= s.heartbeat_seconds:
            # off the per-window path: one fdatasync a heartbeat, not one a batch
            self._last_archive_sync = now
            self.worker.sync_archive()
        if now - self._last_retention >= _RETENTION_EVERY:
            self._last_retention = now
            if self.retention.run(datetime.now(UTC)):
                self.dirty = True  # a pass refused or resumed: status shows it

    def _log_drift_changes(self) -> None:
        """A change of model or threshold is logged once (drift starts over from the
        new one's windows); each drift alert once when it starts and once when it ends."""
        now = time.time()
        for restart in self.drift.labeller_changes(now):
            who = restart.labeller
            log.info(
                "drift_reference_restarted",
                user_id=restart.user_id,
                changed=",".join(who.get("changed") or []),
                since=who.get("since"),
                model_bundle_id=who.get("model_bundle_id"),
                previous_model_bundle_id=(who.get("previous") or {}).get("model_bundle_id"),
                reject_threshold=who.get("reject_threshold"),
                reference_full_at=who.get("reference_full_at"),
            )
        for change in self.drift.transitions(now):
            log.warning(
                f"drift_alert_{change.state}",
                user_id=change.user_id,
                trigger=change.trigger,
                severity=change.severity,
                **{k: v for k, v in change.details.items() if not isinstance(v, dict | list)},
            )
