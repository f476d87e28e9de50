"""The per-user guard, fixed where it was seen to fail (issue 21), on hand-built model outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from helpers import synthetic_probs

from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IsotonicCalibrator,
    TemperatureCalibrator,
)
from taskclf_core.fitting import MIN_CLASS_EXAMPLES, fit_isotonic_calibrator
from taskclf_core.labels import LABEL_INDEX
from taskclf_core.metrics import accepted_accuracy, nll
from taskclf_core.personalize import LoggedWindows, personalize
from taskclf_core.spans import LabelSpan
from taskclf_core.types import FloatArray, IntArray
from taskclf_core.vetting import UserReport, nll_gain_bound, split_by_time, vet_probs

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
WRITE = LABEL_INDEX["Write"]


def starts_over(n: int, days: int) -> list[datetime]:
    """``n`` one-minute windows spread over ``days`` days, in time order."""
    per_day = -(-n // days)
    return [T0 + timedelta(days=i // per_day, minutes=i % per_day) for i in range(n)]


def vet(
    probs: FloatArray,
    y: IntArray,
    users: list[str],
    starts: list[datetime],
    **kwargs: Any,
) -> dict[str, UserReport]:
    outcome = vet_probs(
        probs, y, users, starts, bundle_id="b", schema_hash="h", created_at=None, **kwargs
    )
    return {u.user_id: u for u in outcome.report.users}


# --- a per-class isotonic map needs examples of its class -----------------------------------


def one_write_user() -> tuple[FloatArray, IntArray]:
    """250 windows of Build, Communicate and Debug, and one early window labelled Write that
    the model did not think was Write (a slip of the labeller)."""
    probs, y = synthetic_probs(41, 4000, 1.0)
    mine = np.flatnonzero(np.isin(y, [1, 2, 3]))[:250]
    p, labels = probs[mine].copy(), y[mine].copy()
    low_write = int(np.argmin(p[:40, WRITE]))
    labels[low_write] = WRITE
    return p, labels


def test_one_example_of_a_class_no_longer_silences_it() -> None:
    # the failure: eligibility asks for 3 labels, so a map was fitted from one Write; it came
    # out flat near 0 and Write was never predicted again (the check slice had no Write)
    crowd_p, crowd_y = synthetic_probs(40, 3000, 1.0)
    global_cal = fit_isotonic_calibrator(crowd_p, crowd_y)
    p, labels = one_write_user()
    users = ["u-new"] * len(labels)
    outcome = vet_probs(
        p,
        labels,
        users,
        starts_over(len(labels), 3),
        bundle_id="b",
        schema_hash="h",
        created_at=None,
        method="isotonic",
        global_calibrator=global_cal,
    )
    (row,) = outcome.report.users
    assert row.eligibility.eligible
    _, held = split_by_time(users, starts_over(len(labels), 3), 0.2)
    assert WRITE not in labels[held]  # the guard cannot see Write on its held-out slice
    fitted = row.fitted
    assert isinstance(fitted, IsotonicCalibrator)
    # Write (1 example) and the classes with none keep the global maps; the three the user
    # labelled (80+ examples each in the fit part) get their own
    for c, regressor in enumerate(fitted.regressors):
        own = c in (1, 2, 3)
        assert (regressor is global_cal.regressors[c]) != own
    # later, windows the model calls Write are still Write for this user, as for everyone
    later_p, later_y = synthetic_probs(42, 2000, 1.0)
    writes = later_p[later_y == WRITE]
    theirs = fitted.calibrate(writes).argmax(axis=1) == WRITE
    everyone = global_cal.calibrate(writes).argmax(axis=1) == WRITE
    assert everyone.mean() > 0.4
    assert theirs.mean() > 0.75 * everyone.mean()


def test_the_class_floor_counts_the_others_too() -> None:
    probs, y = synthetic_probs(43, 400, 1.0)
    y = np.where(np.arange(len(y)) < 395, WRITE, y)  # 395 of Write, 5 of anything else
    calibrator = fit_isotonic_calibrator(probs, y)
    identity = calibrator.regressors[WRITE]
    np.testing.assert_array_equal(identity.predict(probs[:, WRITE]), probs[:, WRITE])
    assert MIN_CLASS_EXAMPLES == 30


# --- the guard compares accuracy at the reject threshold as well as NLL -------------------


def noisy_labeller(seed: int = 44) -> tuple[FloatArray, IntArray]:
    """A model that fits the person's work, and labels of which 35 % are random."""
    probs, y = synthetic_probs(seed, 600, 1.0, spread=3.0)
    rng = np.random.default_rng(seed)
    noisy = rng.random(len(y)) < 0.35
    y = np.where(noisy, rng.integers(0, 8, size=len(y)), y)
    return probs, y


