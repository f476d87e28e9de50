"""taskclf_core: pure inference and calibration for taskclf's task-type classifier."""

from taskclf_core.bundle import ModelBundle, load_bundle, save_bundle
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

__all__ = [
    "CORE_LABELS",
    "REJECT_LABEL",
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
    "ModelBundle",
    "Policy",
    "SmoothingState",
    "Snapshot",
    "TaskclfError",
    "TaxonomyError",
    "TemperatureCalibrator",
    "TrainingError",
    "WindowError",
    "label_window",
    "label_windows",
    "load_bundle",
    "load_calibrator_store",
    "parse_window",
    "save_bundle",
    "save_calibrator_store",
    "schema_hash",
]
