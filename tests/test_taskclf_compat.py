"""taskclf's own bundle and store, through the public API, give taskclf's own numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import taskclf_core
from taskclf_core import (
    CORE_LABELS,
    REJECT_LABEL,
    CalibratorStore,
    FeatureWindow,
    ModelBundle,
    Policy,
    Snapshot,
    label_window,
    label_windows,
    load_bundle,
    load_calibrator_store,
    parse_window,
)
from taskclf_core.calibration import check_store_matches

THRESHOLD = 0.55


class Sample:
    """The sample artifacts loaded once through the documented entry points."""

    def __init__(self, root: Path) -> None:
        self.bundle: ModelBundle = load_bundle(root / "bundle_v1")
        self.store: CalibratorStore = load_calibrator_store(root / "store_temperature")
        lines = (root / "windows.jsonl").read_text().splitlines()
        self.raw_windows = [json.loads(line) for line in lines]
        self.windows: list[FeatureWindow] = [
            parse_window(w, self.bundle.schema) for w in self.raw_windows
        ]
        expected = (root / "expected_temperature.jsonl").read_text().splitlines()
        self.expected: list[dict[str, Any]] = [json.loads(line) for line in expected]
        self.policy = Policy(reject_threshold=THRESHOLD)
        self.snapshot = Snapshot(self.bundle, self.store, self.policy)


@pytest.fixture
def sample(taskclf_sample: Path) -> Sample:
    return Sample(taskclf_sample)


def test_sample_is_what_the_test_expects(sample: Sample) -> None:
    assert len(sample.windows) == len(sample.expected) == 100
    for window, expected in zip(sample.windows, sample.expected, strict=True):
        assert window.user_id == expected["user_id"]
        assert window.start_ts == expected["bucket_start_ts"]
    check_store_matches(
        sample.store, bundle_id=sample.bundle.bundle_id, schema_hash=sample.bundle.schema_hash
    )
    # some windows lack numerics: the fill path is exercised, as taskclf's was
    assert sum(w.n_missing for w in sample.windows) > 0


def test_raw_probabilities_match_taskclf(sample: Sample) -> None:
    expected = np.array([e["raw_probs"] for e in sample.expected])
    rows = np.stack([w.features for w in sample.windows])
    np.testing.assert_allclose(sample.bundle.predict_many(rows), expected, rtol=0, atol=1e-9)
    one = np.stack([sample.bundle.predict_one(w.features) for w in sample.windows])
    np.testing.assert_allclose(one, expected, rtol=0, atol=1e-9)


def taskclf_calibrator(expected: dict[str, Any]) -> str:
    """Our name for the calibrator taskclf reports (``user:<id>`` or ``global``)."""
    name = str(expected["calibrator"])
    if name.startswith("user:"):
        assert name == f"user:{expected['user_id']}"
        return "user"
    assert name == "global", name
    return "global"


def test_calibrated_probabilities_match_taskclf(sample: Sample) -> None:
    raw = sample.bundle.predict_many(np.stack([w.features for w in sample.windows]))
    for i, (window, expected) in enumerate(zip(sample.windows, sample.expected, strict=True)):
        kind, calibrator = sample.store.calibrator_for(window.user_id)
        assert kind == taskclf_calibrator(expected), i
        calibrated = calibrator.calibrate(raw[i])
        np.testing.assert_allclose(calibrated, expected["core_probs"], rtol=0, atol=1e-6)
        assert float(calibrated.max()) == pytest.approx(expected["confidence"], abs=1e-6)
        assert CORE_LABELS[int(calibrated.argmax())] == expected["core_label_name"]


@pytest.mark.parametrize("path", ["batch", "single"])
def test_label_records_match_taskclf(sample: Sample, path: str) -> None:
    state = sample.policy.empty_state()
    if path == "batch":
        sources = ["windows.jsonl"] * len(sample.windows)
        _, records = label_windows(
            sample.snapshot, state, sample.windows, sources=sources, processed_at="t"
        )
    else:
        records = []
        for window in sample.windows:
            state, record = label_window(
                sample.snapshot, state, window, source="windows.jsonl", processed_at="t"
            )
            records.append(record)
    rejected = 0
    for record, expected in zip(records, sample.expected, strict=True):
        assert record.user_id == expected["user_id"]
        assert record.bucket_start_ts == expected["bucket_start_ts"]
        assert record.calibrator == taskclf_calibrator(expected)
        assert record.confidence == pytest.approx(expected["confidence"], abs=1e-6)
        assert record.is_rejected == expected["is_rejected"]
        assert record.core_label == expected["core_label_name"]
        assert record.label == expected["label_after_reject"].replace("Mixed/Unknown", REJECT_LABEL)
        # taskclf's own rounded probabilities (its online prediction) agree with the record's
        online = expected["online_window_prediction"]["core_probs"]
        assert list(record.core_probs.values()) == pytest.approx(online, abs=1.01e-6)
        assert record.store_id == sample.store.store_id
        assert record.model_bundle_id == "bundle_v1"
        assert record.model_schema_hash == "4077fe0dba70"
        rejected += record.is_rejected
    # the threshold matters on this sample: both outcomes occur
    assert 0 < rejected < len(records)


def test_public_names_used_here_are_exported() -> None:
    for name in ("load_bundle", "load_calibrator_store", "parse_window", "label_windows"):
        assert name in taskclf_core.__all__
        assert callable(getattr(taskclf_core, name))
        assert getattr(taskclf_core, name).__doc__
