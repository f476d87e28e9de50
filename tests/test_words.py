"""Counts in messages: one rule, "1 span" and "2 spans"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taskclf_core.words import plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert plural(1, "span") == "1 span"
    assert plural(0, "span") == "0 spans"
    assert plural(2, "window") == "2 windows"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"
    assert plural(-1, "day") == "-1 days"


@given(st.integers(), st.from_regex(r"[a-z][a-z -]{0,20}[a-z]", fullmatch=True))
def test_the_count_comes_first_and_only_one_is_singular(n: int, noun: str) -> None:
    said = plural(n, noun)
    assert said.startswith(f"{n} ")
    assert said == (f"{n} {noun}" if n == 1 else f"{n} {noun}s")
