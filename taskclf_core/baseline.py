"""taskclf's rule baseline (``infer/baseline.py``) as a model: it labels until one is trained."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from taskclf_core.errors import BundleError
from taskclf_core.ids import BASELINE_ID, BASELINE_MODEL_TYPE, is_baseline_metadata
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, N_CLASSES
from taskclf_core.schema import UNKNOWN_TOKEN, ColumnKind, FeatureSchema, registry
from taskclf_core.types import FloatArray, IntArray

__all__ = [
    "BASELINE_ID",
    "BASELINE_MODEL_TYPE",
    "BASELINE_REJECT_THRESHOLD",
    "BASELINE_SCHEMA_VERSION",
    "EVIDENCE_COLUMNS",
    "BaselineModel",
    "BaselineThresholds",
    "baseline_from_metadata",
    "baseline_metadata",
    "baseline_model",
    "contradicts",
    "has_input_data",
    "idle_evidence",
    "is_baseline_metadata",
]

# taskclf's LATEST_FEATURE_SCHEMA_VERSION: what a standalone install collects
BASELINE_SCHEMA_VERSION: Final = "v3"
# the baseline accepts a rule's answer (probability 1) and rejects everything else
# (probability 1/8 each), whatever threshold the policy sets for models
BASELINE_REJECT_THRESHOLD: Final = 1.0
_LOCKSCREEN: Final = "lockscreen"

# the columns the rules read, in the order of taskclf's rules; kinds follow the registry
_COLUMNS: Final = (
    ("app_category", ColumnKind.CATEGORICAL),
    ("active_seconds_any", ColumnKind.NUMERIC),
    ("max_idle_run_seconds", ColumnKind.NUMERIC),
    ("is_browser", ColumnKind.BOOL),
    ("scroll_events_per_min", ColumnKind.NUMERIC),
    ("keys_per_min", ColumnKind.NUMERIC),
    ("is_editor", ColumnKind.BOOL),
    ("is_terminal", ColumnKind.BOOL),
    ("shortcut_rate", ColumnKind.NUMERIC),
)
_APP_CATEGORY, _ACTIVE, _MAX_IDLE, _BROWSER, _SCROLL, _KEYS, _EDITOR, _TERMINAL, _SHORTCUT = range(
    len(_COLUMNS)
)
_BREAK_IDLE = LABEL_INDEX["BreakIdle"]
_READ_RESEARCH = LABEL_INDEX["ReadResearch"]
_BUILD = LABEL_INDEX["Build"]
_NONE = -1


@dataclass(frozen=True, slots=True)
class BaselineThresholds:
    """taskclf's ``core/defaults.py`` ``BASELINE_*`` values (the rules' keyword arguments)."""

    idle_active: float = 5.0  # active_seconds_any below this: idle
    idle_run: float = 50.0  # max_idle_run_seconds above this: idle
    scroll_high: float = 3.0  # scroll_events_per_min above this: "high scroll"
    keys_low: float = 10.0  # keys_per_min below this: "low typing"
    keys_high: float = 30.0  # keys_per_min above this: "high typing"
    shortcut_high: float = 1.0  # shortcut_rate above this: "high shortcuts"


def _reading(value: object) -> float | None:
    """A finite JSON number as a float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# the columns aw-watcher-input's samples fill (taskclf leaves them null without any)
_INPUT_COLUMNS: Final = (
    "keys_per_min",
    "clicks_per_min",
    "scroll_events_per_min",
    "mouse_distance",
    "active_seconds_any",
)


def has_input_data(window: Mapping[str, Any]) -> bool:
    """Whether a window carries keyboard or mouse data: some column aw-watcher-input's samples
    fill is set. Without aw-watcher-input (ActivityWatch's default install has none) no
    window does; with it, only minutes without a single sample (nobody there) lack it."""
    return any(_reading(window.get(c)) is not None for c in _INPUT_COLUMNS)


