"""A record's calibrator applied to its model_probs gives back its core_probs: the log refits."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IdentityCalibrator,
    TemperatureCalibrator,
)
from taskclf_core.fitting import fit_isotonic_calibrator
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.pipeline import Policy, Snapshot, label_windows
from taskclf_core.schema import parse_window
from taskclf_core.vetting import parse_labelled


def calibrator_of(record: dict[str, Any], store: CalibratorStore | None) -> Calibrator:
    if record["calibrator"] == "identity" or store is None:
        return IdentityCalibrator()
    if record["calibrator"] == "user":
        return store.user_calibrators[record["user_id"]]
    return store.global_calibrator


def reproduction_error(records: list[dict[str, Any]], store: CalibratorStore | None) -> float:
    """Largest |calibrator(model_probs) - core_probs| over every record and class."""
    worst = 0.0
    for r in records:
        model = np.asarray([r["model_probs"][k] for k in CORE_LABELS])
        core = np.asarray([r["core_probs"][k] for k in CORE_LABELS])
        again = calibrator_of(r, store).calibrate(model)
        worst = max(worst, float(np.abs(again - core).max()))
    return worst


def logged(
    bundle: ModelBundle,
    windows: list[dict[str, Any]],
    store: CalibratorStore | None,
    personalized: bool = True,
) -> list[dict[str, Any]]:
    policy = Policy(personalization=personalized)
    parsed = [
        parse_window({k: v for k, v in w.items() if k != "label"}, bundle.schema) for w in windows
    ]
    _, records = label_windows(
        Snapshot(bundle, store, policy),
        policy.empty_state(),
        parsed,
        sources=["f.json"] * len(parsed),
        processed_at="2026-02-01T00:00:00Z",
    )
    # through the JSON line, exactly as a reader of the log sees it
    return [json.loads(r.to_json_line()) for r in records]


@pytest.fixture(scope="module")
def stores(bundle: ModelBundle, training_windows: list[dict[str, Any]]) -> dict[str, Any]:
    data = parse_labelled([(str(i), w) for i, w in enumerate(training_windows)], bundle.schema)
    probs = bundle.predict_many(data.features, num_threads=1)
    ada = np.asarray([u == "u-ada" for u in data.user_ids])
    return {
        "temperature": CalibratorStore(
            global_calibrator=TemperatureCalibrator(2.5),  # softening amplifies small probs
            user_calibrators={
                "u-ada": TemperatureCalibrator(0.6),
                "u-ben": TemperatureCalibrator(3.0),
            },
        ),
        "isotonic": CalibratorStore(
            global_calibrator=fit_isotonic_calibrator(probs, data.y),
            user_calibrators={"u-ada": fit_isotonic_calibrator(probs[ada], data.y[ada])},
            method="isotonic",
        ),
        "none": None,
    }


@pytest.mark.parametrize("kind", ["temperature", "isotonic", "none"])
def test_every_record_reproduces_its_core_probs(
    kind: str, stores: dict[str, Any], bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    store = stores[kind]
    records = logged(bundle, training_windows, store)
    assert {r["calibrator"] for r in records} == (
        {"identity"} if store is None else {"user", "global"}
    )
    # core_probs are rounded to 6 decimals: 5e-7 is the rounding, the rest would be drift
    assert reproduction_error(records, store) <= 5.000001e-7


def test_model_probs_do_not_depend_on_the_store(
    stores: dict[str, Any], bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    windows = training_windows[:200]
    plain = logged(bundle, windows, None)
    for store in (stores["temperature"], stores["isotonic"]):
        for personalized in (True, False):
            again = logged(bundle, windows, store, personalized)
            assert [r["model_probs"] for r in again] == [r["model_probs"] for r in plain]
    # and they are the model's own probabilities, float for float
    data = parse_labelled([(str(i), w) for i, w in enumerate(windows)], bundle.schema)
    direct = bundle.predict_many(data.features, num_threads=1)
    got = np.asarray([[r["model_probs"][k] for k in CORE_LABELS] for r in plain])
    np.testing.assert_allclose(got, direct, rtol=0, atol=1e-12)
    assert LABEL_INDEX  # the class order of every row above
