"""What to label next: the longest runs of rejected or low-confidence windows in the label log.

"Longest" is by the time the windows stand for (taskclf_core/timespan.py), not their count:
an uncertain 20-minute call is one window and a bigger question than three uncertain minutes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from taskclf_core.errors import WindowError
from taskclf_core.ids import BASELINE_ID
from taskclf_core.spans import LabelSpan, project
from taskclf_core.timerange import parse_ts
from taskclf_core.timespan import MAX_SPAN, TimeSpan, parse_time_span, to_us

__all__ = ["DEFAULT_BELOW", "UncertainRun", "uncertain_runs"]

# taskclf's DEFAULT_LABEL_CONFIDENCE_THRESHOLD: below it a window is worth asking about
DEFAULT_BELOW = 0.55


@dataclass(frozen=True, slots=True)
class UncertainRun:
    """Consecutive uncertain windows of one user: worth one question ("what were you doing?").

    ``start``..``end`` covers the windows and the time they stand for (a span to label them
    by strict containment); ``seconds`` is that time without its away parts (under a minute
    for a window whose events lasted seconds, nothing for one away throughout);
    ``reject_thresholds`` the distinct thresholds its windows were decided with, as their
    records say (the policy's or a user's own; empty when no record says)."""

    user_id: str
    start: datetime
    end: datetime
    windows: int
    rejected: int
    mean_confidence: float
    guess: str | None  # the model's most frequent core label in the run (None: the rule
    # baseline's windows, where no rule fired: its core label is a tie, not a guess)
    seconds: float = -1.0  # -1: from start to end
    reject_thresholds: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.seconds < 0:
            object.__setattr__(self, "seconds", (self.end - self.start).total_seconds())

    @property
    def minutes(self) -> float:
        return self.seconds / 60.0


@dataclass(frozen=True, slots=True)
class _Window:
    user_id: str
    start: datetime
    end: datetime
    uncertain: bool
    rejected: bool
    confidence: float
    core_label: str | None  # None: the rule baseline's, no rule fired (no guess)
    time: TimeSpan
    reject_threshold: float | None  # None too for the baseline's: it rejects by its rules


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SPAN_US = MAX_SPAN // timedelta(microseconds=1)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _threshold(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _read(lines: Iterable[bytes | str], below: float, since: datetime) -> list[_Window]:
    out: list[_Window] = []
    for line in lines:
        try:
            data = json.loads(line)
            user_id = data["user_id"]
            start = parse_ts(data["bucket_start_ts"], "bucket_start_ts")
            end = parse_ts(data["bucket_end_ts"], "bucket_end_ts")
            confidence = float(data["confidence"])
            rejected = bool(data["is_rejected"])
            core_label = str(data["core_label"])
            lo, hi = to_us(start), to_us(end)
            time = parse_time_span(data, lo, hi) or TimeSpan(lo, min(hi, lo + _MAX_SPAN_US))
        except (ValueError, KeyError, TypeError, AttributeError, WindowError):
            continue  # a damaged line is the daemon's to report, not ours
        if not isinstance(user_id, str) or start < since:
            continue
        uncertain = rejected or confidence < below
        threshold = _threshold(data.get("reject_threshold"))
        guess: str | None = core_label
        if data.get("model_bundle_id") == BASELINE_ID:
            # 1/8 everywhere when no rule fired: the argmax is the tie rule's, and the record's
            # threshold (1.0) says the rules decided, not a threshold
            threshold = None
            guess = None if rejected else core_label
        out.append(
            _Window(user_id, start, end, uncertain, rejected, confidence, guess, time, threshold)
        )
    return out


def uncertain_runs(
    lines: Iterable[bytes | str],
    *,
    since: datetime,
    spans: Sequence[LabelSpan] = (),
    below: float = DEFAULT_BELOW,
    gap_seconds: float = 300.0,
    users: Iterable[str] | None = None,
) -> list[UncertainRun]:
    """Runs of windows that are rejected or below ``below`` confidence, longest first.

    A run is one user's uncertain windows in time order with no confident window between and
    no gap over ``gap_seconds`` (the daemon's idle gap) between the times they stand for;
    windows already labelled by a span break runs too (nothing to ask there). Longest means
    the most time (away time not counted). Records before ``since`` are ignored.
    """
    wanted = None if users is None else frozenset(users)
    windows = [w for w in _read(lines, below, since) if wanted is None or w.user_id in wanted]
    windows.sort(key=lambda w: (w.user_id, w.start))
    labelled = project(spans, [(w.user_id, w.start, w.end) for w in windows])
    runs: list[UncertainRun] = []
    current: list[_Window] = []

    def close() -> None:
        if current:
            guesses = Counter(w.core_label for w in current if w.core_label is not None)
            guess = guesses.most_common(1)[0][0] if guesses else None
            # each window's time ends where the next window's starts (spans never overlap)
            us = sum(w.time.cut(n.time.start_us).active_us for w, n in pairwise(current))
            us += current[-1].time.active_us
            runs.append(
                UncertainRun(
                    user_id=current[0].user_id,
                    start=current[0].start,
                    end=max(current[-1].end, _at(current[-1].time.end_us)),
                    windows=len(current),
                    rejected=sum(w.rejected for w in current),
                    mean_confidence=sum(w.confidence for w in current) / len(current),
                    guess=guess,
                    seconds=us / 1e6,
                    reject_thresholds=tuple(
                        sorted({t for w in current if (t := w.reject_threshold) is not None})
                    ),
                )
            )
            current.clear()

    for w, label in zip(windows, labelled, strict=True):
        if not w.uncertain or label is not None:
            close()
            continue
        if current and (
            w.user_id != current[-1].user_id
            or (w.time.start_us - current[-1].time.end_us) / 1e6 > gap_seconds
        ):
            close()
        current.append(w)
    close()
    runs.sort(key=lambda r: (-r.seconds, -r.windows, r.start, r.user_id))
    return runs
