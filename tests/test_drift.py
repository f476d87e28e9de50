"""Live drift counters: alerts on a synthetic shift, none on a stable stream, bounded memory."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from daemon.reporting.drift import format_drift
from taskclf_core.daily import label_from_record
from taskclf_core.drift import DriftThresholds, DriftTracker, prediction_entropy
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.record import LabelRecord

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
MIX = {"Build": 0.4, "Debug": 0.3, "Write": 0.2, "Meet": 0.1}


def probs_for(label: str, peak: float) -> dict[str, float]:
    rest = (1 - peak) / (len(CORE_LABELS) - 1)
    return {c: (peak if c == label else rest) for c in CORE_LABELS}


def window(
    start: datetime,
    label: str,
    *,
    user: str = "alice",
    rejected: bool = False,
    peak: float = 0.85,
    model: str = "m1",
) -> dict[str, Any]:
    return {
        "user_id": user,
        "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "core_label": label,
        "core_probs": probs_for(label, peak),
        "confidence": peak,
        "is_rejected": rejected,
        "label": REJECT_LABEL if rejected else label,
        "model_bundle_id": model,
    }


def stream(
    start: datetime,
    hours: int,
    *,
    mix: dict[str, float] = MIX,
    reject_rate: float = 0.05,
    peak: float = 0.85,
    seed: int = 0,
    user: str = "alice",
    per_hour: int = 20,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    labels, weights = list(mix), list(mix.values())
    out = []
    for h in range(hours):
        for m in range(per_hour):
            t = start + timedelta(hours=h, minutes=m * (60 // per_hour))
            label = rng.choices(labels, weights)[0]
            out.append(window(t, label, rejected=rng.random() < reject_rate, peak=peak, user=user))
    return out


def eight_days(**current: Any) -> list[dict[str, Any]]:
    """7 stable days of reference, then the last 24 h (before NOW) with ``current`` changes."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    reference = stream(begin, 7 * 24, seed=1)
    recent = stream(begin + timedelta(days=7), 24, seed=2, **current)
    return reference + recent


def triggers(tracker: DriftTracker, now: datetime = NOW) -> list[str]:
    return [a["trigger"] for a in tracker.status(now)["alice"]["alerts"]]


def test_a_stable_stream_raises_nothing() -> None:
    tracker = DriftTracker()
    assert tracker.observe_many(eight_days(), NOW) == 8 * 24 * 20
    status = tracker.status(NOW)["alice"]
    assert status["enough_data"]
    assert status["alerts"] == []
    assert status["current"]["windows"] == 24 * 20
    assert status["reference"]["windows"] == 7 * 24 * 20
    assert abs(status["reject_rate_increase"]) < 0.05
    assert status["max_class_shift"] < 0.1
    assert status["entropy_ratio"] == pytest.approx(1.0)
    assert tracker.transitions(NOW) == []


def test_reject_rate_increase_is_critical() -> None:
    tracker = DriftTracker()
    tracker.observe_many(eight_days(reject_rate=0.25), NOW)
    (alert,) = tracker.status(NOW)["alice"]["alerts"]
    assert alert["trigger"] == "reject_rate_increase"
    assert alert["severity"] == "critical"
    assert alert["details"]["increase"] >= 0.10
    assert alert["since"] is None  # not yet reported by transitions()


def test_class_shift_and_entropy_spike_are_warnings() -> None:
    tracker = DriftTracker()
    tracker.observe_many(
        eight_days(mix={"Build": 0.1, "Debug": 0.3, "Write": 0.2, "Meet": 0.4}), NOW
    )
    status = tracker.status(NOW)["alice"]
    assert [a["trigger"] for a in status["alerts"]] == ["class_shift"]
    assert set(status["alerts"][0]["details"]["shifted_classes"]) == {"Build", "Meet"}
    assert status["alerts"][0]["severity"] == "warning"

    spiky = DriftTracker()
    spiky.observe_many(eight_days(peak=0.3), NOW)
    status = spiky.status(NOW)["alice"]
    assert "entropy_spike" in [a["trigger"] for a in status["alerts"]]
    assert status["entropy_ratio"] > 2


