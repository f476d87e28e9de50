"""`taskclf-daemon run`: the lifecycle around the loop — locks, umask, signals, threads, stop."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import structlog

from daemon.archive import FeatureArchive
from daemon.artifacts import InForce, load_in_force
from daemon.config.settings import Settings
from daemon.exits import FAILED, OK
from daemon.fsutil import utc_now
from daemon.inforce import decisions_of, sources_of
from daemon.lock import DataLocks
from daemon.runtime.faults import errno_name, fix_for
from daemon.runtime.intake import Pending
from daemon.runtime.labellog import LabelLog
from daemon.runtime.loop import Control, Loop
from daemon.runtime.notify import Notifier
from daemon.runtime.planner import BatchPlan
from daemon.runtime.reloader import Holder, Reload, Reloader, ReloadOutcome, snapshot_of
from daemon.runtime.retention import Retention
from daemon.runtime.spool import Spool
from daemon.runtime.status import Counters, SpoolCounts, status_document, write_status
from daemon.runtime.watcher import Waker, Watcher
from daemon.runtime.worker import Worker
from taskclf_core.drift import DriftTracker
from taskclf_core.errors import OperationalError
from taskclf_core.pipeline import Policy
from taskclf_core.taxonomy import Taxonomy, load_taxonomy

__all__ = ["Daemon"]

log = structlog.get_logger()
_DRIFT_DAYS = 8  # the drift figures look at the last 24 h against the 7 days before
_RELOAD_STATUS: dict[ReloadOutcome, str] = {
    "swapped": "reloaded",
    "cleared": "reloaded",
    "refused": "refused; the model, store and thresholds in force are kept",
    "unsettled": "files changing while read; what is in force stays until they settle",
}


class Daemon:
    """The imperative shell around :mod:`taskclf_core.pipeline`: one per spool and label log."""

    def __init__(
        self, settings: Settings, *, once: bool = False, notifier: Notifier | None = None
    ) -> None:
        self.settings = settings
        self.once = once
        self.notifier = notifier if notifier is not None else Notifier.from_env(os.environ)
        self.sources = sources_of(settings)
        self.spool = Spool(settings.spool_path)
        self.labels = LabelLog(settings.labels_path)
        self.archive = FeatureArchive(settings.archive_path)
        self.retention = Retention(settings, self.spool, self.labels, self.archive)
        self.counters = Counters()
        self.control = Control()
        self.waker = Waker()
        self.drift = DriftTracker()
        self.started_at = utc_now()
        self.holder: Holder
        self.worker: Worker
        self.loop: Loop | None = None
        self.watcher: Watcher | None = None
        self.reloader: Reloader | None = None
        self._status_failing = False

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or the backlog is drained with ``once``); 0 on a clean stop.

        Start-up problems (model, store, policy, taxonomy) raise TaskclfError for the CLI
        to report with exit 2; storage that fails for good raises OperationalError (exit 1).
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
            taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy else None
            in_force = load_in_force(self.sources, now=utc_now, pause=self.waker.wait)
            decisions = decisions_of(settings)
            self.holder = Holder(Reload(snapshot_of(in_force, decisions, taxonomy), in_force))
            self._prepare_storage(decisions)
            try:
                self._start_threads(in_force, decisions, taxonomy)
                snapshot = self.holder.current.snapshot
                log.info(
                    "daemon_started",
                    pid=os.getpid(),
                    bundle_id=snapshot.bundle.bundle_id,
                    store_id=snapshot.store_id,
                    policy=None if settings.policy_file is None else str(settings.policy_file),
                    spool=str(self.spool.root),
                    label_log=str(self.labels.directory),
                    once=self.once,
                )
                self._write_status()
                self.notifier.ready(status="labelling windows")
                self._rebuild_drift()
                self.loop = Loop(
                    settings,
                    control=self.control,
                    holder=self.holder,
                    worker=self.worker,
                    retention=self.retention,
                    waker=self.waker,
                    notifier=self.notifier,
                    drift=self.drift,
                    write_status=self._write_status,
                    reloader=self.reloader,
                    watcher=self.watcher,
                    once=self.once,
                )
                self.loop.run()
            except OperationalError as exc:
                self.counters.last_error = {"message": str(exc), "at": utc_now()}
                log.error("fatal_error", error=str(exc))
                self._shutdown(fatal=str(exc))
                return FAILED
            self._shutdown(fatal=None)
            return OK

    def _prepare_storage(self, decisions: Policy) -> None:
        """The spool's layout, the label log's recent days (smoothing), cur/ re-queued."""
        try:
            for path in self.spool.ensure():
                log.warning("permissions_tightened", path=str(path), mode="0700")
            state = decisions.empty_state().merged((w.user_id, w.entry) for w in self.labels.open())
            requeued = list(self.spool.requeue())
        except OSError as exc:
            # nothing claimed yet: say what to fix in one line and exit 1 (not a traceback)
            raise OperationalError(
                f"cannot start: {exc.filename or self.spool.root}: {errno_name(exc)} "
                f"{exc.strerror or exc}; {fix_for(exc)}"
            ) from exc
        if requeued:
            log.info("spool_requeued", files=len(requeued))
        self.worker = Worker(
            self.spool,
            self.labels,
            self.counters,
            state=state,
            max_file_bytes=self.settings.max_file_bytes,
            batch_max_windows=self.settings.batch_max_windows,
            once=self.once,
            on_records=self._observe,
            archive=self.archive,
        )

    def _start_threads(
        self, in_force: InForce, decisions: Policy, taxonomy: Taxonomy | None
    ) -> None:
        settings = self.settings
        if self.once:
            return
        self.reloader = Reloader(
            self.holder,
            self.sources,
            decisions=decisions,
            taxonomy=taxonomy,
            debounce=settings.reload_debounce_seconds,
            on_reloading=self.notifier.reloading,
            on_done=self._reloaded,
        )
        self.reloader.start()
        self.watcher = Watcher(
            self.spool.new,
            in_force.binding.watched_paths(self.sources),
            on_spool=self.waker.wake,
            on_change=self.reloader.request,
            mode=settings.observer,
            waker=self.waker,
        )
        self.watcher.start()

    def _reloaded(self, outcome: ReloadOutcome) -> None:
        """From the reloader's thread: follow new targets, get the news out promptly."""
        if outcome != "refused" and self.watcher is not None:
            current = self.holder.current
            self.watcher.follow(current.in_force.binding.watched_paths(self.sources))
        if self.loop is not None:
            self.loop.dirty = True
        self.waker.wake()
        self.notifier.ready(status=_RELOAD_STATUS[outcome])

    def _observe(self, batch: Sequence[Pending], plan: BatchPlan) -> None:
        """Drift counts every logged window, with its share of missing model features."""
        now = time.time()
        missing = {
            w.key: w.n_missing / len(w.features)
            for p in batch
            for w in p.parsed.windows
            if len(w.features)
        }
        for record in plan.records:
            self.drift.observe(record, now, missing_share=missing.get(record.key))

    def _rebuild_drift(self) -> None:
        """The drift counters from the log's last days (bounded: hourly buckets)."""
        started = time.monotonic()
        try:
            counted = self.drift.observe_many(self.labels.recent_records(_DRIFT_DAYS), time.time())
        except OSError as exc:
            log.warning("drift_rebuild_failed", error=str(exc))
            return
        log.info(
            "drift_rebuilt",
            records=counted,
            seconds=round(time.monotonic() - started, 3),
            users=len(self.drift.users),
        )

    @contextmanager
    def _signals(self) -> Iterator[None]:
        control = self.control

        def stop(_signum: int, _frame: object) -> None:
            control.stop = True

        def reload(_signum: int, _frame: object) -> None:
            control.reload = True

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
        self.archive.close()
        self._write_status(running=False, fatal=fatal)
        log.info(
            "daemon_stopped",
            labelled=self.counters.labelled,
            refused=self.counters.refused,
            duplicates=self.counters.duplicates,
            fatal=fatal is not None,
        )
        self.notifier.close()

    # --- status ----------------------------------------------------------------------

    def _spool_counts(self) -> SpoolCounts:
        worker = self.worker
        try:
            # mid-drain the count is known; otherwise (idle, or stalled while files keep
            # arriving) count new/
            new = (
                worker.backlog
                if worker.backlog and worker.stall is None
                else self.spool.count(self.spool.new)
            )
            cur = self.spool.count(self.spool.cur)
            rejected = self.spool.count(self.spool.rejected, suffix_excluded=".error.json")
        except OSError:
            new = cur = rejected = -1
        return SpoolCounts(path=str(self.spool.root), new=new, cur=cur, rejected=rejected)

    def _write_status(self, *, running: bool = True, fatal: str | None = None) -> bool:
        """Write the status file; True if it was written (a full disk may refuse it)."""
        s = self.settings
        current = self.holder.current
        now_epoch = time.time()
        in_force = current.describe(self.sources)
        created = in_force["model"].get("created_at")
        doc = status_document(
            running=running,
            fatal=fatal,
            pid=os.getpid(),
            started_at=self.started_at,
            now=utc_now(),
            now_epoch=now_epoch,
            heartbeat_interval=s.heartbeat_seconds,
            once=self.once,
            spool=self._spool_counts(),
            counters=self.counters,
            in_force=in_force,
            label_log=str(self.labels.directory),
            storage_error=self.worker.stall_json(),
            watcher=self.watcher.kind if self.watcher is not None else "none",
            retention=self.retention.status(),
            archive=str(self.archive.directory),
            drift=self.drift.status(
                now_epoch,
                model_created_at=(
                    {current.snapshot.bundle.bundle_id: created}
                    if isinstance(created, str)
                    else None
                ),
            ),
        )
        try:
            write_status(s.status_path, doc)
        except OSError as exc:
            # the spool's disk is full or read-only too: labelling must not stop for status,
            # which then shows a stale heartbeat; tried again in a moment
            if not self._status_failing:
                log.error("status_write_failed", path=str(s.status_path), error=str(exc))
            self._status_failing = True
            written = False
        else:
            if self._status_failing:
                log.info("status_write_recovered", path=str(s.status_path))
            self._status_failing = False
            written = True
        stall = self.worker.stall
        if stall is not None:
            self.notifier.status(f"waiting: {stall.message}")
        else:
            self.notifier.status(
                f"{self.counters.labelled} labelled, {doc['spool']['new']} waiting, "
                f"model {current.snapshot.bundle.bundle_id}, store {current.snapshot.store_id}"
            )
        return written
