"""The batch planner: duplicates, file outcomes and state, without a daemon or a disk."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import window_stream
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.runtime.intake import ParsedFile, RefusedWindow
from daemon.runtime.planner import plan_batch
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import load_calibrator_store
from taskclf_core.pipeline import Policy, Snapshot
from taskclf_core.schema import FeatureWindow, parse_window

AT = "2026-01-10T12:00:00Z"


@pytest.fixture(scope="module")
def windows(bundle: ModelBundle, training_windows: list[dict[str, Any]]) -> list[FeatureWindow]:
    raw = sorted(window_stream(training_windows), key=lambda w: w["bucket_start_ts"])
    return [parse_window(w, bundle.schema) for w in raw[:40]]


@pytest.fixture(scope="module")
def snapshot(bundle: ModelBundle) -> Snapshot:
    return Snapshot(bundle, None, Policy())


def parsed(*windows: FeatureWindow, refused: int = 0) -> ParsedFile:
    bad = tuple(RefusedWindow(i, "user_id", "bad", None) for i in range(refused))
    return ParsedFile(windows=tuple(windows), refused=bad, jsonl=True)


def test_a_plan_of_new_windows_gives_taskclfs_own_numbers(taskclf_sample: Path) -> None:
    """taskclf's sample windows in two files, planned with its bundle and store at 0.55: each
    record carries the probabilities, label and calibrator taskclf computed for that window
    (expected_temperature.jsonl), in file order, with its file and the planned time."""
    bundle = load_bundle(taskclf_sample / "bundle_v1")
    store = load_calibrator_store(taskclf_sample / "store_temperature")
    lines = (taskclf_sample / "windows.jsonl").read_text().splitlines()
    sample = [parse_window(json.loads(line), bundle.schema) for line in lines]
    expected = [
        json.loads(line)
        for line in (taskclf_sample / "expected_temperature.jsonl").read_text().splitlines()
    ]
    snapshot = Snapshot(bundle, store, Policy(reject_threshold=0.55))
    state = snapshot.policy.empty_state()
    files = [("a.jsonl", parsed(*sample[:60])), ("b.jsonl", parsed(*sample[60:]))]
    plan = plan_batch(
        files, is_logged=lambda _k: False, snapshot=snapshot, state=state, processed_at=AT
    )
    assert [(f.name, f.labelled, f.duplicates) for f in plan.files] == [
        ("a.jsonl", 60, ()),
        ("b.jsonl", 40, ()),
    ]
    assert len(plan.records) == len(expected) == 100
    for record, known in zip(plan.records, expected, strict=True):
        assert (record.user_id, record.bucket_start_ts) == (
            known["user_id"],
            known["bucket_start_ts"],
        )
        assert list(record.core_probs.values()) == pytest.approx(known["core_probs"], abs=1e-6)
        assert record.model_probs is not None
        assert list(record.model_probs.values()) == pytest.approx(known["raw_probs"], abs=1e-6)
        assert record.confidence == pytest.approx(known["confidence"], abs=1e-9)
        assert record.core_label == known["core_label_name"]
        assert record.is_rejected == known["is_rejected"]
        assert record.calibrator == known["calibrator"].partition(":")[0]
        assert record.processed_at == AT
    assert [r.source for r in plan.records] == ["a.jsonl"] * 60 + ["b.jsonl"] * 40
    # the state moved on by the planned windows: each user's buffer ends with its last one
    last = {r.user_id: r for r in plan.records}
    for user_id, record in last.items():
        assert plan.state.buffer(user_id)[-1].label == record.label
        assert len(plan.state.buffer(user_id)) == 3  # smooth_window


def test_logged_and_repeated_windows_are_duplicates_once(
    snapshot: Snapshot, windows: list[FeatureWindow]
) -> None:
    logged = {windows[0].key}
    files = [
        ("a.jsonl", parsed(windows[0], windows[1], windows[2])),
        ("b.jsonl", parsed(windows[2], windows[3])),  # windows[2] again, in another file
    ]
    plan = plan_batch(
        files,
        is_logged=logged.__contains__,
        snapshot=snapshot,
        state=snapshot.policy.empty_state(),
        processed_at=AT,
    )
    assert [r.key for r in plan.records] == [windows[1].key, windows[2].key, windows[3].key]
    assert [r.source for r in plan.records] == ["a.jsonl", "a.jsonl", "b.jsonl"]
    assert plan.files[0].labelled == 2
    assert plan.files[0].duplicates == (windows[0].key,)
    assert plan.files[1].labelled == 1
    assert plan.files[1].duplicates == (windows[2].key,)


def test_all_duplicates_and_refusals_plan_no_records_and_keep_state(
    snapshot: Snapshot, windows: list[FeatureWindow]
) -> None:
    state = snapshot.policy.empty_state()
    files = [("a.jsonl", parsed(windows[0])), ("bad.jsonl", parsed(refused=2))]
    plan = plan_batch(
        files, is_logged=lambda _k: True, snapshot=snapshot, state=state, processed_at=AT
    )
    assert plan.records == ()
    assert plan.state == state
    assert plan.files[1].parsed.refused[0].field == "user_id"


def test_a_lone_window_matches_the_batch_path(
    snapshot: Snapshot, windows: list[FeatureWindow]
) -> None:
    state = snapshot.policy.empty_state()
    one = plan_batch(
        [("a.json", parsed(windows[0]))],
        is_logged=lambda _k: False,
        snapshot=snapshot,
        state=state,
        processed_at=AT,
    )
    many = plan_batch(
        [("a.json", parsed(windows[0], windows[1]))],
        is_logged=lambda _k: False,
        snapshot=snapshot,
        state=state,
        processed_at=AT,
    )
    assert one.records[0] == many.records[0]


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_replanning_after_a_failed_append_gives_the_same_records(
    snapshot: Snapshot, windows: list[FeatureWindow], data: st.DataObject
) -> None:
    """A retry (same inputs, state not adopted) plans exactly the same records."""
    picks = data.draw(st.lists(st.sampled_from(windows), min_size=1, max_size=12))
    logged = set(data.draw(st.sets(st.sampled_from([w.key for w in windows]), max_size=5)))
    files = [(f"{i:03d}.json", parsed(w)) for i, w in enumerate(picks)]
    state = snapshot.policy.empty_state()
    first = plan_batch(
        files, is_logged=logged.__contains__, snapshot=snapshot, state=state, processed_at=AT
    )
    again = plan_batch(
        files, is_logged=logged.__contains__, snapshot=snapshot, state=state, processed_at=AT
    )
    assert first == again
    # every window is either a record or a duplicate, never both, never lost
    for f in first.files:
        assert f.labelled + len(f.duplicates) == len(f.parsed.windows)
    keys = [r.key for r in first.records]
    assert len(keys) == len(set(keys))
    assert not set(keys) & logged
    assert {dataclasses.astuple(r)[0:2] for r in first.records} == set(keys)
