"""Calibrators (identity, temperature, isotonic) and the per-user CalibratorStore with its IO."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from taskclf_core.errors import CalibrationError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.labels import N_CLASSES
from taskclf_core.types import FloatArray

__all__ = [
    "Calibrator",
    "CalibratorKind",
    "CalibratorStore",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "IsotonicRegressor",
    "TemperatureCalibrator",
    "calibrate_rows",
    "calibrator_from_json",
    "calibrator_to_json",
    "check_store_matches",
    "load_calibrator_store",
    "parse_calibrator_store",
    "read_store_files",
    "save_calibrator_store",
    "store_files",
    "store_id_of",
]

CalibratorKind = Literal["user", "global", "identity"]
_EPS = 1e-12


@runtime_checkable
class Calibrator(Protocol):
    """Maps model probabilities (``(k,)`` or ``(n, k)``) to calibrated ones of the same shape.

    Contract (checked over every implementation by the tests): output in [0, 1], rows sum
    to 1, shape kept, deterministic, the input array is never modified.
    """

    def calibrate(self, probs: FloatArray) -> FloatArray: ...


@dataclass(frozen=True, slots=True)
class IdentityCalibrator:
    """Returns the probabilities unchanged (a copy, so callers never share buffers)."""

    def calibrate(self, probs: FloatArray) -> FloatArray:
        return np.array(probs, dtype=np.float64, copy=True)


@dataclass(frozen=True, slots=True)
class TemperatureCalibrator:
    """``softmax(log(clip(p, 1e-12)) / T)``: T > 1 softens, T < 1 sharpens."""

    temperature: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise CalibrationError(
                f"temperature: expected a finite number > 0, got {self.temperature!r}"
            )

    def calibrate(self, probs: FloatArray) -> FloatArray:
        if self.temperature == 1.0:
            # taskclf returns the input untouched at T=1; matching it keeps results bit-equal
            return np.array(probs, dtype=np.float64, copy=True)
        scaled = np.log(np.clip(probs, _EPS, None)) / self.temperature
        scaled -= scaled.max(axis=-1, keepdims=True)
        np.exp(scaled, out=scaled)
        scaled /= scaled.sum(axis=-1, keepdims=True)
        return scaled


@dataclass(frozen=True, slots=True, eq=False)
class IsotonicRegressor:
    """One class's fitted isotonic map, as sklearn's ``IsotonicRegression`` stores it."""

    x_thresholds: FloatArray
    y_thresholds: FloatArray
    x_min: float
    x_max: float
    increasing: bool = True
    out_of_bounds: str = "clip"
    _clip: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        x = np.array(self.x_thresholds, dtype=np.float64)
        y = np.array(self.y_thresholds, dtype=np.float64)
        if x.ndim != 1 or y.ndim != 1 or x.size == 0 or x.size != y.size:
            raise CalibrationError(
                "X_thresholds_/y_thresholds_: expected two non-empty lists of equal length, "
                f"got {x.size} and {y.size}"
            )
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise CalibrationError("X_thresholds_/y_thresholds_: expected finite numbers")
        if np.any(np.diff(x) < 0):
            raise CalibrationError("X_thresholds_: expected thresholds sorted ascending")
        if not (math.isfinite(self.x_min) and math.isfinite(self.x_max)):
            raise CalibrationError("X_min_/X_max_: expected finite numbers")
        if self.out_of_bounds != "clip":
            raise CalibrationError(f"out_of_bounds: expected 'clip', got {self.out_of_bounds!r}")
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "x_thresholds", x)
        object.__setattr__(self, "y_thresholds", y)
        # np.interp already holds the end values outside the thresholds; sklearn's clip to
        # [X_min_, X_max_] only matters when those lie inside them (never for fitted ones)
        inside = self.x_min > x[0] or self.x_max < x[-1]
        object.__setattr__(self, "_clip", inside)

    def predict(self, p: FloatArray) -> FloatArray:
        """sklearn's predict: clip to [X_min_, X_max_], interpolate between thresholds."""
        if self._clip:
            p = np.clip(p, self.x_min, self.x_max)
        return np.interp(p, self.x_thresholds, self.y_thresholds)


