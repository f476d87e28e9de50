"""What the page asks you to label: taskclf's active-learning queue over the label log.

taskclf's ``labels/queue.py`` enqueues buckets the model is unsure of (confidence below
0.55) and, when drift is detected, the lowest-confidence buckets of the current period (at
most 50); it serves the pending ones lowest confidence first, at most
``label_max_asks_per_day`` (20) a day, and an answer and a skip both count. Here an ask is
a stretch of time, not a single minute: the uncertain windows of one run
(:func:`taskclf_core.suggest.uncertain_runs`) make one low-confidence ask, and drift windows
next to each other make one drift ask, so one answer labels the whole stretch.

Differences from taskclf, on purpose: a day is the person's *local* calendar day (taskclf
counts the UTC day of when an item was enqueued, so its budget resets mid-afternoon west of
Greenwich); an answer or skip counts on the day it was given; a skipped stretch is never
asked about again, even when the run grows into a longer one.

Pure: records, spans and what was asked before in; asks out.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

from taskclf_core.daily import LoggedLabel, label_from_record
from taskclf_core.labels import REJECT_LABEL
from taskclf_core.schema import format_ts
from taskclf_core.spans import LabelSpan, project
from taskclf_core.suggest import DEFAULT_BELOW, uncertain_runs

__all__ = [
    "DEFAULT_MAX_ASKS_PER_DAY",
    "DRIFT_LIMIT",
    "Ask",
    "AskQueue",
    "Asked",
    "ask_queue",
    "candidate_asks",
]

DEFAULT_MAX_ASKS_PER_DAY: Final = 20  # taskclf's DEFAULT_LABEL_MAX_ASKS_PER_DAY
DRIFT_LIMIT: Final = 50  # taskclf's DEFAULT_DRIFT_AUTO_LABEL_LIMIT: drift windows per user

Reason = Literal["low_confidence", "drift"]
Status = Literal["answered", "skipped"]


@dataclass(frozen=True, slots=True)
class Ask:
    """One question: "what were you doing from ``start`` to ``end``?" (aware UTC times)."""

    user_id: str
    start: datetime
    end: datetime
    reason: Reason
    windows: int
    confidence: float  # the mean confidence of its windows: the queue's order
    guess: str | None  # the model's most frequent label there (None: it rejected them all)

    @property
    def id(self) -> str:
        """10 hex of SHA-256 over user, start and end: the same stretch, the same id."""
        text = f"{self.user_id}\0{format_ts(self.start)}\0{format_ts(self.end)}"
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "start": format_ts(self.start),
            "end": format_ts(self.end),
            "reason": self.reason,
            "windows": self.windows,
            "confidence": round(self.confidence, 4),
            "guess": self.guess,
        }


@dataclass(frozen=True, slots=True)
class Asked:
    """An ask that was answered or skipped, and the local day that counts it."""

    ask_id: str
    user_id: str
    start: datetime
    end: datetime
    status: Status
    day: date


@dataclass(frozen=True, slots=True)
class AskQueue:
    """The asks served now (lowest confidence first), and the day's budget."""

    asks: tuple[Ask, ...]
    pending: int  # candidates not yet answered or skipped (before the budget)
    served_today: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.served_today)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _neighbours(
    windows: Sequence[LoggedLabel], picked: set[float], gap_seconds: float
) -> list[list[LoggedLabel]]:
    """The picked windows (by start) in runs: no unpicked window between, no idle gap."""
    runs: list[list[LoggedLabel]] = []
    run: list[LoggedLabel] = []
    for w in windows:
        if w.start not in picked:
            if run:
                runs.append(run)
            run = []
            continue
        if run and w.start - max(r.end for r in run) > gap_seconds:
            runs.append(run)
            run = []
        run.append(w)
    if run:
        runs.append(run)
    return runs


