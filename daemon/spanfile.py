"""The span file (<data_dir>/label_spans.jsonl): read, replaced atomically, one writer at a time.

:func:`add_span` and :func:`remove_span` are the one way a span is added or taken back, by
`label add` and by the page alike: the same checks (taskclf's merge key, overlaps refused
naming the other span) under the same lock.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.paths import ensure_private_dir
from taskclf_core.errors import SpanError

if TYPE_CHECKING:
    from taskclf_core.spans import LabelSpan

__all__ = ["Added", "add_span", "load_spans", "locked", "remove_span", "save_spans"]


def load_spans(path: Path) -> list[LabelSpan]:
    """Every span in the span file (none if it does not exist); a bad line names file:line.

    A span outside the supported times (an older version took ``--from 9999-12-31``) can
    label no window: it is skipped with a warning, and the next change rewrites the file
    without it.
    """
    from taskclf_core.spans import read_spans_jsonl

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise SpanError(f"{path}: cannot read ({exc})") from None
    read = read_spans_jsonl(text, source=str(path), skip_out_of_range=True)
    for where in read.out_of_range:
        print(
            f"taskclf-daemon: warning: {where}; span skipped (`label add`, `remove` or "
            "`import` rewrite the file without it)",
            file=sys.stderr,
        )
    return list(read.spans)


def save_spans(path: Path, spans: Sequence[LabelSpan]) -> None:
    """Replace the span file atomically (0600; its directory 0700)."""
    from daemon.fsutil import atomic_write_text
    from taskclf_core.spans import spans_to_jsonl

    ensure_private_dir(path.parent)
    atomic_write_text(path, spans_to_jsonl(spans))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One read-modify-write of the span file at a time (two `label add` must not lose one)."""
    ensure_private_dir(path.parent)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Added:
    """What :func:`add_span` did: the span, the one it replaced (same user, start and end:
    taskclf's merge key) if any, and every span of the file now."""

    span: LabelSpan
    replaced: LabelSpan | None
    spans: tuple[LabelSpan, ...]


def add_span(path: Path, span: LabelSpan) -> Added:
    """Add ``span`` to the span file (a span with its key is replaced).

    Raises :class:`taskclf_core.spans.SpanOverlap` (nothing written) when it overlaps a span
    of its user with another label; the error carries both spans.
    """
    from taskclf_core.spans import merge_spans

    with locked(path):
        existing = load_spans(path)
        replaced = next((s for s in existing if s.key == span.key), None)
        merged = merge_spans(existing, [span])
        save_spans(path, merged)
    return Added(span, replaced, tuple(merged))


def remove_span(path: Path, span: LabelSpan, *, restore: LabelSpan | None = None) -> None:
    """Take back exactly ``span`` (every field equal), putting ``restore`` back in its place
    (the span it replaced): the undo of :func:`add_span`.

    Raises :class:`SpanError` naming the span when the file no longer holds it as it was
    (removed or replaced since), and nothing is written.
    """
    from taskclf_core.spans import merge_spans

    with locked(path):
        existing = load_spans(path)
        kept = [s for s in existing if s != span]
        if len(kept) == len(existing):
            raise SpanError(
                f"{path}: span {span.describe()} is not there any more (removed or replaced "
                "since); nothing changed"
            )
        save_spans(path, merge_spans(kept, [] if restore is None else [restore]))
