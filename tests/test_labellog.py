"""Label-log retention, the exact, bounded per-day dedupe index, and all-or-nothing appends."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from daemon.reporting.summaries import DayFile, read_day_file
from daemon.runtime.faults import Backoff
from daemon.runtime.labellog import AppendFailed, LabelLog


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


def test_prune_never_deletes_the_newest_day_with_records(tmp_path: Path) -> None:
    log = LabelLog(tmp_path / "labels")
    log.open()
    log.path_for("2026-01-01").write_text(_line("u", "2026-01-01T10:00:00Z"))
    log.path_for("2026-01-05").write_text("")  # a day file left empty holds no record
    assert log.newest_day() == "2026-01-01"
    assert log.prune(0.5, date(2031, 1, 1)) == ["2026-01-05"]
    assert log.day_files() == ["2026-01-01"]
    assert log.prune(1e300, date(2031, 1, 1)) == []  # longer than the calendar: nothing is due


def test_days_outside_the_supported_times_are_left_alone(tmp_path: Path) -> None:
    """An older daemon logged a window for 9999-12-31: no reader, pruner or warm-up uses it."""
    log = LabelLog(tmp_path / "labels")
    log.open()
    for day in ("1970-01-01", "2026-01-01", "9999-12-31"):
        log.path_for(day).write_text(_line("u", f"{day}T10:00:00Z"))
    assert log.all_day_files() == ["1970-01-01", "2026-01-01", "9999-12-31"]
    assert log.day_files() == ["2026-01-01"]
    assert log.newest_day() == "2026-01-01"
    assert [w.bucket_start_ts for w in LabelLog(tmp_path / "labels").open()] == [
        "2026-01-01T10:00:00Z"
    ]
    assert log.prune(30, date(2026, 1, 2)) == []  # 1970-01-01 is not pruned: it is not read
    assert log.all_day_files() == ["1970-01-01", "2026-01-01", "9999-12-31"]


def test_a_whole_last_record_without_its_newline_is_kept_and_ended(tmp_path: Path) -> None:
    """Only a line that does not parse is torn: a record that merely lacks its newline (an
    editor, a copy) is kept, and the next append starts a line of its own."""
    labels = tmp_path / "labels"
    labels.mkdir()
    path = labels / "2026-01-01.jsonl"
    path.write_text(_line("u", "2026-01-01T08:00:00Z") + _line("u", "2026-01-01T09:00:00Z")[:-1])
    log = LabelLog(labels)
    assert len(log.open()) == 2
    assert log.contains(("u", "2026-01-01T09:00:00Z"))
    log.append([_Record("u", "2026-01-01T10:00:00Z")])  # type: ignore[list-item]
    lines = path.read_text().splitlines()
    assert [json.loads(line)["bucket_start_ts"][11:13] for line in lines] == ["08", "09", "10"]
    assert [len(list(log.iter_records())), len(read_day_file(path).records)] == [3, 3]


def test_a_torn_last_line_is_cut_and_skipped_by_every_reader(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    path = labels / "2026-01-01.jsonl"
    path.write_text(_line("u", "2026-01-01T08:00:00Z") + _line("u", "2026-01-01T09:00:00Z")[:30])
    log = LabelLog(labels)
    assert len(list(log.iter_records())) == 1
    assert read_day_file(path) == DayFile([json.loads(_line("u", "2026-01-01T08:00:00Z"))], 0)
    assert len(log.open()) == 1
    assert path.read_text() == _line("u", "2026-01-01T08:00:00Z")


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


# --- an append is all or nothing ---------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """What LabelLog.append reads of a LabelRecord."""

    user_id: str
    bucket_start_ts: str

    @property
    def day(self) -> str:
        return self.bucket_start_ts[:10]

    @property
    def key(self) -> tuple[str, str]:
        return (self.user_id, self.bucket_start_ts)

    def to_json_line(self) -> bytes:
        return _line(self.user_id, self.bucket_start_ts).encode()


def _log_with_two_days(tmp_path: Path) -> tuple[LabelLog, dict[Path, bytes], list[_Record]]:
    log = LabelLog(tmp_path / "labels")
    log.open()
    before = {}
    for day in ("2026-01-01", "2026-01-02"):
        path = log.path_for(day)
        path.write_text(_line("u", f"{day}T08:00:00Z"))
        before[path] = path.read_bytes()
    records = [_Record("u", f"2026-01-0{d}T{h:02d}:00:00Z") for d in (1, 2) for h in (9, 10)]
    return log, before, records


def _failing(real: Any, calls_before_failure: int, exc: OSError) -> Any:
    """``real`` that fails with ``exc`` once, after ``calls_before_failure`` calls; os.write's
    last good call writes only part of its buffer (what a filling disk does)."""
    calls = 0
    partial = real is os.write

    def fake(fd: int, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == calls_before_failure + 1:
            raise exc
        if partial and calls == calls_before_failure:
            return real(fd, bytes(args[0])[:7])  # the start of a record
        return real(fd, *args)

    return fake


@pytest.mark.parametrize(
    ("call", "after", "error"),
    [
        ("write", 1, errno.ENOSPC),  # day 1 gets half a record, then the disk is full
        ("write", 2, errno.EDQUOT),  # day 1 written whole, day 2 gets half a record
        ("fsync", 1, errno.EIO),  # day 1 fsynced, day 2's fsync fails
    ],
)
def test_a_failed_append_leaves_every_file_as_it_was_and_indexes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, after: int, error: int
) -> None:
    log, before, records = _log_with_two_days(tmp_path)
    real = getattr(os, call)
    monkeypatch.setattr(os, call, _failing(real, after, OSError(error, os.strerror(error))))
    with pytest.raises(AppendFailed) as failed:
        log.append(records)  # type: ignore[arg-type]
    assert failed.value.clean
    assert failed.value.cause.errno == error
    assert failed.value.path.parent == log.directory
    assert {p: p.read_bytes() for p in before} == before
    assert not any(log.contains(r.key) for r in records)

    monkeypatch.setattr(os, call, real)  # space is back: the same records go in once
    log.append(records)  # type: ignore[arg-type]
    assert all(log.contains(r.key) for r in records)
    lines = [line for path in before for line in path.read_bytes().splitlines()]
    assert len(lines) == 2 + len(records)


def test_a_rollback_that_fails_forgets_the_day_so_it_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, before, records = _log_with_two_days(tmp_path)
    monkeypatch.setattr(os, "write", _failing(os.write, 1, OSError(errno.ENOSPC, "full")))
    monkeypatch.setattr(os, "ftruncate", _failing(os.ftruncate, 0, OSError(errno.EPERM, "+a")))
    with pytest.raises(AppendFailed) as failed:
        log.append(records)  # type: ignore[arg-type]
    assert not failed.value.clean
    assert not log.is_loaded("2026-01-01")  # the torn tail is cut when it is next read
    monkeypatch.undo()
    assert not log.contains(records[0].key)
    assert log.path_for("2026-01-01").read_bytes() == before[log.path_for("2026-01-01")]


def test_a_day_file_created_by_a_failed_append_has_its_entry_fsynced_by_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first append of a new day creates its file, then the disk is full: the file stays
    (empty). The retry finds it existing, but its directory entry was never made durable."""
    import daemon.runtime.labellog as labellog

    log = LabelLog(tmp_path / "labels")
    log.open()
    synced: list[Path] = []
    monkeypatch.setattr(labellog, "fsync_dir", synced.append)
    records = [_Record("u", "2026-01-05T09:00:00Z")]
    with monkeypatch.context() as full:
        full.setattr(os, "write", _failing(os.write, 0, OSError(errno.ENOSPC, "full")))
        with pytest.raises(AppendFailed):
            log.append(records)  # type: ignore[arg-type]
    assert log.path_for("2026-01-05").exists()
    assert synced == []
    log.append(records)  # type: ignore[arg-type]
    assert synced == [log.directory]


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    assert [backoff.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1