def _drift_asks(
    labels: Sequence[LoggedLabel],
    *,
    since: float,
    until: float,
    skip: set[tuple[str, float]],
    gap_seconds: float,
    limit: int,
) -> list[Ask]:
    """taskclf's drift pick per user: the ``limit`` lowest-confidence windows in
    ``[since, until)``, those next to each other made one ask."""
    by_user: dict[str, list[LoggedLabel]] = {}
    for w in labels:
        if since <= w.start < until:
            by_user.setdefault(w.user_id, []).append(w)
    asks: list[Ask] = []
    for user_id, windows in sorted(by_user.items()):
        windows.sort(key=lambda w: w.start)
        candidates = [
            w for w in windows if w.confidence is not None and (user_id, w.start) not in skip
        ]
        candidates.sort(key=lambda w: (w.confidence, w.start))
        picked = {w.start for w in candidates[:limit]}
        for run in _neighbours(windows, picked, gap_seconds):
            guesses = Counter(w.label for w in run if w.label != REJECT_LABEL)
            asks.append(
                Ask(
                    user_id=user_id,
                    start=_utc(run[0].start),
                    end=_utc(max(w.end for w in run)),
                    reason="drift",
                    windows=len(run),
                    confidence=sum(w.confidence or 0.0 for w in run) / len(run),
                    guess=guesses.most_common(1)[0][0] if guesses else None,
                )
            )
    return asks


def candidate_asks(
    lines: Sequence[bytes | str],
    *,
    since: datetime,
    until: datetime,
    spans: Sequence[LabelSpan] = (),
    below: float = DEFAULT_BELOW,
    gap_seconds: float = 300.0,
    users: Iterable[str] | None = None,
    drift_users: Iterable[str] = (),
    drift_since: datetime | None = None,
    drift_limit: int = DRIFT_LIMIT,
) -> list[Ask]:
    """Every ask the label-log ``lines`` hold for windows starting in ``[since, until)``.

    Low-confidence asks: the runs of rejected or below-``below`` windows no span labels.
    Drift asks, for each of ``drift_users`` (a drift alert is active for them): of their
    windows starting after ``drift_since`` (the drift's current period) and before
    ``until``, neither labelled nor in a low-confidence ask, the ``drift_limit`` with the
    lowest confidence. Unordered; :func:`ask_queue` orders and rations them.
    """
    wanted = None if users is None else frozenset(users)
    runs = [
        r
        for r in uncertain_runs(
            lines, since=since, spans=spans, below=below, gap_seconds=gap_seconds, users=wanted
        )
        if r.start < until
    ]
    asks = [
        Ask(
            user_id=r.user_id,
            start=r.start,
            end=r.end,
            reason="low_confidence",
            windows=r.windows,
            confidence=r.mean_confidence,
            guess=r.guess,
        )
        for r in runs
    ]
    drifting = frozenset(drift_users) if wanted is None else frozenset(drift_users) & wanted
    if not drifting or drift_since is None:
        return asks
    labels: list[LoggedLabel] = []
    for line in lines:
        try:
            label = label_from_record(json.loads(line))
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        if label.user_id in drifting:
            labels.append(label)
    first = max(since, drift_since).timestamp()
    labelled = project(spans, [(w.user_id, _utc(w.start), _utc(w.end)) for w in labels])
    asked = [(a.user_id, a.start.timestamp(), a.end.timestamp()) for a in asks]
    skip = {
        (w.user_id, w.start)
        for w, label in zip(labels, labelled, strict=True)
        if label is not None
        or any(u == w.user_id and a <= w.start < b for u, a, b in asked)
        or w.confidence is None
    }
    return asks + _drift_asks(
        labels,
        since=first,
        until=until.timestamp(),
        skip=skip,
        gap_seconds=gap_seconds,
        limit=drift_limit,
    )


def _skipped_time(asked: Sequence[Asked]) -> Mapping[str, list[tuple[datetime, datetime]]]:
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for a in asked:
        if a.status == "skipped":
            out.setdefault(a.user_id, []).append((a.start, a.end))
    return out


def ask_queue(
    candidates: Iterable[Ask],
    asked: Sequence[Asked],
    *,
    today: date,
    limit: int = DEFAULT_MAX_ASKS_PER_DAY,
) -> AskQueue:
    """The asks to serve now: candidates not answered or skipped before (nor inside a
    skipped stretch), lowest confidence first, as many as ``today``'s budget has left
    (``limit`` a day; every answer and skip given on ``today`` counts)."""
    done = {a.ask_id for a in asked}
    skipped = _skipped_time(asked)
    pending = [
        c
        for c in candidates
        if c.id not in done
        and not any(c.start < b and a < c.end for a, b in skipped.get(c.user_id, ()))
    ]
    pending.sort(key=lambda c: (c.confidence, c.start, c.user_id))
    served = sum(1 for a in asked if a.day == today)
    queue = AskQueue((), len(pending), served, limit)
    return AskQueue(tuple(pending[: queue.remaining]), len(pending), served, limit)
