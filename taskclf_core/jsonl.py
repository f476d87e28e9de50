"""JSON Lines read by one rule: a line that parses is kept; only an unfinished last line is torn.

Every JSONL file the project appends to (the label log, the policy history) and the span
file are read through :func:`split_lines`, so a complete last entry that merely lacks its
final newline (an editor, another tool, a copy) is never mistaken for a torn append.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import AnyStr, Generic

__all__ = ["Lines", "parses", "split_lines"]


def parses(line: str | bytes) -> bool:
    """True if ``line`` is one JSON value (whatever its shape)."""
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Lines(Generic[AnyStr]):
    """A JSONL file's non-blank lines to read, as ``(line number, text)``, and its torn tail:
    the text after the last newline when it does not parse (empty if there is none)."""

    lines: list[tuple[int, AnyStr]]
    torn: AnyStr


def split_lines(data: AnyStr) -> Lines[AnyStr]:
    """``data`` as JSONL lines; a last line without its newline is read if it parses.

    Only a crash in the middle of an append leaves a last line that is neither complete nor
    newline-terminated: that one, and only that one, is the torn tail.
    """
    newline = "\n" if isinstance(data, str) else b"\n"
    parts = data.split(newline)
    tail = parts.pop()  # after the last newline: empty when the data ends with one
    torn = data[:0]
    if tail.strip():
        if parses(tail):
            parts.append(tail)
        else:
            torn = tail
    return Lines([(n, line) for n, line in enumerate(parts, start=1) if line.strip()], torn)
