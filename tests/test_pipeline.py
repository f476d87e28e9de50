"""The pure pipeline: one vs batch, state threading, reject, calibrators, taxonomy, records."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from helpers import MakeStore, window_stream
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IdentityCalibrator,
    TemperatureCalibrator,
    load_calibrator_store,
)
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.pipeline import Policy, Snapshot, label_window, label_windows
from taskclf_core.record import LabelRecord, parse_logged_window
from taskclf_core.schema import FeatureWindow, parse_window
from taskclf_core.smoothing import SmoothingState
from taskclf_core.taxonomy import OTHER_BUCKET, Taxonomy, parse_taxonomy

AT = "2026-01-10T12:00:00Z"
TAXONOMY = {
    "version": "1.0",
    "reject": {"mixed_label_name": "Unsure"},
    "buckets": [
        {"name": "Coding", "core_labels": ["Build", "Debug", "Review"], "color": "#112233"},
        {"name": "Talking", "core_labels": ["Communicate", "Meet"]},
    ],
}


@pytest.fixture(scope="module")
def windows(bundle: ModelBundle, training_windows: list[dict[str, Any]]) -> list[FeatureWindow]:
    """300 windows of the three synthetic users, interleaved in time order."""
    raw = sorted(window_stream(training_windows), key=lambda w: w["bucket_start_ts"])
    return [parse_window(w, bundle.schema) for w in raw[:: max(1, len(raw) // 300)][:300]]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return parse_taxonomy(TAXONOMY, source="test-taxonomy")


@pytest.fixture(scope="module")
def store(bundle: ModelBundle) -> CalibratorStore:
    return CalibratorStore(
        global_calibrator=TemperatureCalibrator(1.7),
        user_calibrators={"u-ada": TemperatureCalibrator(0.6), "u-ben": IdentityCalibrator()},
        model_bundle_id=bundle.bundle_id,
        model_schema_hash=bundle.schema_hash,
    )


def one_by_one(
    snapshot: Snapshot, state: SmoothingState, windows: list[FeatureWindow]
) -> tuple[SmoothingState, list[LabelRecord]]:
    records = []
    for i, window in enumerate(windows):
        state, record = label_window(snapshot, state, window, source=f"f{i}", processed_at=AT)
        records.append(record)
    return state, records


def batch(
    snapshot: Snapshot, state: SmoothingState, windows: list[FeatureWindow]
) -> tuple[SmoothingState, list[LabelRecord]]:
    sources = [f"f{i}" for i in range(len(windows))]
    return label_windows(snapshot, state, windows, sources=sources, processed_at=AT)


def without_source(record: LabelRecord) -> LabelRecord:
    return dataclasses.replace(record, source="")


# --- single vs batch --------------------------------------------------------------------


@pytest.mark.parametrize("with_taxonomy", [False, True])
def test_single_and_batch_records_are_identical(
    bundle: ModelBundle,
    store: CalibratorStore,
    taxonomy: Taxonomy,
    windows: list[FeatureWindow],
    with_taxonomy: bool,
) -> None:
    policy = Policy(reject_threshold=0.6)
    snapshot = Snapshot(bundle, store, policy, taxonomy if with_taxonomy else None)
    s1, one = one_by_one(snapshot, policy.empty_state(), windows)
    s2, many = batch(snapshot, policy.empty_state(), windows)
    assert len(one) == len(many) == len(windows)
    for a, b in zip(one, many, strict=True):
        assert a == b
        assert a.to_json_line() == b.to_json_line()
    assert dict(s1.buffers) == dict(s2.buffers)
    # the set-up is not degenerate: several users, calibrators and labels occur
    assert {r.calibrator for r in many} == {"user", "global"}
    assert len({r.core_label for r in many}) >= 4
    assert any(r.is_rejected for r in many)
    assert not all(r.is_rejected for r in many)


def test_batch_threads_state_like_consecutive_batches(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    snapshot = Snapshot(bundle, store, policy)
    whole_state, whole = batch(snapshot, policy.empty_state(), windows)
    state, first = batch(snapshot, policy.empty_state(), windows[:137])
    state, second = batch(snapshot, state, windows[137:])
    sources = [r.source for r in first + second]
    assert [without_source(r) for r in first + second] == [without_source(r) for r in whole]
    assert sources[137] == "f0"  # the sources are per call, nothing else is
    assert dict(state.buffers) == dict(whole_state.buffers)


def test_records_keep_input_order_and_fields(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy(reject_threshold=0.5, smooth_window=3)
    snapshot = Snapshot(bundle, store, policy)
    state, records = batch(snapshot, policy.empty_state(), windows[:40])
    for i, (window, record) in enumerate(zip(windows[:40], records, strict=True)):
        assert record.key == window.key
        assert record.bucket_end_ts == window.end_ts
        assert record.source == f"f{i}"
        assert record.processed_at == AT
        assert record.model_bundle_id == bundle.bundle_id
        assert record.model_schema_hash == bundle.schema_hash
        assert record.store_id == store.store_id
        assert record.reject_threshold == 0.5
        assert record.core_label == max(record.core_probs, key=record.core_probs.__getitem__)
        assert record.label == (REJECT_LABEL if record.is_rejected else record.core_label)
        assert record.mapped_label == record.smoothed_label
        assert record.mapped_probs is None
    assert set(state.buffers) == {w.user_id for w in windows[:40]}


def test_empty_batch_changes_nothing(bundle: ModelBundle, store: CalibratorStore) -> None:
    policy = Policy()
    state = policy.empty_state()
    new, records = label_windows(
        Snapshot(bundle, store, policy), state, [], sources=[], processed_at=AT
    )
    assert records == []
    assert new is state


def test_inputs_are_not_modified(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    state, _ = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows[:20])
    before = dict(state.buffers)
    features = [w.features.copy() for w in windows[20:40]]
    batch(Snapshot(bundle, store, policy), state, windows[20:40])
    assert dict(state.buffers) == before
    assert all(np.array_equal(a, w.features) for a, w in zip(features, windows[20:40], strict=True))


def test_smoothing_uses_the_label_after_reject(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy(reject_threshold=0.7, smooth_window=1)
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows)
    assert all(r.smoothed_label == r.label for r in records)


def test_restart_from_logged_records_gives_the_same_records(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy(reject_threshold=0.6, smooth_window=5)
    snapshot = Snapshot(bundle, store, policy)
    _, full = batch(snapshot, policy.empty_state(), windows)
    k = 173
    logged = [parse_logged_window(r.to_json_line()) for r in full[:k]]
    rebuilt = SmoothingState.from_entries(
        [(w.user_id, w.entry) for w in reversed(logged)],
        size=policy.smooth_window,
        idle_gap=policy.idle_gap_seconds,
    )
    _, rest = batch(snapshot, rebuilt, windows[k:])
    assert [without_source(r) for r in rest] == [without_source(r) for r in full[k:]]


# --- reject -----------------------------------------------------------------------------


def test_reject_threshold_is_strict(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    window = windows[0]
    _, record = label_window(
        Snapshot(bundle, store, Policy()),
        Policy().empty_state(),
        window,
        source="s",
        processed_at=AT,
    )
    c = record.confidence
    for threshold, rejected in ((c, False), (math.nextafter(c, 2.0), True), (0.0, False)):
        policy = Policy(reject_threshold=threshold)
        _, r = label_window(
            Snapshot(bundle, store, policy),
            policy.empty_state(),
            window,
            source="s",
            processed_at=AT,
        )
        assert r.confidence == c
        assert r.is_rejected is rejected
        assert r.label == (REJECT_LABEL if rejected else r.core_label)
        assert r.reject_threshold == threshold


# --- calibrator choice ------------------------------------------------------------------


def expected_probs(
    bundle: ModelBundle, window: FeatureWindow, calibrator: Calibrator
) -> npt.NDArray[np.float64]:
    """The window's calibrated probabilities, computed outside the pipeline."""
    row: npt.NDArray[np.float64] = calibrator.calibrate(
        bundle.predict_one(window.features)[np.newaxis, :]
    )[0]
    return row


