"""A record's calibrator applied to its model_probs gives back its core_probs: the log refits."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from labelling import calibrator_of, reproduction_error, reproduction_tolerance

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    CalibratorStore,
    TemperatureCalibrator,
)
from taskclf_core.fitting import fit_isotonic_calibrator
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.pipeline import Policy, Snapshot, label_windows
from taskclf_core.schema import parse_window
from taskclf_core.vetting import parse_labelled


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
        # temperatures as taskclf fits them (its sample store: 0.8 to 1.21); a larger one
        # amplifies the 6-decimal rounding of small probabilities (T = 2.5: 1.05e-5)
        "temperature": CalibratorStore(
            global_calibrator=TemperatureCalibrator(1.4),
            user_calibrators={
                "u-ada": TemperatureCalibrator(0.6),
                "u-ben": TemperatureCalibrator(1.2),
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
    # model_probs and core_probs both carry 6 decimals (docs/windows.md)
    assert reproduction_error(records, store) <= reproduction_tolerance(store)
    for r in records:  # and the decision is the logged one wherever it is not a near tie
        again = calibrator_of(r, store).calibrate(
            np.asarray([r["model_probs"][k] for k in CORE_LABELS])
        )
        top2 = np.sort(again)[-2:]
        if top2[1] - top2[0] > 2 * reproduction_tolerance(store):
            assert CORE_LABELS[int(np.argmax(again))] == r["core_label"]


def test_model_probs_do_not_depend_on_the_store(
    stores: dict[str, Any], bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    windows = training_windows[:200]
    plain = logged(bundle, windows, None)
    for store in (stores["temperature"], stores["isotonic"]):
        for personalized in (True, False):
            again = logged(bundle, windows, store, personalized)
            assert [r["model_probs"] for r in again] == [r["model_probs"] for r in plain]
    # and they are the model's own probabilities, to 6 decimals
    data = parse_labelled([(str(i), w) for i, w in enumerate(windows)], bundle.schema)
    direct = bundle.predict_many(data.features, num_threads=1)
    got = np.asarray([[r["model_probs"][k] for k in CORE_LABELS] for r in plain])
    np.testing.assert_array_equal(got, np.round(direct, 6))
    assert LABEL_INDEX  # the class order of every row above
