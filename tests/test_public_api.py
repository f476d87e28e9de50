"""The public API of taskclf_core is pinned, and importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import taskclf_core

PUBLIC = [
    "CORE_LABELS",
    "REJECT_LABEL",
    "BaselineModel",
    "BundleError",
    "CalibrationError",
    "Calibrator",
    "CalibratorStore",
    "ConfigError",
    "FeatureSchema",
    "FeatureWindow",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "IsotonicRegressor",
    "LabelRecord",
    "Model",
    "ModelBundle",
    "Policy",
    "SmoothingState",
    "Snapshot",
    "TaskclfError",
    "TaxonomyError",
    "TemperatureCalibrator",
    "TrainingError",
    "WindowError",
    "baseline_model",
    "label_window",
    "label_windows",
    "load_bundle",
    "load_calibrator_store",
    "parse_window",
    "save_bundle",
    "save_calibrator_store",
    "schema_hash",
]
HEAVY = ("lightgbm", "sklearn", "pandas", "scipy")


def test_all_is_pinned() -> None:
    # changing this list is an API change: update the pin, README and CHANGELOG together
    assert taskclf_core.__all__ == PUBLIC


def test_all_is_sorted_like_ruff_sorts_it() -> None:
    # constants first, then classes, then functions (isort-style), each group alphabetical
    def group(name: str) -> int:
        return 0 if name.isupper() else 1 if name[0].isupper() else 2

    assert sorted(PUBLIC, key=lambda n: (group(n), n)) == PUBLIC
    assert len(set(PUBLIC)) == len(PUBLIC)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in taskclf_core.__all__:
        value = getattr(taskclf_core, name)
        if callable(value):
            assert value.__doc__, f"{name} has no docstring"


def test_errors_share_one_root() -> None:
    for name in (
        "BundleError",
        "CalibrationError",
        "ConfigError",
        "TaxonomyError",
        "TrainingError",
        "WindowError",
    ):
        assert issubclass(getattr(taskclf_core, name), taskclf_core.TaskclfError)


def run_isolated(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; returns the heavy modules it ended up importing."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return imported


def test_import_does_not_pull_heavy_libraries() -> None:
    assert run_isolated("import taskclf_core") == []


def test_inference_does_not_pull_heavy_libraries(bundle_dir: object) -> None:
    # loading a bundle and labelling a window uses LightGBM's C library, never the package
    code = f"""
    import numpy as np
    import taskclf_core as tc
    bundle = tc.load_bundle({str(bundle_dir)!r})
    store = tc.CalibratorStore(tc.TemperatureCalibrator(1.5))
    policy = tc.Policy()
    window = tc.parse_window(
        {{"user_id": "u", "bucket_start_ts": "2026-01-05T09:00:00",
          "bucket_end_ts": "2026-01-05T09:01:00"}},
        bundle.schema,
    )
    state, record = tc.label_window(
        tc.Snapshot(bundle, store, policy), policy.empty_state(), window,
        source="s", processed_at="t",
    )
    assert record.calibrator == "global"
    """
    assert run_isolated(code) == []


def test_the_rule_baseline_labels_without_lightgbm_at_all() -> None:
    # a standalone install labels from minute one: no bundle, no LightGBM library loaded
    code = """
    import ctypes, sys
    import taskclf_core as tc
    model = tc.baseline_model()
    policy = tc.Policy()
    window = tc.parse_window(
        {"user_id": "u", "bucket_start_ts": "2026-01-05T09:00:00",
         "bucket_end_ts": "2026-01-05T09:01:00", "active_seconds_any": 1.0},
        model.schema,
    )
    state, record = tc.label_window(
        tc.Snapshot(model, None, policy), policy.empty_state(), window,
        source="s", processed_at="t",
    )
    assert (record.label, record.model_bundle_id) == ("BreakIdle", "baseline")
    from taskclf_core import _lgbm
    assert _lgbm._library.cache_info().currsize == 0
    """
    assert run_isolated(code) == []
