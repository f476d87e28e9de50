"""Retention's pass: what it deletes, and the clock it refuses to trust."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.config.settings import load_settings
from daemon.runtime.labellog import LabelLog
from daemon.runtime.retention import Retention
from daemon.runtime.spool import Spool


def _retention(tmp_path: Path, bundle_dir: Path, **keys: float) -> Retention:
    settings = load_settings(
        None,
        {"model_dir": str(bundle_dir), "data_dir": str(tmp_path / "data"), **keys},
    )
    spool = Spool(settings.spool_path)
    spool.ensure()
    labels = LabelLog(settings.labels_path)
    labels.open()
    return Retention(settings, spool, labels)


def _day(labels: LabelLog, day: str) -> None:
    labels.path_for(day).write_text(
        f'{{"user_id":"u","bucket_start_ts":"{day}T10:00:00Z",'
        f'"bucket_end_ts":"{day}T10:01:00Z","label":"Build"}}\n'
    )


def test_a_clock_within_the_retention_of_the_newest_day_prunes(
    tmp_path: Path, bundle_dir: Path
) -> None:
    r = _retention(tmp_path, bundle_dir, label_retention_days=3)
    for day in ("2026-01-01", "2026-01-05", "2026-01-09"):
        _day(r.labels, day)
    assert not r.run(datetime(2026, 1, 10, 12, tzinfo=UTC))
    assert r.paused == ()
    assert r.labels.day_files() == ["2026-01-09"]


def test_a_clock_past_the_newest_day_by_more_than_the_retention_prunes_nothing(
    tmp_path: Path, bundle_dir: Path
) -> None:
    r = _retention(tmp_path, bundle_dir, label_retention_days=3)
    for day in ("2026-01-01", "2026-01-09"):
        _day(r.labels, day)
    # 3 days after the end of the newest day: still trusted (its records may end at 24:00)
    assert not r.run(datetime(2026, 1, 13, tzinfo=UTC))
    assert r.labels.day_files() == ["2026-01-09"]
    assert r.run(datetime(2031, 1, 13, tzinfo=UTC))  # news for status
    assert r.labels.day_files() == ["2026-01-09"]
    [paused] = r.paused
    assert (paused.setting, paused.newest, paused.clock) == (
        "label_retention_days",
        "2026-01-09",
        "2031-01-13T00:00:00Z",
    )
    assert r.status()["paused"][0]["message"] == paused.message()
    assert "label_retention_days = 3 days past the newest data" in paused.message()
    assert r.run(datetime(2026, 1, 11, tzinfo=UTC))  # the clock is right again
    assert r.paused == ()


def test_done_files_are_not_pruned_on_a_clock_past_the_newest_by_more_than_retention(
    tmp_path: Path, bundle_dir: Path
) -> None:
    r = _retention(tmp_path, bundle_dir, retention_days=1)
    for name in ("a.json", "b.json"):
        (r.spool.done / name).write_text("{}")
    now = datetime.now(UTC)
    r.run(now + timedelta(days=3))
    assert sorted(os.listdir(r.spool.done)) == ["a.json", "b.json"]
    assert [p.setting for p in r.paused] == ["retention_days"]
    r.run(now + timedelta(hours=23))  # within a day of the newest file: trusted
    assert r.paused == ()


def test_retention_days_zero_keeps_nothing_whatever_the_clock(
    tmp_path: Path, bundle_dir: Path
) -> None:
    r = _retention(tmp_path, bundle_dir, retention_days=0)
    (r.spool.done / "a.json").write_text("{}")
    r.run(datetime.fromtimestamp(time.time() + 10 * 365 * 86400, UTC))
    assert os.listdir(r.spool.done) == []
    assert r.paused == ()
