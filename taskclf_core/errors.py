"""The one exception tree of taskclf_core and the daemon.

    TaskclfError                      every error this project raises on purpose
    ├── WindowError                   a feature window is refused (names the field)
    ├── BundleError                   a model bundle cannot be loaded or saved
    ├── CalibrationError              a calibrator or CalibratorStore is invalid
    ├── TaxonomyError                 a taxonomy file is invalid
    ├── TrainingError                 training or calibration-fitting input is unusable
    └── ConfigError                   settings are invalid (daemon side)

Every message names the file or field and what was expected.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "CalibrationError",
    "ConfigError",
    "TaskclfError",
    "TaxonomyError",
    "TrainingError",
    "WindowError",
]


class TaskclfError(Exception):
    """Root of every error raised on purpose by taskclf_core and the daemon."""


class WindowError(TaskclfError):
    """A feature window was refused; ``field`` names the offending key (or ``None``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BundleError(TaskclfError):
    """A model bundle is missing, malformed or incompatible."""


class CalibrationError(TaskclfError):
    """A calibrator or CalibratorStore is malformed or does not fit the loaded bundle."""


class TaxonomyError(TaskclfError):
    """A taxonomy file is malformed."""


class TrainingError(TaskclfError):
    """Training data or options are unusable."""


class ConfigError(TaskclfError):
    """Settings are invalid (unknown key, missing model, bad path)."""
