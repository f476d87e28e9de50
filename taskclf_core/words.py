"""Counts in messages: "1 span", "2 spans" (the one rule for every count a person reads)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is one (``nouns``: when it is not
    ``noun`` + "s"). ``plural(1, "span")`` is "1 span", ``plural(0, "entry", "entries")``
    "0 entries"; a number a person reads as a count, so round a float first."""
    return f"{n} {noun if n == 1 else nouns if nouns is not None else noun + 's'}"
