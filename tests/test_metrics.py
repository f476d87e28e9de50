"""NLL, multi-class Brier and top-label ECE on hand-computed examples and their edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from taskclf_core.errors import TrainingError
from taskclf_core.metrics import (
    CalibrationMetrics,
    accepted_accuracy,
    brier,
    calibration_metrics,
    ece,
    nll,
)

# two rows, three classes: row 0 confident and right, row 1 wrong (argmax 1, truth 2)
P = np.array([[0.75, 0.15, 0.10], [0.35, 0.45, 0.20]])
Y = np.array([0, 2])


def test_nll_hand_computed() -> None:
    assert nll(P, Y) == pytest.approx(-(math.log(0.75) + math.log(0.20)) / 2, abs=1e-15)


def test_nll_clips_zero_probability_at_1e_12() -> None:
    assert nll(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-math.log(1e-12))


def test_brier_hand_computed_sums_over_classes() -> None:
    # row 0: .25² + .15² + .10² = .095; row 1: .35² + .45² + .80² = .965; mean .53
    assert brier(P, Y) == pytest.approx(0.53, abs=1e-15)
    # the multi-class form is not divided by k: a confidently wrong row scores 2
    assert brier(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(2.0)


def test_ece_hand_computed() -> None:
    # 10 bins: row 0 alone in (0.7, 0.8] → |1 - .75|; row 1 alone in (0.4, 0.5] → |0 - .45|
    assert ece(P, Y, n_bins=10) == pytest.approx((0.25 + 0.45) / 2, abs=1e-15)
    # one bin pools them: |mean acc .5 - mean conf .6|
    assert ece(P, Y, n_bins=1) == pytest.approx(0.1, abs=1e-15)


def test_ece_bins_are_right_closed() -> None:
    # confidence exactly 0.5 with 2 bins belongs to the first bin (0, 0.5], not (0.5, 1]
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    y = np.array([0, 1])  # row 0 right (argmax tie → class 0), row 1 wrong
    separate = 0.5 * abs(1 - 0.5) + 0.5 * abs(0 - 0.9)
    assert ece(p, y, n_bins=2) == pytest.approx(separate, abs=1e-15)
    # with 1 bin they pool, which would give a different value
    assert ece(p, y, n_bins=1) == pytest.approx(abs(0.5 - 0.7), abs=1e-15)


def test_ece_confidence_zero_goes_to_first_bin_and_one_to_last() -> None:
    zeros = np.zeros((1, 3))  # confidence 0, argmax 0 → right
    assert ece(zeros, np.array([0]), n_bins=15) == pytest.approx(1.0)
    ones = np.array([[0.0, 1.0, 0.0]])
    assert ece(ones, np.array([1]), n_bins=15) == 0.0
    assert ece(ones, np.array([0]), n_bins=15) == pytest.approx(1.0)


def _ece_reference(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Spelled-out ECE: explicit interval membership, the first bin closed at 0."""
    conf, correct = p.max(axis=1), p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        inside = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            inside |= conf == 0.0
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


@pytest.mark.parametrize("n_bins", [1, 2, 7, 15, 40])
def test_ece_matches_spelled_out_reference(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    p = rng.dirichlet(np.full(8, 0.4), size=400)
    y = rng.integers(0, 8, size=400)
    assert ece(p, y, n_bins=n_bins) == pytest.approx(_ece_reference(p, y, n_bins), abs=1e-12)


def test_perfect_predictions() -> None:
    y = np.array([0, 3, 7, 7, 2])
    p = np.eye(8)[y]
    assert nll(p, y) == pytest.approx(0.0, abs=1e-15)
    assert brier(p, y) == 0.0
    assert ece(p, y) == 0.0


@pytest.mark.parametrize(
    ("probs", "y"),
    [(np.empty((0, 8)), np.empty(0, dtype=int)), ([], []), (np.empty((0, 3)), [])],
)
def test_empty_input_gives_nan(probs: object, y: object) -> None:
    assert math.isnan(nll(probs, y))  # type: ignore[arg-type]
    assert math.isnan(brier(probs, y))  # type: ignore[arg-type]
    assert math.isnan(ece(probs, y))  # type: ignore[arg-type]
    m = calibration_metrics(probs, y)  # type: ignore[arg-type]
    assert m.n == 0
    assert math.isnan(m.nll)
    assert math.isnan(m.brier)
    assert math.isnan(m.ece)


def test_calibration_metrics_bundles_the_three() -> None:
    m = calibration_metrics(P, Y, n_bins=10)
    assert m == CalibrationMetrics(nll=nll(P, Y), brier=brier(P, Y), ece=ece(P, Y, n_bins=10), n=2)


def test_inputs_are_not_modified() -> None:
    p, y = P.copy(), Y.copy()
    calibration_metrics(p, y)
    np.testing.assert_array_equal(p, P)
    np.testing.assert_array_equal(y, Y)


@pytest.mark.parametrize(
    ("probs", "y", "match"),
    [
        (P, np.array([0, 3]), "y: class indices"),
        (P, np.array([0, -1]), "y: class indices"),
        (P, np.array([0]), "y: expected a 1-D array of 2"),
        (P, np.array([0.0, 2.0]), "integer"),
        (P[0], np.array([0]), "probs: expected a 2-D"),
        (np.array([[np.nan, 1.0]]), np.array([0]), "finite"),
    ],
)
def test_bad_input_is_refused(probs: np.ndarray, y: np.ndarray, match: str) -> None:
    with pytest.raises(TrainingError, match=match):
        nll(probs, y)


@pytest.mark.parametrize("n_bins", [0, -3, True])
def test_bad_bin_count_is_refused(n_bins: int) -> None:
    with pytest.raises(TrainingError, match="n_bins"):
        ece(P, Y, n_bins=n_bins)


def test_accepted_accuracy_counts_a_rejected_window_as_wrong() -> None:
    probs = np.array(
        [
            [0.9, 0.1],  # right, accepted
            [0.6, 0.4],  # right, accepted at 0.6 (exactly the threshold), rejected above
            [0.2, 0.8],  # wrong, accepted
            [0.45, 0.55],  # right, rejected at 0.6
        ]
    )
    y = np.array([0, 0, 0, 1])
    assert accepted_accuracy(probs, y, 0.6) == 0.5
    assert accepted_accuracy(probs, y, 0.0) == 0.75  # nothing rejected: plain accuracy
    assert accepted_accuracy(probs, y, 1.0) == 0.0
    assert accepted_accuracy(probs, y, [0.0, 0.7, 0.0, 0.5]) == 0.5  # per-row thresholds
    assert math.isnan(accepted_accuracy(np.empty((0, 2)), np.empty(0, dtype=int), 0.5))
