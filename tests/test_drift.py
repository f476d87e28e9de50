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
from taskclf_core.drift import (
    DriftThresholds,
    DriftTracker,
    LabellerChange,
    prediction_entropy,
)
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
        # who labelled it, as every record says: drift compares one labeller's windows
        "reject_threshold": 0.55,
        "model_bundle_id": model,
        "store_id": None,
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


def test_drift_lines_say_when_the_model_in_force_has_labelled_nothing_yet() -> None:
    """Right after a deploy or rollback, the newest windows are the model before's: the
    figures are its, and the line says so instead of giving its age as the model's."""
    tracker = DriftTracker()
    tracker.observe_many(eight_days(reject_rate=0.3), NOW)
    status = tracker.status(NOW, model_created_at={"m1": NOW - timedelta(days=2)})
    (same, _alert) = format_drift(status, in_force="m1")
    assert "model 2 d old" in same
    assert "in force now" not in same
    (other, _alert) = format_drift(status, in_force="m2")
    assert other.endswith(
        "; these are m1's windows: m2, in force now, has labelled none of this user's yet"
    )
    assert "d old" not in other
    assert format_drift(status) == format_drift(status, in_force=None)


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


def relabelled(records: list[dict[str, Any]], **who: Any) -> list[dict[str, Any]]:
    """The same windows as another labeller (model, store or threshold) labelled them."""
    return [{**r, **who} for r in records]


def first_model_day() -> list[dict[str, Any]]:
    """The bug's case: a week labelled by taskclf's rule baseline (most windows Mixed/Unknown,
    flat probabilities), then the first retrained model's 24 hours (few rejects, sure)."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    week = stream(begin, 7 * 24, seed=1, reject_rate=0.87, peak=0.2, mix={"Build": 1.0})
    day = stream(begin + timedelta(days=7), 24, seed=2, reject_rate=0.07)
    return relabelled(week, model_bundle_id="baseline", reject_threshold=0.55) + relabelled(
        day, model_bundle_id="retrained_1", store_id="0a1b2c3d4e5f", reject_threshold=0.89
    )


def test_a_new_model_is_not_compared_with_the_one_before() -> None:
    """Reference week from model A, the last 24 h from model B: no alert (the baseline's
    rejects and flat probabilities say nothing about B), and the figures say why."""
    tracker = DriftTracker()
    tracker.observe_many(first_model_day(), NOW)
    status = tracker.status(NOW)["alice"]
    assert status["alerts"] == []
    assert not status["enough_data"]
    assert status["current"]["windows"] == 24 * 20
    assert status["reference"]["windows"] == 0  # the baseline's week is left out
    assert status["reject_rate_increase"] is None
    who = status["labeller"]
    assert (who["model_bundle_id"], who["reject_threshold"]) == ("retrained_1", 0.89)
    assert who["since"] == (NOW.replace(minute=0) - timedelta(hours=23)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert who["previous"]["model_bundle_id"] == "baseline"
    assert who["changed"] == ["model", "reject_threshold"]
    assert who["other_windows"] == 7 * 24 * 20
    assert who["reference_full_at"] == "2026-03-17T12:00:00Z"  # its 8 days: no old window
    (line,) = format_drift({"alice": status})
    assert "ALERT" not in line
    assert (
        "model changed to retrained_1 2026-03-09 13:00 UTC: drift compares its own windows from "
        "then on; "
        "reference builds up over 7 days (not enough for an alert yet: 480 windows in 24 h, "
        "0 in the 7 days before)" in line
    )
    # the daemon logs the change once, and no alert
    assert tracker.transitions(NOW) == []
    (change,) = tracker.labeller_changes(NOW)
    assert isinstance(change, LabellerChange)
    assert (change.user_id, change.labeller) == ("alice", who)
    assert tracker.labeller_changes(NOW) == []


def test_a_new_model_is_compared_with_its_own_windows_once_it_has_enough() -> None:
    """Two days on, the new model's first day is its reference: a stable stream is ok (the
    baseline week still in the 8 days stays out), a shift of its own windows alerts."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    week = relabelled(
        stream(begin, 6 * 24, seed=1, reject_rate=0.87, peak=0.2), model_bundle_id="baseline"
    )
    own = stream(begin + timedelta(days=6), 24, seed=2)
    for recent, expected in (
        (stream(begin + timedelta(days=7), 24, seed=3), []),
        (stream(begin + timedelta(days=7), 24, seed=3, reject_rate=0.3), ["reject_rate_increase"]),
    ):
        tracker = DriftTracker()
        tracker.observe_many(week + own + recent, NOW)
        status = tracker.status(NOW)["alice"]
        assert status["enough_data"]
        assert status["reference"]["windows"] == 24 * 20
        assert [a["trigger"] for a in status["alerts"]] == expected
        assert status["labeller"]["changed"] == ["model"]
        line = format_drift({"alice": status})[0]
        assert ("ALERT" in line) == bool(expected)
        assert "; model changed to m1 2026-03-08 13:00 UTC: drift compares its own windows" in line
        assert "reference builds up over 6 days" in line