@dataclass(frozen=True, slots=True, eq=False)
class IsotonicCalibrator:
    """Per-class isotonic maps (numpy interpolation; no sklearn at inference), renormalised."""

    regressors: tuple[IsotonicRegressor, ...]

    def __post_init__(self) -> None:
        if not self.regressors:
            raise CalibrationError("regressors: expected one regressor per class, got none")

    def calibrate(self, probs: FloatArray) -> FloatArray:
        p = np.asarray(probs, dtype=np.float64)
        if p.shape[-1] != len(self.regressors):
            raise CalibrationError(
                f"isotonic calibrator has {len(self.regressors)} regressors, "
                f"probabilities have {p.shape[-1]} classes"
            )
        out = np.empty(p.shape, dtype=np.float64)
        for c, regressor in enumerate(self.regressors):
            out[..., c] = regressor.predict(p[..., c])
        np.clip(out, _EPS, None, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out


# --- JSON (taskclf layout) ---------------------------------------------------------


def calibrator_to_json(calibrator: Calibrator) -> dict[str, Any]:
    """The JSON object taskclf writes for ``calibrator``."""
    if isinstance(calibrator, IdentityCalibrator):
        return {"type": "identity"}
    if isinstance(calibrator, TemperatureCalibrator):
        return {"type": "temperature", "temperature": calibrator.temperature}
    if isinstance(calibrator, IsotonicCalibrator):
        return {
            "type": "isotonic",
            "regressors": [
                {
                    "X_thresholds_": r.x_thresholds.tolist(),
                    "y_thresholds_": r.y_thresholds.tolist(),
                    "X_min_": float(r.x_min),
                    "X_max_": float(r.x_max),
                    "increasing_": bool(r.increasing),
                    "out_of_bounds": r.out_of_bounds,
                }
                for r in calibrator.regressors
            ],
        }
    raise CalibrationError(f"cannot serialise calibrator of type {type(calibrator).__name__}")


def _finite_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalibrationError(f"{where}: expected a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # a JSON integer literal beyond float range
        raise CalibrationError(
            f"{where}: expected a finite number, got an out-of-range integer"
        ) from None


def calibrator_from_json(data: object, *, source: str, n_classes: int = N_CLASSES) -> Calibrator:
    """Parse and validate one calibrator object; errors name ``source`` and the field."""
    try:
        if not isinstance(data, dict):
            raise CalibrationError("expected a JSON object")
        kind = data.get("type")
        if kind is None:
            raise CalibrationError("type: missing (expected identity, temperature or isotonic)")
        if kind == "identity":
            return IdentityCalibrator()
        if kind == "temperature":
            t = _finite_number(data.get("temperature"), "temperature")
            return TemperatureCalibrator(t)
        if kind == "isotonic":
            raw = data.get("regressors")
            if not isinstance(raw, list) or len(raw) != n_classes:
                got = len(raw) if isinstance(raw, list) else type(raw).__name__
                raise CalibrationError(
                    f"regressors: expected {n_classes} regressors (one per class), got {got}"
                )
            regressors = []
            for i, r in enumerate(raw):
                if not isinstance(r, dict):
                    raise CalibrationError(f"regressors[{i}]: expected a JSON object")
                try:
                    regressors.append(
                        IsotonicRegressor(
                            x_thresholds=np.asarray(r.get("X_thresholds_"), dtype=np.float64),
                            y_thresholds=np.asarray(r.get("y_thresholds_"), dtype=np.float64),
                            x_min=_finite_number(r.get("X_min_"), "X_min_"),
                            x_max=_finite_number(r.get("X_max_"), "X_max_"),
                            increasing=bool(r.get("increasing_", True)),
                            out_of_bounds=str(r.get("out_of_bounds", "clip")),
                        )
                    )
                except (TypeError, ValueError, OverflowError) as exc:
                    raise CalibrationError(
                        f"regressors[{i}]: expected numeric threshold lists ({exc})"
                    ) from None
                except CalibrationError as exc:
                    raise CalibrationError(f"regressors[{i}].{exc}") from None
            return IsotonicCalibrator(tuple(regressors))
        raise CalibrationError(
            f"type: unknown calibrator type {kind!r} (expected identity, temperature or isotonic)"
        )
    except CalibrationError as exc:
        raise CalibrationError(f"{source}: {exc}") from None


# --- the store -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CalibratorStore:
    """A global calibrator plus per-user calibrators for eligible users (taskclf layout)."""

    global_calibrator: Calibrator
    user_calibrators: Mapping[str, Calibrator] = field(default_factory=dict)
    method: str = "temperature"
    model_bundle_id: str | None = None
    model_schema_hash: str | None = None
    created_at: str | None = None
    store_id: str = field(init=False)

    def __post_init__(self) -> None:
        for user_id in self.user_calibrators:
            if not is_safe_user_id(user_id):
                raise CalibrationError(f"user id {user_id!r} is not a safe file name")
        object.__setattr__(self, "user_calibrators", MappingProxyType(dict(self.user_calibrators)))
        object.__setattr__(self, "store_id", store_id_of(store_files(self)))

    @property
    def user_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.user_calibrators))

    def calibrator_for(
        self, user_id: str, *, personalized: bool = True
    ) -> tuple[CalibratorKind, Calibrator]:
        """The user's own calibrator when allowed and present, else the global one."""
        if personalized:
            own = self.user_calibrators.get(user_id)
            if own is not None:
                return "user", own
        return "global", self.global_calibrator


