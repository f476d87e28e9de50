"""Contract tests over every calibrator: range, row sums, shape, purity, determinism."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from helpers import synthetic_probs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from taskclf_core.calibration import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    IsotonicRegressor,
    TemperatureCalibrator,
)
from taskclf_core.errors import CalibrationError
from taskclf_core.fitting import fit_isotonic_calibrator, fit_temperature_calibrator
from taskclf_core.labels import N_CLASSES
from taskclf_core.types import FloatArray

K = N_CLASSES


@functools.cache
def fitted_calibrators() -> tuple[Calibrator, ...]:
    """Calibrators as taskclf_core.fitting produces them (built once, lazily)."""
    out: list[Calibrator] = []
    for seed, scale in ((1, 2.0), (2, 0.4)):
        probs, y = synthetic_probs(seed, 400, scale)
        out.append(fit_temperature_calibrator(probs, y)[0])
        out.append(fit_isotonic_calibrator(probs, y))
    return tuple(out)


@st.composite
def regressors(draw: st.DrawFn) -> IsotonicRegressor:
    n = draw(st.integers(1, 8))
    unit = st.floats(0.0, 1.0, allow_subnormal=False)
    x = sorted(set(draw(st.lists(unit, min_size=n, max_size=n))))
    y = sorted(draw(st.lists(unit, min_size=len(x), max_size=len(x))))
    return IsotonicRegressor(np.array(x), np.array(y), x_min=x[0], x_max=x[-1])


temperatures = st.floats(0.05, 20.0, exclude_min=True, exclude_max=True)

calibrators = st.one_of(
    st.just(IdentityCalibrator()),
    st.just(TemperatureCalibrator(1.0)),
    temperatures.map(TemperatureCalibrator),
    st.lists(regressors(), min_size=K, max_size=K).map(lambda r: IsotonicCalibrator(tuple(r))),
    st.integers(0, 3).map(lambda i: fitted_calibrators()[i]),
)


@st.composite
def prob_arrays(draw: st.DrawFn) -> FloatArray:
    """1-D ``(8,)`` or 2-D ``(n, 8)`` rows of non-negative floats normalised to sum 1."""
    shape = draw(st.sampled_from([(K,), (1, K), (2, K), (7, K)]))
    raw = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0, allow_subnormal=False)))
    rows = raw.reshape(-1, K)
    # a row of zeros has no distribution; give it one positive entry
    rows[rows.sum(axis=1) == 0, 0] = 1.0
    rows /= rows.sum(axis=1, keepdims=True)
    return rows.reshape(shape)


def check_contract(calibrator: Calibrator, probs: FloatArray) -> FloatArray:
    before = probs.copy()
    probs.flags.writeable = False  # any in-place write now raises
    out = calibrator.calibrate(probs)
    assert np.array_equal(probs, before), "input modified"
    assert out.shape == probs.shape
    assert out.dtype == np.float64
    assert np.isfinite(out).all()
    assert (out >= 0.0).all()
    assert (out <= 1.0).all()
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=0, atol=1e-9)
    assert not np.shares_memory(out, probs)
    again = calibrator.calibrate(probs)
    assert np.array_equal(out, again), "not deterministic"
    return out


@settings(max_examples=150, deadline=None)
@given(calibrator=calibrators, probs=prob_arrays())
def test_every_calibrator_keeps_the_contract(calibrator: Calibrator, probs: FloatArray) -> None:
    assert isinstance(calibrator, Calibrator)
    check_contract(calibrator, probs)


@settings(max_examples=50, deadline=None)
@given(calibrator=calibrators, probs=prob_arrays())
def test_rows_are_calibrated_independently(calibrator: Calibrator, probs: FloatArray) -> None:
    """A batch gives each row what calibrating it alone gives (1-D vs 2-D paths agree)."""
    batch = calibrator.calibrate(np.atleast_2d(probs))
    for i, row in enumerate(np.atleast_2d(probs)):
        np.testing.assert_allclose(calibrator.calibrate(row), batch[i], rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(probs=prob_arrays())
def test_fitted_calibrators_keep_the_contract(probs: FloatArray) -> None:
    for calibrator in fitted_calibrators():
        check_contract(calibrator, probs.copy())


# --- temperature ------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(t=temperatures, probs=prob_arrays())
def test_temperature_keeps_the_argmax(t: float, probs: FloatArray) -> None:
    out = TemperatureCalibrator(t).calibrate(probs)
    rows, cal = np.atleast_2d(probs), np.atleast_2d(out)
    for p, q in zip(rows, cal, strict=True):
        clipped = np.clip(p, 1e-12, None)
        # the most probable class stays the most probable; rounding may only add ties
        assert q[clipped.argmax()] == q.max()
        assert (q[clipped < clipped.max()] <= q.max()).all()


@settings(max_examples=100, deadline=None)
@given(probs=prob_arrays())
def test_temperature_one_is_identity(probs: FloatArray) -> None:
    assert np.array_equal(TemperatureCalibrator(1.0).calibrate(probs), probs)


@settings(max_examples=100, deadline=None)
@given(t=temperatures, probs=prob_arrays())
def test_temperature_matches_the_formula(t: float, probs: FloatArray) -> None:
    logits = np.log(np.clip(probs, 1e-12, None)) / t
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    expected = e / e.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(TemperatureCalibrator(t).calibrate(probs), expected, atol=1e-12)


def test_temperature_softens_and_sharpens() -> None:
    p = np.array([0.7, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01])
    assert TemperatureCalibrator(2.0).calibrate(p).max() < 0.7
    assert TemperatureCalibrator(0.5).calibrate(p).max() > 0.7


@pytest.mark.parametrize("t", [0.0, -1.0, -1e-300, math.nan, math.inf, -math.inf])
def test_invalid_temperature_is_refused(t: float) -> None:
    with pytest.raises(CalibrationError, match="temperature"):
        TemperatureCalibrator(t)


def test_identity_returns_a_copy() -> None:
    p = np.full(K, 1.0 / K)
    out = IdentityCalibrator().calibrate(p)
    assert np.array_equal(out, p)
    assert not np.shares_memory(out, p)


# --- isotonic ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(0.0, 1.0)),
    seed=st.integers(0, 2**32 - 1),
    increasing=st.booleans(),
    queries=hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-0.5, 1.5)),
)
def test_isotonic_regressor_equals_sklearn(
    x: FloatArray, seed: int, increasing: bool, queries: FloatArray
) -> None:
    from sklearn.isotonic import IsotonicRegression

    y = (np.random.default_rng(seed).random(x.size) < x).astype(np.float64)
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=increasing, out_of_bounds="clip")
    model.fit(x, y)
    regressor = IsotonicRegressor(
        x_thresholds=np.array(model.X_thresholds_),
        y_thresholds=np.array(model.y_thresholds_),
        x_min=float(model.X_min_),
        x_max=float(model.X_max_),
        increasing=increasing,
    )
    probe = np.concatenate([queries, x, model.X_thresholds_])
    np.testing.assert_allclose(regressor.predict(probe), model.predict(probe), rtol=0, atol=1e-12)


def test_isotonic_calibrator_is_per_class_interpolation_then_renormalised() -> None:
    regs = tuple(
        IsotonicRegressor(np.array([0.0, 1.0]), np.array([0.0, 1.0 if c else 0.5]), 0.0, 1.0)
        for c in range(K)
    )
    p = np.array([0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    mapped = np.array([0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(IsotonicCalibrator(regs).calibrate(p), mapped / mapped.sum())


def test_isotonic_all_zero_row_becomes_uniform() -> None:
    zero = IsotonicRegressor(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 0.0, 1.0)
    out = IsotonicCalibrator((zero,) * K).calibrate(np.full((3, K), 1.0 / K))
    np.testing.assert_allclose(out, 1.0 / K)


def test_isotonic_clips_outside_the_fitted_range() -> None:
    r = IsotonicRegressor(np.array([0.2, 0.6]), np.array([0.1, 0.9]), 0.2, 0.6)
    out = r.predict(np.array([0.0, 0.2, 0.4, 0.6, 1.0]))
    np.testing.assert_allclose(out, [0.1, 0.1, 0.5, 0.9, 0.9], rtol=0, atol=1e-15)


def test_isotonic_width_mismatch_is_refused() -> None:
    r = IsotonicRegressor(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.0, 1.0)
    with pytest.raises(CalibrationError, match="3 regressors"):
        IsotonicCalibrator((r,) * 3).calibrate(np.full(K, 1.0 / K))


def test_isotonic_regressor_thresholds_are_read_only_copies() -> None:
    x, y = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    r = IsotonicRegressor(x, y, 0.0, 1.0)
    x[0] = 0.5
    assert r.x_thresholds[0] == 0.0
    assert not r.x_thresholds.flags.writeable
    assert not r.y_thresholds.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x_thresholds": [0.5, 0.2], "y_thresholds": [0.1, 0.2]}, "sorted"),
        ({"x_thresholds": [0.1, 0.2, 0.3], "y_thresholds": [0.1, 0.2]}, "equal length"),
        ({"x_thresholds": [], "y_thresholds": []}, "non-empty"),
        ({"x_thresholds": [[0.1], [0.2]], "y_thresholds": [[0.1], [0.2]]}, "lists"),
        ({"x_thresholds": [0.1, math.nan], "y_thresholds": [0.1, 0.2]}, "finite"),
        ({"x_thresholds": [0.1, 0.2], "y_thresholds": [0.1, math.inf]}, "finite"),
        ({"x_thresholds": [-math.inf, 0.2], "y_thresholds": [0.1, 0.2]}, "finite"),
        ({"x_min": math.nan}, "X_min_"),
        ({"x_max": math.inf}, "X_max_"),
        ({"out_of_bounds": "nan"}, "out_of_bounds"),
        ({"out_of_bounds": "raise"}, "out_of_bounds"),
    ],
)
def test_invalid_isotonic_regressor_is_refused(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "x_thresholds": [0.1, 0.2],
        "y_thresholds": [0.1, 0.2],
        "x_min": 0.1,
        "x_max": 0.2,
    }
    args.update(kwargs)
    args["x_thresholds"] = np.array(args["x_thresholds"], dtype=np.float64)
    args["y_thresholds"] = np.array(args["y_thresholds"], dtype=np.float64)
    with pytest.raises(CalibrationError, match=match):
        IsotonicRegressor(**args)  # type: ignore[arg-type]


def test_isotonic_calibrator_without_regressors_is_refused() -> None:
    with pytest.raises(CalibrationError, match="regressors"):
        IsotonicCalibrator(())


def test_calibrators_are_immutable() -> None:
    with pytest.raises(AttributeError):
        TemperatureCalibrator(2.0).temperature = 1.0  # type: ignore[misc]