def test_an_alert_on_the_old_model_ends_when_the_model_changes() -> None:
    tracker = DriftTracker()
    records = eight_days(reject_rate=0.3)
    tracker.observe_many(records, NOW)
    assert tracker.labeller_changes(NOW) == []  # one model all along
    (started,) = tracker.transitions(NOW)
    assert started.state == "started"
    # an hour on, a new model labels: its few windows are not compared with m1's week
    later = NOW + timedelta(hours=1)
    fresh = stream(NOW.replace(minute=0) + timedelta(hours=1), 1, seed=5)
    tracker.observe_many(relabelled(fresh, model_bundle_id="m2"), later)
    (change,) = tracker.labeller_changes(later)
    assert change.labeller["previous"]["model_bundle_id"] == "m1"
    (ended,) = tracker.transitions(later)
    assert (ended.trigger, ended.state) == ("reject_rate_increase", "ended")
    assert ended.details == {"reason": "labeller_changed", "changed": "model"}
    assert tracker.status(later)["alice"]["model"]["bundle_id"] == "m2"
    # a rollback to m1 compares m1's windows again: its own week, its own bad day
    back = NOW + timedelta(hours=2)
    tracker.observe_many(stream(NOW.replace(minute=0) + timedelta(hours=2), 1, seed=6), back)
    status = tracker.status(back)["alice"]
    assert status["labeller"]["model_bundle_id"] == "m1"
    assert status["labeller"]["since"] == "2026-03-10T14:00:00Z"
    assert status["reference"]["windows"] > 6 * 24 * 20
    # and says so: m1's windows from before m2 count, not only those from the change on
    assert status["labeller"]["back"] is True
    line = format_drift({"alice": status})[0]
    assert (
        "model changed back to m1 2026-03-10 14:00 UTC: drift compares its own windows, "
        "from before too" in line
    )
    assert "builds up" not in line  # its own week is its reference already


def test_a_new_calibrator_store_every_day_keeps_the_reference() -> None:
    """The daily personalize timer writes a store whenever new labels move a fit: were each
    store a new labeller, drift would never have a reference, and never alert."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    days = [
        relabelled(
            stream(begin + timedelta(days=d), 24, seed=d, reject_rate=0.6 if d == 7 else 0.05),
            store_id=f"store-{d}",
        )
        for d in range(8)
    ]
    tracker = DriftTracker()
    tracker.observe_many([r for day in days for r in day], NOW)
    status = tracker.status(NOW)["alice"]
    assert status["enough_data"]
    assert status["labeller"]["since"] is None  # one labeller all along
    assert [a["trigger"] for a in status["alerts"]] == ["reject_rate_increase"]


def test_an_alert_on_one_labeller_lends_the_next_no_hysteresis() -> None:
    """An alert ends below 80 % of its threshold, but only for the labeller it was raised on:
    back to another whose own figure is between the two, the old alert ends (the labeller
    changed) and none starts."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    b_before = relabelled(stream(begin, 3 * 24, seed=1), model_bundle_id="b")  # 5 % rejects
    a_days = relabelled(
        stream(begin + timedelta(days=3), 3 * 24, seed=2)
        + stream(begin + timedelta(days=6), 24, seed=3, reject_rate=0.6),
        model_bundle_id="a",
    )
    tracker = DriftTracker()
    now = begin + timedelta(days=7)
    tracker.observe_many(b_before + a_days, now)
    (started,) = tracker.transitions(now)
    assert (started.trigger, started.state) == ("reject_rate_increase", "started")
    # b again for the last 2 hours, rejecting 14 %: +0.09 over its own week, under the
    # threshold (0.10) and over the release line (0.08)
    later = now + timedelta(hours=2)
    back = relabelled(stream(now, 2, seed=4, reject_rate=0.14), model_bundle_id="b")
    tracker.observe_many(back, later)
    status = tracker.status(later)["alice"]
    assert status["labeller"]["model_bundle_id"] == "b"
    assert status["enough_data"]
    assert 0.08 <= status["reject_rate_increase"] < 0.10, status["reject_rate_increase"]
    assert status["alerts"] == []
    (ended,) = tracker.transitions(later)
    assert (ended.trigger, ended.state) == ("reject_rate_increase", "ended")
    assert ended.details == {"reason": "labeller_changed", "changed": "model"}


def test_a_threshold_change_alone_restarts_the_reference_too() -> None:
    """A higher reject threshold rejects more by design: not the data drifting."""
    begin = NOW.replace(minute=0) - timedelta(hours=8 * 24 - 1)
    week = stream(begin, 7 * 24, seed=1)
    day = relabelled(
        stream(begin + timedelta(days=7), 24, seed=2, reject_rate=0.4), reject_threshold=0.7
    )
    tracker = DriftTracker()
    tracker.observe_many(week + day, NOW)
    status = tracker.status(NOW)["alice"]
    assert status["alerts"] == []
    assert status["labeller"]["changed"] == ["reject_threshold"]
    assert (
        "reject threshold changed 0.55 → 0.7 2026-03-09 13:00 UTC"
        in format_drift({"alice": status})[0]
    )


def test_the_html_page_says_the_model_changed() -> None:
    from daemon.reporting.html import _health

    tracker = DriftTracker()
    tracker.observe_many(first_model_day(), NOW)
    page = _health(tracker.status(NOW)["alice"])
    assert "class='health ok'" in page
    assert "reference building up" in page
    assert "model changed to retrained_1 2026-03-09 13:00 UTC: drift compares its own" in page
