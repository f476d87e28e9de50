"""Spool files through the pipeline: claim, read, plan, log durably, acknowledge — or stall.

The order is the promise: a file leaves cur/ only after its records are fsynced. A storage
fault someone can clear (a full disk, a read-only remount) is waited out with the batch
held in cur/ and the very same plan retried (daemon/runtime/stall.py keeps the stall);
anything else stops the daemon (exit 1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from daemon.archive import FeatureArchive
from daemon.fsutil import utc_now
from daemon.runtime.intake import FileRefusal, ParsedFile, Pending, read_claimed
from daemon.runtime.labellog import AppendFailed, LabelLog
from daemon.runtime.planner import BatchPlan, plan_batch
from daemon.runtime.spool import Claimed, Spool
from daemon.runtime.stall import NOTHING_HELD, Held, Stall, Stalls, Storage
from daemon.runtime.status import Counters
from taskclf_core.pipeline import Snapshot
from taskclf_core.record import LabelRecord
from taskclf_core.smoothing import SmoothingState
from taskclf_core.words import plural

__all__ = ["Worker", "log_window_labelled"]

log = structlog.get_logger()
_MAX_FILES_PER_BATCH = 512
# a file whose windows miss more than this share of the model's features is worth a warning
_MOSTLY_MISSING = 0.5


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


class Worker:
    """Turns spool files into durable records; owns the smoothing state and the stall.

    ``clock`` (monotonic seconds) schedules the retries of a stall.
    """

    def __init__(
        self,
        spool: Spool,
        labels: LabelLog,
        counters: Counters,
        *,
        state: SmoothingState,
        max_file_bytes: int,
        batch_max_windows: int,
        once: bool,
        on_records: Callable[[Sequence[Pending], BatchPlan], None],
        clock: Callable[[], float] = time.monotonic,
        archive: FeatureArchive | None = None,
    ) -> None:
        self.spool = spool
        self.labels = labels
        self.counters = counters
        self.state = state
        self.max_file_bytes = max_file_bytes
        self.batch_max_windows = batch_max_windows
        self.once = once
        self._on_records = on_records
        self.archive = archive
        self.stalls = Stalls(once=once, clock=clock)
        self.backlog = 0
        self.changed = True  # news for the status file

    @property
    def stall(self) -> Stall | None:
        """The storage fault being waited out, if any."""
        return self.stalls.stall

    # --- the work ----------------------------------------------------------------------

    def pending(self) -> list[str]:
        try:
            return self.spool.pending()
        except OSError as exc:
            self._failed("spool", exc, self.spool.new)
            return []

    def drain(
        self, names: list[str], snapshot: Callable[[], Snapshot], stop: Callable[[], bool]
    ) -> None:
        """Label everything in ``names`` in batches (one LightGBM call each), stop-aware.

        ``snapshot`` is read once per batch: a reload lands between two batches.
        """
        i = 0
        while i < len(names) and not stop() and self.stall is None:
            current = snapshot()
            batch: list[Pending] = []
            n_windows = 0
            while (
                i < len(names)
                and n_windows < self.batch_max_windows
                and len(batch) < _MAX_FILES_PER_BATCH
                and self.stall is None
            ):
                name = names[i]
                try:
                    claimed = self.spool.claim(name)
                except OSError as exc:
                    # what is claimed already is still labelled; claiming resumes later
                    self._failed("spool", exc, self.spool.new / name)
                    break
                i += 1
                if claimed is None:
                    continue
                try:
                    outcome = read_claimed(
                        claimed, current.bundle.schema, max_bytes=self.max_file_bytes
                    )
                except FileNotFoundError:
                    self._vanished(claimed, "before it was read; it was not labelled")
                    continue
                if isinstance(outcome, FileRefusal):
                    self._reject_file(claimed, outcome)
                    continue
                batch.append(Pending(claimed, outcome))
                n_windows += len(outcome.windows)
            self.backlog = len(names) - i
            if batch:
                self.process(tuple(batch), current)

    def process(self, batch: tuple[Pending, ...], snapshot: Snapshot) -> None:
        """Plan the batch (nothing happens yet), then make it durable and acknowledge it."""
        policy = snapshot.policy
        lookback = (policy.smooth_window - 1) * (policy.idle_gap_seconds + 3600.0)
        try:
            for day in sorted({w.key[1][:10] for p in batch for w in p.parsed.windows}):
                warmed = self.labels.warm(day, lookback)
                if warmed:
                    self.state = self.state.merged((w.user_id, w.entry) for w in warmed)
            plan = plan_batch(
                [(p.claimed.name, p.parsed) for p in batch],
                is_logged=self.labels.contains,
                snapshot=snapshot,
                state=self.state,
                processed_at=utc_now(),
            )
        except OSError as exc:  # a day of the label log could not be read
            path = Path(exc.filename) if exc.filename else self.labels.directory
            self._failed("label_log", exc, path, Held(batch, snapshot=snapshot))
            return
        self._commit(batch, plan, snapshot)

    def _commit(self, batch: tuple[Pending, ...], plan: BatchPlan, snapshot: Snapshot) -> None:
        # before the label log: a crash in between archives these windows again when their
        # files are labelled again (readers keep one line per window), never not at all
        self._archive(batch, plan)
        try:
            self.labels.append(plan.records)
        except AppendFailed as exc:
            if not exc.clean:
                # a day file could not be cut back: it is re-read (and merged) before a new plan
                self.labels.unwarm({r.day for r in plan.records})
            # the very same plan again only if the failed append left no trace
            held = Held(batch, plan if exc.clean else None, snapshot)
            self._failed("label_log", exc.cause, exc.path, held)
            return
        self.state = plan.state
        self._acknowledge(batch, plan)
        self._on_records(batch, plan)

    def _archive(self, batch: tuple[Pending, ...], plan: BatchPlan) -> None:
        """The windows about to be logged, into the feature archive (for `retrain`).

        A failure is not a stall: the label log is what must not lose a window, and
        `retrain` can rebuild a day it lacks from ActivityWatch. It is logged, shown in
        `status`, and the next batch tries again.
        """
        if self.archive is None or not plan.records:
            return
        wanted = {r.key for r in plan.records}
        rows = []
        for pending in batch:
            parsed = pending.parsed
            texts = parsed.archived()
            for window, text in zip(parsed.windows, texts, strict=True):
                if window.key in wanted:
                    wanted.discard(window.key)  # the first of a key, as the plan took it
                    rows.append((window.start_ts[:10], text))
        try:
            self.archive.append(rows)
        except OSError as exc:
            if self.counters.archive_error is None:
                log.error(
                    "archive_write_failed",
                    directory=str(self.archive.directory),
                    error=str(exc),
                    windows=len(rows),
                    detail="labelling goes on; retrain misses these windows unless it rebuilds "
                    "their day from ActivityWatch",
                )
            self.counters.archive_error = {"message": str(exc), "at": utc_now()}
            self.changed = True
            return
        self.counters.archived += len(rows)
        if self.counters.archive_error is not None:
            log.info("archive_write_recovered", directory=str(self.archive.directory))
            self.counters.archive_error = None
            self.changed = True

    def sync_archive(self) -> None:
        """Make the archive's appends durable (the loop calls it every heartbeat)."""
        if self.archive is None:
            return
        try:
            self.archive.sync()
        except OSError as exc:
            log.error("archive_sync_failed", directory=str(self.archive.directory), error=str(exc))
            self.counters.archive_error = {"message": str(exc), "at": utc_now()}
            self.changed = True

    # --- acknowledging ------------------------------------------------------------------

    def _acknowledge(self, batch: tuple[Pending, ...], plan: BatchPlan) -> None:
        """Records are durable: move files out of cur/, count, and log one line per window."""
        now_ns = time.time_ns()
        now = time.time()
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
            self._count_missing(claimed.name, parsed, now)
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
        self.changed = True
        if failed is not None:
            self._failed("spool", *failed, Held(requeue=True))

    def _count_missing(self, name: str, parsed: ParsedFile, now: float) -> None:
        """Missing model features: counted for status, and one warning for a file missing most."""
        if not parsed.windows:
            return
        width = len(parsed.windows[0].features)
        missing = sum(w.n_missing for w in parsed.windows)
        total = width * len(parsed.windows)
        self.counters.missing.add(now, missing, total)
        if total and missing / total > _MOSTLY_MISSING:
            log.warning(
                "window_features_missing",
                file=name,
                windows=len(parsed.windows),
                missing_share=round(missing / total, 3),
                detail="most of the model's features are missing: is the collector broken? "
                "missing values take the bundle's fill and labels will be poor",
            )

    def _file_away(self, claimed: Claimed, parsed: ParsedFile, refused: list[Any]) -> None:
        """done/ (with a sidecar for refused windows), or rejected/ if none was good."""
        if parsed.windows:
            if refused:
                self.spool.write_sidecar(
                    self.spool.free_rejected_name(claimed.name),
                    "invalid_windows",
                    f"{len(refused)} of "
                    f"{plural(len(refused) + len(parsed.windows), 'window')} refused; "
                    "the others were labelled (the file is in done/)",
                    refused=refused,
                )
            self.spool.finish(claimed)
        else:
            self.spool.reject(
                claimed,
                "invalid_windows",
                f"{'the window' if len(refused) == 1 else f'all {len(refused)} windows'} refused; "
                f"first: {parsed.refused[0].reason}",
                refused=refused,
            )

    def _reject_file(self, claimed: Claimed, refusal: FileRefusal) -> None:
        error = self._move(
            claimed, partial(self.spool.reject, claimed, refusal.error, refusal.detail)
        )
        if error is not None:
            self._failed("spool", error, claimed.path, Held(requeue=True))
            return
        self.counters.refused += 1
        self.counters.files_rejected += 1
        self.counters.last_error = {"message": f"{claimed.name}: {refusal.detail}", "at": utc_now()}
        self.changed = True
        log.warning(
            "file_rejected",
            file=claimed.name,
            error=refusal.error,
            detail=refusal.detail,
            moved_to=str(self.spool.rejected),
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

    def _vanished(self, claimed: Claimed, when: str) -> None:
        log.warning(
            "spool_file_vanished",
            file=claimed.name,
            path=str(claimed.path),
            detail=f"something else removed it from cur/ {when}",
        )

    # --- storage faults ---------------------------------------------------------------

    def _failed(self, what: Storage, exc: OSError, path: Path, held: Held = NOTHING_HELD) -> None:
        """Wait ``exc`` out (degraded, backing off) if someone can clear it; else stop (exit 1)."""
        directory = self.labels.directory if what == "label_log" else self.spool.root
        message = self.stalls.fail(what, exc, path, directory, cur=self.spool.cur, held=held)
        if message is not None:
            self.counters.last_error = {"message": message, "at": utc_now()}
            self.changed = True

    def retry_stall(self, snapshot: Snapshot) -> bool:
        """Try the stalled work again when its time has come; True once no stall is left."""
        if self.stalls.stall is None:
            self._recovered()
            return True
        stall = self.stalls.take_due()
        if stall is None:
            return False
        if stall.what == "label_log":
            # the snapshot that parsed the windows, not one swapped in since: its schema and
            # encoders made their features
            held = stall.held
            parsed_with = held.snapshot if held.snapshot is not None else snapshot
            if held.plan is not None:
                self._commit(held.batch, held.plan, parsed_with)  # the very same records
            else:
                self.process(held.batch, parsed_with)
        if stall.held.requeue and self.stall is None:
            try:
                requeued = list(self.spool.requeue())
            except OSError as exc:
                self._failed("spool", exc, self.spool.cur, Held(requeue=True))
            else:
                if requeued:
                    log.info("spool_requeued", files=len(requeued))
        if self.stall is None:
            self._recovered()
        return self.stall is None

    def _recovered(self) -> None:
        if self.stalls.recovered():
            self.changed = True

    def seconds_to_retry(self) -> float | None:
        return self.stalls.seconds_to_retry()

    def stall_json(self) -> dict[str, Any] | None:
        """The status file's ``storage_error``: what failed, since when, the next retry."""
        return self.stalls.to_json()
