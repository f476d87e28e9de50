"""Model bundles in taskclf's layout: load with integrity checks, save, predict one or many."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from taskclf_core._lgbm import NativeBooster
from taskclf_core.errors import BundleError
from taskclf_core.labels import CORE_LABELS, N_CLASSES
from taskclf_core.registries import declared_schema
from taskclf_core.schema import ColumnKind, FeatureSchema
from taskclf_core.types import FloatArray

__all__ = [
    "Model",
    "ModelBundle",
    "build_schema",
    "bundle_from_text",
    "load_bundle",
    "load_model",
    "save_bundle",
]


class Model(Protocol):
    """What labels windows: a loaded :class:`ModelBundle` or the rule baseline.

    ``schema`` parses the windows it is given; ``predict_*`` return class probabilities in
    CORE_LABELS order, rows summing to 1. ``fixed_reject_threshold`` is ``None`` for a model
    whose probabilities are calibrated and rejected by the policy's threshold; a model that
    makes its own reject decision (the baseline) names the threshold its outputs are meant
    for, and takes no calibrator.
    """

    @property
    def bundle_id(self) -> str: ...

    @property
    def schema(self) -> FeatureSchema: ...

    @property
    def schema_hash(self) -> str | None: ...

    @property
    def fixed_reject_threshold(self) -> float | None: ...

    @property
    def label_set(self) -> tuple[str, ...]: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...

    def predict_one(self, row: FloatArray) -> FloatArray: ...

    def predict_many(self, rows: FloatArray, *, num_threads: int = 0) -> FloatArray: ...


@dataclass(frozen=True, slots=True, eq=False)
class ModelBundle:
    """A loaded bundle: feature contract, label order and the booster (inference only).

    ``predict_one`` keeps a per-booster single-row buffer: call it from one thread.
    """

    bundle_id: str
    path: Path | None
    schema: FeatureSchema
    label_set: tuple[str, ...]
    metadata: Mapping[str, Any]
    booster: NativeBooster

    @property
    def schema_hash(self) -> str | None:
        return self.schema.schema_hash

    @property
    def fixed_reject_threshold(self) -> None:
        """A bundle's probabilities are calibrated and rejected by the policy's threshold."""
        return None

    def predict_one(self, row: FloatArray) -> FloatArray:
        """Class probabilities ``(8,)`` for one encoded row (LightGBM's single-row fast path)."""
        return self.booster.predict_one(row)

    def predict_many(self, rows: FloatArray, *, num_threads: int = 0) -> FloatArray:
        """Class probabilities ``(n, 8)`` for ``(n, features)`` rows in one LightGBM call."""
        return self.booster.predict_many(rows, num_threads=num_threads)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleError(f"{where}: expected a list of strings")
    return tuple(value)


def build_schema(
    metadata: Mapping[str, Any],
    encoders: Mapping[str, tuple[str, ...]],
    *,
    source: str = "metadata.json",
) -> FeatureSchema:
    """The feature contract a bundle's metadata describes (docs/windows.md)."""
    declared = declared_schema(metadata, source=source)
    version, declared_hash, reg = declared.version, declared.schema_hash, declared.registry
    if "feature_columns" in metadata:
        features = _str_list(metadata["feature_columns"], f"{source}: feature_columns")
    elif reg is not None:
        features = reg.feature_columns
    else:
        raise BundleError(
            f"{source}: schema_version {version!r} is not a taskclf registry version "
            "(v1, v2, v3) and feature_columns is missing"
        )
    if "categorical_columns" in metadata:
        categorical = set(
            _str_list(metadata["categorical_columns"], f"{source}: categorical_columns")
        )
    else:
        categorical = set(reg.categorical_columns) if reg is not None else set()
    types = reg.column_types if reg is not None else {}
    kinds = tuple(
        ColumnKind.CATEGORICAL
        if name in categorical
        else ColumnKind.BOOL
        if types.get(name) == "bool"
        else ColumnKind.NUMERIC
        for name in features
    )
    fill = metadata.get("numeric_fill", 0.0)
    try:  # float() of a JSON integer beyond float range overflows; refuse it like inf
        finite = math.isfinite(float(fill))
    except (TypeError, ValueError, OverflowError):
        finite = False
    if isinstance(fill, bool) or not isinstance(fill, int | float) or not finite:
        raise BundleError(f"{source}: numeric_fill: expected a finite number")
    return FeatureSchema(
        version=version,
        schema_hash=declared_hash
        if declared_hash is not None
        else (reg.schema_hash if reg else None),
        feature_columns=features,
        kinds=kinds,
        vocabularies={c: v for c, v in encoders.items() if c in categorical},
        numeric_fill=float(fill),
    )


def _check_tree_sizes(model_text: str, where: Path) -> None:
    """Refuse a truncated model.txt before LightGBM parses it.

    LightGBM trusts the header's ``tree_sizes`` and reads that many bytes past the first
    ``Tree=`` line without a bounds check, so a cut-off file crashes the process instead
    of raising. The trees must end exactly where the sizes say, at ``end of trees``.
    """
    data = model_text.encode("utf-8")
    first_tree = data.find(b"\nTree=")
    sizes_at = data.find(b"\ntree_sizes=", 0, first_tree if first_tree >= 0 else len(data))
    if sizes_at < 0:
        return  # without sizes LightGBM parses tree by tree and reports what it finds
    line = data[sizes_at + len(b"\ntree_sizes=") :].split(b"\n", 1)[0]
    try:
        sizes = [int(s) for s in line.split()]
    except ValueError:
        raise BundleError(f"{where}: tree_sizes: expected a list of integers") from None
    end = first_tree + 1 + sum(sizes)
    if first_tree < 0 or min(sizes, default=0) < 0 or not data.startswith(b"end of trees", end):
        raise BundleError(
            f"{where}: truncated or corrupt (the trees do not end where tree_sizes says)"
        )


def load_model(path: Path | str) -> Model:
    """What a model directory holds: a taskclf bundle, or the rule baseline (a directory whose
    ``metadata.json`` says ``"model_type": "rule_baseline"``, written by a standalone `init`).
    The id is the directory name either way."""
    from taskclf_core.baseline import baseline_from_metadata, is_baseline_metadata

    path = Path(path)
    if path.is_dir():
        metadata = _read_json(path / "metadata.json")
        if isinstance(metadata, dict) and is_baseline_metadata(metadata):
            return baseline_from_metadata(
                path.resolve().name, metadata, source=str(path / "metadata.json"), path=path
            )
    return load_bundle(path)


def load_bundle(path: Path | str) -> ModelBundle:
    """Load and check a taskclf-layout bundle; the bundle id is the directory name."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: expected a model bundle directory")
    metadata = _read_json(path / "metadata.json")
    if not isinstance(metadata, dict):
        raise BundleError(f"{path / 'metadata.json'}: expected a JSON object")
    encoders: dict[str, tuple[str, ...]] = {}
    enc_path = path / "categorical_encoders.json"
    if enc_path.exists():
        raw = _read_json(enc_path)
        if not isinstance(raw, dict):
            raise BundleError(f"{enc_path}: expected a JSON object of column -> vocabulary")
        encoders = {str(c): _str_list(v, f"{enc_path}: {c}") for c, v in raw.items()}
        for column, vocab in encoders.items():
            if len(set(vocab)) != len(vocab):
                # a repeated value would shift every later category code
                raise BundleError(f"{enc_path}: {column}: the vocabulary lists a value twice")
    try:
        model_text = (path / "model.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{path / 'model.txt'}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path / 'model.txt'}: cannot read ({exc})") from None
    return bundle_from_text(
        path.resolve().name,
        model_text=model_text,
        metadata=metadata,
        encoders=encoders,
        path=path,
    )


def bundle_from_text(
    bundle_id: str,
    *,
    model_text: str,
    metadata: Mapping[str, Any],
    encoders: Mapping[str, tuple[str, ...]],
    path: Path | None = None,
) -> ModelBundle:
    """A bundle from its files' contents (checked as :func:`load_bundle` checks them).

    ``path`` names the directory in messages; without one (a bundle just trained, not yet
    saved) messages name ``bundle_id``.
    """
    where = path if path is not None else Path(bundle_id)
    label_set = _str_list(metadata.get("label_set"), f"{where / 'metadata.json'}: label_set")
    if tuple(sorted(label_set)) != CORE_LABELS:
        raise BundleError(
            f"{where / 'metadata.json'}: label_set {sorted(label_set)} does not match the core "
            f"labels {list(CORE_LABELS)}"
        )
    schema = build_schema(metadata, encoders, source=str(where / "metadata.json"))
    _check_tree_sizes(model_text, where / "model.txt")
    try:
        booster = NativeBooster.from_string(model_text)
    except BundleError as exc:
        raise BundleError(f"{where / 'model.txt'}: not a LightGBM model ({exc})") from None
    if booster.num_classes != len(label_set) or booster.num_classes != N_CLASSES:
        raise BundleError(
            f"{where / 'model.txt'}: the model outputs {booster.num_classes} classes, "
            f"label_set has {len(label_set)}"
        )
    if booster.feature_names != schema.feature_columns:
        raise BundleError(
            f"{where / 'model.txt'}: the model's {booster.num_features} features do not match "
            f"the {len(schema.feature_columns)} feature columns of schema {schema.version}"
        )
    return ModelBundle(
        bundle_id=bundle_id,
        path=path,
        schema=schema,
        label_set=tuple(sorted(label_set)),
        metadata=MappingProxyType(dict(metadata)),
        booster=booster,
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def save_bundle(
    path: Path | str,
    *,
    model_text: str,
    metadata: Mapping[str, Any],
    encoders: Mapping[str, tuple[str, ...] | list[str]],
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write a bundle in taskclf's layout (``model.txt``, ``metadata.json``, encoders, metrics)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(path / "model.txt", model_text)
    _write_private(path / "metadata.json", json.dumps(dict(metadata), indent=2))
    _write_private(
        path / "categorical_encoders.json",
        json.dumps({c: sorted(v) for c, v in encoders.items()}, indent=2),
    )
    if metrics is not None:
        _write_private(path / "metrics.json", json.dumps(dict(metrics), indent=2))
    return path
