"""taskclf's inference policy: parse, check against a bundle, write back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskclf_core.bundle import load_bundle
from taskclf_core.errors import PolicyError
from taskclf_core.labels import CORE_LABELS
from taskclf_core.policy import (
    check_policy_matches,
    parse_policy,
    policy_home,
    policy_to_json,
    resolve_policy_path,
)


def _sample(taskclf_sample: Path) -> bytes:
    return (taskclf_sample / "policy" / "policy_v1_temperature.json").read_bytes()


def _valid() -> dict[str, Any]:
    return {
        "policy_version": "v1",
        "model_dir": "models/b",
        "model_schema_hash": "abc",
        "model_label_set": list(CORE_LABELS),
        "calibrator_store_dir": None,
        "calibration_method": None,
        "reject_threshold": 0.5,
        "per_user_reject_thresholds": None,
        "created_at": "2026-01-01T00:00:00+00:00",
        "source": "manual",
        "git_commit": "",
    }


def test_taskclf_written_policy_parses_and_rewrites_byte_for_byte(taskclf_sample: Path) -> None:
    content = _sample(taskclf_sample)
    policy = parse_policy(content, source="policy.json")
    assert policy.model_dir == "models/bundle_v1"
    assert policy.model_schema_hash == "4077fe0dba70"
    assert policy.calibrator_store_dir == "artifacts/stores/temperature"
    assert policy.calibration_method == "temperature"
    assert policy.reject_threshold == 0.55
    assert policy.per_user_reject_thresholds is None
    assert policy.source == "calibrate"
    assert policy_to_json(policy) == content


def test_taskclf_policy_matches_taskclf_bundle(taskclf_sample: Path) -> None:
    policy = parse_policy(_sample(taskclf_sample), source="policy.json")
    bundle = load_bundle(taskclf_sample / "bundle_v1")
    check_policy_matches(
        policy,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        label_set=bundle.label_set,
        store_method="temperature",
        source="policy.json",
    )


def test_paths_resolve_against_taskclf_home(tmp_path: Path) -> None:
    policy_path = tmp_path / "home" / "models" / "inference_policy.json"
    assert policy_home(policy_path) == tmp_path / "home"
    assert resolve_policy_path(policy_path, "models/b") == tmp_path / "home" / "models" / "b"
    # an absolute path stays absolute (pathlib joins it as taskclf does)
    assert resolve_policy_path(policy_path, "/opt/b") == Path("/opt/b")


def test_per_user_thresholds_apply_to_that_user_only() -> None:
    data = _valid() | {"per_user_reject_thresholds": {"u-bob": 0.8}}
    policy = parse_policy(json.dumps(data).encode(), source="p.json")
    assert policy.threshold_for("u-bob") == 0.8
    assert policy.threshold_for("u-alice") == 0.5


def test_unknown_keys_are_kept_on_rewrite() -> None:
    data = _valid() | {"_help": {"summary": "x"}}
    policy = parse_policy(json.dumps(data).encode(), source="p.json")
    assert json.loads(policy_to_json(policy))["_help"] == {"summary": "x"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_dir": ""}, "model_dir: expected a non-empty string"),
        ({"model_dir": None}, "model_dir: expected a non-empty string"),
        ({"model_schema_hash": 3}, "model_schema_hash: expected a non-empty string"),
        ({"model_label_set": ["Build"]}, "model_label_set: "),
        ({"model_label_set": "Build"}, "model_label_set: expected a list"),
        ({"reject_threshold": 1.5}, "reject_threshold: expected a number in [0, 1]"),
        ({"reject_threshold": True}, "reject_threshold: expected a number in [0, 1]"),
        ({"reject_threshold": "0.5"}, "reject_threshold: expected a number in [0, 1]"),
        ({"calibration_method": "platt"}, "calibration_method: expected temperature"),
        ({"policy_version": "v2"}, 'policy_version: expected "v1"'),
        ({"per_user_reject_thresholds": {"u": 2}}, "per_user_reject_thresholds.u"),
        ({"per_user_reject_thresholds": {"../x": 0.5}}, "not a valid user id"),
        ({"per_user_reject_thresholds": [1]}, "per_user_reject_thresholds: expected an object"),
        ({"created_at": 5}, "created_at: expected a string"),
    ],
)
def test_bad_policies_are_refused_naming_the_key(change: dict[str, Any], message: str) -> None:
    data = _valid() | change
    with pytest.raises(PolicyError, match=r"^p\.json: ") as info:
        parse_policy(json.dumps(data).encode(), source="p.json")
    assert message in str(info.value)


def test_missing_threshold_and_bad_json_are_refused() -> None:
    data = _valid()
    del data["reject_threshold"]
    with pytest.raises(PolicyError, match="reject_threshold: missing"):
        parse_policy(json.dumps(data).encode(), source="p.json")
    with pytest.raises(PolicyError, match="not valid JSON"):
        parse_policy(b'{"policy_version": "v1",', source="p.json")
    with pytest.raises(PolicyError, match="expected a JSON object"):
        parse_policy(b"[]", source="p.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema_hash": "other"}, "model_schema_hash is 'abc'"),
        ({"label_set": ("A", "B")}, "model_label_set"),
        ({"store_method": "isotonic"}, "calibration_method is 'temperature'"),
    ],
)
def test_policy_refused_against_another_model_or_store(
    kwargs: dict[str, Any], message: str
) -> None:
    data = _valid() | {"calibrator_store_dir": "s", "calibration_method": "temperature"}
    policy = parse_policy(json.dumps(data).encode(), source="p.json")
    args: dict[str, Any] = {
        "bundle_id": "b",
        "schema_hash": "abc",
        "label_set": CORE_LABELS,
        "store_method": "temperature",
    } | kwargs
    with pytest.raises(PolicyError, match=message):
        check_policy_matches(policy, source="p.json", **args)


@given(
    threshold=st.floats(0.0, 1.0),
    per_user=st.none()
    | st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), st.floats(0.0, 1.0), max_size=4
    ),
    store=st.none()
    | st.text(
        st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_categories=("Cc", "Zs")),
        min_size=1,
    ),
)
def test_round_trip(threshold: float, per_user: dict[str, float] | None, store: str | None) -> None:
    data = _valid() | {
        "reject_threshold": threshold,
        "per_user_reject_thresholds": per_user,
        "calibrator_store_dir": store,
        "calibration_method": "isotonic" if store else None,
    }
    policy = parse_policy(json.dumps(data).encode(), source="p.json")
    assert parse_policy(policy_to_json(policy), source="again") == policy