def idle_evidence(
    window: Mapping[str, Any], thresholds: BaselineThresholds = BaselineThresholds()
) -> bool | None:
    """What taskclf's BreakIdle rule says of one feature window, as evidence of being away.

    True on the lock screen, or when the input data says idle (``active_seconds_any`` below
    ``idle_active``, or ``max_idle_run_seconds`` above ``idle_run``); False when it says
    active; None without input data. The rule itself calls a window without input data idle
    (taskclf reads a missing ``active_seconds_any`` as -1), which is no evidence: without
    aw-watcher-input every window would be "away".
    """
    if on_lock_screen(window):
        return True
    active = _reading(window.get("active_seconds_any"))
    if active is None or active < 0.0:
        return None
    idle_run = _reading(window.get("max_idle_run_seconds"))
    return active < thresholds.idle_active or (idle_run or 0.0) > thresholds.idle_run


# the columns idle_evidence and contradicts read of a window
EVIDENCE_COLUMNS: Final = ("app_category", "active_seconds_any", "max_idle_run_seconds")


def contradicts(window: Mapping[str, Any], label: str) -> bool:
    """Whether the machine says ``label`` is wrong for this window: labelled BreakIdle while
    the input data calls it active (:func:`idle_evidence` False), or labelled a task while on
    the lock screen. A task the input data calls idle is not contradicted: a meeting listened
    to or a page read is quiet work, and its one window often sits at its start."""
    if label == "BreakIdle":
        return idle_evidence(window) is False
    return on_lock_screen(window)


def on_lock_screen(window: Mapping[str, Any]) -> bool:
    """Whether the window in front was the lock screen (taskclf's ``lockscreen`` category)."""
    return window.get("app_category") == _LOCKSCREEN


def _schema(version: str) -> FeatureSchema:
    reg = registry(version)
    if reg is None:
        raise BundleError(
            f"schema_version: expected one of v1, v2, v3 for the rule baseline, got {version!r}"
        )
    return FeatureSchema(
        version=reg.version,
        schema_hash=reg.schema_hash,
        feature_columns=tuple(name for name, _ in _COLUMNS),
        kinds=tuple(kind for _, kind in _COLUMNS),
        vocabularies={"app_category": (UNKNOWN_TOKEN, _LOCKSCREEN)},
        # a missing value stays missing: the rules treat null per column, as taskclf does
        numeric_fill=float("nan"),
    )


def _or(column: FloatArray, default: float) -> FloatArray:
    """taskclf's ``_safe_float``: a missing (NaN) value reads as ``default``."""
    return np.where(np.isnan(column), default, column)


@dataclass(frozen=True, slots=True, eq=False)
class BaselineModel:
    """taskclf's rule baseline behind a bundle's interface (:class:`taskclf_core.bundle.Model`).

    Rules in taskclf's priority order: BreakIdle (lock screen; ``active_seconds_any`` missing,
    negative or below ``idle_active``; ``max_idle_run_seconds`` above ``idle_run``), then
    ReadResearch (a browser, scroll above ``scroll_high``, keys below ``keys_low``), then
    Build (an editor or terminal, keys above ``keys_high``, shortcuts above
    ``shortcut_high``), else no answer. As probabilities: a rule's class gets 1; no answer is
    uniform (1/8 each, so ``core_label`` is the first class, BreakIdle, by the argmax's
    tie rule), which :data:`BASELINE_REJECT_THRESHOLD` (1.0) rejects to Mixed/Unknown.
    Only the nine columns the rules read are parsed; windows of the schema version it was
    made for are accepted (others are refused, as a bundle refuses them).
    """

    schema: FeatureSchema
    thresholds: BaselineThresholds = field(default_factory=BaselineThresholds)
    bundle_id: str = BASELINE_ID
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None

    @property
    def schema_hash(self) -> str | None:
        return self.schema.schema_hash

    @property
    def label_set(self) -> tuple[str, ...]:
        return CORE_LABELS

    @property
    def fixed_reject_threshold(self) -> float:
        return BASELINE_REJECT_THRESHOLD

    def classes_many(self, rows: FloatArray) -> IntArray:
        """The rule's class index per row, ``-1`` where no rule fires (taskclf's Mixed/Unknown)."""
        x = np.asarray(rows, dtype=np.float64).reshape(-1, len(_COLUMNS))
        t = self.thresholds
        lockscreen = self.schema.encode_category("app_category", _LOCKSCREEN)
        active = _or(x[:, _ACTIVE], -1.0)  # no collector data is idle
        idle = (
            (x[:, _APP_CATEGORY] == lockscreen)
            | (active < 0.0)
            | (active < t.idle_active)
            | (_or(x[:, _MAX_IDLE], 0.0) > t.idle_run)
        )
        keys = _or(x[:, _KEYS], 0.0)
        reading = (
            (_or(x[:, _BROWSER], 0.0) != 0.0)
            & (_or(x[:, _SCROLL], 0.0) > t.scroll_high)
            & (keys < t.keys_low)
        )
        building = (
            ((_or(x[:, _EDITOR], 0.0) != 0.0) | (_or(x[:, _TERMINAL], 0.0) != 0.0))
            & (keys > t.keys_high)
            & (_or(x[:, _SHORTCUT], 0.0) > t.shortcut_high)
        )
        chosen = np.select([idle, reading, building], [_BREAK_IDLE, _READ_RESEARCH, _BUILD], _NONE)
        return chosen.astype(np.intp)

    def predict_many(self, rows: FloatArray, *, num_threads: int = 0) -> FloatArray:
        """``(n, 8)``: 1 for the rule's class, or 1/8 everywhere where no rule fires."""
        classes = self.classes_many(rows)
        probs = np.full((classes.size, N_CLASSES), 1.0 / N_CLASSES)
        hit = np.flatnonzero(classes != _NONE)
        probs[hit] = 0.0
        probs[hit, classes[hit]] = 1.0
        return probs

    def predict_one(self, row: FloatArray) -> FloatArray:
        """``(8,)`` for one parsed row (see :meth:`predict_many`)."""
        out: FloatArray = self.predict_many(np.asarray(row)[np.newaxis, :])[0]
        return out