def test_personal_calibrator_for_eligible_users(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows)
    for window, record in zip(windows, records, strict=True):
        personal = window.user_id in store.user_calibrators
        assert record.calibrator == ("user" if personal else "global")
        calibrator = store.calibrator_for(window.user_id)[1]
        probs = expected_probs(bundle, window, calibrator)
        assert record.confidence == probs.max()
        assert record.core_probs == {
            k: round(float(p), 6) for k, p in zip(CORE_LABELS, probs, strict=True)
        }


def test_opted_out_users_get_the_global_calibrator(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy(opt_out_users=frozenset({"u-ada"}))
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows)
    for window, record in zip(windows, records, strict=True):
        if window.user_id == "u-ada":
            assert record.calibrator == "global"
            probs = expected_probs(bundle, window, store.global_calibrator)
            assert record.confidence == probs.max()
        elif window.user_id == "u-ben":
            assert record.calibrator == "user"
    assert "u-ada" in {w.user_id for w in windows}


def test_personalization_off_gives_everyone_the_global_calibrator(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy(personalization=False)
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows)
    assert {r.calibrator for r in records} == {"global"}
    for window, record in zip(windows[:30], records[:30], strict=True):
        assert record.confidence == expected_probs(bundle, window, store.global_calibrator).max()


