"""Test helpers for labelled logs: spans a careful labeller makes, refits from model_probs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IdentityCalibrator,
    IsotonicCalibrator,
)
from taskclf_core.labels import CORE_LABELS
from taskclf_core.spans import LabelSpan
from taskclf_core.synthetic import labeller_spans
from taskclf_core.synthetic_aw import AWDays, AWPerson, aw_days, collector_rows

__all__ = ["aw_rows", "calibrator_of", "reproduction_error", "reproduction_tolerance", "spans_from"]


def calibrator_of(record: dict[str, Any], store: CalibratorStore | None) -> Calibrator:
    """The calibrator a record names (``calibrator``: user, global or identity)."""
    if record["calibrator"] == "identity" or store is None:
        return IdentityCalibrator()
    if record["calibrator"] == "user":
        return store.user_calibrators[record["user_id"]]
    return store.global_calibrator


def reproduction_error(records: list[dict[str, Any]], store: CalibratorStore | None) -> float:
    """Largest |record's calibrator(model_probs) - core_probs| over every record and class."""
    worst = 0.0
    for r in records:
        model = np.asarray([r["model_probs"][k] for k in CORE_LABELS])
        core = np.asarray([r["core_probs"][k] for k in CORE_LABELS])
        worst = max(worst, float(np.abs(calibrator_of(r, store).calibrate(model) - core).max()))
    return worst


def reproduction_tolerance(store: CalibratorStore | None) -> float:
    """How far calibrating 6-decimal model_probs may land from the logged core_probs.

    Temperature (as taskclf fits it) and identity: within 1e-5. An isotonic map can be
    steep between two close thresholds, and there a 5e-7 rounding of the model's
    probability moves the output by slope x 5e-7: the bound is that, per class, plus the
    renormalisation over 8 classes and the 6-decimal rounding of core_probs.
    """
    calibrators = (
        [] if store is None else [store.global_calibrator, *store.user_calibrators.values()]
    )
    steepest = 0.0
    for calibrator in calibrators:
        if not isinstance(calibrator, IsotonicCalibrator):
            continue
        for reg in calibrator.regressors:
            dx, dy = np.diff(reg.x_thresholds), np.diff(reg.y_thresholds)
            slopes = np.abs(dy[dx > 0] / dx[dx > 0])
            steepest = max(steepest, float(slopes.max(initial=0.0)))
    if steepest == 0.0:
        return 1e-5
    return 2 * len(CORE_LABELS) * (steepest + 1) * 5e-7 + 5e-7


def spans_from(windows: list[dict[str, Any]], label_key: str = "label") -> list[LabelSpan]:
    """One span per run of contiguous windows of one user and one label (a careful labeller)."""
    return labeller_spans(windows, label_key)


def aw_rows(
    person: AWPerson, *, start: datetime, n_days: int, seed: int, with_input: bool = True
) -> tuple[list[dict[str, Any]], AWDays]:
    """``n_days`` days of ``person`` from ``start`` as the collector builds them from
    ActivityWatch (v3 rows of user ``u-typed``), and the days (their spans, the truth);
    without ``with_input``, from an ActivityWatch without aw-watcher-input."""
    days = aw_days(person, start=start, days=n_days, seed=seed)
    rows = collector_rows(
        days, start=start, n_days=n_days, user_id="u-typed", salt="5a17" * 16,
        with_input=with_input,
    )  # fmt: skip
    return rows, days
