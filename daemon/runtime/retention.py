"""Retention: old label-log days and processed spool files go, never on a clock run ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog

from daemon.archive import FeatureArchive
from daemon.config.settings import Settings
from daemon.runtime.labellog import LabelLog
from daemon.runtime.spool import Spool

__all__ = ["Paused", "Retention"]

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Paused:
    """A pruning pass refused: the clock is further past the newest data than the retention.

    A clock set years ahead (a dead RTC battery, a mistyped date) would otherwise make every
    day look expired. The pass is skipped, logged and shown in `status` (a note: the daemon
    labels on, so it is not degraded) until the clock is right or newer data arrives.
    """

    setting: str  # the key that asked for pruning
    keep_days: float
    what: str  # what was not pruned
    newest: str  # the newest data (a day of the log, or when the newest done/ file came)
    clock: str  # what this machine's clock said

    def message(self) -> str:
        return (
            f"{self.what} not pruned: this machine's clock ({self.clock}) is more than "
            f"{self.setting} = {self.keep_days:g} days past the newest data there "
            f"({self.newest}); a clock set ahead would delete all of it. Pruning resumes "
            "once the clock is right or newer data arrives"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "keep_days": self.keep_days,
            "newest": self.newest,
            "clock": self.clock,
            "message": self.message(),
        }


class Retention:
    """The hourly pruning pass of the loop; remembers what it last refused, for `status`."""

    def __init__(
        self,
        settings: Settings,
        spool: Spool,
        labels: LabelLog,
        archive: FeatureArchive | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.labels = labels
        self.archive = archive
        self.paused: tuple[Paused, ...] = ()

    def run(self, now: datetime) -> bool:
        """One pass at the clock's ``now`` (aware); True if what `status` shows changed."""
        before = self.paused
        paused: list[Paused] = []
        archived: dict[str, list[str]] = {}
        try:
            files = self._done(now, paused)
            days = self._label_log(now, paused)
            if self.archive is not None:
                archived = self._archive(self.archive, now, paused)
        except OSError as exc:
            # pruning is housekeeping: try again at the next round rather than stop
            log.warning("retention_failed", error=str(exc), path=str(exc.filename))
            return False
        self.paused = tuple(paused)
        for refusal in paused:
            log.warning(
                "retention_paused",
                setting=refusal.setting,
                newest=refusal.newest,
                clock=refusal.clock,
                reason=refusal.message(),
            )
        if files or days:
            log.info("retention_pruned", done_files=files, label_log_days=days)
        if any(archived.values()):
            log.info("archive_housekept", **archived)
        return self.paused != before

    def status(self) -> dict[str, Any]:
        """``status --json``'s ``retention``: the passes refused, each with its reason."""
        return {"paused": [p.to_json() for p in self.paused]}

    def _done(self, now: datetime, paused: list[Paused]) -> int:
        keep_days = self.settings.retention_days
        keep = keep_days * 86400
        newest = self.spool.newest_done()
        if keep > 0 and newest is not None and now.timestamp() - newest > keep:
            # (0 keeps nothing: no clock can make it delete more than asked)
            paused.append(
                Paused(
                    "retention_days",
                    keep_days,
                    f"processed spool files ({self.spool.done})",
                    _iso(datetime.fromtimestamp(newest, UTC)),
                    _iso(now),
                )
            )
            return 0
        return self.spool.prune_done(keep, now=now.timestamp())

    def _label_log(self, now: datetime, paused: list[Paused]) -> list[str]:
        keep_days = self.settings.label_retention_days
        if keep_days is None:
            return []
        newest = self.labels.newest_day()
        what = f"the label log ({self.labels.directory})"
        if newest is None or _ran_ahead(
            now, newest, "label_retention_days", keep_days, what, paused
        ):
            return []
        return self.labels.prune(keep_days, now.astimezone(UTC).date())

    def _archive(
        self, archive: FeatureArchive, now: datetime, paused: list[Paused]
    ) -> dict[str, list[str]]:
        """Finished days packed; days past the lookback and beyond the size limit deleted
        (the lookback on the clock's word only when the clock is not past the data)."""
        today = now.astimezone(UTC).date()
        compacted = archive.compact(today)
        keep_days = self.settings.retrain_lookback_days
        newest = archive.newest_day()
        what = f"the feature archive ({archive.directory})"
        expired: list[str] = []
        if newest is not None and not _ran_ahead(
            now, newest, "retrain_lookback_days", keep_days, what, paused
        ):
            expired = archive.prune(keep_days, today)
        too_big = archive.cap(self.settings.archive_max_bytes)
        if too_big:
            log.warning(
                "archive_size_limit",
                days_deleted=too_big,
                archive_max_bytes=self.settings.archive_max_bytes,
            )
        return {"compacted": compacted, "expired": expired, "over_size": too_big}


def _ran_ahead(
    now: datetime, newest: str, setting: str, keep_days: float, what: str, paused: list[Paused]
) -> bool:
    """Whether the clock is further past the end of ``newest`` (a day) than ``keep_days``:
    then it cannot be trusted to say what expired, and the pass is recorded in ``paused``."""
    day_end = datetime.combine(date.fromisoformat(newest) + timedelta(days=1), time(), UTC)
    if now.timestamp() - day_end.timestamp() > keep_days * 86400:
        paused.append(Paused(setting, keep_days, what, newest, _iso(now)))
        return True
    return False


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
