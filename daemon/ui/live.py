"""What tells an open page to redraw: cheap looks at the files its day is made of.

Once a second the page's event stream stats the label-log day files its local day overlaps,
the span file and the asks file (size and mtime: no reading); every few seconds it reads the
status the page shows and compares a digest of it. Nothing runs while no page is open.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import date, tzinfo
from pathlib import Path
from typing import Final

from daemon.paths import labels_dir, spans_file, ui_asks_file
from taskclf_core.daily import utc_days_overlapping

__all__ = ["STATUS_EVERY", "TICK_SECONDS", "Watch", "files_key"]

TICK_SECONDS: Final = 1.0
STATUS_EVERY: Final = 5  # ticks between two looks at the status

Signature = tuple[tuple[int, int] | None, ...]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _paths(data_dir: Path, day: date, tz: tzinfo) -> list[Path]:
    logs = labels_dir(data_dir)
    return [
        *(logs / f"{d.isoformat()}.jsonl" for d in utc_days_overlapping([day], tz)),
        spans_file(data_dir),
        ui_asks_file(data_dir),
    ]


def _signature(data_dir: Path, day: date, tz: tzinfo) -> Signature:
    return tuple(_stat(p) for p in _paths(data_dir, day, tz))


def _key(signature: Signature) -> str:
    return hashlib.blake2s(repr(signature).encode(), digest_size=8).hexdigest()


def files_key(data_dir: Path, day: date, tz: tzinfo) -> str:
    """The state of the files ``day`` is drawn from, as a short string: the page's day
    carries the one it was read after, and its event stream starts from it (a record that
    landed between the two is not missed)."""
    return _key(_signature(data_dir, day, tz))


class Watch:
    """One open page's view: :meth:`changes` names what changed since it was last asked,
    or since the page read its day (``since``: that day's :func:`files_key`)."""

    def __init__(
        self,
        data_dir: Path,
        day: Callable[[], date],
        tz: Callable[[], tzinfo],
        status_digest: Callable[[], str],
        since: str | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._day = day
        self._tz = tz
        self._status_digest = status_digest
        self._ticks = 0
        self._files = self._signature()
        # the page drew a day read before this stream opened: what changed in between counts
        self._stale = since is not None and since != _key(self._files)
        self._status = status_digest()

    def _signature(self) -> Signature:
        return _signature(self._data_dir, self._day(), self._tz())

    def changes(self) -> list[str]:
        """``"day"`` when the day's files changed, ``"status"`` when the status did."""
        self._ticks += 1
        found = []
        files = self._signature()
        if files != self._files or self._stale:
            self._files, self._stale = files, False
            found.append("day")
        if self._ticks % STATUS_EVERY == 0:
            digest = self._status_digest()
            if digest != self._status:
                self._status = digest
                found.append("status")
        return found
