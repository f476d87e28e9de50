"""Label-log retention and the exact, bounded per-day dedupe index."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from daemon.runtime.labellog import LabelLog


def _line(user: str, start: str) -> str:
    return (
        f'{{"user_id":"{user}","bucket_start_ts":"{start}","bucket_end_ts":"{start[:-3]}59Z",'
        '"label":"Build"}\n'
    )


def test_prune_deletes_days_older_than_the_retention(tmp_path: Path) -> None:
    log = LabelLog(tmp_path / "labels")
    log.open()
    for day in ("2026-01-01", "2026-01-09", "2026-01-10"):
        log.path_for(day).write_text(_line("u", f"{day}T10:00:00Z"))
    removed = log.prune(2, date(2026, 1, 11))
    assert removed == ["2026-01-01"]
    assert log.day_files() == ["2026-01-09", "2026-01-10"]


def test_dedupe_survives_eviction_of_a_day(tmp_path: Path) -> None:
    log = LabelLog(tmp_path / "labels", max_days=2)
    log.open()
    days = ["2026-01-01", "2026-01-02", "2026-01-03"]
    for day in days:
        log.path_for(day).write_text(_line("u", f"{day}T10:00:00Z"))
    for day in days:  # the third load evicts the first day
        assert log.contains(("u", f"{day}T10:00:00Z"))
    assert not log.is_loaded(days[0])
    assert log.contains(("u", f"{days[0]}T10:00:00Z"))  # read again, still exact
    assert not log.contains(("u", f"{days[0]}T11:00:00Z"))


def test_open_tightens_loose_day_files(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    path = tmp_path / "labels" / "2026-01-01.jsonl"
    path.write_text(_line("u", "2026-01-01T10:00:00Z"))
    os.chmod(path, 0o644)
    LabelLog(tmp_path / "labels").open()
    assert path.stat().st_mode & 0o777 == 0o600