def _dumps(data: object) -> bytes:
    # taskclf writes json.dumps(indent=2) with no trailing newline; byte-compatible on purpose
    return json.dumps(data, indent=2).encode()


def store_files(store: CalibratorStore) -> dict[str, bytes]:
    """The store's files as ``{relative posix path: bytes}``, exactly as they are written."""
    meta: dict[str, Any] = {
        "method": store.method,
        "user_count": len(store.user_calibrators),
        "user_ids": sorted(store.user_calibrators),
    }
    for key in ("model_bundle_id", "model_schema_hash", "created_at"):
        value = getattr(store, key)
        if value is not None:
            meta[key] = value
    files = {
        "store.json": _dumps(meta),
        "global.json": _dumps(calibrator_to_json(store.global_calibrator)),
    }
    for user_id in sorted(store.user_calibrators):
        files[f"users/{user_id}.json"] = _dumps(calibrator_to_json(store.user_calibrators[user_id]))
    return files


def store_id_of(files: Mapping[str, bytes]) -> str:
    """First 12 hex of SHA-256 over the files in path order, each as ``path NUL size NUL bytes``."""
    digest = hashlib.sha256()
    for path in sorted(files):
        content = files[path]
        digest.update(f"{path}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]


def _parse_json(path: str, content: bytes) -> Any:
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{path}: not valid JSON ({exc})") from None


def parse_calibrator_store(files: Mapping[str, bytes], *, source: str) -> CalibratorStore:
    """Build a store from its files' bytes (as read from disk); refuse it whole if anything is off.

    The returned store's ``store_id`` is computed over ``files`` as given, so it names exactly
    the bytes that were validated.
    """
    if "store.json" not in files:
        raise CalibrationError(f"{source}/store.json: missing")
    meta = _parse_json(f"{source}/store.json", files["store.json"])
    if not isinstance(meta, dict):
        raise CalibrationError(f"{source}/store.json: expected a JSON object")
    method = meta.get("method")
    if not isinstance(method, str):
        raise CalibrationError(f"{source}/store.json: method: expected a string")
    user_ids = meta.get("user_ids", [])
    if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
        raise CalibrationError(f"{source}/store.json: user_ids: expected a list of strings")
    if len(set(user_ids)) != len(user_ids):
        raise CalibrationError(f"{source}/store.json: user_ids: duplicate user id")
    count = meta.get("user_count", len(user_ids))
    if count != len(user_ids):
        raise CalibrationError(
            f"{source}/store.json: user_count is {count!r} but user_ids lists {len(user_ids)}"
        )
    for key in ("model_bundle_id", "model_schema_hash", "created_at"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise CalibrationError(f"{source}/store.json: {key}: expected a string")
    if "global.json" not in files:
        raise CalibrationError(f"{source}/global.json: missing")
    global_cal = calibrator_from_json(
        _parse_json(f"{source}/global.json", files["global.json"]), source=f"{source}/global.json"
    )
    users: dict[str, Calibrator] = {}
    folded: dict[str, str] = {}
    for user_id in user_ids:
        other = folded.setdefault(user_id.casefold(), user_id)
        if other != user_id:
            # on case-insensitive filesystems (macOS) both would share one users/ file
            raise CalibrationError(
                f"{source}/store.json: user ids {other!r} and {user_id!r} differ only in case"
            )
    for user_id in user_ids:
        if not is_safe_user_id(user_id):
            raise CalibrationError(
                f"{source}/store.json: user id {user_id!r} is not a safe file name"
            )
        rel = f"users/{user_id}.json"
        if rel not in files:
            raise CalibrationError(f"{source}/{rel}: missing (listed in store.json user_ids)")
        users[user_id] = calibrator_from_json(
            _parse_json(f"{source}/{rel}", files[rel]), source=f"{source}/{rel}"
        )
    store = CalibratorStore(
        global_calibrator=global_cal,
        user_calibrators=users,
        method=method,
        model_bundle_id=meta.get("model_bundle_id"),
        model_schema_hash=meta.get("model_schema_hash"),
        created_at=meta.get("created_at"),
    )
    # the id names the bytes on disk, not our re-serialisation of them
    object.__setattr__(store, "store_id", store_id_of(files))
    return store


def read_store_files(path: Path) -> dict[str, bytes]:
    """Read the files a store at ``path`` consists of; unreadable ones raise CalibrationError."""

    def read(rel: str) -> bytes:
        try:
            return (path / rel).read_bytes()
        except OSError as exc:
            raise CalibrationError(f"{path / rel}: cannot read ({exc.strerror or exc})") from None

    if not path.is_dir():
        raise CalibrationError(f"{path}: expected a CalibratorStore directory")
    files = {"store.json": read("store.json")}
    meta = _parse_json(f"{path}/store.json", files["store.json"])
    files["global.json"] = read("global.json")
    user_ids = meta.get("user_ids", []) if isinstance(meta, dict) else []
    if isinstance(user_ids, list):
        for user_id in user_ids:
            if isinstance(user_id, str) and is_safe_user_id(user_id):
                rel = f"users/{user_id}.json"
                if (path / rel).exists():
                    files[rel] = read(rel)
    return files


def load_calibrator_store(path: Path | str) -> CalibratorStore:
    """Read and validate the store directory at ``path`` (taskclf layout)."""
    path = Path(path)
    # resolve once: a symlink swapped mid-read must not mix files of two stores
    return parse_calibrator_store(read_store_files(path.resolve()), source=str(path))


def check_store_matches(
    store: CalibratorStore, *, bundle_id: str, schema_hash: str | None, source: str = "store"
) -> None:
    """Refuse a store fitted for another bundle (when it records which one).

    A bundle's id is its directory name, so a bundle that was copied or renamed loses the
    identity its stores record: the message says so and how to get it back.
    """
    stored_hash = store.model_schema_hash
    if stored_hash is not None and schema_hash is not None and stored_hash != schema_hash:
        raise CalibrationError(
            f"{source}/store.json: model_schema_hash is {stored_hash!r}, "
            f"the loaded model's is {schema_hash!r}: the store was fitted for a model with "
            "other features; fit a store for this model (taskclf-daemon calibrate)"
        )
    if store.model_bundle_id is not None and store.model_bundle_id != bundle_id:
        fitted = store.model_bundle_id
        raise CalibrationError(
            f"{source}/store.json: model_bundle_id: the store was fitted for bundle {fitted!r}, "
            f"but the bundle directory is named {bundle_id!r} (a bundle's id is its directory "
            f"name). If it is the same model, rename the directory to {fitted!r} or point "
            f"model_dir (or the inference policy) at the original {fitted!r} directory; "
            "otherwise fit a store for this model"
        )


def save_calibrator_store(store: CalibratorStore, path: Path | str) -> Path:
    """Write ``store`` into directory ``path`` (created; 0700 dirs, 0600 files).

    Not atomic on its own: write into a fresh directory and rename it into place.
    """
    path = Path(path)
    (path / "users").mkdir(parents=True, exist_ok=True, mode=0o700)
    for rel, content in store_files(store).items():
        target = path / rel
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
    return path


def calibrate_rows(
    store: CalibratorStore | None,
    probs: FloatArray,
    user_ids: Sequence[str],
    personalized: Sequence[bool],
) -> tuple[FloatArray, list[CalibratorKind]]:
    """Calibrate each row with its user's calibrator; one vectorised call per calibrator."""
    if store is None:
        return np.array(probs, dtype=np.float64, copy=True), ["identity"] * len(user_ids)
    if len(user_ids) == 1:  # a lone window: no grouping to pay for
        kind, calibrator = store.calibrator_for(user_ids[0], personalized=personalized[0])
        return calibrator.calibrate(probs), [kind]
    out = np.empty_like(probs, dtype=np.float64)
    kinds: list[CalibratorKind] = []
    groups: dict[int, tuple[Calibrator, list[int]]] = {}
    for i, (user_id, allowed) in enumerate(zip(user_ids, personalized, strict=True)):
        kind, calibrator = store.calibrator_for(user_id, personalized=allowed)
        kinds.append(kind)
        groups.setdefault(id(calibrator), (calibrator, []))[1].append(i)
    for calibrator, rows in groups.values():
        out[rows] = calibrator.calibrate(probs[rows])
    return out, kinds
