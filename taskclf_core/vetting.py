"""Vet a CalibratorStore on held-out data: fit per user, keep only what does not overfit."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    TemperatureCalibrator,
    calibrate_rows,
)
from taskclf_core.errors import TrainingError
from taskclf_core.fitting import (
    EligibilityReport,
    Method,
    check_personalization_eligible,
    fit_calibrator_store,
)
from taskclf_core.labels import CORE_LABELS
from taskclf_core.metrics import CalibrationMetrics, accepted_accuracy, calibration_metrics, nll
from taskclf_core.schema import FeatureSchema
from taskclf_core.training import check_holdout, parse_labelled_window
from taskclf_core.types import FloatArray, IntArray

__all__ = [
    "DEFAULT_REJECT_THRESHOLD",
    "ECE_BINS",
    "GUARD_CONFIDENCE",
    "GUARD_RESAMPLES",
    "CalibrationOutcome",
    "CalibrationReport",
    "LabelledWindows",
    "UserReport",
    "calibrate_windows",
    "nll_gain_bound",
    "parse_labelled",
    "split_by_time",
    "vet_probs",
]

# "previous": the new fit lost to global on held-out but the user's previous calibrator
# (personalize only) did not, so the previous one stays
Decision = Literal["kept", "previous", "dropped", "n.a."]
ECE_BINS = 15
DEFAULT_REJECT_THRESHOLD = 0.55  # taskclf's DEFAULT_REJECT_THRESHOLD
_NLL_TOLERANCE = 1e-12
# the guard keeps a per-user calibrator only when its held-out NLL gain over global holds in
# GUARD_CONFIDENCE of GUARD_RESAMPLES paired bootstrap resamples of the user's held-out windows
GUARD_CONFIDENCE = 0.95
GUARD_RESAMPLES = 2000
_GUARD_SEED = 21  # deterministic: the same windows always get the same verdict


# --- input -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class LabelledWindows:
    """Validated labelled windows as model input, one row each in input order (read-only)."""

    features: FloatArray
    y: IntArray
    user_ids: tuple[str, ...]
    starts: tuple[datetime, ...]

    def __len__(self) -> int:
        return len(self.user_ids)


def parse_labelled(
    items: Iterable[tuple[str, Mapping[str, Any]]], schema: FeatureSchema
) -> LabelledWindows:
    """``(where, window + label)`` pairs → model rows; a refused row names ``where`` and field."""
    rows: list[FloatArray] = []
    labels: list[int] = []
    users: list[str] = []
    starts: list[datetime] = []
    for where, obj in items:
        label, window = parse_labelled_window(where, obj, schema)
        labels.append(label)
        rows.append(window.features)
        users.append(window.user_id)
        starts.append(window.bucket_start)
    if not rows:
        raise TrainingError("no labelled windows to calibrate on")
    features = np.stack(rows)
    y = np.asarray(labels, dtype=np.intp)
    features.flags.writeable = False
    y.flags.writeable = False
    return LabelledWindows(features, y, tuple(users), tuple(starts))


def split_by_time(
    user_ids: Sequence[str], starts: Sequence[datetime], holdout: float
) -> tuple[IntArray, IntArray]:
    """Row indices per user: the earliest ``1 - holdout`` share to fit, the latest to vet.

    Every user keeps at least one fitting row, so a user with one window holds none out.
    """
    check_holdout(holdout)
    by_user: dict[str, list[int]] = {}
    for i, uid in enumerate(user_ids):
        by_user.setdefault(uid, []).append(i)
    fit: list[int] = []
    held: list[int] = []
    for rows in by_user.values():
        rows.sort(key=lambda i: starts[i])  # stable: equal times keep input order
        n_held = min(round(len(rows) * holdout), len(rows) - 1)
        fit.extend(rows[: len(rows) - n_held])
        held.extend(rows[len(rows) - n_held :])
    return np.asarray(sorted(fit), dtype=np.intp), np.asarray(sorted(held), dtype=np.intp)


# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class UserReport:
    """One user's row: eligibility (on all their labelled windows), the guard's decision and
    what it compared (NLL and accuracy at the reject threshold of the per-user calibrator it
    judged, against global), held-out scores.
    """

    eligibility: EligibilityReport
    windows: int
    held_out: int
    decision: Decision
    note: str
    guard_user_nll: float | None
    guard_global_nll: float | None
    temperature: float | None
    before: CalibrationMetrics
    after: CalibrationMetrics
    # held-out scores of the global calibrator and of this run's per-user fit (if one was fitted)
    global_scores: CalibrationMetrics | None = None
    user_scores: CalibrationMetrics | None = None
    guard_user_accuracy: float | None = None
    guard_global_accuracy: float | None = None
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    # the lower GUARD_CONFIDENCE bound of the mean per-window NLL gain over global (paired
    # bootstrap of the held-out windows): kept only when it is above 0
    guard_nll_gain_low: float | None = None
    # this run's per-user fit, kept or not (benches judge the guard's decision with it)
    fitted: Calibrator | None = None

    @property
    def user_id(self) -> str:
        return self.eligibility.user_id

    @property
    def fit_windows(self) -> int:
        """The earliest windows a per-user calibrator is fitted on (the rest vet it)."""
        return self.windows - self.held_out


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """What `calibrate` prints and writes with ``--json``; scores come from taskclf_core.metrics."""

    bundle_id: str
    schema_hash: str | None
    method: str
    holdout: float
    thresholds: Mapping[str, int]
    opted_out: tuple[str, ...]
    store_id: str
    created_at: str | None
    windows: int
    fit_windows: int
    held_out_windows: int
    global_temperature: float | None
    before: CalibrationMetrics
    after: CalibrationMetrics
    users: tuple[UserReport, ...]
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD

    def to_json(self) -> dict[str, Any]:
        return {
            "model": {"bundle_id": self.bundle_id, "schema_hash": self.schema_hash},
            "store": {
                "id": self.store_id,
                "method": self.method,
                "created_at": self.created_at,
                "user_ids": [u.user_id for u in self.users if u.decision == "kept"],
                "global_temperature": _num(self.global_temperature),
            },
            "data": {
                "windows": self.windows,
                "users": len(self.users),
                "fit_windows": self.fit_windows,
                "held_out_windows": self.held_out_windows,
                "holdout": self.holdout,
                "split": "per user by bucket_start_ts: earliest share fits, latest is held out",
            },
            "eligibility": {
                **self.thresholds,
                "counted_on": "all labelled windows",
                "opted_out": list(self.opted_out),
            },
            "guard": {
                "compares": (
                    "held-out NLL, and accuracy at the reject threshold on the held-out and "
                    "on all labelled windows, per user"
                ),
                "reject_threshold": self.reject_threshold,
                "nll_gain": (
                    f"the mean per-window NLL gain over global must be above 0 at its lower "
                    f"{GUARD_CONFIDENCE:.0%} bound (paired bootstrap, {GUARD_RESAMPLES} "
                    "resamples of the user's held-out windows, seeded)"
                ),
            },
            "metrics": {"ece_bins": ECE_BINS, "evaluated_on": "held-out windows"},
            "global": {"before": _scores(self.before), "after": _scores(self.after)},
            "users": [_user_json(u) for u in self.users],
        }


def _num(value: float | None) -> float | None:
    # JSON has no NaN: an empty held-out slice has no score
    return None if value is None or math.isnan(value) else value


def _scores(m: CalibrationMetrics) -> dict[str, Any]:
    return {"nll": _num(m.nll), "brier": _num(m.brier), "ece": _num(m.ece), "n": m.n}


def _user_json(u: UserReport) -> dict[str, Any]:
    e = u.eligibility
    return {
        "user_id": e.user_id,
        "windows": u.windows,
        "fit_windows": u.fit_windows,
        "held_out_windows": u.held_out,
        "days": e.days,
        "labels": e.labels,
        "eligible": e.eligible,
        "reason": e.reason,
        "per_user_calibrator": u.decision,
        "note": u.note,
        "guard": {
            "user_nll": _num(u.guard_user_nll),
            "global_nll": _num(u.guard_global_nll),
            "user_accuracy": _num(u.guard_user_accuracy),
            "global_accuracy": _num(u.guard_global_accuracy),
            "reject_threshold": u.reject_threshold,
            "nll_gain_low": _num(u.guard_nll_gain_low),
        },
        "temperature": _num(u.temperature),
        "before": _scores(u.before),
        "after": _scores(u.after),
        "held_out": {
            "global": _scores(u.global_scores) if u.global_scores else None,
            "user": _scores(u.user_scores) if u.user_scores else None,
        },
    }


@dataclass(frozen=True, slots=True)
class CalibrationOutcome:
    """The store to write and the report that explains it."""

    store: CalibratorStore
    report: CalibrationReport


# --- fitting -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Verdict:
    decision: Decision
    note: str
    user_nll: float | None = None
    global_nll: float | None = None
    user_accuracy: float | None = None
    global_accuracy: float | None = None
    nll_gain_low: float | None = None


@dataclass(frozen=True, slots=True)
class _Trial:
    """One per-user calibrator against global on the held-out windows: NLL and accuracy, and
    how sure the NLL gain is (``nll_gain_low``: its lower bound, see :func:`nll_gain_bound`)."""

    nll: float
    global_nll: float
    accuracy: float
    global_accuracy: float
    nll_gain_low: float
    n: int
    # accuracy at the threshold on all the user's labelled windows (fit and held out)
    all_accuracy: float = math.nan
    all_global_accuracy: float = math.nan
    all_n: int = 0

    @property
    def all_worse(self) -> bool:
        return self.all_n > 0 and self.all_accuracy < self.all_global_accuracy

    @property
    def nll_worse(self) -> bool:
        # a calibrator that equals global but for rounding (isotonic maps spliced from it,
        # renormalised) is not worse
        return self.nll > self.global_nll + _NLL_TOLERANCE

    @property
    def gain_unsure(self) -> bool:
        return not self.nll_worse and not self.nll_gain_low > 0.0

    @property
    def passed(self) -> bool:
        return (
            not self.nll_worse
            and not self.gain_unsure
            and self.accuracy >= self.global_accuracy
            and not self.all_worse
        )

    def why_not(self, threshold: float) -> str:
        reasons = []
        if self.nll_worse:
            reasons.append("held-out NLL worse than global (overfit)")
        if self.gain_unsure:
            reasons.append(
                f"held-out NLL gain over global {self.global_nll - self.nll:.4f} is not clear "
                f"of noise on {self.n} windows (lower {GUARD_CONFIDENCE:.0%} bound "
                f"{self.nll_gain_low:+.4f})"
            )
        if self.accuracy < self.global_accuracy:
            reasons.append(
                f"held-out accuracy at the reject threshold {threshold} worse than global "
                "(more rejects or other labels)"
            )
        if self.all_worse:
            reasons.append(
                f"accuracy at the reject threshold {threshold} on all {self.all_n} of the "
                f"user's labelled windows worse than global ({self.all_accuracy:.4f} vs "
                f"{self.all_global_accuracy:.4f})"
            )
        return "; ".join(reasons)


def nll_gain_bound(
    mine: FloatArray,
    theirs: FloatArray,
    y: IntArray,
    *,
    confidence: float = GUARD_CONFIDENCE,
    resamples: int = GUARD_RESAMPLES,
    seed: int = _GUARD_SEED,
) -> float:
    """The lower ``confidence`` bound of the mean per-window NLL gain of ``mine`` over
    ``theirs`` on the labelled rows ``y``: a paired bootstrap (rows resampled with
    replacement, both calibrators' losses of a row kept together), seeded, so the same rows
    always give the same bound. Above 0: the gain is not one that resampling ~50 windows
    makes up. NaN for no rows.
    """
    if len(y) == 0:
        return math.nan
    n = len(y)
    rows = np.arange(n)
    eps = 1e-12  # as taskclf_core.metrics.nll
    gain = np.log(np.clip(mine[rows, y], eps, None)) - np.log(np.clip(theirs[rows, y], eps, None))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 1_000_000 // n)  # bounded memory for a user with many held-out windows
    for lo in range(0, resamples, step):
        k = min(step, resamples - lo)
        means[lo : lo + k] = gain[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return float(np.quantile(means, 1.0 - confidence))


def _trial(
    calibrator: Calibrator,
    global_calibrator: Calibrator,
    probs: FloatArray,
    y: IntArray,
    threshold: float,
    every: tuple[FloatArray, IntArray] | None = None,
) -> _Trial:
    mine, theirs = calibrator.calibrate(probs), global_calibrator.calibrate(probs)
    all_probs, all_y = every if every is not None else (probs[:0], y[:0])
    return _Trial(
        nll(mine, y),
        nll(theirs, y),
        accepted_accuracy(mine, y, threshold),
        accepted_accuracy(theirs, y, threshold),
        nll_gain_bound(mine, theirs, y),
        len(y),
        accepted_accuracy(calibrator.calibrate(all_probs), all_y, threshold),
        accepted_accuracy(global_calibrator.calibrate(all_probs), all_y, threshold),
        len(all_y),
    )


def _verdict(decision: Decision, note: str, trial: _Trial) -> _Verdict:
    return _Verdict(
        decision,
        note,
        trial.nll,
        trial.global_nll,
        trial.accuracy,
        trial.global_accuracy,
        trial.nll_gain_low,
    )


def _guard(
    own: Calibrator | None,
    global_calibrator: Calibrator,
    report: EligibilityReport,
    probs: FloatArray,
    y: IntArray,
    previous: Calibrator | None,
    threshold: float,
    every: tuple[FloatArray, IntArray] | None = None,
) -> _Verdict:
    """Keep a per-user calibrator only if it does no worse than the global one on ``y``.

    "No worse" is a held-out NLL gain clear of noise (:func:`nll_gain_bound`) and an
    accuracy at the user's reject threshold (:func:`accepted_accuracy`) not below global's,
    on the held-out windows and on ``every`` labelled window of the user: a temperature can
    win on NLL while rejecting windows it labelled right, and ~50 held-out windows seldom
    show it (a reject decision is hardly fitted: the calibrator is fitted to NLL). The
    ``previous`` per-user calibrator (from the store in force) faces the same test whether
    or not a new one was fitted: the guard decides which calibrator is in force for the
    user, not only whether the new one is.
    """
    if own is None and previous is None:
        return _Verdict("n.a.", report.reason or "not eligible")
    if len(y) == 0:
        if own is None:
            return _Verdict("previous", "no held-out windows to judge the previous one by")
        return _Verdict("kept", "no held-out windows to vet it (--holdout 0?)")
    if own is not None:
        new = _trial(own, global_calibrator, probs, y, threshold, every)
        if new.passed:
            return _verdict(
                "kept",
                "held-out NLL better than global beyond noise, accuracy not worse",
                new,
            )
        why = new.why_not(threshold)
        if previous is None:
            return _verdict("dropped", why, new)
        old = _trial(previous, global_calibrator, probs, y, threshold, every)
        if old.passed:
            return _verdict(
                "previous",
                f"new fit: {why}; the previous per-user calibrator is not, so it stays",
                old,
            )
        return _verdict(
            "dropped", f"{why}; the previous per-user calibrator too, so it is removed", new
        )
    assert previous is not None  # the first test returned otherwise
    old = _trial(previous, global_calibrator, probs, y, threshold, every)
    not_fitted = report.reason or "not eligible"
    if old.passed:
        return _verdict(
            "previous",
            f"{not_fitted}: no new fit; the previous per-user calibrator is not worse than "
            "global on the held-out windows, so it stays",
            old,
        )
    return _verdict(
        "dropped",
        f"{not_fitted}: no new fit; the previous per-user calibrator: {old.why_not(threshold)}, "
        "so it is removed",
        old,
    )


def _after(
    store: CalibratorStore, probs: FloatArray, user_ids: Sequence[str], opted_out: Collection[str]
) -> FloatArray:
    # exactly what the daemon does: own calibrator when present and allowed, else global
    calibrated, _ = calibrate_rows(store, probs, user_ids, [u not in opted_out for u in user_ids])
    return calibrated


def calibrate_windows(
    bundle: ModelBundle,
    data: LabelledWindows,
    *,
    method: Method = "temperature",
    holdout: float = 0.2,
    min_windows: int = 200,
    min_days: int = 3,
    min_labels: int = 3,
    opt_out: Collection[str] = (),
    created_at: str,
    num_threads: int = 0,
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD,
    user_thresholds: Mapping[str, float] | None = None,
) -> CalibrationOutcome:
    """Fit on each user's earliest windows, vet per-user calibrators on their latest, report.

    The model's probabilities for ``data`` go to :func:`vet_probs`, which says the rest.
    """
    return vet_probs(
        bundle.predict_many(data.features, num_threads=num_threads),
        data.y,
        data.user_ids,
        data.starts,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        method=method,
        holdout=holdout,
        min_windows=min_windows,
        min_days=min_days,
        min_labels=min_labels,
        opt_out=opt_out,
        created_at=created_at,
        reject_threshold=reject_threshold,
        user_thresholds=user_thresholds,
    )


def vet_probs(
    probs: FloatArray,
    y: IntArray,
    user_ids: Sequence[str],
    starts: Sequence[datetime],
    *,
    bundle_id: str,
    schema_hash: str | None,
    method: Method = "temperature",
    holdout: float = 0.2,
    min_windows: int = 200,
    min_days: int = 3,
    min_labels: int = 3,
    opt_out: Collection[str] = (),
    created_at: str | None,
    global_calibrator: Calibrator | None = None,
    previous: Mapping[str, Calibrator] | None = None,
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD,
    user_thresholds: Mapping[str, float] | None = None,
) -> CalibrationOutcome:
    """The one overfitting guard: fit on each user's earliest rows, vet on their latest.

    ``probs`` are the model's uncalibrated probabilities of labelled rows (from the bundle for
    `calibrate`, from the label log's ``model_probs`` for `personalize`). Eligibility counts
    all of a user's labelled rows (the thresholds are about what the person labelled); the
    calibrator is fitted on the earliest ``1 - holdout`` of them and vetted on the rest
    against the global calibrator: it is kept only if its NLL is not worse and its accuracy
    at the user's reject threshold (``user_thresholds``, else ``reject_threshold``) is not
    worse. A ``global_calibrator`` is carried over instead of fitted; ``previous``
    per-user calibrators (the store in force) face the same test, whether or not the user
    is eligible for a new one (see :func:`_guard`). The store returned holds per-user
    calibrators of the users in ``user_ids`` only.
    """
    fit, held = split_by_time(user_ids, starts, holdout)
    opted_out = frozenset(opt_out)
    previous = {u: c for u, c in (previous or {}).items() if u not in opted_out}
    thresholds = user_thresholds or {}
    names = [CORE_LABELS[c] for c in y]
    eligibility = {
        u: check_personalization_eligible(
            user_ids,
            starts,
            names,
            u,
            min_windows=min_windows,
            min_days=min_days,
            min_labels=min_labels,
        )
        for u in sorted(set(user_ids))
    }
    fitted = fit_calibrator_store(
        probs[fit],
        y[fit],
        [user_ids[i] for i in fit],
        [starts[i] for i in fit],
        method=method,
        model_bundle_id=bundle_id,
        model_schema_hash=schema_hash,
        created_at=created_at,
        min_windows=min_windows,
        min_days=min_days,
        min_labels=min_labels,
        exclude_users=opted_out,
        global_calibrator=global_calibrator,
        eligibility=eligibility,
    )
    held_lists: dict[str, list[int]] = {r.user_id: [] for r in fitted.reports}
    for i in held:
        held_lists[user_ids[i]].append(int(i))
    held_of = {u: np.asarray(rows, dtype=np.intp) for u, rows in held_lists.items()}
    all_lists: dict[str, list[int]] = {r.user_id: [] for r in fitted.reports}
    for i, uid in enumerate(user_ids):
        if uid in all_lists:
            all_lists[uid].append(i)
    all_of = {u: np.asarray(rows, dtype=np.intp) for u, rows in all_lists.items()}
    old = fitted.store
    threshold_of = {r.user_id: thresholds.get(r.user_id, reject_threshold) for r in fitted.reports}
    verdicts = {
        r.user_id: _guard(
            old.user_calibrators.get(r.user_id),
            old.global_calibrator,
            r,
            probs[held_of[r.user_id]],
            y[held_of[r.user_id]],
            previous.get(r.user_id),
            threshold_of[r.user_id],
            (probs[all_of[r.user_id]], y[all_of[r.user_id]]),
        )
        for r in fitted.reports
    }
    in_force: dict[str, Calibrator] = {}
    for u, v in verdicts.items():
        if v.decision == "kept":
            in_force[u] = old.user_calibrators[u]
        elif v.decision == "previous":
            in_force[u] = previous[u]
    store = CalibratorStore(
        global_calibrator=old.global_calibrator,
        user_calibrators=in_force,
        method=old.method,
        model_bundle_id=old.model_bundle_id,
        model_schema_hash=old.model_schema_hash,
        created_at=old.created_at,
    )
    held_users = [user_ids[i] for i in held]
    after = _after(store, probs[held], held_users, opted_out)
    users = []
    for r in fitted.reports:
        rows = held_of[r.user_id]
        v = verdicts[r.user_id]
        user_fit = fitted.user_fits.get(r.user_id)
        own = old.user_calibrators.get(r.user_id)
        held_probs, held_y = probs[rows], y[rows]
        users.append(
            UserReport(
                eligibility=r,
                windows=r.windows,
                held_out=len(rows),
                decision=v.decision,
                note=v.note,
                guard_user_nll=v.user_nll,
                guard_global_nll=v.global_nll,
                temperature=user_fit.temperature if v.decision == "kept" and user_fit else None,
                before=calibration_metrics(held_probs, held_y, n_bins=ECE_BINS),
                after=calibration_metrics(
                    _after(store, held_probs, [r.user_id] * len(rows), opted_out),
                    held_y,
                    n_bins=ECE_BINS,
                ),
                global_scores=calibration_metrics(
                    old.global_calibrator.calibrate(held_probs), held_y, n_bins=ECE_BINS
                ),
                user_scores=(
                    calibration_metrics(judged.calibrate(held_probs), held_y, n_bins=ECE_BINS)
                    if (judged := own or previous.get(r.user_id)) is not None
                    else None
                ),
                guard_user_accuracy=v.user_accuracy,
                guard_global_accuracy=v.global_accuracy,
                reject_threshold=threshold_of[r.user_id],
                guard_nll_gain_low=v.nll_gain_low,
                fitted=own,
            )
        )
    report = CalibrationReport(
        bundle_id=bundle_id,
        schema_hash=schema_hash,
        method=method,
        holdout=holdout,
        thresholds={"min_windows": min_windows, "min_days": min_days, "min_labels": min_labels},
        opted_out=tuple(sorted(opted_out)),
        store_id=store.store_id,
        created_at=created_at,
        windows=len(user_ids),
        fit_windows=len(fit),
        held_out_windows=len(held),
        global_temperature=(
            fitted.global_fit.temperature
            if fitted.global_fit
            # carried over (a retrain's, the one it was gated with): its temperature
            else fitted.store.global_calibrator.temperature
            if isinstance(fitted.store.global_calibrator, TemperatureCalibrator)
            else None
        ),
        before=calibration_metrics(probs[held], y[held], n_bins=ECE_BINS),
        after=calibration_metrics(after, y[held], n_bins=ECE_BINS),
        users=tuple(users),
        reject_threshold=reject_threshold,
    )
    return CalibrationOutcome(store, report)
