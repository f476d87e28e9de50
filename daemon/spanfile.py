"""The span file (<data_dir>/label_spans.jsonl): read, replaced atomically, one writer at a time."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.paths import ensure_private_dir
from taskclf_core.errors import SpanError

if TYPE_CHECKING:
    from taskclf_core.spans import LabelSpan

__all__ = ["load_spans", "locked", "save_spans"]


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
