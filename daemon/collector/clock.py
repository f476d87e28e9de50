"""The collector's clocks: the system's (which can step) and ActivityWatch's (which cannot).

Finality must not rest on the system clock: one poll with it two hours ahead made every
minute up to the bogus "now" final, and the real minutes in between were never emitted. The
collector's "now" is :class:`AWClock` instead — the latest moment ActivityWatch's data
shows, advanced by the time an elapsed clock measured since. ActivityWatch's data is
written as things happen, and an elapsed clock neither steps nor stops (it counts
suspend), so this "now" is never ahead of the truth. docs/collector.md has the rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["STEP_TOLERANCE_US", "SYSTEM_CLOCK", "AWClock", "Clock", "SystemClock"]

# Linux's CLOCK_MONOTONIC stops during suspend (a resume would look like a clock step);
# CLOCK_BOOTTIME does not. macOS's CLOCK_MONOTONIC counts sleep.
_ELAPSED_CLOCK: Final = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
# the system clock and the elapsed clock disagree by more than this between two polls:
# the system clock was set (NTP slews by milliseconds; a step is seconds to years)
STEP_TOLERANCE_US: Final = 5 * 1_000_000


class Clock(Protocol):
    """The collector's view of time (a seam: tests drive it)."""

    def wall(self) -> float:
        """Seconds since the epoch by the system clock (``time.time``): it can step."""
        ...

    def elapsed(self) -> float:
        """Seconds on a clock that never steps and counts suspend (any origin)."""
        ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    def wall(self) -> float:
        return time.time()

    def elapsed(self) -> float:
        return time.clock_gettime(_ELAPSED_CLOCK)


SYSTEM_CLOCK: Final = SystemClock()


@dataclass
class AWClock:
    """ActivityWatch's "now" (µs since the epoch) and the system clock's steps.

    ``observe`` feeds it the latest moment the data shows; ``now`` is the latest moment
    observed so far plus the elapsed time since it was observed. An idle desktop (no new
    events) still moves it on, at the pace of real time; new data moves it to the data.
    """

    _anchor: tuple[int, int] | None = None  # (ActivityWatch µs, elapsed µs when seen)
    _last_reading: tuple[int, int] | None = None  # (wall µs, elapsed µs) of the last poll
    _highest_wall: int | None = None  # the latest the system clock has read: wall - elapsed

    def now(self, elapsed_us: int) -> int | None:
        """ActivityWatch's "now", or None before any data was seen."""
        if self._anchor is None:
            return None
        seen, at = self._anchor
        return seen + max(elapsed_us - at, 0)

    def ceiling(self, wall_us: int, elapsed_us: int, settle_us: int) -> int:
        """The latest end an event can really have: nothing ActivityWatch recorded ends
        ``settle`` after the system clock (the latest it read during this run, moved on by
        the real time since: a step back does not lower it) and ActivityWatch's "now"."""
        latest = wall_us
        if self._highest_wall is not None:
            latest = max(latest, elapsed_us + self._highest_wall)
        aw = self.now(elapsed_us)
        return max(latest, aw if aw is not None else latest) + settle_us

    def observe(self, seen_us: int | None, elapsed_us: int) -> int | None:
        """Take the latest moment the data shows (None: no data); returns :meth:`now`."""
        current = self.now(elapsed_us)
        if seen_us is not None and (current is None or seen_us > current):
            self._anchor = (seen_us, elapsed_us)
            return seen_us
        return current

    def step(self, wall_us: int, elapsed_us: int) -> int | None:
        """How far the system clock jumped since the last reading beyond the real time that
        passed (µs, + ahead / - back), when more than the tolerance; else None."""
        last, self._last_reading = self._last_reading, (wall_us, elapsed_us)
        if self._highest_wall is None or wall_us - elapsed_us > self._highest_wall:
            self._highest_wall = wall_us - elapsed_us
        if last is None:
            return None
        drift = (wall_us - last[0]) - (elapsed_us - last[1])
        return drift if abs(drift) > STEP_TOLERANCE_US else None
