"""Fitting calibrators offline: personalization eligibility, temperature, isotonic and the store."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IsotonicCalibrator,
    IsotonicRegressor,
    TemperatureCalibrator,
)
from taskclf_core.errors import TrainingError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, N_CLASSES
from taskclf_core.metrics import checked_probs_labels, nll
from taskclf_core.types import FloatArray, IntArray

__all__ = [
    "MIN_CLASS_EXAMPLES",
    "EligibilityReport",
    "StoreFit",
    "TemperatureFit",
    "check_personalization_eligible",
    "fit_calibrator_store",
    "fit_isotonic_calibrator",
    "fit_temperature_calibrator",
    "grid_temperature",
]

Method = Literal["temperature", "isotonic"]
_EPS = 1e-12
# "at a bound" means within this relative distance of it
_AT_BOUND_RTOL = 1e-3
_BETA_RTOL = 1e-13


# --- eligibility -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EligibilityReport:
    """Whether one user has enough labelled data for a per-user calibrator, and why not.

    ``reason`` is empty when eligible, else names every failed threshold (``"windows 199 <
    200; days 2 < 3"``), ``"no labelled windows"`` for an unknown user or ``"opted out"``.
    """

    user_id: str
    windows: int
    days: int
    labels: int
    eligible: bool
    reason: str = ""


def _utc_day(ts: object) -> date:
    if not isinstance(ts, datetime):
        raise TrainingError(f"bucket_starts: expected datetime values, got {type(ts).__name__}")
    # naive means UTC, as everywhere in taskclf_core (schema.parse_ts)
    if ts.tzinfo is None or ts.utcoffset() is None:
        return ts.date()
    return ts.astimezone(UTC).date()


def _report(
    user_id: str,
    starts: Iterable[datetime],
    labels: Iterable[str],
    *,
    min_windows: int,
    min_days: int,
    min_labels: int,
) -> EligibilityReport:
    starts = list(starts)
    if not starts:
        return EligibilityReport(user_id, 0, 0, 0, False, "no labelled windows")
    windows = len(starts)
    days = len({_utc_day(ts) for ts in starts})
    n_labels = len(set(labels))
    failed = [
        f"{name} {got} < {need}"
        for name, got, need in (
            ("windows", windows, min_windows),
            ("days", days, min_days),
            ("labels", n_labels, min_labels),
        )
        if got < need
    ]
    return EligibilityReport(user_id, windows, days, n_labels, not failed, "; ".join(failed))


def check_personalization_eligible(
    user_ids: Sequence[str],
    bucket_starts: Sequence[datetime],
    labels: Sequence[str],
    user_id: str,
    *,
    min_windows: int = 200,
    min_days: int = 3,
    min_labels: int = 3,
) -> EligibilityReport:
    """Count ``user_id``'s labelled windows, distinct UTC days and distinct labels.

    The three sequences are parallel columns (one entry per labelled window). Days are the
    UTC calendar dates of ``bucket_starts`` (naive datetimes are taken as UTC); taskclf used
    the timestamps' own dates, which is the same for its UTC timestamps. Every threshold is
    inclusive (``>=``). An unknown user gets zero counts and is not eligible.
    """
    if not len(user_ids) == len(bucket_starts) == len(labels):
        raise TrainingError(
            "user_ids/bucket_starts/labels: expected equal lengths, got "
            f"{len(user_ids)}, {len(bucket_starts)} and {len(labels)}"
        )
    rows = [i for i, uid in enumerate(user_ids) if uid == user_id]
    return _report(
        user_id,
        (bucket_starts[i] for i in rows),
        (labels[i] for i in rows),
        min_windows=min_windows,
        min_days=min_days,
        min_labels=min_labels,
    )


# --- input checks ------------------------------------------------------------------------


def _fit_inputs(probs: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    """Validated ``(n, k)`` probabilities in [0, 1] and ``(n,)`` class indices, n >= 1."""
    p, labels = checked_probs_labels(probs, y)
    if p.shape[0] == 0:
        raise TrainingError("probs: no rows to fit a calibrator on")
    if p.shape[1] < 2:
        raise TrainingError(
            f"probs: expected a 2-D (n, k) array with k >= 2 classes, got shape {p.shape}"
        )
    if p.min() < 0.0 or p.max() > 1.0:
        raise TrainingError(
            f"probs: expected probabilities in [0, 1], got values from {p.min()} to {p.max()}"
        )
    return p, labels


# --- temperature -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemperatureFit:
    """How a temperature was fitted: the optimum, the NLL the calibrator achieves, the bounds.

    ``at_bound`` is true when the optimum lies within 0.1 % of a bound, i.e. the bound (not
    the data) chose the temperature and a wider range might fit better.
    """

    temperature: float
    nll: float
    at_bound: bool
    bounds: tuple[float, float]


def _scaled_logits(p: FloatArray) -> FloatArray:
    return np.log(np.clip(p, _EPS, None))


def _temperature_terms(z: FloatArray, zy: FloatArray, beta: float) -> tuple[float, float, float]:
    """NLL of ``softmax(beta * z)`` and its first two derivatives in ``beta = 1 / T``.

    In ``beta`` the NLL is convex: d/dbeta = mean(E_q[z] - z_y), d2/dbeta2 = mean(Var_q[z]).
    """
    s = beta * z
    s_max = s.max(axis=1, keepdims=True)
    e = np.exp(s - s_max)
    total = e.sum(axis=1)
    q = e / total[:, None]
    ez = np.sum(q * z, axis=1)
    var = np.sum(q * (z - ez[:, None]) ** 2, axis=1)
    value = float(np.mean(s_max[:, 0] + np.log(total) - beta * zy))
    return value, float(np.mean(ez - zy)), float(np.mean(var))


def _optimal_temperature(z: FloatArray, zy: FloatArray, lo: float, hi: float) -> float:
    """Minimise the NLL over ``T`` in ``[lo, hi]``: bracketed bisection on log T + Newton.

    Because the NLL is convex in ``beta = 1/T``, the sign of its derivative brackets the
    optimum; each step is a Newton step in ``beta`` when it stays inside the bracket and a
    bisection of the bracket in log T otherwise, so it converges to machine precision.
    """
    b_lo, b_hi = 1.0 / hi, 1.0 / lo
    if _temperature_terms(z, zy, b_lo)[1] >= 0.0:
        return hi  # NLL still falling as T grows: the upper bound is the constrained optimum
    if _temperature_terms(z, zy, b_hi)[1] <= 0.0:
        return lo
    beta = 1.0 if b_lo < 1.0 < b_hi else math.sqrt(b_lo * b_hi)
    for _ in range(200):
        _, grad, curv = _temperature_terms(z, zy, beta)
        if grad == 0.0:
            break
        if grad < 0.0:
            b_lo = beta
        else:
            b_hi = beta
        delta = grad / curv if curv > 0.0 else math.nan
        if abs(delta) <= _BETA_RTOL * beta:
            # a Newton step this small leaves an NLL error of order its square; going on would
            # only chase rounding noise in the gradient
            beta = min(max(beta - delta, b_lo), b_hi)
            break
        step = beta - delta
        beta = step if b_lo < step < b_hi else math.sqrt(b_lo * b_hi)
        if b_hi - b_lo <= _BETA_RTOL * b_hi:
            break
    return 1.0 / beta


def fit_temperature_calibrator(
    probs: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    bounds: tuple[float, float] = (0.05, 20.0),
) -> tuple[TemperatureCalibrator, TemperatureFit]:
    """The temperature in ``bounds`` minimising mean NLL of ``softmax(log(clip(p, 1e-12)) / T)``.

    ``probs`` is ``(n, k)`` model probabilities, ``y`` the ``(n,)`` true class indices (taskclf
    took them the other way round). Unlike taskclf's two-pass grid (:func:`grid_temperature`)
    the optimum is continuous, so its NLL is never above the grid's for any grid temperature
    inside ``bounds``. Data on which every temperature scores the same (all rows uniform)
    gives ``T = 1`` (or the bound nearest to it).
    """
    lo, hi = (float(b) for b in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo < hi):
        raise TrainingError(f"bounds: expected 0 < low < high (finite), got {bounds!r}")
    p, labels = _fit_inputs(probs, y)
    z = _scaled_logits(p)
    zy = z[np.arange(labels.size), labels]
    if float(np.max(np.ptp(z, axis=1))) == 0.0:
        # every row is flat, so T changes nothing: keep the identity map
        temperature = min(max(1.0, lo), hi)
    else:
        temperature = _optimal_temperature(z, zy, lo, hi)
    calibrator = TemperatureCalibrator(temperature)
    at_bound = (
        abs(temperature - lo) <= _AT_BOUND_RTOL * lo or abs(temperature - hi) <= _AT_BOUND_RTOL * hi
    )
    fit = TemperatureFit(
        temperature=temperature,
        nll=nll(calibrator.calibrate(p), labels),
        at_bound=at_bound,
        bounds=(lo, hi),
    )
    return calibrator, fit


def grid_temperature(probs: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """taskclf's two-pass grid search, kept as the reference the optimiser is tested against.

    Starts from T = 1, scans 0.1..5.0 step 0.1, then ±0.1 around the best at step 0.01
    (never below 0.01), keeps the first strict improvement and rounds to 4 decimals.
    """
    p, labels = _fit_inputs(probs, y)
    z = _scaled_logits(p)
    rows = np.arange(labels.size)

    def score(t: float) -> float:
        scaled = z / t
        scaled -= scaled.max(axis=1, keepdims=True)
        e = np.exp(scaled)
        q = e / e.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(np.clip(q[rows, labels], _EPS, None))))

    best_t, best = 1.0, score(1.0)
    # the same np.arange calls as taskclf, so the grid points are bit-identical
    for t in np.arange(0.1, 5.05, 0.1):
        value = score(float(t))
        if value < best:
            best_t, best = float(t), value
    for t in np.arange(max(0.01, best_t - 0.1), best_t + 0.1 + 0.005, 0.01):
        value = score(float(t))
        if value < best:
            best_t, best = float(t), value
    return round(best_t, 4)


# --- isotonic ----------------------------------------------------------------------------


# A class's own isotonic map needs this many windows of the class and as many of the
# others: fitted from fewer it is a step or two, e.g. from a single example flat near 0,
# which silences the class for good (the per-user guard cannot see it when the held-out
# slice has none of that class). Below it the class keeps the map under it: a per-user
# calibrator the global calibrator's map, the global calibrator the model's own probability.
MIN_CLASS_EXAMPLES = 30

_IDENTITY_MAP = IsotonicRegressor(
    x_thresholds=np.array([0.0, 1.0]), y_thresholds=np.array([0.0, 1.0]), x_min=0.0, x_max=1.0
)


def _fallback_map(fallback: Calibrator | None, c: int) -> IsotonicRegressor:
    """Class ``c``'s map under a new fit: the fallback's own when it is isotonic, else x -> x."""
    if isinstance(fallback, IsotonicCalibrator) and len(fallback.regressors) > c:
        return fallback.regressors[c]
    return _IDENTITY_MAP


def fit_isotonic_calibrator(
    probs: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    fallback: Calibrator | None = None,
    min_class_examples: int = MIN_CLASS_EXAMPLES,
) -> IsotonicCalibrator:
    """Per class ``c``, sklearn's isotonic regression of ``y == c`` on ``probs[:, c]``.

    One-vs-rest as taskclf; each fit's thresholds are copied into an
    :class:`IsotonicRegressor`, so applying it needs numpy only. A class with fewer than
    ``min_class_examples`` rows of it, or of the other classes, is not fitted: it takes
    ``fallback``'s map for that class (an isotonic calibrator's, e.g. the global one under
    a per-user fit), else the identity map.
    """
    p, labels = _fit_inputs(probs, y)
    if isinstance(min_class_examples, bool) or not isinstance(min_class_examples, int):
        raise TrainingError(f"min_class_examples: expected an integer, got {min_class_examples!r}")
    # imported here: sklearn takes ~1.6 s to import and only offline fitting needs it
    from sklearn.isotonic import IsotonicRegression

    regressors = []
    for c in range(p.shape[1]):
        positives = int(np.count_nonzero(labels == c))
        if min(positives, labels.size - positives) < min_class_examples:
            regressors.append(_fallback_map(fallback, c))
            continue
        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(p[:, c], (labels == c).astype(np.float64))
        regressors.append(
            IsotonicRegressor(
                x_thresholds=np.array(model.X_thresholds_, dtype=np.float64),
                y_thresholds=np.array(model.y_thresholds_, dtype=np.float64),
                x_min=float(model.X_min_),
                x_max=float(model.X_max_),
            )
        )
    return IsotonicCalibrator(tuple(regressors))


# --- the store ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreFit:
    """A fitted store, one eligibility report per user (sorted by id) and temperature fits.

    ``global_fit``/``user_fits`` are filled for the temperature method only.
    """

    store: CalibratorStore
    reports: tuple[EligibilityReport, ...]
    global_fit: TemperatureFit | None = None
    user_fits: Mapping[str, TemperatureFit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_fits", MappingProxyType(dict(self.user_fits)))


def _fit(
    method: Method, probs: FloatArray, y: IntArray, fallback: Calibrator | None = None
) -> tuple[Calibrator, TemperatureFit | None]:
    if method == "isotonic":
        return fit_isotonic_calibrator(probs, y, fallback=fallback), None
    return fit_temperature_calibrator(probs, y)


def fit_calibrator_store(
    probs: npt.ArrayLike,
    y: npt.ArrayLike,
    user_ids: Sequence[str],
    bucket_starts: Sequence[datetime],
    labels: Sequence[str] | None = None,
    *,
    method: Method = "temperature",
    model_bundle_id: str | None = None,
    model_schema_hash: str | None = None,
    created_at: str | None = None,
    min_windows: int = 200,
    min_days: int = 3,
    min_labels: int = 3,
    exclude_users: Collection[str] = (),
    global_calibrator: Calibrator | None = None,
    eligibility: Mapping[str, EligibilityReport] | None = None,
) -> StoreFit:
    """A global calibrator on all rows plus one per eligible, not opted-out user.

    ``probs`` is the frozen model's ``(n, 8)`` output on labelled validation windows, ``y``
    the true class indices; ``user_ids`` and ``bucket_starts`` are per row. ``labels`` (label
    names) default to ``CORE_LABELS[y]``; when given they must agree with ``y``. Users in
    ``exclude_users`` (opted out of personalization) still count towards the global
    calibrator but get no own one and a report with reason ``"opted out"``. ``created_at``
    is passed in because taskclf_core reads no clock. A ``global_calibrator`` given is
    carried over unchanged instead of fitted (``global_fit`` is then ``None``): personalizing
    a store in force must not move everyone else's calibration. ``eligibility`` per user,
    when given, replaces the count over these rows (the guard counts all of a user's
    labelled windows, of which these rows are the part to fit on). A per-user isotonic map
    of a class with too few examples is the global calibrator's
    (:data:`MIN_CLASS_EXAMPLES`).
    """
    if isinstance(exclude_users, str):
        # a bare string would silently exclude its characters instead of the user
        raise TrainingError("exclude_users: expected a collection of user ids, got a string")
    if method not in ("temperature", "isotonic"):
        raise TrainingError(f"method: expected 'temperature' or 'isotonic', got {method!r}")
    p, classes = _fit_inputs(probs, y)
    n = classes.size
    if p.shape[1] != N_CLASSES:
        raise TrainingError(f"probs: expected {N_CLASSES} class columns, got {p.shape[1]}")
    if len(user_ids) != n or len(bucket_starts) != n:
        raise TrainingError(
            f"user_ids/bucket_starts: expected {n} entries (one per row), "
            f"got {len(user_ids)} and {len(bucket_starts)}"
        )
    if labels is None:
        names: Sequence[str] = [CORE_LABELS[c] for c in classes]
    else:
        if len(labels) != n:
            raise TrainingError(f"labels: expected {n} entries (one per row), got {len(labels)}")
        for i, (name, c) in enumerate(zip(labels, classes, strict=True)):
            if LABEL_INDEX.get(name) != c:
                raise TrainingError(
                    f"labels[{i}]: {name!r} disagrees with y[{i}] = {c} ({CORE_LABELS[c]})"
                )
        names = labels

    rows_of: dict[str, list[int]] = {}
    for i, uid in enumerate(user_ids):
        rows_of.setdefault(uid, []).append(i)
    for uid in rows_of:
        if not isinstance(uid, str) or not is_safe_user_id(uid):
            raise TrainingError(f"user_ids: {uid!r} is not a safe user id (it names a file)")

    global_fit: TemperatureFit | None = None
    if global_calibrator is None:
        global_cal, global_fit = _fit(method, p, classes)
    else:
        global_cal = global_calibrator
    reports: list[EligibilityReport] = []
    user_cals: dict[str, Calibrator] = {}
    user_fits: dict[str, TemperatureFit] = {}
    opted_out = frozenset(exclude_users)
    for uid in sorted(rows_of):
        rows = rows_of[uid]
        given = eligibility.get(uid) if eligibility is not None else None
        report = given or _report(
            uid,
            (bucket_starts[i] for i in rows),
            (names[i] for i in rows),
            min_windows=min_windows,
            min_days=min_days,
            min_labels=min_labels,
        )
        if uid in opted_out:
            report = EligibilityReport(
                uid, report.windows, report.days, report.labels, False, "opted out"
            )
        reports.append(report)
        if not report.eligible:
            continue
        idx = np.asarray(rows, dtype=np.intp)
        user_cal, user_fit = _fit(method, p[idx], classes[idx], global_cal)
        user_cals[uid] = user_cal
        if user_fit is not None:
            user_fits[uid] = user_fit

    store = CalibratorStore(
        global_calibrator=global_cal,
        user_calibrators=user_cals,
        method=method,
        model_bundle_id=model_bundle_id,
        model_schema_hash=model_schema_hash,
        created_at=created_at,
    )
    return StoreFit(store, tuple(reports), global_fit, user_fits)
