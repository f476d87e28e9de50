"""What tells an open page to redraw: cheap looks at the files its day is made of.

Once a second the page's event stream stats the label-log day files its local day overlaps,
the span file and the asks file (size and mtime: no reading); every few seconds it reads the
status the page shows and compares a digest of it. Nothing runs while no page is open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, tzinfo
from pathlib import Path
from typing import Final

from daemon.paths import labels_dir, spans_file, ui_asks_file
from taskclf_core.daily import utc_days_overlapping

__all__ = ["STATUS_EVERY", "TICK_SECONDS", "Watch"]

TICK_SECONDS: Final = 1.0
STATUS_EVERY: Final = 5  # ticks between two looks at the status

Signature = tuple[tuple[int, int] | None, ...]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class Watch:
    """One open page's view: :meth:`changes` names what changed since it was last asked."""

    def __init__(
        self,
        data_dir: Path,
        day: Callable[[], date],
        tz: Callable[[], tzinfo],
        status_digest: Callable[[], str],
    ) -> None:
        self._data_dir = data_dir
        self._day = day
        self._tz = tz
        self._status_digest = status_digest
        self._ticks = 0
        self._files = self._signature()
        self._status = status_digest()

    def _paths(self) -> list[Path]:
        days = utc_days_overlapping([self._day()], self._tz())
        logs = labels_dir(self._data_dir)
        return [
            *(logs / f"{d.isoformat()}.jsonl" for d in days),
            spans_file(self._data_dir),
            ui_asks_file(self._data_dir),
        ]

    def _signature(self) -> Signature:
        return tuple(_stat(p) for p in self._paths())

    def changes(self) -> list[str]:
        """``"day"`` when the day's files changed, ``"status"`` when the status did."""
        self._ticks += 1
        found = []
        files = self._signature()
        if files != self._files:
            self._files = files
            found.append("day")
        if self._ticks % STATUS_EVERY == 0:
            digest = self._status_digest()
            if digest != self._status:
                self._status = digest
                found.append("status")
        return found
