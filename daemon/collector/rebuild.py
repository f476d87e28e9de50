"""Feature windows of past days rebuilt from ActivityWatch, for `retrain` (no spool, no cursor).

A labelled day older than the feature archive has no archived windows; ActivityWatch still
has its events, and the collector's own builder (``build_day``, taskclf's batch rows) makes the
same rows the collector would have written that day.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime

from daemon.collector.client import AWClient
from daemon.collector.identity import load_identity
from daemon.collector.source import RestSource
from daemon.config.settings import Settings
from daemon.retraining import Rebuilder, Rebuilt
from taskclf_core.activity import DAY_US, RowSpec, build_day
from taskclf_core.errors import ActivityError, ConfigError, UnreachableError

__all__ = ["activitywatch_rebuilder"]


def activitywatch_rebuilder(settings: Settings) -> Rebuilder:
    """Rebuild days from the ActivityWatch server the collector reads (``aw_url``), as this
    machine's user (its salt and user id). A day that cannot be read is a line, never fatal:
    `retrain` goes on with what it has."""

    def rebuild(days: Sequence[date], schema_version: str) -> Rebuilt:
        try:
            identity = load_identity(settings)
            # aw_api_key: the collector's reads carry it, and so do these
            client = AWClient(settings.aw_url, stop=threading.Event(), api_key=settings.aw_api_key)
        except ConfigError as exc:
            return Rebuilt(lines=(f"not rebuilt from ActivityWatch ({len(days)} days): {exc}",))
        source = RestSource(
            client=client,
            hostname=settings.aw_hostname,
            salt=identity.salt,
            sketches=schema_version == "v3",
        )
        spec = RowSpec(user_id=identity.user_id, schema_version=schema_version)
        windows: list[dict[str, object]] = []
        lines = []
        for day in days:
            start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 10**6
            try:
                rows = build_day(
                    start,
                    source.window_events(start, start + DAY_US),
                    source.input_events(start, start + DAY_US),
                    spec=spec,
                )
            except (UnreachableError, ActivityError) as exc:
                lines.append(f"{day}: not rebuilt from ActivityWatch ({exc})")
                if isinstance(exc, UnreachableError):
                    left = len(days) - days.index(day) - 1
                    if left:
                        lines.append(f"  nor the {left} days after it")
                    break
                continue
            windows.extend(rows)
            lines.append(
                f"{day}: older than the archive, {len(rows)} windows rebuilt from "
                f"ActivityWatch ({settings.aw_url}) for {identity.user_id}"
            )
        return Rebuilt(tuple(windows), tuple(lines))

    return rebuild
