"""One fixed colour per label, the same in the terminal and on the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from taskclf_core.labels import REJECT_LABEL

__all__ = ["LABEL_COLOURS", "REJECT_COLOUR", "SPARE_COLOURS", "colour_for", "rgb"]

# Tableau 10: distinct for most colour-vision deficiencies, readable on white and on dark
LABEL_COLOURS: Final[Mapping[str, str]] = {
    "Build": "#4E79A7",
    "Debug": "#E15759",
    "Write": "#59A14F",
    "Review": "#B07AA1",
    "ReadResearch": "#F28E2B",
    "Communicate": "#76B7B2",
    "Meet": "#EDC948",
    "BreakIdle": "#BAB0AC",
}
REJECT_COLOUR: Final = "#7F7F7F"
SPARE_COLOURS: Final = (
    "#9C755F",
    "#D37295",
    "#A0CBE8",
    "#B6992D",
    "#8CD17D",
    "#FF9DA7",
    "#86BCB6",
)


def colour_for(label: str, extra: Mapping[str, str] | None = None) -> str:
    """The label's colour: core labels fixed, taxonomy buckets their own, others by name."""
    if extra and label in extra:
        return extra[label]
    if label in LABEL_COLOURS:
        return LABEL_COLOURS[label]
    if label == REJECT_LABEL:
        return REJECT_COLOUR
    # a stable pick for names we know nothing about (e.g. a bucket without a colour)
    return SPARE_COLOURS[sum(label.encode()) % len(SPARE_COLOURS)]


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
