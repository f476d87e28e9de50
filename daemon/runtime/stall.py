"""Waiting out a storage fault: the stall, its backoff and its end (the worker's state machine).

A fault someone can clear (a full disk, a read-only remount: :mod:`daemon.runtime.faults`)
puts the worker in a stall: nothing new is claimed, the batch whose records are not on disk
stays in cur/, and it is retried after 1 s, doubling to at most 30 s, on the worker's clock.
The first write that succeeds ends it. Any other fault, or any fault under ``run --once``,
stops the daemon (exit 1). The worker (daemon/runtime/worker.py) does the retrying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import structlog

from daemon.fsutil import utc_now
from daemon.runtime.faults import Backoff, errno_name, fix_for, is_retried
from daemon.runtime.intake import Pending
from taskclf_core.errors import LabelLogError, OperationalError
from taskclf_core.words import plural

if TYPE_CHECKING:
    from daemon.runtime.planner import BatchPlan
    from taskclf_core.pipeline import Snapshot

__all__ = ["NOTHING_HELD", "Held", "Stall", "Stalls", "Storage"]

log = structlog.get_logger()
Storage = Literal["label_log", "spool"]  # where a storage fault happened


@dataclass(frozen=True, slots=True)
class Held:
    """What a stall holds back until the storage works again.

    ``batch``: files in cur/ whose records are not on disk yet (a label-log stall), retried
    with the same ``plan`` when the failed append was rolled back cleanly, planned again if
    not, both with ``snapshot``: the one whose schema parsed the batch's windows (a model
    swapped in meanwhile may encode features differently). ``requeue``: files were left in
    cur/ with their records on disk; they go back to new/ (and come out as duplicates) once
    the spool works again.
    """

    batch: tuple[Pending, ...] = ()
    plan: BatchPlan | None = None
    snapshot: Snapshot | None = None
    requeue: bool = False


NOTHING_HELD: Final = Held()


@dataclass(frozen=True, slots=True)
class Stall:
    """A storage fault being waited out; nothing new is claimed meanwhile."""

    what: Storage
    error: OSError
    message: str
    path: Path
    retry_at: float  # on the stall keeper's clock
    since: str
    held: Held = NOTHING_HELD


class Stalls:
    """The stall in force (or None), when it is due, and the backoff between tries."""

    def __init__(self, *, once: bool, clock: Callable[[], float]) -> None:
        self.once = once
        self.clock = clock
        self.stall: Stall | None = None
        self._backoff = Backoff(first=1.0, cap=30.0)
        self._failing_since: tuple[Storage, str] | None = None

    def fail(
        self,
        what: Storage,
        exc: OSError,
        path: Path,
        directory: Path,
        *,
        cur: Path,
        held: Held = NOTHING_HELD,
    ) -> str | None:
        """Wait ``exc`` out if someone can clear it: returns the message of the new stall
        (None if the stall in force keeps a batch still owed); else raise (exit 1).

        Either way nothing ``held`` back leaves cur/: its records are not on disk.
        """
        where = "the label log" if what == "label_log" else "the spool"
        message = (
            f"cannot write {where} in {directory} ({path}: {errno_name(exc)} "
            f"{exc.strerror or exc}); {fix_for(exc)}"
        )
        if not is_retried(exc) or self.once:
            waiting = f"; {plural(len(held.batch), 'file')} stay in {cur}" if held.batch else ""
            error = LabelLogError if what == "label_log" else OperationalError
            raise error(f"{message}{waiting}; nothing unlogged was acknowledged") from exc
        if self.stall is not None and self.stall.held.batch and not held.batch:
            # never drop a batch we still owe the label log; its retry comes first
            log.error(f"{what}_write_failed", path=str(path), error=str(exc))
            return None
        delay = self._backoff.next_delay()
        if self._failing_since is None:
            self._failing_since = (what, utc_now())
        self.stall = Stall(
            what=what,
            error=exc,
            message=message,
            path=path,
            retry_at=self.clock() + delay,
            since=self._failing_since[1],
            held=replace(
                held, requeue=held.requeue or (self.stall is not None and self.stall.held.requeue)
            ),
        )
        log.error(
            f"{what}_write_failed",
            path=str(path),
            errno=errno_name(exc),
            error=exc.strerror or str(exc),
            attempt=self._backoff.attempts,
            retry_in_seconds=delay,
            files_waiting=len(held.batch),
            fix=fix_for(exc),
        )
        return message

    def take_due(self) -> Stall | None:
        """The stall, taken off, once its retry time has come; None before then."""
        stall = self.stall
        if stall is None or self.clock() < stall.retry_at:
            return None
        self.stall = None
        return stall

    def recovered(self) -> bool:
        """After a write that worked: end the failing spell (logged once); True if one ended."""
        if self._failing_since is None:
            return False
        what, since = self._failing_since
        log.info(f"{what}_recovered", failing_since=since, retries=self._backoff.attempts)
        self._failing_since = None
        self._backoff.reset()
        return True

    def seconds_to_retry(self) -> float | None:
        if self.stall is None:
            return None
        return max(0.0, self.stall.retry_at - self.clock())

    def to_json(self) -> dict[str, Any] | None:
        """The status file's ``storage_error``: what failed, since when, the next retry."""
        stall = self.stall
        if stall is None:
            return None
        retry_in = max(0.0, stall.retry_at - self.clock())
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
            "files_waiting": len(stall.held.batch),
        }
