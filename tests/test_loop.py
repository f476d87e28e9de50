"""The loop's bookkeeping: news for the status file is never dropped."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from daemon.config.settings import load_settings
from daemon.runtime.labellog import LabelLog
from daemon.runtime.loop import Control, Loop
from daemon.runtime.notify import Notifier
from daemon.runtime.reloader import Holder
from daemon.runtime.retention import Retention
from daemon.runtime.spool import Spool
from daemon.runtime.watcher import Waker
from daemon.runtime.worker import Worker
from taskclf_core.drift import DriftTracker


class _Worker:
    changed = False

    def __init__(self) -> None:
        self.archive_syncs = 0

    def seconds_to_retry(self) -> float | None:
        return None

    def sync_archive(self) -> None:
        self.archive_syncs += 1


def test_a_reload_landing_while_the_status_is_written_is_written_next(
    tmp_path: Path, bundle_dir: Path
) -> None:
    """The reloader thread marks the loop dirty after a swap; a status write that read what
    was in force just before must not clear that mark, or `status` shows the old store until
    the next heartbeat."""
    writes: list[int] = []
    loop: Loop
    now = [1000.0]  # the loop's clock, moved by hand

    def write_status() -> bool:
        writes.append(1)
        if len(writes) == 1:
            loop.dirty = True  # a swap lands on the reloader's thread mid-write
        return True

    waker = Waker()
    worker = _Worker()
    try:
        settings = load_settings(None, {"model_dir": str(bundle_dir), "spool_dir": str(tmp_path)})
        loop = Loop(
            settings,
            control=Control(),
            holder=cast(Holder, None),
            worker=cast(Worker, worker),
            retention=Retention(settings, Spool(tmp_path / "spool"), LabelLog(tmp_path / "labels")),
            waker=waker,
            notifier=Notifier(None),
            drift=DriftTracker(),
            write_status=write_status,
            reloader=None,
            watcher=None,
            once=False,
            clock=lambda: now[0],
        )
        loop.tick()
        assert len(writes) == 1
        assert loop.dirty, "the swap's news was dropped"
        now[0] += 0.1  # within the status rate limit: the news waits
        loop.tick()
        assert len(writes) == 1
        now[0] += 0.5  # the rate limit has passed
        loop.tick()
        assert len(writes) == 2
        # the feature archive is synced once a heartbeat, not on every round
        assert worker.archive_syncs == 1
        now[0] += settings.heartbeat_seconds
        loop.tick()
        assert worker.archive_syncs == 2
    finally:
        waker.close()