def test_a_temperature_that_wins_on_nll_but_cuts_accuracy_is_dropped() -> None:
    probs, y = noisy_labeller()
    users, starts = ["u-noisy"] * len(y), starts_over(len(y), 4)
    rows = vet(probs, y, users, starts, global_calibrator=TemperatureCalibrator(1.0))
    row = rows["u-noisy"]
    assert row.eligibility.eligible
    assert isinstance(row.fitted, TemperatureCalibrator)
    assert row.fitted.temperature > 1.3  # softer: the labels disagree with the model often
    # recomputed from scratch on the latest 20 %
    _, held = split_by_time(users, starts, 0.2)
    mine, theirs = row.fitted.calibrate(probs[held]), probs[held]
    assert nll(mine, y[held]) <= nll(theirs, y[held])  # NLL alone would keep it
    assert accepted_accuracy(mine, y[held], 0.55) < accepted_accuracy(theirs, y[held], 0.55)
    assert row.decision == "dropped"
    assert row.guard_user_accuracy == accepted_accuracy(mine, y[held], 0.55)
    assert row.guard_global_accuracy == accepted_accuracy(theirs, y[held], 0.55)
    assert "accuracy at the reject threshold 0.55 worse than global" in row.note
    assert "NLL" not in row.note


def test_the_accuracy_is_judged_at_the_users_own_threshold() -> None:
    probs, y = noisy_labeller()
    users, starts = ["u-noisy"] * len(y), starts_over(len(y), 4)
    # at a threshold nothing reaches, nobody is accepted: both accuracies are 0, so the
    # better NLL keeps it
    rows = vet(
        probs,
        y,
        users,
        starts,
        global_calibrator=TemperatureCalibrator(1.0),
        user_thresholds={"u-noisy": 1.0},
    )
    row = rows["u-noisy"]
    assert row.reject_threshold == 1.0
    assert (row.guard_user_accuracy, row.guard_global_accuracy) == (0.0, 0.0)
    assert row.decision == "kept"


# --- a carried-over calibrator faces the same check ---------------------------------------


def test_a_previous_calibrator_worse_than_global_is_removed_even_without_a_new_fit() -> None:
    probs, y = synthetic_probs(45, 120, 1.0)  # 120 windows: not eligible for a new fit
    users, starts = ["u-old"] * len(y), starts_over(len(y), 3)
    sharp = TemperatureCalibrator(0.2)  # over-confident: worse than global on every slice
    rows = vet(
        probs,
        y,
        users,
        starts,
        global_calibrator=TemperatureCalibrator(1.0),
        previous={"u-old": sharp},
    )
    row = rows["u-old"]
    assert not row.eligibility.eligible
    assert row.decision == "dropped"
    assert "windows 120 < 200: no new fit; the previous per-user calibrator" in row.note
    assert row.guard_user_nll is not None
    assert row.guard_global_nll is not None
    assert row.guard_user_nll > row.guard_global_nll

    fair = TemperatureCalibrator(1.05)
    # against a global temperature of 3.0 its gain (0.19 nats) on 24 held-out windows is not
    # clear of noise; against 5.0 (0.38 nats) it is
    unsure = vet(
        probs,
        y,
        users,
        starts,
        global_calibrator=TemperatureCalibrator(3.0),
        previous={"u-old": fair},
    )["u-old"]
    assert unsure.decision == "dropped"
    assert "not clear of noise on 24 windows" in unsure.note
    kept = vet(
        probs,
        y,
        users,
        starts,
        global_calibrator=TemperatureCalibrator(5.0),
        previous={"u-old": fair},
    )["u-old"]
    assert kept.decision == "previous"


def logged(probs: FloatArray, users: list[str], starts: list[datetime]) -> LoggedWindows:
    ends = tuple(s + timedelta(minutes=1) for s in starts)
    return LoggedWindows(tuple(users), tuple(starts), ends, probs)


def spans_for(y: IntArray, users: list[str], starts: list[datetime]) -> list[LabelSpan]:
    from taskclf_core.labels import CORE_LABELS

    return [
        LabelSpan(s, s + timedelta(minutes=1), CORE_LABELS[c], "manual", u)
        for c, u, s in zip(y.tolist(), users, starts, strict=True)
    ]


def test_personalize_no_longer_carries_an_unchecked_calibrator() -> None:
    # the failure: a user not eligible now kept the calibrator of the old store unchecked,
    # although their held-out windows showed it worse than global
    probs, y = synthetic_probs(46, 120, 1.0)
    users, starts = ["u-old"] * len(y), starts_over(len(y), 3)
    bad: Calibrator = TemperatureCalibrator(0.2)
    base = CalibratorStore(
        global_calibrator=TemperatureCalibrator(1.0),
        user_calibrators={"u-old": bad, "u-away": bad},
        method="temperature",
    )
    outcome = personalize(
        spans_for(y, users, starts),
        logged(probs, users, starts),
        base,
        bundle_id="b",
        schema_hash="h",
        created_at="2026-03-09T00:00:00Z",
    )
    assert "u-old" not in outcome.store.user_calibrators
    assert outcome.removed == ("u-old",)
    # a user with no labelled windows gives nothing to judge by: theirs stays
    assert outcome.store.user_calibrators["u-away"] is bad
    assert outcome.carried == ("u-away",)


