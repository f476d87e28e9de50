"""Retention against a clock years ahead: a real daemon under libfaketime deletes nothing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons
from helpers import faketime_env

from taskclf_core.synthetic import DEFAULT_USERS, generate_windows


def _recent_windows() -> list[dict[str, Any]]:
    """Windows of the three days before today, so the real clock's retention keeps them."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = generate_windows(users=DEFAULT_USERS[:1], days=3, start=today - timedelta(days=3))
    return [w for i, w in enumerate(windows) if i % 20 == 0]


def _start_ahead(d: DaemonProcess, offset: str) -> None:
    real = dict(d.env)
    d.env.update(faketime_env(offset))
    try:
        d.start()
    finally:
        d.env = real


@pytest.mark.slow
def test_a_clock_years_ahead_prunes_nothing_and_says_so(daemons: Daemons) -> None:
    d = daemons.new(label_retention_days=30, retention_days=7)
    windows = _recent_windows()
    d.start()
    d.drop_windows(windows)
    d.wait_labelled(windows)
    d.wait_for(lambda: len(d.files("done")) == len(windows), 15, "every file in done/")
    d.stop()
    days = sorted(os.listdir(d.labels_dir))
    done = d.files("done")

    _start_ahead(d, "+1825d")  # five years ahead: every day and file looks long expired
    status = d.wait_status(
        lambda s: len((s.get("retention") or {}).get("paused", [])) == 3,
        30,
        "the three pruning passes to be refused",
    )
    assert sorted(os.listdir(d.labels_dir)) == days
    assert d.files("done") == done
    assert len(d.records()) == len(windows)
    paused = {p["setting"]: p for p in status["retention"]["paused"]}
    # the spool's done/, the label log, and the feature archive (kept retrain_lookback_days)
    assert set(paused) == {"label_retention_days", "retention_days", "retrain_lookback_days"}
    newest_day = max(day for day in days if day.endswith(".jsonl"))[:10]
    assert paused["label_retention_days"]["newest"] == newest_day
    assert paused["label_retention_days"]["clock"][:4] == str(datetime.now(UTC).year + 5)
    assert {e["setting"] for e in d.log_events("retention_paused")} == set(paused)

    # a note, not a problem: the daemon labels on, healthy, and `status` says why
    shown = d.cli("status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    notes = [line for line in shown.stdout.splitlines() if line.lstrip().startswith("note")]
    assert len(notes) == 3, shown.stdout
    assert any("label_retention_days = 30 days past the newest data" in n for n in notes)
    d.stop()
