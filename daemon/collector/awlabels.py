"""The label log's segments as a bucket in ActivityWatch, so its own Timeline shows the task
types (``aw_write_labels``; docs/collector.md, "Labels in ActivityWatch").

One event per segment of the report's day (:mod:`daemon.collector.segments`), in the bucket
``taskclf-labels_<aw_hostname>`` (client ``taskclf-daemon``, type ``app.taskclf.label``),
``data`` ``{title, label, confidence, model}``: aw-webui's timeline draws an event of a bucket
type it does not know by its ``data.title``.

Exactly once. A local day is written by comparing the bucket's events of that day with the
day's segments and changing only the difference: a segment without an event is added, a
segment whose event differs (it grew) has that event replaced in place (``POST`` with the
event's ``id``), and an event that is no segment (any more) is removed. So a re-run adds
nothing, a restart (or a lost state file) adds nothing, and the bucket's events of a day
equal the report's segments of that day. The bucket's own events are the truth; the state
file (``<data_dir>/collector/aw-labels.json``) only remembers which days' day files were
written as they are now (and the bucket's ``created``), so that a poll in which the label log
did not change asks for the bucket list only. A bucket deleted (or made again) is written
whole. Nothing but this bucket is ever written.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Protocol

from daemon.collector.client import aw_timestamp
from daemon.collector.segments import LabelSegment, ReportSegments
from daemon.fsutil import atomic_write_text
from daemon.paths import ensure_private_dir
from taskclf_core.activity import DAY_US, JsonArray, parse_timestamp_us
from taskclf_core.errors import ActivityError

__all__ = [
    "BUCKET_CLIENT",
    "BUCKET_TYPE",
    "BucketClient",
    "LabelWriter",
    "Written",
    "label_bucket_id",
    "segment_event",
]

BUCKET_TYPE: Final = "app.taskclf.label"
BUCKET_CLIENT: Final = "taskclf-daemon"
_STATE_VERSION: Final = 1
_SAME_DURATION_S: Final = 1e-3  # servers keep durations to the µs (aw-server) or ns
_POST_AT_ONCE: Final = 500  # events a request; a day has a few hundred segments at most
_BEFORE_US: Final = 1_000_000  # a day's events are asked for from just before its start


def label_bucket_id(hostname: str) -> str:
    """``taskclf-labels_<hostname>``, named like ActivityWatch's own ``<watcher>_<host>``."""
    return f"taskclf-labels_{hostname}"


def segment_event(segment: LabelSegment) -> dict[str, Any]:
    """The ActivityWatch event of one segment."""
    confidence = None if segment.confidence is None else round(segment.confidence, 4)
    return {
        "timestamp": aw_timestamp(segment.start_us),
        "duration": (segment.end_us - segment.start_us) / 1e6,
        "data": {
            "title": segment.label,  # what aw-webui's timeline draws
            "label": segment.label,
            "confidence": confidence,
            "model": segment.model,
        },
    }


