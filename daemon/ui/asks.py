"""The page's asks: the day's queue (taskclf_core/asks.py) and the file of what was asked.

``<data_dir>/ui/asks.json`` (0600, its directory 0700) lists every ask answered or skipped,
with the local day it counts on; entries older than :data:`KEEP_DAYS` are dropped on the next
write. One page server runs per data directory (its lock), so a lock in the process is enough.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from daemon.fsutil import atomic_write_text, utc_now
from daemon.paths import ensure_private_dir, spans_file
from daemon.reporting.summaries import DaySummaries
from daemon.spanfile import load_spans
from taskclf_core.asks import Ask, Asked, AskQueue, ask_queue, candidate_asks
from taskclf_core.daily import day_bounds, utc_days_overlapping
from taskclf_core.errors import ConfigError, WindowError
from taskclf_core.jsonl import split_lines
from taskclf_core.schema import format_ts, parse_ts

if TYPE_CHECKING:
    from daemon.config.settings import Settings

__all__ = ["KEEP_DAYS", "AskBook", "day_queue", "queue_json"]

KEEP_DAYS: Final = 60
_VERSION: Final = 1
DRIFT_PERIOD: Final = timedelta(hours=24)  # the drift tracker's current period


class AskBook:
    """What was asked, answered or skipped: read and rewritten whole, one change at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> list[Asked]:
        """Every entry; a damaged file is a ConfigError naming it (remove it to start over)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(
                f"{self.path}: cannot read ({exc}); remove it to start over"
            ) from None
        try:
            if not isinstance(doc, dict) or doc.get("version") != _VERSION:
                raise ValueError(f"expected version {_VERSION}")
            return [
                Asked(
                    ask_id=str(e["id"]),
                    user_id=str(e["user_id"]),
                    start=parse_ts(e["start"], "start"),
                    end=parse_ts(e["end"], "end"),
                    status="skipped" if e["status"] == "skipped" else "answered",
                    day=date.fromisoformat(e["day"]),
                )
                for e in doc["asked"]
            ]
        except (KeyError, TypeError, ValueError, WindowError) as exc:
            raise ConfigError(
                f"{self.path}: not an asks file ({exc}); remove it to start over"
            ) from None

    def _save(self, entries: Iterable[Asked], today: date) -> None:
        oldest = today - timedelta(days=KEEP_DAYS)
        doc = {
            "version": _VERSION,
            "asked": [
                {
                    "id": a.ask_id,
                    "user_id": a.user_id,
                    "start": format_ts(a.start),
                    "end": format_ts(a.end),
                    "status": a.status,
                    "day": a.day.isoformat(),
                }
                for a in entries
                if a.day >= oldest
            ],
            "written_at": utc_now("seconds"),
        }
        ensure_private_dir(self.path.parent)
        atomic_write_text(self.path, json.dumps(doc, indent=1) + "\n")

    def record(self, ask: Ask, status: str, today: date) -> Asked:
        entry = Asked(
            ask.id,
            ask.user_id,
            ask.start,
            ask.end,
            "skipped" if status == "skipped" else "answered",
            today,
        )
        with self._lock:
            entries = [a for a in self.load() if a.ask_id != ask.id]
            self._save([*entries, entry], today)
        return entry

    def forget(self, ask_id: str, today: date) -> bool:
        """Take an answer back (its span was undone): the ask may be asked again, and no
        longer counts."""
        with self._lock:
            entries = self.load()
            kept = [a for a in entries if a.ask_id != ask_id]
            if len(kept) == len(entries):
                return False
            self._save(kept, today)
            return True


def _day_lines(summaries: DaySummaries, day: date, tz: tzinfo) -> list[bytes]:
    lines: list[bytes] = []
    for utc_day in utc_days_overlapping([day], tz):
        try:
            data = summaries.path_for(utc_day).read_bytes()
        except FileNotFoundError:
            continue
        lines.extend(line for _, line in split_lines(data).lines)
    return lines


def day_queue(
    settings: Settings,
    summaries: DaySummaries,
    book: AskBook,
    day: date,
    *,
    user: str,
    now: datetime,
    drift_users: Sequence[str],
) -> AskQueue:
    """The asks served now for ``user``'s local ``day``, within today's budget."""
    tz = summaries.tz
    lo, hi = day_bounds(day, tz)
    candidates = candidate_asks(
        _day_lines(summaries, day, tz),
        since=datetime.fromtimestamp(lo, tz),
        until=datetime.fromtimestamp(hi, tz),
        spans=load_spans(spans_file(settings.data_dir)),
        gap_seconds=settings.idle_gap_seconds,
        users=[user],
        drift_users=drift_users,
        drift_since=now - DRIFT_PERIOD,
    )
    return ask_queue(
        candidates,
        book.load(),
        today=now.astimezone(tz).date(),
        limit=settings.label_max_asks_per_day,
    )


def queue_json(queue: AskQueue) -> dict[str, Any]:
    return {
        "asks": [
            {**a.to_json(), "start_epoch": a.start.timestamp(), "end_epoch": a.end.timestamp()}
            for a in queue.asks
        ],
        "pending": queue.pending,
        "served_today": queue.served_today,
        "limit": queue.limit,
        "remaining": queue.remaining,
    }
