"""taskclf_core: pure inference and calibration for taskclf's task-type classifier."""

# Names resolve on first use (PEP 562): `taskclf-daemon status` must not pay for numpy and
# LightGBM just because it needs the error classes.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskclf_core.baseline import BaselineModel, baseline_model
    from taskclf_core.bundle import Model, ModelBundle, load_bundle, save_bundle
    from taskclf_core.calibration import (
        Calibrator,
        CalibratorStore,
        IdentityCalibrator,
        IsotonicCalibrator,
        IsotonicRegressor,
        TemperatureCalibrator,
        load_calibrator_store,
        save_calibrator_store,
    )
    from taskclf_core.errors import (
        BundleError,
        CalibrationError,
        ConfigError,
        TaskclfError,
        TaxonomyError,
        TrainingError,
        WindowError,
    )
    from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
    from taskclf_core.pipeline import Policy, Snapshot, label_window, label_windows
    from taskclf_core.record import LabelRecord
    from taskclf_core.schema import FeatureSchema, FeatureWindow, parse_window, schema_hash
    from taskclf_core.smoothing import SmoothingState

_EXPORTS = {
    "BaselineModel": "taskclf_core.baseline",
    "BundleError": "taskclf_core.errors",
    "CORE_LABELS": "taskclf_core.labels",
    "CalibrationError": "taskclf_core.errors",
    "Calibrator": "taskclf_core.calibration",
    "CalibratorStore": "taskclf_core.calibration",
    "ConfigError": "taskclf_core.errors",
    "FeatureSchema": "taskclf_core.schema",
    "FeatureWindow": "taskclf_core.schema",
    "IdentityCalibrator": "taskclf_core.calibration",
    "IsotonicCalibrator": "taskclf_core.calibration",
    "IsotonicRegressor": "taskclf_core.calibration",
    "LabelRecord": "taskclf_core.record",
    "Model": "taskclf_core.bundle",
    "ModelBundle": "taskclf_core.bundle",
    "Policy": "taskclf_core.pipeline",
    "REJECT_LABEL": "taskclf_core.labels",
    "SmoothingState": "taskclf_core.smoothing",
    "Snapshot": "taskclf_core.pipeline",
    "TaskclfError": "taskclf_core.errors",
    "TaxonomyError": "taskclf_core.errors",
    "TemperatureCalibrator": "taskclf_core.calibration",
    "TrainingError": "taskclf_core.errors",
    "WindowError": "taskclf_core.errors",
    "baseline_model": "taskclf_core.baseline",
    "label_window": "taskclf_core.pipeline",
    "label_windows": "taskclf_core.pipeline",
    "load_bundle": "taskclf_core.bundle",
    "load_calibrator_store": "taskclf_core.calibration",
    "parse_window": "taskclf_core.schema",
    "save_bundle": "taskclf_core.bundle",
    "save_calibrator_store": "taskclf_core.calibration",
    "schema_hash": "taskclf_core.schema",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'taskclf_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
