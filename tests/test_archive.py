"""The feature archive: every labelled window once, as features, private, bounded, compacted."""

from __future__ import annotations

import errno
import gzip
import json
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.archive import FeatureArchive
from daemon.config.settings import Settings
from daemon.runtime.labellog import AppendFailed, LabelLog
from daemon.runtime.retention import Retention
from daemon.runtime.spool import Spool
from daemon.runtime.status import Counters
from daemon.runtime.worker import Worker
from taskclf_core.bundle import ModelBundle
from taskclf_core.pipeline import Policy, Snapshot
from taskclf_core.record import LabelRecord
from taskclf_core.schema import format_ts, parse_ts
from taskclf_core.synthetic import generate_windows


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def windows(days: int = 2, seed: int = 5, version: str = "v2") -> list[dict[str, Any]]:
    return [
        {k: v for k, v in w.items() if k != "label"}
        for w in generate_windows(days=days, seed=seed, schema_version=version)
    ]


def keys(ws: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(w["user_id"], w["bucket_start_ts"]) for w in ws]


def lines(ws: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """What the worker appends: each window's UTC day and its JSON text."""
    return [
        (format_ts(parse_ts(w["bucket_start_ts"], "ts"))[:10], json.dumps(w).encode()) for w in ws
    ]


def test_appended_windows_read_back_once_each_private(tmp_path: Path) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows()
    archive.append(lines(ws[:50]))
    archive.append(lines(ws[40:]))  # ten windows archived twice (a retried batch)
    assert mode(archive.directory) == 0o700
    for path in archive.directory.iterdir():
        assert mode(path) == 0o600, path
    read = archive.read()
    assert sorted(keys(list(read.windows))) == sorted(keys(ws))
    assert read.duplicates == 10
    # what was appended, value for value (day by day: one file a day)
    by_key = dict(zip(keys(ws), ws, strict=True))
    assert all(by_key[k] == w for k, w in zip(keys(list(read.windows)), read.windows, strict=True))
    assert archive.days() == sorted({w["bucket_start_ts"][:10] for w in ws})


def test_a_read_of_some_columns_keeps_only_those_of_each_window(tmp_path: Path) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows()
    archive.append(lines(ws + ws[:5]))
    some = ("user_id", "bucket_start_ts", "app_category", "no_such_column")
    read = archive.read(columns=some)
    assert read.duplicates == 5
    assert list(read.windows) == [{k: w[k] for k in some[:3]} for w in archive.read().windows]


def test_a_torn_last_line_is_no_window(tmp_path: Path) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows(days=1)
    archive.append(lines(ws[:5]))
    day = ws[0]["bucket_start_ts"][:10]
    with open(archive.plain(day), "ab") as fh:
        fh.write(b'{"user_id": "u-ada", "bucket_st')  # a crash mid-write
    read = archive.read()
    assert keys(list(read.windows)) == keys(ws[:5])
    assert read.unreadable == 0  # torn, not damaged: the JSONL rule


def test_finished_days_are_packed_one_line_per_window_and_late_windows_merge(
    tmp_path: Path,
) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows(days=3)
    days = sorted({w["bucket_start_ts"][:10] for w in ws})
    archive.append(lines(ws))
    archive.append(lines(ws[:20]))
    today = date.fromisoformat(days[-1])
    assert archive.compact(today) == days[:-1]
    for day in days[:-1]:
        assert not archive.plain(day).exists()
        assert mode(archive.packed(day)) == 0o600
        with gzip.open(archive.packed(day), "rb") as fh:
            packed = fh.read().splitlines()
        assert len(packed) == len({k for k in keys(ws) if k[1].startswith(day)})
    assert archive.plain(days[-1]).exists()  # today goes on in plain text
    # a window of a packed day arrives late (a back-fill): appended, then merged next time
    late = dict(ws[0], bucket_start_ts=days[0] + "T23:59:00Z", bucket_end_ts=days[1] + "T00:00:00Z")
    archive.append(lines([late, ws[1]]))
    assert keys(list(archive.read([days[0]]).windows))[-1] == keys([late])[0]
    assert archive.compact(today) == [days[0]]
    read = archive.read()
    assert read.duplicates == 0
    assert len(read.windows) == len(ws) + 1
    # packing twice changes nothing
    before = archive.packed(days[0]).read_bytes()
    assert archive.compact(today) == []
    assert archive.packed(days[0]).read_bytes() == before


def test_pruning_keeps_the_newest_day_and_the_size_limit(tmp_path: Path) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows(days=4)
    archive.append(lines(ws))
    days = archive.days()
    newest = date.fromisoformat(days[-1])
    # two days before the newest are kept (the label log's rule: day < today - keep_days goes)
    assert archive.prune(2, newest) == days[:1]
    assert archive.days() == days[1:]
    # a clock far ahead: the caller's guard stops it, but even so the newest day stays
    assert archive.prune(1, newest + timedelta(days=400)) == days[1:3]
    assert archive.days() == [days[3]]
    archive.append(lines(ws))
    size = archive.size_bytes()
    assert archive.cap(size) == []
    removed = archive.cap(size - 1)
    assert removed == [days[0]]
    assert archive.days()[-1] == days[3]
    assert archive.cap(0) == days[1:3]
    assert archive.days() == [days[3]]


def test_retention_packs_prunes_and_refuses_a_clock_run_ahead(
    tmp_path: Path, bundle_dir: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d", model_dir=bundle_dir, retrain_lookback_days=2)
    archive = FeatureArchive(settings.archive_path)
    ws = windows(days=4)
    archive.append(lines(ws))
    days = archive.days()
    spool = Spool(settings.spool_path)
    spool.ensure()
    labels = LabelLog(settings.labels_path)
    labels.open()
    retention = Retention(settings, spool, labels, archive)
    last = datetime.fromisoformat(days[-1]).replace(tzinfo=UTC)
    # five years ahead: nothing deleted, the pass is shown as paused; finished days packed
    retention.run(last + timedelta(days=5 * 365))
    assert archive.days() == days
    assert [p.setting for p in retention.paused] == ["retrain_lookback_days"]
    assert all(archive.packed(d).exists() for d in days)
    # the clock right: days before the lookback go
    retention.run(last + timedelta(hours=12))
    assert archive.days() == days[-3:]
    assert retention.paused == ()


class FailingOnce(LabelLog):
    """A label log whose first append fails cleanly (a full disk that then has room)."""

    failures = 1

    def append(self, records: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise AppendFailed(OSError(errno.ENOSPC, "No space left on device"), self.directory,
                               clean=True)  # fmt: skip
        super().append(records)


NOW = [0.0]  # the workers' clock: a test moves it past a stall's retry


def worker_for(tmp_path: Path, labels: LabelLog, archive: FeatureArchive | None) -> Worker:
    spool = Spool(tmp_path / "spool")
    spool.ensure()
    labels.open()
    return Worker(
        spool,
        labels,
        Counters(),
        state=Policy().empty_state(),
        max_file_bytes=1 << 22,
        batch_max_windows=1000,
        once=False,
        on_records=lambda batch, plan: None,
        clock=lambda: NOW[0],
        archive=archive,
    )


def drop(worker: Worker, name: str, ws: list[dict[str, Any]]) -> None:
    path = worker.spool.new / name
    path.write_text("".join(json.dumps(w | {"note": "a producer's own field"}) + "\n" for w in ws))


def test_a_batch_retried_after_a_failed_append_is_archived_once(
    tmp_path: Path, bundle: ModelBundle
) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    worker = worker_for(tmp_path, FailingOnce(tmp_path / "labels"), archive)
    snapshot = Snapshot(bundle, None, Policy())
    ws = windows(days=1)[:30]
    drop(worker, "a.jsonl", ws[:20])
    drop(worker, "b.jsonl", ws[10:30])  # ten duplicates of a.jsonl's windows in one batch
    worker.drain(worker.pending(), lambda: snapshot, lambda: False)
    assert worker.stall is not None  # the label log failed: nothing acknowledged
    assert len(archive.read().windows) == 30  # but archived already (before the log)
    NOW[0] += 10.0
    assert worker.retry_stall(snapshot)  # the same plan again: archived again
    records = [r for day in worker.labels.day_files() for r in worker.labels.iter_records([day])]
    assert len(records) == 30
    read = archive.read()
    assert sorted(keys(list(read.windows))) == sorted(keys(ws))
    assert read.duplicates == 30  # on disk twice, read once
    # each as the spool file held it, the producer's own fields too (only raw_ ones are refused)
    assert all(w["note"] == "a producer's own field" for w in read.windows)
    assert worker.counters.archived == 60


def test_a_crash_between_the_archive_and_the_log_loses_and_doubles_nothing(
    tmp_path: Path, bundle: ModelBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the archive write and before the label log's: the next start
    re-queues cur/, labels the file again and archives it again; readers keep one each."""
    archive = FeatureArchive(tmp_path / "archive")
    labels = LabelLog(tmp_path / "labels")
    worker = worker_for(tmp_path, labels, archive)
    snapshot = Snapshot(bundle, None, Policy())
    ws = windows(days=1)[:25]
    drop(worker, "a.jsonl", ws)

    class Crash(BaseException):
        pass

    def die(records: list[LabelRecord]) -> None:
        raise Crash

    monkeypatch.setattr(labels, "append", die)
    with pytest.raises(Crash):
        worker.drain(worker.pending(), lambda: snapshot, lambda: False)
    monkeypatch.undo()
    assert len(archive.read().windows) == 25
    assert not any(True for _ in labels.iter_records())
    # the next start: a fresh worker, cur/ back to new/
    restarted = worker_for(
        tmp_path, LabelLog(tmp_path / "labels"), FeatureArchive(archive.directory)
    )
    list(restarted.spool.requeue())
    restarted.drain(restarted.pending(), lambda: snapshot, lambda: False)
    logged = [json.loads(line) for line in restarted.labels.iter_records()]
    assert sorted(keys(logged)) == sorted(keys(ws))
    read = archive.read()
    assert sorted(keys(list(read.windows))) == sorted(keys(ws))
    assert read.duplicates == 25


def test_json_files_and_other_time_zones_are_archived_under_the_utc_day_once(
    tmp_path: Path, bundle: ModelBundle
) -> None:
    archive = FeatureArchive(tmp_path / "archive")
    worker = worker_for(tmp_path, LabelLog(tmp_path / "labels"), archive)
    snapshot = Snapshot(bundle, None, Policy())
    ws = windows(days=1)[:3]
    # 09:00 UTC written as 01:00 at UTC-8 on the same day, and 23:30 UTC as 00:30 the next
    # day at UTC+1: archived under the UTC day, as the label log files them
    late = ws[2] | {"bucket_start_ts": ws[2]["bucket_start_ts"][:10] + "T23:30:00Z",
                    "bucket_end_ts": ws[2]["bucket_start_ts"][:10] + "T23:31:00Z"}  # fmt: skip
    shifted = [
        ws[0] | {"bucket_start_ts": ws[0]["bucket_start_ts"][:11] + "01:00:00-08:00",
                 "bucket_end_ts": ws[0]["bucket_start_ts"][:11] + "01:01:00-08:00"},
        late | {"bucket_start_ts": "2026-01-06T00:30:00+01:00",
                "bucket_end_ts": "2026-01-06T00:31:00+01:00"},
    ]  # fmt: skip
    (worker.spool.new / "a.json").write_text(json.dumps([*shifted, ws[1]]))
    worker.drain(worker.pending(), lambda: snapshot, lambda: False)
    assert archive.days() == ["2026-01-05"]
    # the same windows again, written the UTC way (a replay): the log refuses them as
    # duplicates and the archive, were they in it twice, reads them once
    archive.append(lines([ws[0]]))
    read = archive.read()
    assert len(read.windows) == 3
    assert read.duplicates == 1


def test_an_archive_that_cannot_be_written_does_not_stop_labelling(
    tmp_path: Path, bundle: ModelBundle
) -> None:
    (tmp_path / "archive").write_text("a file where the directory should be")
    archive = FeatureArchive(tmp_path / "archive")
    worker = worker_for(tmp_path, LabelLog(tmp_path / "labels"), archive)
    snapshot = Snapshot(bundle, None, Policy())
    ws = windows(days=1)[:5]
    drop(worker, "a.jsonl", ws)
    worker.drain(worker.pending(), lambda: snapshot, lambda: False)
    assert worker.stall is None
    assert len(list(worker.labels.iter_records())) == 5
    error = worker.counters.archive_error
    assert error is not None
    assert str(tmp_path / "archive") in error["message"]
    # fixed: the next batch is archived and the error cleared
    os.unlink(tmp_path / "archive")
    later = [w | {"user_id": "u-later"} for w in windows(days=1, seed=6)[:3]]
    drop(worker, "b.jsonl", later)
    worker.drain(worker.pending(), lambda: snapshot, lambda: False)
    assert worker.counters.archive_error is None
    assert len(archive.read().windows) == 3


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 39), min_size=1, max_size=15), max_size=8),
    compact_after=st.sets(st.integers(0, 7)),
)
def test_any_appends_and_packs_read_every_window_once(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[int]], compact_after: set[int]
) -> None:
    pool = windows(days=2, seed=9)[::7][:40]
    archive = FeatureArchive(tmp_path_factory.mktemp("archive") / "a")
    end = date.fromisoformat(pool[-1]["bucket_start_ts"][:10]) + timedelta(days=1)
    appended: list[tuple[str, str]] = []
    for i, batch in enumerate(batches):
        archive.append(lines([pool[j] for j in batch]))
        appended += keys([pool[j] for j in batch])
        if i in compact_after:
            archive.compact(end)
    read = archive.read()
    got = keys(list(read.windows))
    assert len(got) == len(set(got))
    assert set(got) == set(appended)
    assert read.duplicates == len(appended) - len(set(appended)) or compact_after


def test_appends_are_synced_by_sync_and_close_not_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second fsync per batch doubled the label log's latency (bench/latency.py): appends
    are written, and made durable by the heartbeat's sync() and at stop by close()."""
    synced: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    archive = FeatureArchive(tmp_path / "archive")
    ws = windows(days=2)
    for w in ws[:40]:
        archive.append(lines([w]))
    assert synced == []
    archive.sync()
    assert len(synced) == len({w["bucket_start_ts"][:10] for w in ws[:40]})
    archive.sync()  # nothing new
    assert len(synced) == len({w["bucket_start_ts"][:10] for w in ws[:40]})
    synced.clear()
    archive.append(lines(ws[40:45]))
    archive.close()
    assert len(synced) == 1
    assert len(archive.read().windows) == 45
