"""personalize in the core: spans × logged model_probs → a guarded, deterministic store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from helpers import temperature_store
from labelling import spans_from

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    CalibratorStore,
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureCalibrator,
    store_files,
)
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.metrics import accepted_accuracy, nll
from taskclf_core.personalize import (
    LoggedWindows,
    PersonalizeOutcome,
    personalize,
    scan_records,
    user_rows,
)
from taskclf_core.spans import LabelSpan
from taskclf_core.synthetic import UserProfile, generate_windows
from taskclf_core.vetting import nll_gain_bound, parse_labelled, split_by_time, vet_probs

CREATED = "2026-02-01T00:00:00Z"


def logged_from(bundle: ModelBundle, windows: list[dict[str, Any]]) -> LoggedWindows:
    data = parse_labelled([(str(i), w) for i, w in enumerate(windows)], bundle.schema)
    probs = bundle.predict_many(data.features, num_threads=1)
    ends = tuple(s + timedelta(minutes=1) for s in data.starts)
    return LoggedWindows(data.user_ids, data.starts, ends, probs)


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    # other days and seed than the training windows: what the daemon saw after training
    return generate_windows(days=5, seed=23, start=datetime(2026, 1, 12, tzinfo=UTC))


@pytest.fixture(scope="module")
def logged(bundle: ModelBundle, stream: list[dict[str, Any]]) -> LoggedWindows:
    return logged_from(bundle, stream)


def base_store(bundle: ModelBundle, **users: float) -> CalibratorStore:
    return temperature_store(bundle, 1.3, users)


def run(
    bundle: ModelBundle,
    spans: list[LabelSpan],
    logged: LoggedWindows,
    base: CalibratorStore,
    **kwargs: Any,
) -> PersonalizeOutcome:
    return personalize(
        spans,
        logged,
        base,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        created_at=CREATED,
        **kwargs,
    )


def test_kept_exactly_where_it_beats_global_on_held_out(
    bundle: ModelBundle, stream: list[dict[str, Any]], logged: LoggedWindows
) -> None:
    base = base_store(bundle)
    outcome = run(bundle, spans_from(stream), logged, base)
    assert outcome.changed
    assert outcome.labelled == len(stream)
    rows = {u.user_id: u for u in outcome.users}
    assert set(rows) == {"u-ada", "u-ben", "u-cy"}
    assert not rows["u-cy"].eligibility.eligible  # 20 windows a day
    assert rows["u-cy"].decision == "n.a."
    assert "windows" in rows["u-cy"].eligibility.reason

    # recompute the guard from scratch: the latest 20 % of each user's windows, NLL and the
    # accuracy at the reject threshold (0.55) of this run's fit against global
    y = np.asarray([LABEL_INDEX[w["label"]] for w in stream])
    _fit, held = split_by_time(logged.user_ids, logged.starts, 0.2)
    for user in ("u-ada", "u-ben"):
        assert rows[user].eligibility.eligible
        mine = np.asarray([i for i in held if logged.user_ids[i] == user])
        theirs = base.global_calibrator.calibrate(logged.probs[mine])
        global_nll = nll(theirs, y[mine])
        assert rows[user].guard_global_nll == pytest.approx(global_nll, abs=1e-12)
        fitted = rows[user].fitted
        assert fitted is not None
        own = fitted.calibrate(logged.probs[mine])
        not_worse = nll_gain_bound(own, theirs, y[mine]) > 0 and accepted_accuracy(
            own, y[mine], 0.55
        ) >= accepted_accuracy(theirs, y[mine], 0.55)
        assert rows[user].decision == ("kept" if not_worse else "dropped")
        assert (outcome.store.user_calibrators.get(user) is fitted) == not_worse
    # the careful user gets one; the noisy one's (35 % wrong labels) loses on accuracy
    assert outcome.store.user_ids == ("u-ada",)
    assert rows["u-ben"].guard_user_nll <= rows["u-ben"].guard_global_nll  # type: ignore[operator]
    # the global calibrator is carried over byte for byte
    assert store_files(outcome.store)["global.json"] == store_files(base)["global.json"]
    assert outcome.store.model_bundle_id == bundle.bundle_id
    assert outcome.store.created_at == CREATED
    table = {r["user_id"]: r for r in user_rows(outcome)}
    assert table["u-ada"]["held_out"]["global"]["nll"] == pytest.approx(
        rows["u-ada"].guard_global_nll, abs=1e-6
    )


def test_rerun_without_new_labels_changes_nothing(
    bundle: ModelBundle, stream: list[dict[str, Any]], logged: LoggedWindows
) -> None:
    spans = spans_from(stream)
    first = run(bundle, spans, logged, base_store(bundle))
    again = personalize(
        spans,
        logged,
        first.store,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        created_at="2027-01-01T00:00:00Z",  # a later clock must not change the id
    )
    assert not again.changed
    assert again.store is first.store
    assert again.store.store_id == first.store.store_id


def test_scope_and_opt_out(
    bundle: ModelBundle, stream: list[dict[str, Any]], logged: LoggedWindows
) -> None:
    base = base_store(bundle, **{"u-cy": 0.9, "u-ben": 2.0, "u-old": 1.1})
    spans = spans_from(stream)
    only_ada = run(bundle, spans, logged, base, users={"u-ada"})
    assert [u.user_id for u in only_ada.users] == ["u-ada"]
    # users not refitted keep theirs untouched
    for user in ("u-cy", "u-ben", "u-old"):
        assert only_ada.store.user_calibrators[user] is base.user_calibrators[user]
    assert only_ada.carried == ("u-ben", "u-cy", "u-old")

    opted = run(bundle, spans, logged, base, opt_out={"u-ben", "u-old"})
    assert "u-ben" not in opted.store.user_calibrators
    assert "u-old" not in opted.store.user_calibrators
    ben = next(u for u in opted.users if u.user_id == "u-ben")
    assert (ben.decision, ben.eligibility.reason) == ("n.a.", "opted out")
    # not eligible for a new fit: the calibrator they had is judged on their held-out windows
    cy = next(u for u in opted.users if u.user_id == "u-cy")
    assert not cy.eligibility.eligible
    assert cy.decision in ("previous", "dropped")
    kept_cy = opted.store.user_calibrators.get("u-cy")
    assert (kept_cy is base.user_calibrators["u-cy"]) == (cy.decision == "previous")
    assert opted.removed == tuple(
        sorted({"u-ben", "u-old"} | ({"u-cy"} - set(opted.store.user_ids)))
    )

    nobody = run(bundle, spans, logged, base, users={"u-zed"})
    assert nobody.no_labels == ("u-zed",)
    assert nobody.report is None


def test_a_newcomers_few_labels_leave_the_global_maps_in_place(bundle: ModelBundle) -> None:
    # a newcomer labels 3 days of 15 minutes: 45 windows, no class with the 30 examples an
    # isotonic map of its own needs, so every class keeps the global map (fitted from 36
    # windows, these maps put near-zero probability where their later windows land)
    newcomer = UserProfile("u-new", label_noise=0.3, minutes_per_day=15)
    windows = generate_windows(
        users=[newcomer], days=3, seed=5, start=datetime(2026, 1, 20, tzinfo=UTC)
    )
    logged = logged_from(bundle, windows)
    spans = spans_from(windows)
    base = CalibratorStore(global_calibrator=IdentityCalibrator(), method="isotonic")

    default = run(bundle, spans, logged, base)
    (row,) = default.users
    assert (row.decision, row.eligibility.reason) == ("n.a.", "windows 45 < 200")
    assert not default.store.user_calibrators

    lowered = run(bundle, spans, logged, base, min_windows=20, min_days=1, min_labels=2)
    (row,) = lowered.users
    assert row.eligibility.eligible
    fitted = row.fitted
    assert isinstance(fitted, IsotonicCalibrator)
    probe = logged.probs
    np.testing.assert_allclose(fitted.calibrate(probe), probe, rtol=0, atol=1e-15)
    # the same as global: no gain to keep it for, so the global maps stay in force
    assert row.decision == "dropped"
    assert "not clear of noise" in row.note
    assert not lowered.store.user_calibrators


def test_a_previous_calibrator_gets_the_same_test(
    bundle: ModelBundle, stream: list[dict[str, Any]], logged: LoggedWindows
) -> None:
    # the new fit is made on scrambled labels (flat), held out are true: the new one loses;
    # a previous sharp-enough calibrator beats a too-flat global and stays
    user = [i for i, u in enumerate(logged.user_ids) if u == "u-ada"]
    probs = logged.probs[user]
    y = np.asarray([LABEL_INDEX[stream[i]["label"]] for i in user])
    starts = [logged.starts[i] for i in user]
    fit, _held = split_by_time(["u-ada"] * len(user), starts, 0.2)
    rng = np.random.default_rng(0)
    y_mixed = y.copy()
    y_mixed[fit] = rng.integers(0, len(CORE_LABELS), size=len(fit))

    def vet(previous: float | None) -> Any:
        return vet_probs(
            probs,
            y_mixed,
            ["u-ada"] * len(user),
            starts,
            bundle_id=bundle.bundle_id,
            schema_hash=bundle.schema_hash,
            created_at=None,
            global_calibrator=TemperatureCalibrator(4.0),
            previous={} if previous is None else {"u-ada": TemperatureCalibrator(previous)},
        )

    (alone,) = vet(None).report.users
    assert alone.decision == "dropped"
    kept = vet(1.0)
    (row,) = kept.report.users
    assert row.decision == "previous"
    assert "the previous per-user calibrator is not, so it stays" in row.note
    assert kept.store.user_calibrators["u-ada"] == TemperatureCalibrator(1.0)
    (worse,) = vet(20.0).report.users
    assert worse.decision == "dropped"
    assert "too, so it is removed" in worse.note


def test_scan_records_keeps_the_bundle_in_force_and_counts_the_rest() -> None:
    probs = dict.fromkeys(CORE_LABELS, 0.125)

    def rec(user: str, minute: int, **extra: Any) -> str:
        start = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(minutes=minute)
        body = {
            "user_id": user,
            "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model_bundle_id": "b1",
            "model_schema_hash": "h1",
            "model_probs": probs,
        } | extra
        return json.dumps(body)

    lines = [
        rec("u1", 0),
        rec("u1", 1),
        rec("u1", 1),  # the same window again
        rec("u1", 2, model_bundle_id="b0"),
        rec("u1", 3, model_schema_hash="h0"),
        rec("u1", 4, model_probs=None),
        '{"user_id": "u1"',
        rec("u1", 5, model_probs={"Build": 1.0}),
        rec("u2", 6, model_probs=probs | {"Build": float("nan")}),
        rec("u2", 7, bucket_end_ts="soon"),
        rec("u2", 8),
    ]
    scan = scan_records(lines, bundle_id="b1", schema_hash="h1")
    assert scan.windows.user_ids == ("u1", "u1", "u2")
    assert scan.windows.probs.shape == (3, 8)
    assert not scan.windows.probs.flags.writeable
    assert (scan.records, scan.other_bundle, scan.without_model_probs) == (10, 2, 1)
    assert (scan.unreadable, scan.duplicates) == (4, 1)
