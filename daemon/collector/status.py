"""The collector's status file (last poll, cursor, windows emitted, last error) and its readers."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.fsutil import atomic_write_text
from daemon.paths import collector_status_file

__all__ = [
    "format_collector_status",
    "read_collector_status",
    "status_path",
    "write_status",
]


def status_path(settings: Any) -> Path:
    """The status file of the collector configured by ``settings`` (a Settings)."""
    return collector_status_file(settings.data_dir)


def write_status(path: Path, doc: Mapping[str, Any]) -> None:
    # rewritten every poll: atomic, but not worth an fsync
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n", durable=False)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_collector_status(data_dir: Path) -> dict[str, Any] | None:
    """The collector's last status (with ``running``: its process is alive), or None if it
    never ran. For ``taskclf-daemon status`` and ``doctor`` (cheap: no settings needed)."""
    try:
        doc = json.loads(collector_status_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    doc["running"] = doc.get("state") == "running" and _alive(doc.get("pid"))
    return doc


def format_collector_status(doc: Mapping[str, Any] | None) -> str:
    if doc is None:
        return "collector: never ran (start it with `taskclf-daemon collect`)"
    if doc.get("running"):
        head = f"collector: running (pid {doc.get('pid')}, mode {doc.get('mode')})"
    else:
        # a pid of a process that is gone would only invite `kill` on whatever has it now
        ended = (
            f"stopped {doc['stopped_at']}"
            if doc.get("state") == "stopped" and doc.get("stopped_at")
            else "stopped"
            if doc.get("state") == "stopped"
            else "ended without stopping: killed, or the machine went down"
        )
        head = (
            f"collector: not running (its last run, mode {doc.get('mode')}, {ended}); start "
            "it with `taskclf-daemon collect` or `taskclf-daemon service install --collector`"
        )
    lines = [
        head,
        f"  source:          {doc.get('source')} (host {doc.get('aw_hostname')})",
        f"  last poll:       {doc.get('last_poll_at') or 'never'}",
        f"  cursor:          {doc.get('cursor') or 'none'}",
        f"  windows emitted: {doc.get('windows_emitted', 0)} "
        f"(last file {doc.get('last_file') or 'none'})",
        f"  schema:          {doc.get('schema_version')}  user {doc.get('user_id')}",
    ]
    if "input_bucket" in doc:  # since its first poll (and not in an older version's file)
        lines.append(
            f"  keyboard/mouse:  {doc['input_bucket']}"
            if doc["input_bucket"]
            else "  keyboard/mouse:  none: ActivityWatch has no aw-watcher-input bucket for this "
            "host, so those columns stay null (`taskclf-daemon doctor` says what it costs)"
        )
    lines.extend(_labels(doc))
    lines.extend(_trouble(doc))
    if doc.get("last_error"):
        lines.append(f"  last error:      {doc.get('last_error')} (at {doc.get('last_error_at')})")
    return "\n".join(lines)


def _labels(doc: Mapping[str, Any]) -> list[str]:
    """aw_write_labels: what went into ActivityWatch's label bucket, and why not."""
    labels = doc.get("aw_labels")
    if not isinstance(labels, dict):
        return []
    counts = (
        f"{labels.get('added', 0)} added, {labels.get('updated', 0)} updated, "
        f"{labels.get('removed', 0)} removed since start"
    )
    last = labels.get("last_written_at")
    lines = [
        f"  labels into AW:  {labels.get('bucket')} ({counts}; last change {last or 'none yet'})"
    ]
    if labels.get("last_error"):
        lines.append(
            f"  labels failed:   {labels.get('last_error')} (at {labels.get('last_error_at')}; "
            f"{labels.get('failures')} failed since start, retried at each poll)"
        )
    return lines


def _offset(seconds: float) -> str:
    """A signed clock offset a person reads at a glance: seconds, minutes, hours or days."""
    size = abs(seconds)
    if size < 120:
        return f"{seconds:+g} s"
    if size < 7200:
        return f"{seconds / 60:+.0f} min"
    if size < 172800:
        return f"{seconds / 3600:+.1f} h"
    return f"{seconds / 86400:+.1f} days"


def _trouble(doc: Mapping[str, Any]) -> list[str]:
    """What ActivityWatch's data and the clocks did to the last polls (the file may come from
    another version: every key is optional)."""
    lines: list[str] = []
    clock = doc.get("clock")
    clock = clock if isinstance(clock, dict) else {}
    if clock.get("aw_now"):
        ahead = clock.get("system_ahead_s")
        note = f" (system clock {_offset(ahead)} from it)" if isinstance(ahead, int | float) else ""
        lines.append(f"  activitywatch:   data up to {clock['aw_now']}{note}")
    steps = clock.get("steps")
    last = clock.get("last_step")
    if isinstance(steps, int) and steps and isinstance(last, dict):
        lines.append(
            f"  clock steps:     {steps}, the last {last.get('by_s')} s at {last.get('at')}; "
            "minutes follow ActivityWatch's data, not the system clock"
        )
    waiting = doc.get("waiting")
    if isinstance(waiting, dict):
        lines.append(
            f"  waiting:         minute {waiting.get('minute')}: {waiting.get('reason')} "
            f"(since {waiting.get('since')})"
        )
    skipped = doc.get("events_skipped")
    if isinstance(skipped, dict) and skipped:
        counts = ", ".join(f"{reason} {n}" for reason, n in skipped.items())
        total = sum(n for n in skipped.values() if isinstance(n, int))
        lines.append(
            f"  events skipped:  {total} unreadable ({counts}); the log names each (event_skipped)"
        )
    odd = doc.get("events_end_beyond_data")
    if isinstance(odd, int) and odd:
        lines.append(
            f"  odd events:      {odd} claim to end after ActivityWatch's latest data; not "
            "waited for (event_end_beyond_data in the log)"
        )
    return lines
