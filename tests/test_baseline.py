"""taskclf's rule baseline as a model: parity with taskclf, records, and its invariants."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.baseline import (
    BASELINE_ID,
    BASELINE_REJECT_THRESHOLD,
    BaselineModel,
    BaselineThresholds,
    baseline_model,
    idle_evidence,
)
from taskclf_core.calibration import CalibratorStore, IdentityCalibrator
from taskclf_core.errors import BundleError, WindowError
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.pipeline import Policy, Snapshot, label_window, label_windows
from taskclf_core.schema import parse_window, parse_windows, registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASELINE = FIXTURES / "taskclf-baseline"
# (rows, taskclf's labels for them, the rows' schema version); provenance in the README
CASES = [
    ("taskclf-baseline/boundary_windows.jsonl", "expected_boundary_windows.jsonl", "v1"),
    ("taskclf-sample/windows.jsonl", "expected_taskclf-sample_windows.jsonl", "v1"),
    ("aw-sample/workday/expected_v1.jsonl", "expected_aw-sample_workday_v1.jsonl", "v1"),
    ("aw-sample/workday/expected_v3.jsonl", "expected_aw-sample_workday_v3.jsonl", "v3"),
    ("aw-sample/no-input/expected_v1.jsonl", "expected_aw-sample_no-input_v1.jsonl", "v1"),
]
AT = "2026-02-02T12:00:00Z"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def labels_of(model: BaselineModel, rows: list[dict[str, Any]]) -> list[str]:
    windows = parse_windows(rows, model.schema)
    assert all(not isinstance(w, WindowError) for w in windows)
    features = np.stack([w.features for w in windows if not isinstance(w, WindowError)])
    return [REJECT_LABEL if c < 0 else CORE_LABELS[c] for c in model.classes_many(features)]


@pytest.mark.parametrize(("rows", "expected", "version"), CASES)
def test_every_label_is_taskclfs(rows: str, expected: str, version: str) -> None:
    windows = read_jsonl(FIXTURES / rows)
    truth = read_jsonl(BASELINE / expected)
    assert [(t["user_id"], t["bucket_start_ts"]) for t in truth] == [
        (w["user_id"], w["bucket_start_ts"]) for w in windows
    ]
    model = baseline_model(version)
    assert labels_of(model, windows) == [t["label"] for t in truth]


@pytest.mark.parametrize(("rows", "expected", "version"), CASES)
def test_the_daemons_records_carry_taskclfs_labels(rows: str, expected: str, version: str) -> None:
    model = baseline_model(version)
    windows = [parse_window(w, model.schema) for w in read_jsonl(FIXTURES / rows)]
    truth = [t["label"] for t in read_jsonl(BASELINE / expected)]
    # smoothing off (window 1): the record's label is the rule's answer itself
    policy = Policy(smooth_window=1, reject_threshold=0.0)
    snapshot = Snapshot(bundle=model, store=None, policy=policy)
    _, records = label_windows(
        snapshot,
        policy.empty_state(),
        windows,
        sources=["f"] * len(windows),
        processed_at=AT,
    )
    assert [r.label for r in records] == truth
    one = [
        label_window(snapshot, policy.empty_state(), w, source="f", processed_at=AT)[1]
        for w in windows
    ]
    assert [r.to_dict() for r in one] == [r.to_dict() for r in records]
    for record in records:
        # CONTRACT section 6 holds for the baseline's records too
        assert record.model_bundle_id == BASELINE_ID
        assert record.model_schema_hash == registry(version).schema_hash  # type: ignore[union-attr]
        assert (record.calibrator, record.store_id) == ("identity", None)
        assert record.reject_threshold == BASELINE_REJECT_THRESHOLD
        assert math.isclose(sum(record.core_probs.values()), 1.0, abs_tol=1e-9)
        assert record.confidence == max(record.core_probs.values())
        assert record.is_rejected == (record.confidence < record.reject_threshold)
        assert record.is_rejected == (record.label == REJECT_LABEL)
        assert record.label in (REJECT_LABEL, record.core_label)
        assert record.model_probs == record.core_probs


def test_a_policy_threshold_of_zero_does_not_turn_no_answer_into_breakidle() -> None:
    model = baseline_model("v2")
    window = parse_window(
        {
            "user_id": "u",
            "bucket_start_ts": "2026-02-02T09:00:00Z",
            "bucket_end_ts": "2026-02-02T09:01:00Z",
            "active_seconds_any": 40.0,
            "keys_per_min": 50.0,
        },
        model.schema,
    )
    for threshold in (0.0, 0.1, 0.55, 1.0):
        policy = Policy(reject_threshold=threshold, user_thresholds={"u": threshold})
        _, record = label_window(
            Snapshot(model, None, policy), policy.empty_state(), window, source="f", processed_at=AT
        )
        assert (record.label, record.core_label, record.confidence) == (
            REJECT_LABEL,
            "BreakIdle",
            0.125,
        )


def test_the_baseline_takes_no_store() -> None:
    store = CalibratorStore(global_calibrator=IdentityCalibrator())
    with pytest.raises(ValueError, match="takes no calibrator store"):
        Snapshot(baseline_model(), store, Policy())


def test_each_taskclf_schema_version_and_no_other() -> None:
    for version in ("v1", "v2", "v3"):
        model = baseline_model(version)
        assert model.schema.version == version
        assert model.bundle_id == "baseline"
        reg = registry(version)
        assert reg is not None
        assert set(model.schema.feature_columns) <= set(reg.feature_columns)
    assert baseline_model().schema.version == "v3"  # taskclf's latest: what cold start collects
    with pytest.raises(BundleError, match="v1, v2, v3"):
        baseline_model("v9")
    v3_row = read_jsonl(FIXTURES / "aw-sample/workday/expected_v3.jsonl")[0]
    with pytest.raises(WindowError, match="the model expects"):
        parse_window(v3_row, baseline_model("v1").schema)


# --- invariants --------------------------------------------------------------------------

NUMERIC = (
    "active_seconds_any",
    "max_idle_run_seconds",
    "scroll_events_per_min",
    "keys_per_min",
    "shortcut_rate",
)
FLAGS = ("is_browser", "is_editor", "is_terminal")


def numbers() -> st.SearchStrategy[Any]:
    edges = st.sampled_from([0, 0.0, -0.0, 1, 1.0, 3.0, 5, 5.0, 10.0, 30.0, 50.0, -1.0])
    return st.one_of(
        st.none(), edges, st.floats(-1e6, 1e6, allow_nan=False), st.integers(-100, 500)
    )


@st.composite
def rule_rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": "u",
        "bucket_start_ts": "2026-02-02T09:00:00Z",
        "bucket_end_ts": "2026-02-02T09:01:00Z",
    }
    for name in NUMERIC:
        if draw(st.booleans()):
            row[name] = draw(numbers())
    for name in FLAGS:
        if draw(st.booleans()):
            row[name] = draw(st.one_of(st.none(), st.booleans()))
    if draw(st.booleans()):
        row["app_category"] = draw(
            st.one_of(st.none(), st.sampled_from(["lockscreen", "browser", "editor", "Lockscreen"]))
        )
    return row


def taskclf_rules(row: dict[str, Any], t: BaselineThresholds) -> str:
    """taskclf's ``classify_single_row``, line for line, over a JSON row (the reference)."""

    def safe(value: Any, default: float = 0.0) -> float:
        return default if value is None else float(value)

    if row.get("app_category") == "lockscreen":
        return "BreakIdle"
    active = safe(row.get("active_seconds_any"), -1.0)
    idle = safe(row.get("max_idle_run_seconds"), 0.0)
    if active < 0 or active < t.idle_active or idle > t.idle_run:
        return "BreakIdle"
    keys = safe(row.get("keys_per_min"))
    if (
        bool(row.get("is_browser", False))
        and safe(row.get("scroll_events_per_min")) > t.scroll_high
        and keys < t.keys_low
    ):
        return "ReadResearch"
    editor = bool(row.get("is_editor", False)) or bool(row.get("is_terminal", False))
    if editor and keys > t.keys_high and safe(row.get("shortcut_rate")) > t.shortcut_high:
        return "Build"
    return REJECT_LABEL


