"""Spool files through the pipeline: claim, read, plan, log durably, acknowledge — or stall.

The order is the promise: a file leaves cur/ only after its records are fsynced. A storage
fault someone can clear (a full disk, a read-only remount) is waited out with the batch
held in cur/ and the very same plan retried; anything else stops the daemon (exit 1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import structlog

from daemon.fsutil import utc_now
from daemon.runtime.faults import Backoff, errno_name, fix_for, is_retried
from daemon.runtime.intake import FileRefusal, ParsedFile, read_claimed
from daemon.runtime.labellog import AppendFailed, LabelLog
from daemon.runtime.planner import BatchPlan, plan_batch
from daemon.runtime.spool import Claimed, Spool
from daemon.runtime.status import Counters
from taskclf_core.errors import LabelLogError, OperationalError
from taskclf_core.pipeline import Snapshot
from taskclf_core.record import LabelRecord
from taskclf_core.smoothing import SmoothingState

__all__ = ["Pending", "Stall", "Worker", "log_window_labelled"]

log = structlog.get_logger()
_MAX_FILES_PER_BATCH = 512
# a file whose windows miss more than this share of the model's features is worth a warning
_MOSTLY_MISSING = 0.5
Storage = Literal["label_log", "spool"]  # where a storage fault happened


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


@dataclass(frozen=True, slots=True)
class Pending:
    """A claimed file and its parsed windows, not yet acknowledged."""

    claimed: Claimed
    parsed: ParsedFile


@dataclass(frozen=True, slots=True)
class Stall:
    """A storage fault being waited out; nothing new is claimed meanwhile.

    ``batch``: files in cur/ whose records are not on disk yet (a label-log stall), retried
    with the same ``plan`` when the failed append was rolled back cleanly, planned again if
    not, both with ``snapshot``: the one whose schema parsed the batch's windows (a model
    swapped in meanwhile may encode features differently). ``requeue``: files were left in
    cur/ with their records on disk; they go back to new/ (and come out as duplicates) once
    the spool works again.
    """

    what: Storage
    error: OSError
    message: str
    path: Path
    retry_at: float  # time.monotonic()
    since: str
    batch: tuple[Pending, ...] = ()
    plan: BatchPlan | None = None
    snapshot: Snapshot | None = None
    requeue: bool = False


class Worker:
    """Turns spool files into durable records; owns the smoothing state and the stall."""

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
    ) -> None:
        self.spool = spool
        self.labels = labels
        self.counters = counters
        self.state = state
        self.max_file_bytes = max_file_bytes
        self.batch_max_windows = batch_max_windows
        self.once = once
        self._on_records = on_records
        self.stall: Stall | None = None
        self.backlog = 0
        self.changed = True  # news for the status file
        self._backoff = Backoff(first=1.0, cap=30.0)
        self._failing_since: tuple[Storage, str] | None = None

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
            self._failed("label_log", exc, path, batch=batch, snapshot=snapshot)
            return
        self._commit(batch, plan, snapshot)

    def _commit(self, batch: tuple[Pending, ...], plan: BatchPlan, snapshot: Snapshot) -> None:
        try:
            self.labels.append(plan.records)
        except AppendFailed as exc:
            if not exc.clean:
                # a day file could not be cut back: it is re-read (and merged) before a new plan
                self.labels.unwarm({r.day for r in plan.records})
            self._failed(
                "label_log",
                exc.cause,
                exc.path,
                batch=batch,
                plan=plan if exc.clean else None,
                snapshot=snapshot,
            )
            return
        self.state = plan.state
        self._acknowledge(batch, plan)
        self._on_records(batch, plan)

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
            self._failed("spool", *failed, requeue=True)

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

    def _reject_file(self, claimed: Claimed, refusal: FileRefusal) -> None:
        error = self._move(
            claimed, partial(self.spool.reject, claimed, refusal.error, refusal.detail)
        )
        if error is not None:
            self._failed("spool", error, claimed.path, requeue=True)
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

    # --- storage faults -----------------------------------------------------------------

    def _failed(
        self,
        what: Storage,
        exc: OSError,
        path: Path,
        *,
        batch: tuple[Pending, ...] = (),
        plan: BatchPlan | None = None,
        snapshot: Snapshot | None = None,
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
        if self.stall is not None and self.stall.batch and not batch:
            # never drop a batch we still owe the label log; its retry comes first
            log.error(f"{what}_write_failed", path=str(path), error=str(exc))
            return
        delay = self._backoff.next_delay()
        if self._failing_since is None:
            self._failing_since = (what, utc_now())
        self.stall = Stall(
            what=what,
            error=exc,
            message=message,
            path=path,
            retry_at=time.monotonic() + delay,
            since=self._failing_since[1],
            batch=batch,
            plan=plan,
            snapshot=snapshot,
            requeue=requeue or (self.stall is not None and self.stall.requeue),
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
        self.changed = True

    def retry_stall(self, snapshot: Snapshot) -> bool:
        """Try the stalled work again when its time has come; True once no stall is left."""
        stall = self.stall
        if stall is None:
            self._recovered()
            return True
        if time.monotonic() < stall.retry_at:
            return False
        self.stall = None
        if stall.what == "label_log":
            # the snapshot that parsed the windows, not one swapped in since: its schema and
            # encoders made their features
            held = stall.snapshot if stall.snapshot is not None else snapshot
            if stall.plan is not None:
                self._commit(stall.batch, stall.plan, held)  # the very same records
            else:
                self.process(stall.batch, held)
        if stall.requeue and self.stall is None:
            try:
                requeued = list(self.spool.requeue())
            except OSError as exc:
                self._failed("spool", exc, self.spool.cur, requeue=True)
            else:
                if requeued:
                    log.info("spool_requeued", files=len(requeued))
        if self.stall is None:
            self._recovered()
        return self.stall is None

    def _recovered(self) -> None:
        if self._failing_since is None:
            return
        what, since = self._failing_since
        log.info(f"{what}_recovered", failing_since=since, retries=self._backoff.attempts)
        self._failing_since = None
        self._backoff.reset()
        self.changed = True

    def seconds_to_retry(self) -> float | None:
        if self.stall is None:
            return None
        return max(0.0, self.stall.retry_at - time.monotonic())

    def stall_json(self) -> dict[str, Any] | None:
        """The status file's ``storage_error``: what failed, since when, the next retry."""
        stall = self.stall
        if stall is None:
            return None
        retry_in = max(0.0, stall.retry_at - time.monotonic())
        return {
            "what": stall.what,
            "path": str(stall.path),
            "errno": errno_name(stall.error),
            "message": stall.message,
            "since": stall.since,
            "retries": self._backoff.attempts,
            "next_retry_at": (datetime.now(UTC) + timedelta(seconds=retry_in))
            .replace(tzinfo=None)
            .isoformat(timespec="seconds")
            + "Z",
            "files_waiting": len(stall.batch),
        }