def test_each_alert_starts_once_and_ends_once() -> None:
    tracker = DriftTracker()
    records = eight_days(reject_rate=0.3)
    tracker.observe_many(records, NOW)
    (started,) = tracker.transitions(NOW)
    assert (started.user_id, started.trigger, started.state) == (
        "alice",
        "reject_rate_increase",
        "started",
    )
    assert started.severity == "critical"
    assert tracker.transitions(NOW) == []
    assert tracker.status(NOW)["alice"]["alerts"][0]["since"] == "2026-03-10T12:30:00Z"
    # a stable day follows: the bad day slides into the reference week, and is diluted
    later = NOW + timedelta(days=1)
    tracker.observe_many(stream(NOW.replace(minute=0) + timedelta(hours=1), 24, seed=3), later)
    (ended,) = tracker.transitions(later)
    assert (ended.trigger, ended.state) == ("reject_rate_increase", "ended")
    assert tracker.transitions(later) == []


def test_an_active_alert_holds_until_well_below_its_threshold() -> None:
    thresholds = DriftThresholds(reject_rate_increase=0.10)
    tracker = DriftTracker(thresholds)
    tracker.observe_many(eight_days(reject_rate=0.2), NOW)
    assert [c.state for c in tracker.transitions(NOW)] == ["started"]
    increase = tracker.status(NOW)["alice"]["reject_rate_increase"]
    # the same figures judged with a threshold just above them: still active (hysteresis)
    tracker.thresholds = DriftThresholds(reject_rate_increase=increase + 0.01)
    assert tracker.transitions(NOW) == []
    tracker.thresholds = DriftThresholds(reject_rate_increase=increase / 0.79)
    assert [c.state for c in tracker.transitions(NOW)] == ["ended"]


def test_too_little_data_raises_nothing() -> None:
    tracker = DriftTracker()
    for record in stream(NOW.replace(minute=0) - timedelta(hours=2), 2, reject_rate=0.9):
        tracker.observe(record, NOW)
    status = tracker.status(NOW)["alice"]
    assert not status["enough_data"]
    assert status["alerts"] == []
    assert "not enough data" in format_drift(tracker.status(NOW))[0]


def test_missing_features_alert() -> None:
    tracker = DriftTracker()
    for record in eight_days():
        recent = record["bucket_start_ts"] >= (NOW - timedelta(hours=23)).strftime("%Y-%m-%dT%H")
        tracker.observe(record, NOW, missing_share=0.4 if recent else 0.02)
    status = tracker.status(NOW)["alice"]
    assert [a["trigger"] for a in status["alerts"]] == ["missing_features"]
    assert status["current"]["missing_feature_share"] == pytest.approx(0.4)
    assert status["reference"]["missing_feature_share"] == pytest.approx(0.02)


def test_memory_is_bounded() -> None:
    tracker = DriftTracker()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(60):
        now = start + timedelta(days=day + 1)
        for record in stream(start + timedelta(days=day), 24, seed=day, per_hour=6):
            tracker.observe(record, now)
        for record in stream(start + timedelta(days=day), 24, seed=day, per_hour=6, user="bob"):
            tracker.observe(record, now)
    assert tracker.bucket_count() <= 2 * (8 * 24 + 2)
    # far-future and too-old windows are not counted, so they cannot grow the state either
    assert not tracker.observe(window(now + timedelta(days=300), "Build"), now)
    assert not tracker.observe(window(now - timedelta(days=9), "Build"), now)
    assert not tracker.observe({"user_id": "x", "bucket_start_ts": "nope"}, now)
    # a user quiet for 8 days is forgotten
    tracker.transitions(now + timedelta(days=9))
    assert tracker.users == ()


def test_rebuild_order_does_not_matter() -> None:
    records = eight_days(reject_rate=0.2)
    a, b = DriftTracker(), DriftTracker()
    a.observe_many(records, NOW)
    shuffled = list(records)
    random.Random(4).shuffle(shuffled)
    b.observe_many(shuffled, NOW)
    assert a.status(NOW) == b.status(NOW)


def test_label_records_and_model_age() -> None:
    tracker = DriftTracker()
    rec = LabelRecord(
        user_id="alice",
        bucket_start_ts="2026-03-10T12:00:00Z",
        bucket_end_ts="2026-03-10T12:01:00Z",
        core_label="Build",
        core_probs=probs_for("Build", 0.9),
        confidence=0.9,
        is_rejected=False,
        label="Build",
        smoothed_label="Build",
        mapped_label="Build",
        mapped_probs=None,
        calibrator="global",
        reject_threshold=0.55,
        model_bundle_id="bundle_x",
        model_schema_hash=None,
        store_id=None,
        source="f.json",
        processed_at="2026-03-10T12:01:01Z",
    )
    assert tracker.observe(rec, NOW)
    status = tracker.status(NOW, model_created_at={"bundle_x": "2026-03-01T12:30:00Z"})
    model = status["alice"]["model"]
    assert model["bundle_id"] == "bundle_x"
    assert model["age_days"] == pytest.approx(9.0)
    assert model["retrain_due"] is True
    assert model["labelling_since"] == "2026-03-10T12:00:00Z"
    assert status["alice"]["current"]["mean_entropy"] == pytest.approx(
        prediction_entropy(probs_for("Build", 0.9).values()), abs=1e-6
    )
    assert tracker.status(NOW)["alice"]["model"]["age_days"] is None


