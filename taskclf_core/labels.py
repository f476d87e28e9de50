"""The task classes, in the alphabetical order every probability vector uses."""

from __future__ import annotations

from typing import Final

__all__ = ["CORE_LABELS", "LABEL_INDEX", "N_CLASSES", "REJECT_LABEL"]

CORE_LABELS: Final[tuple[str, ...]] = (
    "BreakIdle",
    "Build",
    "Communicate",
    "Debug",
    "Meet",
    "ReadResearch",
    "Review",
    "Write",
)
N_CLASSES: Final[int] = len(CORE_LABELS)
LABEL_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(CORE_LABELS)}
REJECT_LABEL: Final[str] = "Mixed/Unknown"
