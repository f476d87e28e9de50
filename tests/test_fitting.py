"""Calibrator fitting: optimiser vs taskclf's grid, eligibility, isotonic vs sklearn, the store."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic_probs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from taskclf_core.calibration import (
    IsotonicCalibrator,
    TemperatureCalibrator,
    load_calibrator_store,
    save_calibrator_store,
)
from taskclf_core.errors import TrainingError
from taskclf_core.fitting import (
    EligibilityReport,
    check_personalization_eligible,
    fit_calibrator_store,
    fit_isotonic_calibrator,
    fit_temperature_calibrator,
    grid_temperature,
)
from taskclf_core.labels import CORE_LABELS, N_CLASSES
from taskclf_core.metrics import nll
from taskclf_core.types import FloatArray, IntArray

REPO_ROOT = Path(__file__).resolve().parents[1]


def nll_at(t: float, probs: FloatArray, y: IntArray) -> float:
    return nll(TemperatureCalibrator(t).calibrate(probs), y)


DATASETS = [
    (0, 500, 0.3),
    (1, 1000, 3.0),
    (2, 2000, 0.5),
    (3, 3000, 2.0),
    (4, 1500, 1.0),
    (5, 3000, 0.3),
    (6, 800, 5.0),
]


# --- temperature -------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "n", "scale"), DATASETS)
def test_optimiser_never_loses_to_taskclf_grid(seed: int, n: int, scale: float) -> None:
    probs, y = synthetic_probs(seed, n, scale)
    calibrator, fit = fit_temperature_calibrator(probs, y)
    t_grid = grid_temperature(probs, y)
    assert 0.05 <= t_grid <= 20.0  # the guarantee covers grid points inside the bounds
    assert calibrator.temperature == fit.temperature
    assert fit.nll == nll_at(fit.temperature, probs, y)
    assert fit.nll <= nll_at(t_grid, probs, y) + 1e-12
    assert not fit.at_bound
    assert fit.bounds == (0.05, 20.0)


@pytest.mark.parametrize(("seed", "n", "scale"), DATASETS[:3])
def test_optimiser_agrees_with_scipy_bounded_minimiser(seed: int, n: int, scale: float) -> None:
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]

    probs, y = synthetic_probs(seed, n, scale)
    _, fit = fit_temperature_calibrator(probs, y)
    res = minimize_scalar(
        lambda u: nll_at(math.exp(u), probs, y),
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert fit.nll <= float(res.fun) + 1e-12
    assert fit.temperature == pytest.approx(math.exp(res.x), rel=1e-4)


@pytest.mark.parametrize("true_t", [0.3, 3.0])
def test_recovers_a_known_temperature(true_t: float) -> None:
    probs, y = synthetic_probs(11, 3000, true_t)
    _, fit = fit_temperature_calibrator(probs, y)
    assert fit.temperature == pytest.approx(true_t, rel=0.15)


def test_optimum_beyond_upper_bound_is_reported() -> None:
    # labels independent of a wildly over-confident model: the best map is nearly uniform
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(1000, N_CLASSES)) * 50
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    y = rng.integers(0, N_CLASSES, size=1000)
    _, fit = fit_temperature_calibrator(probs, y)
    assert fit.temperature == 20.0
    assert fit.at_bound
    assert fit.nll < nll_at(19.0, probs, y)
    # a wider range moves the optimum off the bound and lowers the NLL further
    _, wide = fit_temperature_calibrator(probs, y, bounds=(0.05, 1e6))
    assert wide.temperature > 20.0
    assert wide.nll < fit.nll


def test_optimum_below_lower_bound_is_reported() -> None:
    # argmax always right: sharpening further always helps
    rng = np.random.default_rng(8)
    probs = rng.dirichlet(np.ones(N_CLASSES), size=300)
    y = probs.argmax(axis=1)
    _, fit = fit_temperature_calibrator(probs, y)
    assert fit.temperature == 0.05
    assert fit.at_bound


def test_custom_bounds_clamp_and_flag() -> None:
    probs, y = synthetic_probs(3, 2000, 3.0)
    _, fit = fit_temperature_calibrator(probs, y, bounds=(0.5, 2.0))
    assert fit.temperature == 2.0
    assert fit.at_bound
    assert fit.bounds == (0.5, 2.0)


def test_flat_rows_keep_temperature_one() -> None:
    probs = np.full((20, N_CLASSES), 1 / N_CLASSES)
    y = np.arange(20) % N_CLASSES
    calibrator, fit = fit_temperature_calibrator(probs, y)
    assert calibrator.temperature == 1.0
    assert not fit.at_bound
    assert grid_temperature(probs, y) == 1.0


def test_grid_lands_on_its_lattice() -> None:
    probs, y = synthetic_probs(2, 1000, 0.5)
    t = grid_temperature(probs, y)
    assert round(t * 100) == pytest.approx(t * 100, abs=1e-6)
    assert 0.4 <= t <= 0.6


@pytest.mark.parametrize(
    ("probs", "y", "bounds", "match"),
    [
        (np.empty((0, N_CLASSES)), np.empty(0, dtype=int), (0.05, 20.0), "no rows"),
        (np.full((2, N_CLASSES), 0.125), np.array([0, 8]), (0.05, 20.0), r"y: class indices"),
        (np.full((2, N_CLASSES), 0.125), np.array([0, -1]), (0.05, 20.0), r"y: class indices"),
        (np.full((2, N_CLASSES), 0.125), np.array([0]), (0.05, 20.0), "y: expected a 1-D"),
        (np.full((2, N_CLASSES), 0.125), np.array([0.0, 1.0]), (0.05, 20.0), "integer"),
        (np.full((2, N_CLASSES), np.nan), np.array([0, 1]), (0.05, 20.0), "finite"),
        (np.full((2, N_CLASSES), 1.5), np.array([0, 1]), (0.05, 20.0), r"\[0, 1\]"),
        (np.full(N_CLASSES, 0.125), np.array([0]), (0.05, 20.0), "2-D"),
        (np.full((2, N_CLASSES), 0.125), np.array([0, 1]), (2.0, 1.0), "bounds"),
        (np.full((2, N_CLASSES), 0.125), np.array([0, 1]), (0.0, 1.0), "bounds"),
    ],
)
def test_unusable_input_raises_training_error(
    probs: FloatArray, y: IntArray, bounds: tuple[float, float], match: str
) -> None:
    with pytest.raises(TrainingError, match=match):
        fit_temperature_calibrator(probs, y, bounds=bounds)


# --- eligibility -------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def user_rows(
    user: str, windows: int, days: int, labels: int
) -> tuple[list[str], list[datetime], list[str]]:
    starts = [T0 + timedelta(days=i % days, minutes=i // days) for i in range(windows)]
    names = [CORE_LABELS[i % labels] for i in range(windows)]
    return [user] * windows, starts, names


def test_exact_thresholds_are_eligible() -> None:
    report = check_personalization_eligible(*user_rows("u1", 200, 3, 3), "u1")
    assert report == EligibilityReport("u1", 200, 3, 3, True, "")


@pytest.mark.parametrize(
    ("windows", "days", "labels", "reason"),
    [
        (199, 3, 3, "windows 199 < 200"),
        (200, 2, 3, "days 2 < 3"),
        (200, 3, 2, "labels 2 < 3"),
        (10, 1, 1, "windows 10 < 200; days 1 < 3; labels 1 < 3"),
    ],
)
def test_one_short_is_not_eligible(windows: int, days: int, labels: int, reason: str) -> None:
    report = check_personalization_eligible(*user_rows("u1", windows, days, labels), "u1")
    assert (report.windows, report.days, report.labels) == (windows, days, labels)
    assert not report.eligible
    assert report.reason == reason


def test_days_are_counted_in_utc_across_midnight() -> None:
    plus2 = timezone(timedelta(hours=2))
    # local dates 2024-03-01, 03-02, 03-03 but UTC dates 02-29, 03-01, 03-01
    starts = [
        datetime(2024, 3, 1, 1, 30, tzinfo=plus2),
        datetime(2024, 3, 2, 0, 30, tzinfo=plus2),
        datetime(2024, 3, 2, 23, 59, tzinfo=plus2),
        datetime(2024, 3, 3, 1, 0, tzinfo=plus2),
    ]
    report = check_personalization_eligible(
        ["u"] * 4, starts, ["Build"] * 4, "u", min_windows=1, min_labels=1
    )
    assert report.days == 3  # UTC: 02-29, 03-01 (twice), 03-02 (03-02T23:59+02 → 21:59Z)
    minus5 = timezone(timedelta(hours=-5))
    # one local date, two UTC dates
    starts = [
        datetime(2024, 3, 1, 18, 0, tzinfo=minus5),
        datetime(2024, 3, 1, 20, 0, tzinfo=minus5),
    ]
    report = check_personalization_eligible(["u"] * 2, starts, ["Build"] * 2, "u")
    assert report.days == 2


def test_naive_timestamps_are_utc() -> None:
    naive = [datetime(2024, 3, 1, 23, 30), datetime(2024, 3, 2, 0, 30)]
    aware = [t.replace(tzinfo=UTC) for t in naive]
    a = check_personalization_eligible(["u", "u"], naive, ["Build", "Debug"], "u")
    b = check_personalization_eligible(["u", "u"], aware, ["Build", "Debug"], "u")
    assert a == b
    assert a.days == 2


def test_unknown_user_gets_zeros() -> None:
    report = check_personalization_eligible(*user_rows("u1", 300, 5, 5), "nobody")
    assert report == EligibilityReport("nobody", 0, 0, 0, False, "no labelled windows")


def test_other_users_rows_are_ignored() -> None:
    a, b = user_rows("a", 150, 3, 3), user_rows("b", 100, 2, 2)
    report = check_personalization_eligible(a[0] + b[0], a[1] + b[1], a[2] + b[2], "a")
    assert (report.windows, report.days, report.labels) == (150, 3, 3)


def test_eligibility_refuses_ragged_columns() -> None:
    users, starts, labels = user_rows("u", 10, 2, 2)
    with pytest.raises(TrainingError, match="equal lengths"):
        check_personalization_eligible(users, starts[:-1], labels, "u")


# --- isotonic ----------------------------------------------------------------------------


def test_isotonic_matches_sklearn_per_class() -> None:
    from sklearn.isotonic import IsotonicRegression

    probs, y = synthetic_probs(21, 1500, 2.0)
    calibrator = fit_isotonic_calibrator(probs, y)
    assert isinstance(calibrator, IsotonicCalibrator)
    assert len(calibrator.regressors) == N_CLASSES
    probe = np.concatenate([np.linspace(-0.1, 1.1, 241), synthetic_probs(22, 300, 2.0)[0].ravel()])
    for c, regressor in enumerate(calibrator.regressors):
        reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1, increasing=True).fit(
            probs[:, c], (y == c).astype(float)
        )
        np.testing.assert_allclose(regressor.predict(probe), reference.predict(probe), atol=1e-12)


def test_isotonic_a_class_never_seen_keeps_the_model_probability() -> None:
    # fitted, its map would be 0 everywhere: the class could never be predicted again
    probs, y = synthetic_probs(23, 400, 1.0)
    y = np.where(y == 5, 4, y)
    calibrator = fit_isotonic_calibrator(probs, y)
    np.testing.assert_array_equal(calibrator.regressors[5].predict(probs[:, 5]), probs[:, 5])
    out = calibrator.calibrate(probs)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


def test_importing_fitting_does_not_import_sklearn_or_scipy() -> None:
    code = (
        "import sys, taskclf_core.fitting; "
        "print(any(m.split('.')[0] in ('sklearn', 'scipy') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# --- the store ---------------------------------------------------------------------------


def store_data() -> tuple[FloatArray, IntArray, list[str], list[datetime]]:
    """alice: eligible; bob: too few windows; carol: eligible but opted out."""
    users: list[str] = []
    starts: list[datetime] = []
    for user, windows, days in (("alice", 260, 4), ("bob", 120, 4), ("carol", 220, 3)):
        u, s, _ = user_rows(user, windows, days, 1)
        users += u
        starts += s
    probs, y = synthetic_probs(31, len(users), 2.5)
    return probs, y, users, starts


def test_store_global_on_all_rows_and_users_only_when_eligible() -> None:
    probs, y, users, starts = store_data()
    before = (probs.copy(), y.copy(), list(users), list(starts))
    fit = fit_calibrator_store(
        probs,
        y,
        users,
        starts,
        model_bundle_id="bundle-1",
        model_schema_hash="abc123def456",
        created_at="2024-03-10T12:00:00Z",
        exclude_users={"carol", "dave"},
    )
    store = fit.store
    assert store.method == "temperature"
    assert (store.model_bundle_id, store.model_schema_hash, store.created_at) == (
        "bundle-1",
        "abc123def456",
        "2024-03-10T12:00:00Z",
    )
    global_cal, global_fit = fit_temperature_calibrator(probs, y)
    assert isinstance(store.global_calibrator, TemperatureCalibrator)
    assert store.global_calibrator.temperature == global_cal.temperature
    assert fit.global_fit == global_fit
    assert store.user_ids == ("alice",)
    alice = np.array([u == "alice" for u in users])
    own, own_fit = fit_temperature_calibrator(probs[alice], y[alice])
    user_cal = store.user_calibrators["alice"]
    assert isinstance(user_cal, TemperatureCalibrator)
    assert user_cal.temperature == own.temperature
    assert dict(fit.user_fits) == {"alice": own_fit}
    assert [r.user_id for r in fit.reports] == ["alice", "bob", "carol"]
    alice_r, bob_r, carol_r = fit.reports
    assert alice_r.eligible
    assert (alice_r.windows, alice_r.days) == (260, 4)
    assert not bob_r.eligible
    assert bob_r.reason == "windows 120 < 200"
    assert carol_r == EligibilityReport("carol", 220, 3, carol_r.labels, False, "opted out")
    assert carol_r.labels >= 3
    # inputs untouched
    np.testing.assert_array_equal(probs, before[0])
    np.testing.assert_array_equal(y, before[1])
    assert (users, starts) == (before[2], before[3])


def test_store_without_opt_out_personalizes_carol() -> None:
    probs, y, users, starts = store_data()
    fit = fit_calibrator_store(probs, y, users, starts)
    assert fit.store.user_ids == ("alice", "carol")
    assert fit.store.model_bundle_id is None
    assert fit.store.created_at is None


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_store_round_trips_through_disk(method: str, tmp_path: Path) -> None:
    probs, y, users, starts = store_data()
    fit = fit_calibrator_store(
        probs,
        y,
        users,
        starts,
        method=method,  # type: ignore[arg-type]
        model_bundle_id="bundle-1",
        model_schema_hash="abc123def456",
        created_at="2024-03-10T12:00:00Z",
    )
    loaded = load_calibrator_store(save_calibrator_store(fit.store, tmp_path / "store"))
    assert loaded.store_id == fit.store.store_id
    assert loaded.method == method
    assert loaded.user_ids == fit.store.user_ids == ("alice", "carol")
    assert loaded.model_bundle_id == "bundle-1"
    np.testing.assert_array_equal(
        loaded.global_calibrator.calibrate(probs), fit.store.global_calibrator.calibrate(probs)
    )
    for uid in fit.store.user_ids:
        np.testing.assert_array_equal(
            loaded.user_calibrators[uid].calibrate(probs),
            fit.store.user_calibrators[uid].calibrate(probs),
        )


def test_isotonic_store_has_no_temperature_fits() -> None:
    probs, y, users, starts = store_data()
    fit = fit_calibrator_store(probs, y, users, starts, method="isotonic")
    assert isinstance(fit.store.global_calibrator, IsotonicCalibrator)
    assert all(isinstance(c, IsotonicCalibrator) for c in fit.store.user_calibrators.values())
    assert fit.global_fit is None
    assert dict(fit.user_fits) == {}


def test_store_uses_given_label_names_for_eligibility() -> None:
    probs, y, users, starts = store_data()
    names = [CORE_LABELS[c] for c in y]
    assert fit_calibrator_store(probs, y, users, starts, names).reports == (
        fit_calibrator_store(probs, y, users, starts).reports
    )
    names[3] = CORE_LABELS[(y[3] + 1) % N_CLASSES]
    with pytest.raises(TrainingError, match=r"labels\[3\]"):
        fit_calibrator_store(probs, y, users, starts, names)


@pytest.mark.parametrize("bad_id", ["../evil", "", "a/b", ".."])
def test_store_refuses_unsafe_user_ids(bad_id: str) -> None:
    probs, y, users, starts = store_data()
    users = [bad_id, *users[1:]]
    with pytest.raises(TrainingError, match="safe user id"):
        fit_calibrator_store(probs, y, users, starts)


def test_store_refuses_bad_shapes_and_methods() -> None:
    probs, y, users, starts = store_data()
    with pytest.raises(TrainingError, match="8 class columns"):
        fit_calibrator_store(
            probs[:, :3] / probs[:, :3].sum(1, keepdims=True), y % 3, users, starts
        )
    with pytest.raises(TrainingError, match="user_ids/bucket_starts"):
        fit_calibrator_store(probs, y, users[:-1], starts)
    with pytest.raises(TrainingError, match="exclude_users"):
        fit_calibrator_store(probs, y, users, starts, exclude_users="carol")
    with pytest.raises(TrainingError, match="method"):
        fit_calibrator_store(probs, y, users, starts, method="platt")  # type: ignore[arg-type]


# --- the calibrator contract, for fitted calibrators ------------------------------------


@st.composite
def fit_data(draw: st.DrawFn) -> tuple[FloatArray, IntArray, FloatArray]:
    n = draw(st.integers(1, 40))
    logits = draw(
        hnp.arrays(np.float64, (n, N_CLASSES), elements=st.floats(-30, 30, allow_nan=False))
    )
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    # exact zeros and ones occur in real model output too
    if draw(st.booleans()):
        probs[0] = np.eye(N_CLASSES)[draw(st.integers(0, N_CLASSES - 1))]
    y = np.array(draw(st.lists(st.integers(0, N_CLASSES - 1), min_size=n, max_size=n)))
    raw = draw(
        hnp.arrays(np.float64, (draw(st.integers(1, 10)), N_CLASSES), elements=st.floats(0, 1))
    )
    # unseen probability rows (the contract is about probability input, not arbitrary arrays)
    other = (raw + 1e-9) / (raw + 1e-9).sum(axis=1, keepdims=True)
    return probs, y, other


@settings(max_examples=60, deadline=None)
@given(fit_data(), st.sampled_from(["temperature", "isotonic"]))
def test_fitted_calibrators_keep_the_contract(
    data: tuple[FloatArray, IntArray, FloatArray], method: str
) -> None:
    probs, y, other = data
    if method == "temperature":
        calibrator: TemperatureCalibrator | IsotonicCalibrator = fit_temperature_calibrator(
            probs, y
        )[0]
    else:
        calibrator = fit_isotonic_calibrator(probs, y)
    for inp in (probs, other, probs[0]):
        snapshot = inp.copy()
        out = calibrator.calibrate(inp)
        assert out.shape == inp.shape
        assert np.all(out >= 0.0)
        assert np.all(out <= 1.0)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-9)
        np.testing.assert_array_equal(inp, snapshot)
        np.testing.assert_array_equal(calibrator.calibrate(inp), out)