class BucketClient(Protocol):
    """What the writer asks of ActivityWatch (:class:`daemon.collector.client.AWClient`)."""

    @property
    def url(self) -> str: ...

    def buckets(self) -> dict[str, Any]: ...

    def create_bucket(self, bucket_id: str, *, client: str, kind: str, hostname: str) -> None: ...

    def events(self, bucket_id: str, start_us: int, end_us: int) -> Any: ...

    def post_events(self, bucket_id: str, events: list[dict[str, Any]]) -> None: ...

    def delete_event(self, bucket_id: str, event_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Written:
    """What one sync changed in the bucket."""

    days: int = 0  # days compared with the bucket (their day files had changed)
    added: int = 0
    updated: int = 0
    removed: int = 0

    def __add__(self, other: Written) -> Written:
        return Written(
            self.days + other.days,
            self.added + other.added,
            self.updated + other.updated,
            self.removed + other.removed,
        )


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    duration = old.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        return False
    same_data: bool = old.get("data") == new["data"]
    return same_data and abs(duration - new["duration"]) <= _SAME_DURATION_S


@dataclass
class LabelWriter:
    """Keeps ``user_id``'s segments of every day in the label log in the label bucket."""

    client: BucketClient
    hostname: str
    user_id: str
    segments: ReportSegments
    state_path: Path

    @property
    def bucket(self) -> str:
        return label_bucket_id(self.hostname)

    def _identity(self) -> dict[str, Any]:
        """What a state file must have been written for to be taken as this bucket's."""
        return {
            "version": _STATE_VERSION,
            "bucket": self.bucket,
            "aw_url": self.client.url,
            "user_id": self.user_id,
            "segments": self.segments.key(),
        }

    def _read_state(self) -> dict[str, Any]:
        """The days written as their day files are now, or none (no file, another bucket or
        server, a damaged file: every day is compared with the bucket again, which is safe)."""
        fresh = {**self._identity(), "created": None, "days": {}}
        try:
            doc = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return fresh
        if not isinstance(doc, dict) or not isinstance(doc.get("days"), dict):
            return fresh
        if any(doc.get(k) != v for k, v in self._identity().items()):
            return fresh
        return doc

    def _write_state(self, state: dict[str, Any]) -> None:
        ensure_private_dir(self.state_path.parent)
        # not fsynced: a state lost in a crash costs one comparison with the bucket
        atomic_write_text(self.state_path, json.dumps(state, indent=1) + "\n", durable=False)

    def sync(self, now: float | None = None) -> Written:
        """Write every day whose day files changed since it was last written (``now``, epoch
        seconds, default the system clock's: no window's time reaches a later day). Raises
        what the client raises (UnreachableError, ActivityError, Stopped) and OSError; a day
        written before a failure stays written, the others are tried at the next sync."""
        state = self._read_state()
        days = self.segments.days(time.time() if now is None else now)
        sources = self.segments.sources(days)
        created = self._bucket_created()
        if state["created"] != created:  # a new bucket (or server): compare every day
            state = {**self._identity(), "created": created, "days": {}}
        todo = [d for d in days if state["days"].get(d.isoformat()) != sources[d]]
        total = Written()
        for day in reversed(todo):  # the newest first: today shows at once
            total += self._write_day(day)
            state["days"][day.isoformat()] = sources[day]
            self._write_state(state)
        return total

    def _bucket_created(self) -> object:
        """The bucket's ``created`` (it is created if missing): a bucket deleted and made
        again, or another server, has another one."""
        meta = self.client.buckets().get(self.bucket)
        if meta is None:
            self.client.create_bucket(
                self.bucket, client=BUCKET_CLIENT, kind=BUCKET_TYPE, hostname=self.hostname
            )
            meta = self.client.buckets().get(self.bucket)
        if not isinstance(meta, dict):
            raise ActivityError(f"{self.client.url}: bucket {self.bucket}: expected an object")
        return meta.get("created")

    def _write_day(self, day: date) -> Written:
        """Make the bucket's events of the local ``day`` equal its segments."""
        start_us, end_us = self.segments.bounds_us(day)
        wanted = [(s.start_us, segment_event(s)) for s in self.segments.segments(day, self.user_id)]
        # from just before the day: an event of the day before that reaches into this one is
        # cut at the query's start by aw-server (aw-server-rust too), and must not pass for
        # one that starts at midnight; up to a day after: the day's own events come whole
        raw = self.client.events(self.bucket, start_us - _BEFORE_US, end_us + DAY_US)
        if not isinstance(raw, list | JsonArray):
            raise ActivityError(f"{self.client.url}: {self.bucket}: expected a list of events")
        have: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        unreadable: list[int] = []
        for item in raw:
            event_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(event_id, bool) or not isinstance(event_id, int):
                continue  # no id: nothing to compare it with or to remove
            try:
                start = parse_timestamp_us(item.get("timestamp"), "timestamp")
            except ActivityError:
                unreadable.append(event_id)  # no segment of ours: not ours to keep
                continue
            if start_us <= start < end_us:
                have.setdefault(start, []).append((event_id, item))
        posts: list[dict[str, Any]] = []
        removals = unreadable
        added = updated = 0
        for start, event in wanted:
            found = have.pop(start, [])
            if not found:
                posts.append(event)
                added += 1
                continue
            (event_id, old), *doubles = found
            removals += [other for other, _ in doubles]
            if not _same(old, event):
                posts.append({**event, "id": event_id})  # replaced in place: it grew
                updated += 1
        removals += [event_id for found in have.values() for event_id, _ in found]
        for event_id in removals:
            self.client.delete_event(self.bucket, event_id)
        for i in range(0, len(posts), _POST_AT_ONCE):
            self.client.post_events(self.bucket, posts[i : i + _POST_AT_ONCE])
        return Written(1, added, updated, len(removals))