def test_no_store_means_identity(bundle: ModelBundle, windows: list[FeatureWindow]) -> None:
    policy = Policy()
    snapshot = Snapshot(bundle, None, policy)
    assert snapshot.store_id is None
    _, records = batch(snapshot, policy.empty_state(), windows)
    assert {r.calibrator for r in records} == {"identity"}
    assert {r.store_id for r in records} == {None}
    raw = bundle.predict_many(np.stack([w.features for w in windows]))
    assert [r.confidence for r in records] == raw.max(axis=1).tolist()


def test_store_from_disk_records_its_id(
    bundle: ModelBundle, make_store: MakeStore, windows: list[FeatureWindow]
) -> None:
    store = load_calibrator_store(make_store(global_t=1.3, users={"u-cy": 0.9}))
    policy = Policy()
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows[:50])
    assert {r.store_id for r in records} == {store.store_id}
    assert {r.calibrator for r in records if r.user_id == "u-cy"} <= {"user"}


# --- taxonomy ---------------------------------------------------------------------------


def test_taxonomy_maps_labels_and_probabilities(
    bundle: ModelBundle, store: CalibratorStore, taxonomy: Taxonomy, windows: list[FeatureWindow]
) -> None:
    policy = Policy(reject_threshold=0.0)  # nothing rejected: every label maps to a bucket
    _, records = batch(Snapshot(bundle, store, policy, taxonomy), policy.empty_state(), windows)
    buckets = {"Build": "Coding", "Debug": "Coding", "Review": "Coding", "Communicate": "Talking"}
    buckets["Meet"] = "Talking"
    seen = set()
    for record in records:
        assert record.mapped_probs is not None
        assert list(record.mapped_probs) == ["Coding", "Talking", OTHER_BUCKET]
        assert abs(sum(record.mapped_probs.values()) - 1.0) <= 1e-5
        assert record.mapped_label == buckets.get(record.smoothed_label, OTHER_BUCKET)
        p = record.core_probs
        coding = p["Build"] + p["Debug"] + p["Review"]
        assert record.mapped_probs["Coding"] == pytest.approx(coding, abs=1e-5)
        seen.add(record.mapped_label)
        assert "mapped_probs" in json.loads(record.to_json_line())
    assert seen == {"Coding", "Talking", OTHER_BUCKET}


def test_rejected_window_maps_to_the_reject_name(
    bundle: ModelBundle, store: CalibratorStore, taxonomy: Taxonomy, windows: list[FeatureWindow]
) -> None:
    policy = Policy(reject_threshold=1.01)  # every window rejected
    _, records = batch(Snapshot(bundle, store, policy, taxonomy), policy.empty_state(), windows)
    for record in records:
        assert record.is_rejected
        assert record.label == REJECT_LABEL
        assert record.smoothed_label == REJECT_LABEL
        assert record.mapped_label == "Unsure"
        assert record.mapped_probs is not None  # bucket probabilities are still reported


def test_without_taxonomy_mapped_probs_are_omitted(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows[:5])
    for record in records:
        data = json.loads(record.to_json_line())
        assert "mapped_probs" not in data
        assert data["mapped_label"] == data["smoothed_label"]


# --- the record -------------------------------------------------------------------------


