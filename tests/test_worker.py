"""Worker unit tests: a stalled batch is retried with what parsed it."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from helpers import save_trained_bundle

from daemon.runtime.labellog import LabelLog
from daemon.runtime.spool import Spool
from daemon.runtime.status import Counters
from daemon.runtime.worker import Worker
from taskclf_core.bundle import load_bundle
from taskclf_core.pipeline import Policy, Snapshot
from taskclf_core.record import LoggedWindow
from taskclf_core.synthetic import generate_windows


def test_a_stalled_batch_is_planned_again_with_the_snapshot_that_parsed_it(
    tmp_path: Path, taskclf_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label-log read fault, then a deploy of another model while it is waited out: the
    held windows were encoded by the old bundle's schema, so the old bundle labels them
    (the new one would get the wrong columns: here a crash, with new encoders silently
    wrong labels)."""
    v1 = load_bundle(taskclf_sample / "bundle_v1")
    v3 = load_bundle(
        save_trained_bundle(
            tmp_path / "bundle_v3",
            generate_windows(days=2, seed=11, schema_version="v3"),
            rounds=5,
            seed=3,
            created_at="2026-01-09T00:00:00Z",
        )
    )
    assert v1.schema.feature_columns != v3.schema.feature_columns
    old, new = Snapshot(v1, None, Policy()), Snapshot(v3, None, Policy())
    spool = Spool(tmp_path / "spool")
    spool.ensure()
    lines = (taskclf_sample / "windows.jsonl").read_text().splitlines()[:3]
    (spool.new / "a.jsonl").write_text("\n".join(lines) + "\n")
    labels = LabelLog(tmp_path / "labels")
    labels.open()
    now = [0.0]  # the worker's clock, moved by hand
    worker = Worker(
        spool,
        labels,
        Counters(),
        state=Policy().empty_state(),
        max_file_bytes=1 << 20,
        batch_max_windows=100,
        once=False,
        on_records=lambda batch, plan: None,
        clock=lambda: now[0],
    )
    real_warm = labels.warm
    faults = [OSError(errno.EIO, "Input/output error", str(labels.path_for("2026-01-26")))]

    def warm(day: str, lookback_seconds: float) -> list[LoggedWindow]:
        if faults:
            raise faults.pop()
        return real_warm(day, lookback_seconds)

    monkeypatch.setattr(labels, "warm", warm)
    worker.drain(worker.pending(), lambda: old, lambda: False)
    assert worker.stall is not None
    assert worker.stall.held.plan is None
    assert list(spool.cur.iterdir()) == [spool.cur / "a.jsonl"]
    assert worker.seconds_to_retry() == 1.0  # the first retry waits a second
    assert not worker.retry_stall(new), "retried before its time"
    assert list(spool.cur.iterdir()) == [spool.cur / "a.jsonl"]
    now[0] += 1.0  # its time has come

    assert worker.retry_stall(new)  # `new` is what the holder has now

    records = [json.loads(line) for line in labels.path_for("2026-01-26").read_text().splitlines()]
    assert [r["bucket_start_ts"] for r in records] == [
        "2026-01-26T10:00:00Z",
        "2026-01-26T10:01:00Z",
        "2026-01-26T10:02:00Z",
    ]
    assert {r["model_bundle_id"] for r in records} == {"bundle_v1"}
    assert list(spool.done.iterdir()) == [spool.done / "a.jsonl"]
