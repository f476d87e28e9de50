"""Calibration metrics of class-probability rows: NLL, multi-class Brier score, top-label ECE."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taskclf_core.errors import TrainingError
from taskclf_core.types import FloatArray, IntArray

__all__ = [
    "CalibrationMetrics",
    "accepted_accuracy",
    "brier",
    "calibration_metrics",
    "checked_probs_labels",
    "ece",
    "nll",
]

_EPS = 1e-12


def checked_probs_labels(probs: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    """``probs`` as an ``(n, k)`` float array and ``y`` as ``(n,)`` indices in ``[0, k)``.

    An empty input may arrive as ``[]`` (1-D), so zero rows are accepted in any shape.
    """
    p = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(y)
    if p.size == 0 and labels.size == 0:
        k = p.shape[-1] if p.ndim == 2 else 0
        return np.empty((0, k), dtype=np.float64), np.empty(0, dtype=np.intp)
    if p.ndim != 2 or p.shape[1] < 1:
        raise TrainingError(f"probs: expected a 2-D (n, k) array, got shape {p.shape}")
    if labels.ndim != 1 or labels.shape[0] != p.shape[0]:
        raise TrainingError(
            f"y: expected a 1-D array of {p.shape[0]} class indices, got shape {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TrainingError(f"y: expected integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= p.shape[1]:
        raise TrainingError(
            f"y: class indices must lie in [0, {p.shape[1]}), "
            f"got values from {labels.min()} to {labels.max()}"
        )
    if not np.isfinite(p).all():
        raise TrainingError("probs: expected finite numbers (found NaN or infinity)")
    return p, labels.astype(np.intp, copy=False)


def nll(probs: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Mean negative log-likelihood of the true class, probabilities clipped below at 1e-12.

    NaN for an empty input (there is no mean to take).
    """
    p, labels = checked_probs_labels(probs, y)
    if labels.size == 0:
        return math.nan
    picked = p[np.arange(labels.size), labels]
    return float(-np.mean(np.log(np.clip(picked, _EPS, None))))


def brier(probs: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Multi-class Brier score: mean over rows of ``sum_c (p_c - onehot_c)^2``.

    This is the original (Brier 1950) multi-class form, ranging over [0, 2]; it is *not*
    divided by the number of classes. NaN for an empty input.
    """
    p, labels = checked_probs_labels(probs, y)
    if labels.size == 0:
        return math.nan
    diff = p.copy()
    diff[np.arange(labels.size), labels] -= 1.0
    return float(np.mean(np.sum(diff * diff, axis=1)))


def accepted_accuracy(
    probs: npt.ArrayLike, y: npt.ArrayLike, threshold: float | npt.ArrayLike
) -> float:
    """Final accuracy at the reject threshold: the share of rows whose label is right.

    A row's label is its argmax when the maximum is at least ``threshold`` (its own, when
    ``threshold`` is per row) and Mixed/Unknown otherwise, which is never right: so this is
    accepted-and-correct over all rows, the accuracy a person sees in the label log. NaN
    for an empty input.
    """
    p, labels = checked_probs_labels(probs, y)
    if labels.size == 0:
        return math.nan
    best = p.argmax(axis=1)
    accepted = p[np.arange(labels.size), best] >= np.asarray(threshold, dtype=np.float64)
    return float(np.mean((best == labels) & accepted))


def ece(probs: npt.ArrayLike, y: npt.ArrayLike, *, n_bins: int = 15) -> float:
    """Top-label expected calibration error: ``sum_b (n_b / n) * |accuracy_b - confidence_b|``.

    Confidence is the row maximum and the prediction its argmax (ties go to the lowest class
    index, as ``np.argmax``). Bins have equal width on [0, 1] with edges
    ``np.linspace(0, 1, n_bins + 1)`` and are right-closed, ``(edge_b, edge_b+1]``; the first
    bin also takes confidence exactly 0, so it is ``[0, edge_1]``. Empty bins contribute
    nothing. NaN for an empty input.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise TrainingError(f"n_bins: expected an integer >= 1, got {n_bins!r}")
    p, labels = checked_probs_labels(probs, y)
    if labels.size == 0:
        return math.nan
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" gives the i with edges[i-1] < c <= edges[i], i.e. right-closed bins; the
    # clip puts c == 0 into the first bin (and guards rows whose maximum exceeds 1 by rounding)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    # |sum(acc) - sum(conf)| / n equals (n_b / n) * |mean acc - mean conf| without dividing by n_b
    return float(np.sum(np.abs(correct_sum - conf_sum)) / labels.size)


@dataclass(frozen=True, slots=True)
class CalibrationMetrics:
    """NLL, multi-class Brier score and top-label ECE of ``n`` rows (NaN when ``n`` is 0)."""

    nll: float
    brier: float
    ece: float
    n: int


def calibration_metrics(
    probs: npt.ArrayLike, y: npt.ArrayLike, *, n_bins: int = 15
) -> CalibrationMetrics:
    """All three metrics of ``probs`` against class indices ``y`` (see each function)."""
    p, labels = checked_probs_labels(probs, y)
    return CalibrationMetrics(
        nll=nll(p, labels),
        brier=brier(p, labels),
        ece=ece(p, labels, n_bins=n_bins),
        n=int(labels.size),
    )
