"""Train a LightGBM bundle (taskclf layout) from labelled feature windows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from taskclf_core._lgbm import NativeBooster
from taskclf_core.bundle import build_schema
from taskclf_core.errors import TrainingError, WindowError
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, N_CLASSES
from taskclf_core.schema import (
    UNKNOWN_TOKEN,
    ColumnKind,
    FeatureSchema,
    FeatureWindow,
    Registry,
    parse_window,
    registry,
)
from taskclf_core.types import FloatArray

__all__ = [
    "MIN_ROWS",
    "TrainedBundle",
    "TrainingSet",
    "challenger_columns",
    "check_holdout",
    "check_label",
    "check_training_rows",
    "parse_labelled_window",
    "train_bundle",
    "train_challenger",
]

MIN_ROWS = 50


@dataclass(frozen=True, slots=True)
class TrainedBundle:
    """The files of a bundle, ready for :func:`taskclf_core.bundle.save_bundle`."""

    model_text: str
    metadata: Mapping[str, Any]
    encoders: Mapping[str, tuple[str, ...]]
    metrics: Mapping[str, Any]


def check_label(where: str, obj: Mapping[str, Any]) -> int:
    """The class index of ``obj["label"]``; anything but a core label names ``where``."""
    label = obj.get("label")
    if label is None:
        raise TrainingError(f"{where}: label: missing (expected one of {list(CORE_LABELS)})")
    if not isinstance(label, str) or label not in LABEL_INDEX:
        raise TrainingError(
            f"{where}: label: {label!r} is not a core label (expected one of {list(CORE_LABELS)})"
        )
    return LABEL_INDEX[label]


def parse_labelled_window(
    where: str, obj: Mapping[str, Any], schema: FeatureSchema
) -> tuple[int, FeatureWindow]:
    """One labelled row → (class index, window); a refusal names ``where`` and the field."""
    label = check_label(where, obj)
    try:
        return label, parse_window({k: v for k, v in obj.items() if k != "label"}, schema)
    except WindowError as exc:
        raise TrainingError(f"{where}: {exc}") from None


def check_holdout(holdout: float) -> float:
    """``holdout`` if it is a fraction in [0, 1); the share of latest windows kept out."""
    if not 0.0 <= holdout < 1.0:
        raise TrainingError(f"holdout: expected a fraction in [0, 1), got {holdout}")
    return holdout


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Checked training rows (window + label dicts) and what the summary says about them."""

    windows: tuple[Mapping[str, Any], ...]
    schema_version: str
    users: tuple[str, ...]
    first: datetime
    last: datetime


