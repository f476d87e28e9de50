"""The one exception tree of taskclf_core and the daemon.

    TaskclfError                      every error this project raises on purpose
    │   (bad input: the CLI exits 2 and prints the message)
    ├── WindowError                   a feature window is refused (names the field)
    ├── BundleError                   a model bundle cannot be loaded or saved
    ├── CalibrationError              a calibrator or CalibratorStore is invalid
    ├── TaxonomyError                 a taxonomy file is invalid
    ├── TrainingError                 training or calibration-fitting input is unusable
    ├── PolicyError                   an inference policy is invalid or does not fit its model
    ├── SpanError                     a label span (or a file of them) is invalid
    │   └── SpanOverlap               two spans of one user overlap with different labels
    │                                 (in taskclf_core.spans: it carries the two spans)
    ├── TimeError                     a time or day a person typed cannot be read (names the flag)
    ├── ActivityError                 ActivityWatch events cannot be read as taskclf expects
    ├── ConfigError                   settings are invalid (daemon side)
    ├── PublishError                  a destination we refuse to overwrite (a bundle, a store)
    └── OperationalError              the environment failed us, not the input (exit 1)
        ├── AlreadyRunning            another daemon holds this spool's or label log's lock
        ├── AlreadyExists             a file `init` will not replace without --force
        ├── LabelLogError             the label log cannot be made durable (fatal kind)
        ├── ServiceError              systemd/launchd could not be driven
        ├── UnreachableError          a server we read from (ActivityWatch) cannot be reached
        └── DemoError                 a step of `taskclf-daemon demo` failed

Every message names the file or field and what was expected. Only ``daemon.cli`` turns
these into exit codes (by ``daemon/exits.py``: OperationalError → 1, any other → 2).
"""

from __future__ import annotations

__all__ = [
    "ActivityError",
    "AlreadyExists",
    "AlreadyRunning",
    "BundleError",
    "CalibrationError",
    "ConfigError",
    "DemoError",
    "LabelLogError",
    "OperationalError",
    "PolicyError",
    "PublishError",
    "ServiceError",
    "SpanError",
    "TaskclfError",
    "TaxonomyError",
    "TimeError",
    "TrainingError",
    "UnreachableError",
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


class PolicyError(TaskclfError):
    """An inference policy is malformed or does not match the model it names."""


class SpanError(TaskclfError):
    """A label span, or a file of them, is invalid (names the line and field)."""


class TimeError(TaskclfError):
    """A time or day typed on the command line cannot be read (names the flag and the forms)."""


class ActivityError(TaskclfError):
    """ActivityWatch events or an export cannot be read (names the bucket or field)."""


class ConfigError(TaskclfError):
    """Settings are invalid (unknown key, missing model, bad path)."""


class PublishError(TaskclfError):
    """A destination exists and is not something we may replace."""


class OperationalError(TaskclfError):
    """The environment failed us (a lock held, a disk, a service manager): exit 1, not 2."""


class AlreadyRunning(OperationalError):
    """Another daemon holds the lock of this spool or label log."""


class AlreadyExists(OperationalError):
    """A file we must not replace without being told to (``init`` without ``--force``)."""


class LabelLogError(OperationalError):
    """The label log could not be made durable; nothing unlogged was acknowledged."""


class ServiceError(OperationalError):
    """systemd or launchd could not be driven (or is not there)."""


class UnreachableError(OperationalError):
    """A local server we read from did not answer."""


class DemoError(OperationalError):
    """A step of the demo failed; the message says which and why."""