def test_entropy_matches_taskclfs_definition() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.ones(8))
        p[rng.integers(8)] = 0.0
        clipped = np.clip(p, 1e-8, 1.0)
        expected = float(-np.sum(clipped * np.log(clipped)))
        assert prediction_entropy(p.tolist()) == pytest.approx(expected, rel=1e-12)
    assert prediction_entropy([1.0] + [0.0] * 7) < 1e-5
    assert prediction_entropy([1 / 8] * 8) == pytest.approx(math.log(8))


def test_human_lines_name_the_alert() -> None:
    tracker = DriftTracker()
    tracker.observe_many(eight_days(reject_rate=0.3), NOW)
    lines = format_drift(tracker.status(NOW, model_created_at={"m1": NOW - timedelta(days=2)}))
    assert lines[0].startswith("  drift alice")
    assert "ALERT" in lines[0]
    assert "model 2 d old" in lines[0]
    assert "retrain due" not in lines[0]
    assert "CRITICAL reject rate" in lines[1]


def test_status_shows_drift_lines_without_degrading() -> None:
    from daemon.exits import HEALTHY
    from daemon.runtime.status import evaluate, format_status

    tracker = DriftTracker()
    tracker.observe_many(eight_days(reject_rate=0.3), NOW)
    doc = {
        "heartbeat_at": NOW.isoformat(),
        "heartbeat_interval_seconds": 5,
        "drift": tracker.status(NOW),
    }
    code, judged = evaluate(doc, 1234, now=NOW.timestamp())
    assert code == HEALTHY  # drift warns about the model; the daemon itself is fine
    text = format_status(judged, code)
    assert "  drift alice" in text
    assert "CRITICAL reject rate" in text


def test_class_shares_weigh_each_window_by_the_time_it_stands_for() -> None:
    """A 20-minute call is one window and 20 minutes of Meet: the shares are of time (the
    span without its away parts; a window without a span: its own minute), so a week of
    calls in one window each next to minute windows of Build reads as the time it was."""
    tracker = DriftTracker()
    start = NOW - timedelta(hours=3)
    call = window(start, "Meet")
    call["span_start_ts"] = call["bucket_start_ts"]
    call["span_end_ts"] = (start + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    call["span_away"] = [
        [
            (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            call["span_end_ts"],
        ]
    ]
    builds = [window(start + timedelta(minutes=25 + i), "Build") for i in range(20)]
    assert tracker.observe(call, NOW)
    assert tracker.observe_many(builds, NOW) == 20
    current = tracker.status(NOW)["alice"]["current"]
    assert current["windows"] == 21
    assert current["class_shares"] == {"Build": 0.5, "Meet": 0.5}
    # the same for the daemon's own record objects
    record = LabelRecord(
        **{k: call[k] for k in ("user_id", "bucket_start_ts", "bucket_end_ts", "core_label")},
        core_probs=call["core_probs"],
        confidence=0.85,
        is_rejected=False,
        label="Meet",
        smoothed_label="Meet",
        mapped_label="Meet",
        mapped_probs=None,
        calibrator="global",
        reject_threshold=0.55,
        model_bundle_id="m1",
        model_schema_hash=None,
        store_id=None,
        source="f",
        processed_at="2026-03-10T12:00:00Z",
        span=label_from_record(call).time,
    )
    other = DriftTracker()
    assert other.observe(record, NOW)
    other.observe_many(builds, NOW)
    assert other.status(NOW)["alice"]["current"]["class_shares"] == {"Build": 0.5, "Meet": 0.5}


def test_a_long_user_id_is_not_run_into_the_verdict() -> None:
    """`drift u-0-plainALERT: ...`: a user id that filled the column ran into the verdict."""
    tracker = DriftTracker()
    tracker.observe_many(eight_days(reject_rate=0.3), NOW)
    doc = tracker.status(NOW)
    (only,) = doc.values()
    short = format_drift({"alice": only})[0]
    assert short.startswith("  drift alice    ALERT: ")  # the column as before
    for user in ("u-0-plain", "a-much-longer-user-id"):
        assert f"drift {user} ALERT: " in format_drift({user: only})[0]
