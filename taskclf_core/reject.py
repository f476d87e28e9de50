"""The reject decision: a window whose confidence is below the threshold is Mixed/Unknown."""

from __future__ import annotations

from taskclf_core.labels import REJECT_LABEL

__all__ = ["apply_reject", "is_rejected"]


def is_rejected(confidence: float, threshold: float) -> bool:
    """Strict: a confidence exactly at the threshold is accepted."""
    return confidence < threshold


def apply_reject(core_label: str, confidence: float, threshold: float) -> str:
    return REJECT_LABEL if is_rejected(confidence, threshold) else core_label
