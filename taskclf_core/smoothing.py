"""Rolling-majority smoothing over a per-user ring buffer, rebuildable from the label log.

Each user's buffer holds their newest ``size`` windows *by bucket time*. A window is
smoothed over itself and up to ``size - 1`` windows just before it in time, walking back
only while consecutive windows are at most ``idle_gap`` seconds apart (a longer gap
starts a fresh buffer). Because the state is a function of *which* windows were labelled,
not of when the process started, rebuilding it from the log changes nothing.

That trailing vote is what a live labeller can do. Looking back at a finished day, the
report uses taskclf's centred vote instead (:func:`rolling_majority`), which sees the
windows after a task switch too and so does not label it one window late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = [
    "STORY_WINDOW",
    "Entry",
    "SmoothingState",
    "majority",
    "push",
    "rolling_majority",
    "smooth",
]

# taskclf's DEFAULT_SMOOTH_WINDOW: the centred vote's width in its batch inference
STORY_WINDOW: Final = 3


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    """One labelled window as smoothing sees it (times in UTC epoch seconds)."""

    start: float
    end: float
    label: str


def majority(labels: list[str]) -> str:
    """Most frequent label (oldest first in ``labels``); a tie goes to the most recent one."""
    counts: dict[str, int] = {}
    last_seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        counts[label] = counts.get(label, 0) + 1
        last_seen[label] = i
    top = max(counts.values())
    return max((label for label, n in counts.items() if n == top), key=last_seen.__getitem__)


def smooth(buffer: tuple[Entry, ...], entry: Entry, *, size: int, idle_gap: float) -> str:
    """Smoothed label of ``entry`` given the user's buffer (sorted by start)."""
    votes = [entry.label]
    next_start = entry.start
    for previous in reversed(buffer):
        if len(votes) >= size:
            break
        if previous.start >= entry.start:
            continue
        if next_start - previous.end > idle_gap:
            break
        votes.append(previous.label)
        next_start = previous.start
    votes.reverse()
    return majority(votes)


def rolling_majority(labels: Sequence[str], window: int = STORY_WINDOW) -> list[str]:
    """taskclf's centred vote (``infer/smooth.py``) over a finished sequence (batch).

    Each position takes the most frequent label among the ``window // 2`` labels on each
    side of it and itself (fewer at the ends). A label that ties for most frequent keeps
    its place; otherwise, among labels tied for most frequent, the first in the window wins.
    """
    n = len(labels)
    if window == 3:  # taskclf's default, the report's: the same rule without counting
        return [_centred_3(labels, i, n) for i in range(n)]
    half = window // 2
    out: list[str] = []
    for i in range(n):
        counts: dict[str, int] = {}
        for label in labels[max(0, i - half) : min(n, i + half + 1)]:
            counts[label] = counts.get(label, 0) + 1
        own = labels[i]
        top = max(counts.values())
        # dicts keep insertion order: the first label reaching the top is the first in the window
        out.append(own if counts[own] == top else next(k for k, c in counts.items() if c == top))
    return out


def _centred_3(labels: Sequence[str], i: int, n: int) -> str:
    own = labels[i]
    if i == 0 or i == n - 1:
        return own  # two votes: the label ties or wins
    before, after = labels[i - 1], labels[i + 1]
    return before if before == after != own else own


def push(buffer: tuple[Entry, ...], entry: Entry, *, size: int) -> tuple[Entry, ...]:
    """The buffer with ``entry`` added, keeping the newest ``size`` windows by time."""
    if buffer and entry.start > buffer[-1].start:
        merged = (*buffer, entry)
    else:
        merged = tuple(sorted({e.start: e for e in (*buffer, entry)}.values()))
    return merged[-size:]


@dataclass(frozen=True, slots=True)
class SmoothingState:
    """Immutable per-user buffers; every update returns a new state."""

    size: int
    idle_gap: float
    buffers: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"smooth_window: expected >= 1, got {self.size}")
        object.__setattr__(self, "buffers", MappingProxyType(dict(self.buffers)))

    def buffer(self, user_id: str) -> tuple[Entry, ...]:
        return self.buffers.get(user_id, ())

    def step(self, user_id: str, entry: Entry) -> tuple[SmoothingState, str]:
        """Smooth one window and return the state that includes it."""
        buffer = self.buffer(user_id)
        smoothed = smooth(buffer, entry, size=self.size, idle_gap=self.idle_gap)
        buffers = dict(self.buffers)
        buffers[user_id] = push(buffer, entry, size=self.size)
        return SmoothingState(self.size, self.idle_gap, buffers), smoothed

    def steps(self, items: Iterable[tuple[str, Entry]]) -> tuple[SmoothingState, list[str]]:
        """:meth:`step` over a batch in order, building one new state at the end."""
        buffers = dict(self.buffers)
        smoothed = []
        for user_id, entry in items:
            buffer = buffers.get(user_id, ())
            smoothed.append(smooth(buffer, entry, size=self.size, idle_gap=self.idle_gap))
            buffers[user_id] = push(buffer, entry, size=self.size)
        return SmoothingState(self.size, self.idle_gap, buffers), smoothed

    def merged(self, entries: Iterable[tuple[str, Entry]]) -> SmoothingState:
        """Fold already-logged windows in (order does not matter; repeats are harmless)."""
        buffers = dict(self.buffers)
        for user_id, entry in entries:
            buffers[user_id] = push(buffers.get(user_id, ()), entry, size=self.size)
        return SmoothingState(self.size, self.idle_gap, buffers)

    @classmethod
    def from_entries(
        cls, entries: Iterable[tuple[str, Entry]], *, size: int, idle_gap: float
    ) -> SmoothingState:
        """Rebuild the state from logged windows (e.g. the label log's recent records)."""
        return cls(size, idle_gap).merged(entries)