# --- eligibility counts all of a user's labelled windows ---------------------------------


def test_eligibility_counts_every_labelled_window_not_the_fit_part() -> None:
    probs, y = synthetic_probs(47, 220, 1.0)
    users, starts = ["u-220"] * len(y), starts_over(len(y), 3)
    row = vet(probs, y, users, starts)["u-220"]
    assert (row.eligibility.windows, row.fit_windows, row.held_out) == (220, 176, 44)
    assert row.eligibility.eligible  # the fit part alone (176) is below 200
    assert row.fitted is not None


# --- the guard keeps a calibrator only for a gain that is not noise -----------------------


def judged(scale: float, seed: int, previous: float, n: int = 250) -> UserReport:
    """A user's ``previous`` temperature against an identity global on their latest 20 %
    (``n`` windows; no new fit, so the previous one is what the guard judges)."""
    probs, y = synthetic_probs(seed, n, scale)
    users, starts = ["u-one"] * n, starts_over(n, 4)
    return vet(
        probs,
        y,
        users,
        starts,
        global_calibrator=TemperatureCalibrator(1.0),
        previous={"u-one": TemperatureCalibrator(previous)},
        min_windows=10**6,
    )["u-one"]


def test_a_real_gain_is_kept() -> None:
    # an under-confident model (the best temperature is ~0.4): 0.22 nats a window better
    row = judged(0.4, 46, 0.4)
    assert row.held_out == 50
    assert row.decision == "previous"
    assert row.guard_nll_gain_low is not None
    assert row.guard_nll_gain_low > 0.05
    assert row.guard_user_accuracy is not None
    assert row.guard_global_accuracy is not None
    assert row.guard_user_accuracy > row.guard_global_accuracy


def test_a_noise_sized_gain_on_50_windows_is_dropped() -> None:
    # a calibrated model: a temperature of 0.9 is no better than 1.0, but on these 50
    # windows it happens to score 0.012 nats lower, with accuracy at the threshold not worse
    row = judged(1.0, 50, 0.9)
    assert row.held_out == 50
    assert row.guard_user_nll is not None
    assert row.guard_global_nll is not None
    assert row.guard_user_nll < row.guard_global_nll  # the old guard kept it
    assert row.guard_user_accuracy is not None
    assert row.guard_global_accuracy is not None
    assert row.guard_user_accuracy >= row.guard_global_accuracy
    assert row.decision == "dropped"
    assert "is not clear of noise on 50 windows" in row.note
    assert row.guard_nll_gain_low is not None
    assert row.guard_nll_gain_low < 0


def test_a_real_loss_is_dropped() -> None:
    row = judged(1.0, 50, 0.3)  # over-sharpened: worse on every slice
    assert row.decision == "dropped"
    assert "held-out NLL worse than global (overfit)" in row.note
    assert row.guard_nll_gain_low is not None
    assert row.guard_nll_gain_low < 0


def test_the_margin_shrinks_with_more_windows_and_is_seeded() -> None:
    probs, y = synthetic_probs(50, 250, 1.0)
    held = np.arange(200, 250)
    mine = TemperatureCalibrator(0.9).calibrate(probs)
    low = nll_gain_bound(mine[held], probs[held], y[held])
    assert low < 0 < nll(probs[held], y[held]) - nll(mine[held], y[held])
    # the same per-window gains, eight times as many windows: the gain is now clear of noise
    many = np.tile(held, 8)
    assert nll_gain_bound(mine[many], probs[many], y[many]) > 0
    assert nll_gain_bound(mine[held], probs[held], y[held]) == low  # the same every time
    assert np.isnan(nll_gain_bound(mine[:0], probs[:0], y[:0]))


def test_a_real_nll_gain_that_costs_accuracy_on_all_the_users_windows_is_dropped() -> None:
    # an over-confident model (best temperature ~1.4): the softer temperature's NLL gain is
    # real, and on the 50 held-out windows its extra rejects happen to cost nothing (0.28
    # both); on all 250 of the user's labelled windows they cost 6 points
    row = judged(1.4, 186, 1.4)
    assert row.guard_nll_gain_low is not None
    assert row.guard_nll_gain_low > 0
    assert row.guard_user_accuracy == row.guard_global_accuracy == 0.28
    assert row.decision == "dropped"
    assert row.note == (
        "windows 250 < 1000000: no new fit; the previous per-user calibrator: accuracy at the "
        "reject threshold 0.55 on all 250 of the user's labelled windows worse than global "
        "(0.3240 vs 0.3880), so it is removed"
    )