def baseline_model(
    schema_version: str = BASELINE_SCHEMA_VERSION,
    thresholds: BaselineThresholds | None = None,
) -> BaselineModel:
    """The rule baseline for windows of ``schema_version`` (taskclf's v1, v2 or v3)."""
    return BaselineModel(_schema(schema_version), thresholds or BaselineThresholds())


# --- the baseline as a directory the policy can name -------------------------------------


def baseline_metadata(
    schema_version: str = BASELINE_SCHEMA_VERSION, thresholds: BaselineThresholds | None = None
) -> dict[str, Any]:
    """The ``metadata.json`` of a baseline directory: what a standalone install puts in force
    until a model is trained. No ``created_at``: it was never trained, so a retrain is due."""
    schema = _schema(schema_version)
    return {
        "model_type": BASELINE_MODEL_TYPE,
        "schema_version": schema.version,
        "schema_hash": schema.schema_hash,
        "label_set": list(CORE_LABELS),
        "thresholds": asdict(thresholds or BaselineThresholds()),
        "data_provenance": "taskclf's infer/baseline.py rules, core/defaults.py thresholds; "
        "not trained",
    }


def baseline_from_metadata(
    bundle_id: str, metadata: Mapping[str, Any], *, source: str, path: Path | None = None
) -> BaselineModel:
    """The rule baseline a baseline directory describes; a bad field names ``source``."""
    version = metadata.get("schema_version")
    if not isinstance(version, str):
        raise BundleError(f"{source}: schema_version: expected one of v1, v2, v3")
    schema = _schema(version)
    declared = metadata.get("schema_hash")
    if declared is not None and declared != schema.schema_hash:
        raise BundleError(
            f"{source}: schema_hash {declared!r} does not match schema_version {version!r} "
            f"(expected {schema.schema_hash!r})"
        )
    raw = metadata.get("thresholds", {})
    if not isinstance(raw, Mapping):
        raise BundleError(f"{source}: thresholds: expected an object of numbers")
    known = {f.name for f in fields(BaselineThresholds)}
    values: dict[str, float] = {}
    for name, value in raw.items():
        if name not in known:
            raise BundleError(f"{source}: thresholds: unknown rule threshold {name!r}")
        number = _reading(value)
        if number is None:
            raise BundleError(f"{source}: thresholds: {name}: expected a finite number")
        values[name] = number
    return BaselineModel(
        schema,
        BaselineThresholds(**values),
        bundle_id=bundle_id,
        metadata=MappingProxyType(dict(metadata)),
        path=path,
    )