def test_record_json_has_the_documented_fields_in_order(
    bundle: ModelBundle, store: CalibratorStore, taxonomy: Taxonomy, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    _, record = label_window(
        Snapshot(bundle, store, policy, taxonomy),
        policy.empty_state(),
        windows[0],
        source="2026-01-10T12-00-00.json",
        processed_at=AT,
    )
    line = record.to_json_line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    data = json.loads(line)
    assert list(data) == [
        "user_id", "bucket_start_ts", "bucket_end_ts", "core_label", "core_probs", "confidence",
        "is_rejected", "label", "smoothed_label", "mapped_label", "mapped_probs", "calibrator",
        "reject_threshold", "model_bundle_id", "model_schema_hash", "store_id", "source",
        "processed_at", "model_probs",
    ]  # fmt: skip
    assert list(data["core_probs"]) == list(CORE_LABELS)
    assert list(data["model_probs"]) == list(CORE_LABELS)
    assert abs(sum(data["model_probs"].values()) - 1.0) < 1e-5
    assert data["bucket_start_ts"].endswith("Z")
    assert record.day == data["bucket_start_ts"][:10]
    logged = parse_logged_window(line)
    assert logged.key == record.key
    assert logged.entry.label == record.label


def check_probs(record: LabelRecord) -> None:
    values = list(record.core_probs.values())
    assert list(record.core_probs) == list(CORE_LABELS)
    assert all(round(v, 6) == v and 0.0 <= v <= 1.0 for v in values)
    assert abs(sum(values) - 1.0) <= 1e-5
    assert record.confidence == pytest.approx(max(values), abs=5e-7)
    assert 0.0 <= record.confidence <= 1.0


def test_core_probs_have_six_decimals_and_sum_to_one(
    bundle: ModelBundle, store: CalibratorStore, windows: list[FeatureWindow]
) -> None:
    policy = Policy()
    _, records = batch(Snapshot(bundle, store, policy), policy.empty_state(), windows)
    for record in records:
        check_probs(record)


# --- hypothesis -------------------------------------------------------------------------

USERS = ["u-ada", "u-ben", "u-cy", "u-new"]


@st.composite
def window_batches(draw: st.DrawFn, bundle: ModelBundle) -> list[FeatureWindow]:
    """Random (but valid) windows: random users, start times and feature values."""
    n = draw(st.integers(1, 12))
    out = []
    numbers = st.one_of(st.none(), st.floats(-1e3, 1e4, allow_nan=False, allow_subnormal=False))
    for _ in range(n):
        start = draw(st.integers(0, 20)) * 60
        obj: dict[str, Any] = {
            "user_id": draw(st.sampled_from(USERS)),
            "bucket_start_ts": f"2026-01-10T09:{start // 60:02d}:00Z",
            "bucket_end_ts": f"2026-01-10T09:{start // 60 + 1:02d}:00Z",
            "app_id": draw(st.sampled_from(["com.microsoft.VSCode", "us.zoom.xos", "nope"])),
            "is_browser": draw(st.booleans()),
        }
        for name in ("keys_per_min", "clicks_per_min", "mouse_distance", "backspace_ratio"):
            obj[name] = draw(numbers)
        out.append(parse_window(obj, bundle.schema))
    return out


@settings(max_examples=40, deadline=None)
@given(data=st.data(), threshold=st.floats(0.0, 1.0), size=st.integers(1, 4))
def test_pipeline_is_deterministic_and_probabilities_sum_to_one(
    bundle: ModelBundle,
    store: CalibratorStore,
    taxonomy: Taxonomy,
    data: st.DataObject,
    threshold: float,
    size: int,
) -> None:
    windows = data.draw(window_batches(bundle))
    use_taxonomy = data.draw(st.booleans())
    policy = Policy(reject_threshold=threshold, smooth_window=size)
    snapshot = Snapshot(bundle, store, policy, taxonomy if use_taxonomy else None)
    s1, first = batch(snapshot, policy.empty_state(), windows)
    s2, second = batch(snapshot, policy.empty_state(), windows)
    s3, third = one_by_one(snapshot, policy.empty_state(), windows)
    assert first == second == third
    assert dict(s1.buffers) == dict(s2.buffers) == dict(s3.buffers)
    for record in first:
        check_probs(record)
        assert record.is_rejected == (record.confidence < threshold)
        if record.mapped_probs is not None:
            assert abs(sum(record.mapped_probs.values()) - 1.0) <= 1e-5


def test_snapshot_is_immutable(bundle: ModelBundle) -> None:
    snapshot = Snapshot(bundle, None, Policy())
    with pytest.raises(AttributeError):
        snapshot.store = None  # type: ignore[misc]


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"user_id": "u"}',
        b'{"user_id": "u", "bucket_start_ts": "2026-01-10T09:00:00Z", '
        b'"bucket_end_ts": "2026-01-10T09:01:00Z"}',
        b'{"user_id": "u", "bucket_start_ts": 5, "bucket_end_ts": "x", "label": "Build"}',
        b'{"user_id": "u", "bucket_start_ts": "yesterday", "bucket_end_ts": "x", "label": "A"}',
    ],
)
def test_a_damaged_log_line_is_a_value_error(line: bytes) -> None:
    # the label-log reader skips damaged lines with one `except ValueError`
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError is the contract here
        parse_logged_window(line)


def test_a_record_carries_the_time_its_window_stands_for(
    bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    """The span fields go from the window into its record (in the log's UTC form, as the
    window times); without them a record has none (it stands for its own minute)."""
    raw = window_stream(training_windows)[0]
    plain_window = parse_window(raw, bundle.schema)
    span = {
        "span_start_ts": plain_window.start_ts.replace(":00Z", ":18.500000Z"),
        "span_end_ts": plain_window.end_ts.replace(":00Z", ":30Z"),
        "span_away": [[plain_window.start_ts.replace(":00Z", ":40Z"), plain_window.end_ts]],
    }
    window = parse_window({**raw, **span}, bundle.schema)
    snapshot = Snapshot(bundle, None, Policy())
    empty = snapshot.policy.empty_state()
    _, record = label_window(snapshot, empty, window, source="f", processed_at=AT)
    data = json.loads(record.to_json_line())
    assert {k: data[k] for k in span} == span
    assert list(data)[-3:] == list(span)  # after every field a reader knows
    _, plain = label_window(snapshot, empty, plain_window, source="f", processed_at=AT)
    assert not set(span) & set(plain.to_dict())
    assert dataclasses.replace(record, span=None) == plain