thresholds = st.builds(
    BaselineThresholds,
    idle_active=st.sampled_from([5.0, 0.0, -2.0, 60.0]),
    idle_run=st.sampled_from([50.0, -1.0, 0.0]),
    scroll_high=st.sampled_from([3.0, -1.0, 0.0]),
    keys_low=st.sampled_from([10.0, 0.0, -0.5]),
    keys_high=st.sampled_from([30.0, -1.0, 0.0]),
    shortcut_high=st.sampled_from([1.0, -1.0, 0.0]),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(rule_rows(), min_size=1, max_size=40), t=thresholds)
def test_same_as_taskclfs_rules_for_any_row_and_thresholds(
    rows: list[dict[str, Any]], t: BaselineThresholds
) -> None:
    # missing, null and 0 differ for some thresholds: only "missing stays missing" agrees
    model = BaselineModel(baseline_model("v2").schema, t)
    assert labels_of(model, rows) == [taskclf_rules(r, t) for r in rows]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(rule_rows(), min_size=1, max_size=40))
def test_probabilities_one_by_one_and_batch(rows: list[dict[str, Any]]) -> None:
    model = baseline_model("v3")
    windows = [parse_window(r, model.schema) for r in rows]
    features = np.stack([w.features for w in windows])
    before = features.copy()
    probs = model.predict_many(features)
    assert np.array_equal(features, before, equal_nan=True)  # the input is not modified
    assert probs.shape == (len(rows), len(CORE_LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert ((probs == 0.0) | (probs == 1.0) | (probs == 0.125)).all()
    for window, row in zip(windows, probs, strict=True):
        assert np.array_equal(model.predict_one(window.features), row)
    # batch parsing (column-wise from 32 windows) reads missing values as one-by-one does
    many = parse_windows(rows * 40, model.schema)
    assert all(not isinstance(w, WindowError) for w in many)
    again = np.stack([w.features for w in many if not isinstance(w, WindowError)])
    assert np.array_equal(again, np.tile(features, (40, 1)), equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(row=rule_rows())
def test_breakidle_comes_first(row: dict[str, Any]) -> None:
    model = baseline_model("v2")
    locked = row | {"app_category": "lockscreen"}
    still = row | {"active_seconds_any": 4.99}
    long_idle = row | {"max_idle_run_seconds": 50.01}
    missing = {k: v for k, v in row.items() if k != "active_seconds_any"}
    assert labels_of(model, [locked, still, long_idle, missing]) == ["BreakIdle"] * 4


@pytest.mark.parametrize(("rows", "expected", "version"), CASES)
def test_idle_evidence_is_taskclfs_breakidle_rule_where_there_is_input_data(
    rows: str, expected: str, version: str
) -> None:
    windows = read_jsonl(FIXTURES / rows)
    truth = [t["label"] for t in read_jsonl(BASELINE / expected)]
    said = [idle_evidence(w) for w in windows]
    for w, evidence, label in zip(windows, said, truth, strict=True):
        if evidence is None:
            # no input data: the rule calls it idle, which is no evidence of being away
            assert label == "BreakIdle"
            assert w.get("active_seconds_any") is None or w["active_seconds_any"] < 0
        else:
            assert evidence == (label == "BreakIdle"), w["bucket_start_ts"]
    if "no-input" in rows:
        assert set(said) == {None}


def test_idle_evidence_reads_the_lock_screen_without_input_and_nothing_from_junk() -> None:
    assert idle_evidence({"app_category": "lockscreen"}) is True
    assert idle_evidence({"app_category": "editor", "active_seconds_any": 42.0}) is False
    assert idle_evidence({"active_seconds_any": 42.0, "max_idle_run_seconds": 51}) is True
    assert idle_evidence({"active_seconds_any": 4.9, "max_idle_run_seconds": 0}) is True
    for junk in (None, True, "12", float("nan"), -1.0):
        assert idle_evidence({"app_category": "editor", "active_seconds_any": junk}) is None
