"""The span file's one way to add and take back a span (`label add` and the page share it)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.spanfile import add_span, load_spans, remove_span
from taskclf_core.errors import SpanError
from taskclf_core.spans import LabelSpan, SpanOverlap

T0 = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)


def span(
    a: int, b: int, label: str, user: str | None = "u1", provenance: str = "manual"
) -> LabelSpan:
    return LabelSpan(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b), label, provenance, user)


def test_add_then_remove_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "data" / "label_spans.jsonl"
    first = add_span(path, span(0, 30, "Build"))
    assert first.replaced is None
    assert first.spans == (span(0, 30, "Build"),)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    added = add_span(path, span(30, 60, "Debug"))
    assert added.spans == (span(0, 30, "Build"), span(30, 60, "Debug"))
    remove_span(path, added.span)
    assert path.read_bytes() == before


def test_an_overlap_names_the_other_span_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "label_spans.jsonl"
    add_span(path, span(0, 30, "Build"))
    before = path.read_bytes()
    with pytest.raises(SpanOverlap) as caught:
        add_span(path, span(20, 40, "Meet"))
    assert caught.value.spans == (span(0, 30, "Build"), span(20, 40, "Meet"))
    assert span(0, 30, "Build").id in str(caught.value)
    assert path.read_bytes() == before
    add_span(path, span(20, 40, "Meet", user="u2"))  # another user's time: no overlap


def test_undoing_a_replacement_puts_the_replaced_span_back(tmp_path: Path) -> None:
    path = tmp_path / "label_spans.jsonl"
    add_span(path, span(0, 30, "Build"))
    again = add_span(path, span(0, 30, "Write", provenance="suggestion"))
    assert again.replaced == span(0, 30, "Build")
    assert load_spans(path) == [span(0, 30, "Write", provenance="suggestion")]
    remove_span(path, again.span, restore=again.replaced)
    assert load_spans(path) == [span(0, 30, "Build")]


def test_removing_a_span_that_changed_since_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "label_spans.jsonl"
    added = add_span(path, span(0, 30, "Build"))
    add_span(path, span(0, 30, "Debug"))  # replaced by someone else (another tab, `label add`)
    before = path.read_bytes()
    with pytest.raises(SpanError, match="is not there any more"):
        remove_span(path, added.span)
    assert path.read_bytes() == before
