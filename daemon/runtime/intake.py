"""Spool file contents → validated windows, with a reason for everything refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic_core

from daemon.runtime.spool import Claimed
from taskclf_core.errors import WindowError
from taskclf_core.schema import FeatureSchema, FeatureWindow, parse_window, parse_windows
from taskclf_core.surrogates import replace_surrogate_escapes

__all__ = [
    "FileRefusal",
    "ParsedFile",
    "Pending",
    "RefusedWindow",
    "parse_spool_file",
    "read_claimed",
]


@dataclass(frozen=True, slots=True)
class RefusedWindow:
    """One window of a file that could not be labelled."""

    position: int  # 0-based index in a .json list, 1-based line number in .jsonl
    field: str | None
    reason: str
    window: Any  # the refused JSON value (None when it did not parse), so nothing is lost

    def to_json(self, *, jsonl: bool) -> dict[str, Any]:
        return {
            ("line" if jsonl else "index"): self.position,
            "field": self.field,
            "reason": self.reason,
            "window": self.window,
        }


@dataclass(frozen=True, slots=True)
class FileRefusal:
    """The whole file could not be read as windows."""

    error: str  # short code: empty_file, invalid_json, too_large, not_a_file, ...
    detail: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    windows: tuple[FeatureWindow, ...]
    refused: tuple[RefusedWindow, ...]
    jsonl: bool
    # each good window's JSON object, and its line when the file held it on one line as it
    # parsed (.jsonl): what the feature archive keeps, the line itself when there is one
    objects: tuple[Mapping[str, Any], ...] = ()
    lines: tuple[bytes | None, ...] = ()

    def archived(self) -> tuple[bytes, ...]:
        """Each good window as one JSON line (no newline) for the feature archive."""
        return tuple(
            line if line is not None else pydantic_core.to_json(obj)
            for obj, line in zip(self.objects, self.lines, strict=True)
        )


@dataclass(frozen=True, slots=True)
class Pending:
    """A claimed file and its parsed windows, not yet acknowledged."""

    claimed: Claimed
    parsed: ParsedFile


def _loads(data: bytes) -> tuple[Any, bool]:
    """The JSON value, and whether ``data`` is its text as it stands (not repaired)."""
    # pydantic-core's parser is ~5x faster than json.loads and bounds nesting depth;
    # NaN/inf are accepted here so the window check can name the field that has them
    try:
        return pydantic_core.from_json(data, allow_inf_nan=True, cache_strings=False), True
    except ValueError:
        # it refuses an unpaired surrogate escape ("\ud800"), which is valid JSON: such a
        # character becomes U+FFFD, the collector's rule too (taskclf_core.surrogates)
        fixed = replace_surrogate_escapes(data)
        if fixed == data:
            raise
        return pydantic_core.from_json(fixed, allow_inf_nan=True, cache_strings=False), False


def _one(value: Any, position: int, schema: FeatureSchema) -> FeatureWindow | RefusedWindow:
    try:
        return parse_window(value, schema)
    except WindowError as exc:
        return RefusedWindow(position, exc.field, str(exc), value)
    except (OverflowError, ValueError) as exc:
        # an edge the core's checks missed (e.g. a date out of range): refuse it, never crash
        return RefusedWindow(position, None, f"window: cannot be read ({exc})", value)


def _many(
    items: list[tuple[int, Any]], schema: FeatureSchema
) -> list[FeatureWindow | RefusedWindow]:
    """All windows of a file at once (column-wise); one by one if an edge case trips that."""
    try:
        parsed = parse_windows([value for _, value in items], schema)
    except (OverflowError, ValueError):
        return [_one(value, position, schema) for position, value in items]
    return [
        RefusedWindow(position, p.field, str(p), value) if isinstance(p, WindowError) else p
        for (position, value), p in zip(items, parsed, strict=True)
    ]


def parse_spool_file(name: str, data: bytes, schema: FeatureSchema) -> ParsedFile | FileRefusal:
    """Parse a ``*.json`` (object or list) or ``*.jsonl`` (object per line) spool file."""
    jsonl = name.endswith(".jsonl")
    if not (jsonl or name.endswith(".json")):
        return FileRefusal("unsupported_type", "expected a .json or .jsonl file name")
    if not data.strip():
        return FileRefusal("empty_file", "the file is empty; expected JSON windows")
    if b"\0" in data:
        return FileRefusal("binary_content", "the file contains NUL bytes; expected UTF-8 JSON")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FileRefusal("invalid_utf8", f"not valid UTF-8 at byte {exc.start}")

    results: list[FeatureWindow | RefusedWindow] = []
    items: list[tuple[int, Any]] = []
    texts: list[bytes | None] = []
    if jsonl:
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                value, as_is = _loads(line)
            except ValueError as exc:
                results.append(
                    RefusedWindow(number, None, f"line {number}: not valid JSON ({exc})", None)
                )
                continue
            items.append((number, value))
            texts.append(line.strip() if as_is else None)
    else:
        try:
            value, _ = _loads(data)
        except ValueError as exc:
            return FileRefusal("invalid_json", f"not valid JSON ({exc})")
        if isinstance(value, list):
            if not value:
                return FileRefusal("empty_file", "the file holds an empty list; expected windows")
            items.extend(enumerate(value))
        else:
            items.append((0, value))
    parsed = _many(items, schema)
    results.extend(parsed)
    if not results:
        return FileRefusal("empty_file", "the file holds no windows")
    if not jsonl:
        texts = [None] * len(items)
    good = [
        (p, value, text)
        for p, (_, value), text in zip(parsed, items, texts, strict=True)
        if isinstance(p, FeatureWindow)
    ]
    return ParsedFile(
        windows=tuple(p for p, _, _ in good),
        # in file order: lines that were not JSON were refused before the rest was parsed
        refused=tuple(
            sorted((r for r in results if isinstance(r, RefusedWindow)), key=lambda r: r.position)
        ),
        jsonl=jsonl,
        objects=tuple(value for _, value, _ in good),
        lines=tuple(text for _, _, text in good),
    )


def read_claimed(
    claimed: Claimed, schema: FeatureSchema, *, max_bytes: int
) -> ParsedFile | FileRefusal:
    """A claimed file's windows, or why it is refused (raises FileNotFoundError if it vanished)."""
    if claimed.kind != "file":
        return FileRefusal("not_a_file", f"expected a regular file, found a {claimed.kind}")
    if claimed.size > max_bytes:
        return FileRefusal(
            "too_large", f"{claimed.size} bytes exceeds max_file_bytes = {max_bytes}"
        )
    try:
        with open(claimed.path, "rb") as fh:
            # the size seen at claim time, +1 to notice a file that grew past the limit
            data = fh.read(min(claimed.size, max_bytes) + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        return FileRefusal("unreadable", f"cannot read the file ({exc.strerror or exc})")
    if len(data) > max_bytes:
        return FileRefusal("too_large", f"exceeds max_file_bytes = {max_bytes}")
    return parse_spool_file(claimed.name, data, schema)
