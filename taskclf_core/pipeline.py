"""The pure pipeline: snapshot + smoothing state + window(s) -> new state + label record(s)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from taskclf_core.bundle import Model
from taskclf_core.calibration import CalibratorStore, calibrate_rows
from taskclf_core.labels import CORE_LABELS
from taskclf_core.record import LabelRecord
from taskclf_core.reject import apply_reject
from taskclf_core.schema import FeatureWindow
from taskclf_core.smoothing import Entry, SmoothingState
from taskclf_core.taxonomy import Taxonomy, bucket_probs, map_label
from taskclf_core.types import FloatArray

__all__ = ["Policy", "Snapshot", "label_window", "label_windows"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Decision settings of one snapshot (an inference policy's thresholds swap in with it)."""

    reject_threshold: float = 0.55
    smooth_window: int = 3
    idle_gap_seconds: float = 300.0
    personalization: bool = True
    opt_out_users: frozenset[str] = frozenset()
    predict_threads: int = 0
    # an inference policy's per-user reject thresholds: each applies to that user only
    user_thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def threshold_for(self, user_id: str) -> float:
        """The reject threshold of ``user_id``: their own, else ``reject_threshold``."""
        return self.user_thresholds.get(user_id, self.reject_threshold)

    def personalized(self, user_id: str) -> bool:
        """May this user get their own calibrator? (``personalization`` on and not opted out)."""
        return self.personalization and user_id not in self.opt_out_users

    def empty_state(self) -> SmoothingState:
        return SmoothingState(self.smooth_window, self.idle_gap_seconds)


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """Everything one window is labelled with; hot reload swaps a whole new one in.

    ``bundle`` is a loaded bundle or the rule baseline. The baseline makes its own reject
    decision (its ``fixed_reject_threshold`` applies instead of the policy's) and its outputs
    are not probabilities to calibrate, so it takes no store.
    """

    bundle: Model
    store: CalibratorStore | None
    policy: Policy
    taxonomy: Taxonomy | None = None

    def __post_init__(self) -> None:
        if self.store is not None and self.bundle.fixed_reject_threshold is not None:
            raise ValueError(
                f"store: model {self.bundle.bundle_id!r} makes its own reject decision and "
                "takes no calibrator store"
            )

    @property
    def store_id(self) -> str | None:
        return self.store.store_id if self.store is not None else None


def label_window(
    snapshot: Snapshot,
    state: SmoothingState,
    window: FeatureWindow,
    *,
    source: str,
    processed_at: str,
) -> tuple[SmoothingState, LabelRecord]:
    """Label one window (LightGBM's single-row path); same records as :func:`label_windows`."""
    raw = snapshot.bundle.predict_one(window.features)[np.newaxis, :]
    state, records = _decide(snapshot, state, [window], raw, [source], processed_at)
    return state, records[0]


def label_windows(
    snapshot: Snapshot,
    state: SmoothingState,
    windows: Sequence[FeatureWindow],
    *,
    sources: Sequence[str],
    processed_at: str,
) -> tuple[SmoothingState, list[LabelRecord]]:
    """Label a batch in order with one LightGBM call; smoothing runs window by window."""
    if len(sources) != len(windows):
        raise ValueError(f"sources: expected {len(windows)} names, got {len(sources)}")
    if not windows:
        return state, []
    rows = np.stack([w.features for w in windows])
    raw = snapshot.bundle.predict_many(rows, num_threads=snapshot.policy.predict_threads)
    return _decide(snapshot, state, windows, raw, sources, processed_at)


def _decide(
    snapshot: Snapshot,
    state: SmoothingState,
    windows: Sequence[FeatureWindow],
    raw: FloatArray,
    sources: Sequence[str],
    processed_at: str,
) -> tuple[SmoothingState, list[LabelRecord]]:
    policy = snapshot.policy
    user_ids = [w.user_id for w in windows]
    probs, kinds = calibrate_rows(
        snapshot.store, raw, user_ids, [policy.personalized(u) for u in user_ids]
    )
    taxonomy = snapshot.taxonomy
    mapped = bucket_probs(taxonomy, probs) if taxonomy is not None else None
    best = probs.argmax(axis=1).tolist()
    confidences = probs[np.arange(len(windows)), best].tolist()
    fixed = snapshot.bundle.fixed_reject_threshold
    thresholds = (
        [fixed] * len(user_ids)
        if fixed is not None
        else [policy.threshold_for(u) for u in user_ids]
        if policy.user_thresholds
        else [policy.reject_threshold] * len(user_ids)
    )
    labels = [
        apply_reject(CORE_LABELS[b], c, t)
        for b, c, t in zip(best, confidences, thresholds, strict=True)
    ]
    state, smoothed_labels = state.steps(
        (w.user_id, Entry(w.start_epoch, w.end_epoch, label))
        for w, label in zip(windows, labels, strict=True)
    )
    bundle = snapshot.bundle
    # rounded once per batch; np.round lands on the double nearest to the 6-decimal value
    rounded = np.round(probs, 6).tolist()
    # the model's own probabilities, 6 decimals as docs/windows.md says: enough to refit
    # a calibrator from the log (see tests/test_model_probs.py for what 6 decimals cost)
    model_rows = np.round(raw, 6).tolist()
    records: list[LabelRecord] = []
    for i, window in enumerate(windows):
        core_label = CORE_LABELS[best[i]]
        label, smoothed = labels[i], smoothed_labels[i]
        if taxonomy is not None and mapped is not None:
            mapped_label = map_label(taxonomy, smoothed)
            mapped_probs = {
                name: round(p, 6)
                for name, p in zip(taxonomy.bucket_names, mapped[i].tolist(), strict=True)
            }
        else:
            mapped_label, mapped_probs = smoothed, None
        records.append(
            LabelRecord(
                user_id=window.user_id,
                bucket_start_ts=window.start_ts,
                bucket_end_ts=window.end_ts,
                core_label=core_label,
                core_probs=dict(zip(CORE_LABELS, rounded[i], strict=True)),
                confidence=confidences[i],
                is_rejected=label != core_label,
                label=label,
                smoothed_label=smoothed,
                mapped_label=mapped_label,
                mapped_probs=mapped_probs,
                calibrator=kinds[i],
                reject_threshold=thresholds[i],
                model_bundle_id=bundle.bundle_id,
                model_schema_hash=bundle.schema_hash,
                store_id=snapshot.store_id,
                source=sources[i],
                processed_at=processed_at,
                model_probs=dict(zip(CORE_LABELS, model_rows[i], strict=True)),
                span=window.span,
            )
        )
    return state, records
