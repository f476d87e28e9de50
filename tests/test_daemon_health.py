"""Health the daemon reports live: missing model features (a broken collector) and drift."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons
from helpers import Window, window_stream

from taskclf_core.labels import CORE_LABELS, REJECT_LABEL

pytestmark = pytest.mark.slow


def test_a_file_missing_most_features_is_named_once_and_shown_in_status(
    daemons: Daemons, training_windows: list[Window]
) -> None:
    d = daemons.new()
    d.start()
    stream = window_stream(training_windows)
    whole = stream[:10]
    # what a broken collector sends: identity and two features, the rest absent
    keep = {"user_id", "bucket_start_ts", "bucket_end_ts", "app_id", "hour_of_day"}
    broken = [{k: v for k, v in w.items() if k in keep} for w in stream[10:20]]
    d.drop("a-whole.jsonl", "".join(json.dumps(w) + "\n" for w in whole))
    d.drop("b-broken.jsonl", "".join(json.dumps(w) + "\n" for w in broken))
    d.wait_labelled(whole + broken)
    # the warning may reach the log a moment after the labels are on disk
    d.wait_for(lambda: d.log_events("window_features_missing"), 10, "the missing warning")
    warnings = d.log_events("window_features_missing")
    assert [w["file"] for w in warnings] == ["b-broken.jsonl"], "one warning, for that file"
    assert warnings[0]["windows"] == 10
    assert warnings[0]["missing_share"] > 0.9
    status = d.wait_status(
        lambda s: (s["missing_features"]["share_last_hour"] or 0) > 0.4, 10, "the missing share"
    )
    assert status["missing_features"]["share_last_hour"] < 0.6  # half the windows are whole
    shown = d.cli("status")
    assert "missing feat." in shown.stdout
    assert "of model features over the last hour" in shown.stdout
    # the model's labels, told apart from the person's own ("first model: N labelled windows")
    n = len(whole + broken)
    assert f"  windows        {n} labelled by the model, 0 refused, 0 duplicates" in shown.stdout
    d.stop()


def _record(user: str, start: datetime, label: str, rejected: bool, **who: Any) -> dict[str, Any]:
    probs = {c: (0.3 if c == label else 0.1) for c in CORE_LABELS}
    total = sum(probs.values())
    probs = {c: round(p / total, 6) for c, p in probs.items()}
    return {
        "user_id": user,
        "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "core_label": label,
        "core_probs": probs,
        "confidence": max(probs.values()),
        "is_rejected": rejected,
        "label": REJECT_LABEL if rejected else label,
        "smoothed_label": REJECT_LABEL if rejected else label,
        "mapped_label": REJECT_LABEL if rejected else label,
        "calibrator": "global",
        "reject_threshold": 0.55,
        "model_bundle_id": "bundle_test",
        "model_schema_hash": None,
        "store_id": None,
        "source": "seed.jsonl",
        "processed_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **who,
    }


def _seed_log(d: DaemonProcess, records: list[dict[str, Any]]) -> None:
    days: dict[str, list[str]] = defaultdict(list)
    for r in records:
        days[r["bucket_start_ts"][:10]].append(json.dumps(r))
    d.labels_dir.mkdir(parents=True, mode=0o700)
    for day, lines in days.items():
        path = d.labels_dir / f"{day}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)


def test_drift_is_rebuilt_from_the_log_alerted_once_and_shown_in_status(
    daemons: Daemons,
) -> None:
    """A week of steady labels, then a day with many rejects for one user: critical drift."""
    d = daemons.new()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    records = []
    labels = ["Build", "Debug", "Write", "Review"]
    for minutes_ago in range(60 * 24 * 7, 0, -20):  # every 20 minutes over the last 7 days
        at = now - timedelta(minutes=minutes_ago)
        recent = minutes_ago < 60 * 23
        for user in ("u-ada", "u-ben"):
            label = labels[(minutes_ago // 20) % len(labels)]
            # u-ada's last day: half her windows rejected (a stale model, a changed job)
            rejected = user == "u-ada" and recent and (minutes_ago // 20) % 2 == 0
            records.append(_record(user, at, label, rejected))
    _seed_log(d, records)
    d.start()
    status = d.wait_status(lambda s: s.get("drift", {}).get("u-ada"), 10, "drift in status")
    ada, ben = status["drift"]["u-ada"], status["drift"]["u-ben"]
    assert [a["trigger"] for a in ada["alerts"]] == ["reject_rate_increase"]
    assert ada["alerts"][0]["severity"] == "critical"
    assert ben["alerts"] == []
    assert status["healthy"], "drift warns about the model; it does not degrade the daemon"
    started = d.wait_for(
        lambda: d.log_events("drift_alert_started"), 10, "the alert logged when it starts"
    )
    assert [(e["user_id"], e["trigger"]) for e in started] == [("u-ada", "reject_rate_increase")]
    shown = d.cli("status")
    assert shown.returncode == 0
    assert "drift u-ada" in shown.stdout
    assert "ALERT" in shown.stdout
    d.stop()
    assert len(d.log_events("drift_alert_started")) == 1, "logged once, not every heartbeat"


def test_a_new_model_is_not_alerted_against_the_week_its_predecessor_labelled(
    daemons: Daemons,
) -> None:
    """taskclf's rule baseline labelled the week (most windows Mixed/Unknown), the first
    retrained model the last day: no drift alert logged or shown; the change is logged once
    and `status` says drift compares the new model's own windows from then on."""
    d = daemons.new()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    records = []
    for minutes_ago in range(60 * 24 * 7, 0, -20):
        at = now - timedelta(minutes=minutes_ago)
        if minutes_ago >= 60 * 23:
            records.append(
                _record(
                    "u-cy",
                    at,
                    "ReadResearch",
                    (minutes_ago // 20) % 8 != 0,
                    model_bundle_id="baseline",
                )
            )
        else:
            records.append(
                _record(
                    "u-cy",
                    at,
                    "Build",
                    False,
                    model_bundle_id="retrained_1",
                    store_id="0a1b2c3d4e5f",
                    reject_threshold=0.89,
                )
            )
    _seed_log(d, records)
    d.start()
    status = d.wait_status(lambda s: s.get("drift", {}).get("u-cy"), 10, "drift in status")
    cy = status["drift"]["u-cy"]
    assert cy["alerts"] == []
    assert cy["labeller"]["model_bundle_id"] == "retrained_1"
    assert cy["labeller"]["previous"]["model_bundle_id"] == "baseline"
    restarted = d.wait_for(
        lambda: d.log_events("drift_reference_restarted"), 10, "the change logged"
    )
    assert [
        (e["user_id"], e["model_bundle_id"], e["previous_model_bundle_id"]) for e in restarted
    ] == [("u-cy", "retrained_1", "baseline")]
    shown = d.cli("status")
    assert "ALERT" not in shown.stdout
    assert "model changed " in shown.stdout
    assert "drift compares its own windows from then on" in shown.stdout
    d.stop()
    assert d.log_events("drift_alert_started") == []
    assert len(d.log_events("drift_reference_restarted")) == 1, "logged once, not every heartbeat"