def _schema_version(items: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    first_at: dict[str, str] = {}
    counts: dict[str, int] = {}
    for where, obj in items:
        version = obj.get("schema_version")
        if version is None:
            raise TrainingError(
                f"{where}: schema_version: missing (training needs it to pick taskclf's "
                "feature registry: v1, v2 or v3)"
            )
        if not isinstance(version, str) or registry(version) is None:
            raise TrainingError(
                f"{where}: schema_version: expected one of v1, v2, v3, got {version!r}"
            )
        first_at.setdefault(version, where)
        counts[version] = counts.get(version, 0) + 1
    if not first_at:
        raise TrainingError("no labelled windows")
    if len(first_at) > 1:
        found = ", ".join(
            f"{v} ({counts[v]} windows, first at {first_at[v]})" for v in sorted(first_at)
        )
        raise TrainingError(
            f"mixed schema versions in the training data: {found}; train one bundle per version"
        )
    return next(iter(first_at))


def check_training_rows(items: Sequence[tuple[str, Mapping[str, Any]]]) -> TrainingSet:
    """Every row a core label, one schema version, a valid window; errors name ``where``."""
    version = _schema_version(items)
    reg = registry(version)
    if reg is None:  # _schema_version checked it; this keeps mypy and -O honest
        raise TrainingError(f"schema_version: {version!r} has no feature registry")
    # empty vocabularies accept any category string; only types and ranges are checked here
    schema = build_schema({"schema_version": version, "schema_hash": reg.schema_hash}, {})
    users: set[str] = set()
    starts: list[datetime] = []
    for where, obj in items:
        _, window = parse_labelled_window(where, obj, schema)
        users.add(window.user_id)
        starts.append(window.bucket_start)
    if len(items) < MIN_ROWS:
        raise TrainingError(
            f"too few labelled windows to train: {len(items)} (need at least {MIN_ROWS})"
        )
    return TrainingSet(
        windows=tuple(obj for _, obj in items),
        schema_version=version,
        users=tuple(sorted(users)),
        first=min(starts),
        last=max(starts),
    )


def _f1_scores(y_true: npt.NDArray[np.int64], y_pred: npt.NDArray[np.int64]) -> dict[str, Any]:
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
    present = support > 0
    return {
        "macro_f1": round(float(f1[present].mean()) if present.any() else 0.0, 4),
        "weighted_f1": round(
            float((f1 * support).sum() / support.sum()) if support.sum() else 0.0, 4
        ),
        "confusion_matrix": confusion.tolist(),
        "label_names": list(CORE_LABELS),
    }


def _version_of(windows: Sequence[Mapping[str, Any]]) -> Registry:
    versions = {w.get("schema_version") for w in windows}
    if len(versions) != 1:
        raise TrainingError(
            f"mixed schema versions in the training data: {sorted(map(str, versions))}"
        )
    version = versions.pop()
    reg = registry(str(version)) if isinstance(version, str) else None
    if reg is None:
        raise TrainingError(f"schema_version: expected one of v1, v2, v3, got {version!r}")
    return reg


def _labels_of(windows: Sequence[Mapping[str, Any]]) -> npt.NDArray[np.int64]:
    labels = []
    for i, w in enumerate(windows):
        label = w.get("label")
        if label not in LABEL_INDEX:
            raise TrainingError(
                f"window {i}: label {label!r} is not a core label "
                f"(expected one of {list(CORE_LABELS)})"
            )
        labels.append(LABEL_INDEX[str(label)])
    return np.asarray(labels, dtype=np.int64)


def _encoders(
    windows: Sequence[Mapping[str, Any]], columns: Sequence[str], min_category_freq: int
) -> dict[str, tuple[str, ...]]:
    """Per categorical column: the values seen at least ``min_category_freq`` times, and
    ``__unknown__`` (taskclf's rare-category rule: a rarer value is encoded as unknown)."""
    out: dict[str, tuple[str, ...]] = {}
    for column in columns:
        counts = Counter(str(w[column]) for w in windows if isinstance(w.get(column), str))
        kept = {value for value, n in counts.items() if n >= min_category_freq}
        out[column] = tuple(sorted(kept | {UNKNOWN_TOKEN}))
    return out


def _rows(
    windows: Sequence[Mapping[str, Any]], schema: FeatureSchema
) -> tuple[FloatArray, list[datetime]]:
    rows = np.empty((len(windows), schema.n_features))
    starts = []
    for i, w in enumerate(windows):
        try:
            parsed = parse_window({k: v for k, v in w.items() if k != "label"}, schema)
        except WindowError as exc:
            raise TrainingError(f"window {i}: {exc}") from None
        rows[i] = parsed.features
        starts.append(parsed.bucket_start)
    return rows, starts


def _fit(
    x_train: FloatArray,
    y_train: npt.NDArray[np.int64],
    schema: FeatureSchema,
    *,
    rounds: int,
    seed: int,
    num_threads: int,
    unknown_mask_rate: float,
    extra_params: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Class-balanced multiclass LightGBM (taskclf's parameters, then ``extra_params``, as
    taskclf's ``train_lgbm`` takes them): model text and params."""
    import lightgbm as lgb  # heavy (pulls scikit-learn); only training needs it

    rng = np.random.default_rng(seed)
    x_train = x_train.copy()
    categorical = [i for i, k in enumerate(schema.kinds) if k is ColumnKind.CATEGORICAL]
    # like taskclf: hide a few categories behind __unknown__ so unseen apps get a sane code
    for i in categorical:
        unknown = schema.encode_category(schema.feature_columns[i], UNKNOWN_TOKEN)
        mask = rng.random(len(x_train)) < unknown_mask_rate
        x_train[mask, i] = unknown
    counts = np.bincount(y_train, minlength=N_CLASSES).astype(float)
    weights = len(y_train) / (N_CLASSES * np.maximum(counts, 1.0))
    params: dict[str, Any] = {
        "objective": "multiclass",
        "metric": "multi_logloss",
        "num_class": N_CLASSES,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        **(extra_params or {}),
    }
    dataset = lgb.Dataset(
        x_train,
        label=y_train,
        weight=weights[y_train],
        feature_name=list(schema.feature_columns),
        categorical_feature=categorical,
        free_raw_data=True,
    )
    booster = lgb.train(params, dataset, num_boost_round=rounds)
    params = {k: v for k, v in params.items() if k != "num_threads"} | {
        "num_boost_round": rounds,
        "class_weight_method": "balanced",
        "unknown_category_mask_rate": unknown_mask_rate,
    }
    return booster.model_to_string(), params


def train_bundle(
    windows: Sequence[Mapping[str, Any]],
    *,
    rounds: int = 100,
    seed: int = 0,
    holdout: float = 0.2,
    created_at: str,
    num_threads: int = 0,
    unknown_mask_rate: float = 0.05,
) -> TrainedBundle:
    """Fit a multiclass LightGBM on labelled windows (each a window plus ``label``).

    The latest ``holdout`` share of windows (by ``bucket_start_ts``) is kept out of
    training and scored for ``metrics.json``. Deterministic for a given ``seed``.
    """
    if len(windows) < MIN_ROWS:
        raise TrainingError(f"too few windows to train: {len(windows)} (need at least {MIN_ROWS})")
    reg = _version_of(windows)
    y = _labels_of(windows)
    check_holdout(holdout)

    encoders = _encoders(windows, reg.categorical_columns, 1)
    metadata: dict[str, Any] = {"schema_version": reg.version, "schema_hash": reg.schema_hash}
    schema = build_schema(metadata, encoders)
    rows, starts = _rows(windows, schema)
    order = np.argsort(np.asarray([s.timestamp() for s in starts]), kind="stable")
    n_train = len(order) - round(len(order) * holdout)
    if n_train < MIN_ROWS:
        raise TrainingError(f"too few windows left to train after the holdout: {n_train}")
    train_idx, test_idx = order[:n_train], order[n_train:]
    model_text, params = _fit(
        rows[train_idx],
        y[train_idx],
        schema,
        rounds=rounds,
        seed=seed,
        num_threads=num_threads,
        unknown_mask_rate=unknown_mask_rate,
    )
    metrics: dict[str, Any] = {"holdout_rows": len(test_idx)}
    if len(test_idx):
        booster = NativeBooster.from_string(model_text)
        pred = booster.predict_many(rows[test_idx]).argmax(axis=1)
        metrics.update(_f1_scores(y[test_idx], pred))
    first, last = starts[order[0]], starts[order[n_train - 1]]
    metadata.update(
        label_set=list(CORE_LABELS),
        # explicit columns keep the bundle readable by tools that lack taskclf's registry
        feature_columns=list(schema.feature_columns),
        categorical_columns=list(reg.categorical_columns),
        train_date_from=first.date().isoformat(),
        train_date_to=last.date().isoformat(),
        params=params,
        created_at=created_at,
        data_provenance="taskclf-daemon train",
        train_rows=int(n_train),
    )
    return TrainedBundle(
        model_text=model_text,
        metadata=metadata,
        encoders=encoders,
        metrics=metrics,
    )


def challenger_columns(
    version: str, *, user_id_feature: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Feature and categorical columns of a retrained model on ``version``'s windows.

    ``user_id`` is a categorical feature in taskclf's v1 registry; for v2 and v3 it is added
    as a last extra column (``metadata.json`` lists it in ``feature_columns`` and
    ``categorical_columns``, ``categorical_encoders.json`` holds the users it was trained on),
    so the windows stay the registry's rows and an unseen user gets the unknown code.
    """
    reg = registry(version)
    if reg is None:
        raise TrainingError(f"schema_version: expected one of v1, v2, v3, got {version!r}")
    features, categorical = reg.feature_columns, reg.categorical_columns
    if user_id_feature and "user_id" not in features:
        features, categorical = (*features, "user_id"), (*categorical, "user_id")
    elif not user_id_feature and "user_id" in features:
        raise TrainingError(f"schema {version}: user_id is one of its feature columns")
    return features, categorical


# A retrain's extra LightGBM parameters (taskclf's train_lgbm takes extra_params). LightGBM's
# categorical defaults ask 100 rows on each side of a categorical split (min_data_per_group)
# and add an L2 of 10 to its gain (cat_l2): a person with a few hundred labelled windows among
# a crowd's thousands seldom gets a split of their own on ``user_id``, which is what a retrain
# is for (a writer whose Write looks like others' ReadResearch stays ReadResearch). Smaller
# groups and L2, with more smoothing of a category's statistics toward the whole node
# (cat_smooth), let them. Measured in bench/RESULTS.md ("user_id that can split").
# Extremely randomised trees (extra_trees: one random threshold per feature at each split)
# on half the features fit a few hundred windows of look-alike tasks less tightly: more
# first models pass taskclf's gates, and held-out accuracy rises (bench/RESULTS.md, "the
# challenger's extremely randomised trees"). Half the features at each split
# (feature_fraction_bynode), not for each tree (feature_fraction): ``user_id`` can split in
# every tree, so a person's habit is learnt in every round instead of in half of them (the
# crowd's people with habits +0.6 points of held-out accuracy, first models about the same:
# bench/RESULTS.md, "half the features at each split").
CHALLENGER_PARAMS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "min_data_per_group": 20,
        "cat_l2": 1.0,
        "cat_smooth": 30.0,
        "extra_trees": True,
        "feature_fraction_bynode": 0.5,
    }
)


def train_challenger(
    windows: Sequence[Mapping[str, Any]],
    *,
    schema_version: str,
    created_at: str,
    user_id_feature: bool = True,
    rounds: int = 100,
    seed: int = 0,
    num_threads: int = 0,
    unknown_mask_rate: float = 0.05,
    min_category_freq: int = 5,
    extra_metadata: Mapping[str, Any] | None = None,
    extra_params: Mapping[str, Any] = CHALLENGER_PARAMS,
) -> TrainedBundle:
    """taskclf's ``train_lgbm`` for a retrain: every given window trains (no holdout here).

    The split, evaluation and gates are the caller's (:mod:`taskclf_core.retrain`). Windows
    are labelled rows of ``schema_version`` (taskclf's registry; a window without
    ``schema_version`` is taken as one). Class-balanced weights, taskclf's parameters, its
    rare-category rule (a value seen fewer than ``min_category_freq`` times is unknown) and
    ``user_id`` as a categorical feature (:func:`challenger_columns`), with
    :data:`CHALLENGER_PARAMS` on top of taskclf's parameters unless ``extra_params`` says
    otherwise.
    """
    reg = registry(schema_version)
    if reg is None:
        raise TrainingError(f"schema_version: expected one of v1, v2, v3, got {schema_version!r}")
    for i, w in enumerate(windows):
        if w.get("schema_version", schema_version) != schema_version:
            raise TrainingError(
                f"window {i}: schema_version {w.get('schema_version')!r}: the challenger is "
                f"trained on {schema_version} windows (the champion's schema)"
            )
    if not windows:
        raise TrainingError("no labelled windows to train on")
    y = _labels_of(windows)
    features, categorical = challenger_columns(schema_version, user_id_feature=user_id_feature)
    encoders = _encoders(windows, categorical, min_category_freq)
    metadata: dict[str, Any] = {
        "schema_version": reg.version,
        "schema_hash": reg.schema_hash,
        "feature_columns": list(features),
        "categorical_columns": list(categorical),
    }
    schema = build_schema(metadata, encoders)
    rows, starts = _rows(windows, schema)
    model_text, params = _fit(
        rows,
        y,
        schema,
        rounds=rounds,
        seed=seed,
        num_threads=num_threads,
        unknown_mask_rate=unknown_mask_rate,
        extra_params=extra_params,
    )
    metadata.update(
        label_set=list(CORE_LABELS),
        train_date_from=min(starts).date().isoformat(),
        train_date_to=max(starts).date().isoformat(),
        params=params | {"unknown_category_freq_threshold": min_category_freq},
        created_at=created_at,
        data_provenance="taskclf-daemon retrain",
        train_rows=len(windows),
        **(extra_metadata or {}),
    )
    return TrainedBundle(model_text=model_text, metadata=metadata, encoders=encoders, metrics={})
