"""What to label next: the longest runs of rejected or low-confidence windows in the label log."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from taskclf_core.errors import WindowError
from taskclf_core.schema import parse_ts
from taskclf_core.spans import LabelSpan, project

__all__ = ["DEFAULT_BELOW", "UncertainRun", "uncertain_runs"]

# taskclf's DEFAULT_LABEL_CONFIDENCE_THRESHOLD: below it a window is worth asking about
DEFAULT_BELOW = 0.55


@dataclass(frozen=True, slots=True)
class UncertainRun:
    """Consecutive uncertain windows of one user: worth one question ("what were you doing?")."""

    user_id: str
    start: datetime
    end: datetime
    windows: int
    rejected: int
    mean_confidence: float
    guess: str  # the model's most frequent core label in the run

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class _Window:
    user_id: str
    start: datetime
    end: datetime
    uncertain: bool
    rejected: bool
    confidence: float
    core_label: str


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
        except (ValueError, KeyError, TypeError, WindowError):
            continue  # a damaged line is the daemon's to report, not ours
        if not isinstance(user_id, str) or start < since:
            continue
        uncertain = rejected or confidence < below
        out.append(_Window(user_id, start, end, uncertain, rejected, confidence, core_label))
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
    no gap over ``gap_seconds`` (the daemon's idle gap); windows already labelled by a span
    break runs too (nothing to ask there). Records before ``since`` are ignored.
    """
    wanted = None if users is None else frozenset(users)
    windows = [w for w in _read(lines, below, since) if wanted is None or w.user_id in wanted]
    windows.sort(key=lambda w: (w.user_id, w.start))
    labelled = project(spans, [(w.user_id, w.start, w.end) for w in windows])
    runs: list[UncertainRun] = []
    current: list[_Window] = []

    def close() -> None:
        if current:
            guess = Counter(w.core_label for w in current).most_common(1)[0][0]
            runs.append(
                UncertainRun(
                    user_id=current[0].user_id,
                    start=current[0].start,
                    end=current[-1].end,
                    windows=len(current),
                    rejected=sum(w.rejected for w in current),
                    mean_confidence=sum(w.confidence for w in current) / len(current),
                    guess=guess,
                )
            )
            current.clear()

    for w, label in zip(windows, labelled, strict=True):
        if not w.uncertain or label is not None:
            close()
            continue
        if current and (
            w.user_id != current[-1].user_id
            or (w.start - current[-1].end).total_seconds() > gap_seconds
        ):
            close()
        current.append(w)
    close()
    runs.sort(key=lambda r: (-r.windows, r.start, r.user_id))
    return runs
