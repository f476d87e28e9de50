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
    state = "running" if doc.get("running") else "not running"
    lines = [
        f"collector: {state} (pid {doc.get('pid')}, mode {doc.get('mode')})",
        f"  source:          {doc.get('source')} (host {doc.get('aw_hostname')})",
        f"  last poll:       {doc.get('last_poll_at') or 'never'}",
        f"  cursor:          {doc.get('cursor') or 'none'}",
        f"  windows emitted: {doc.get('windows_emitted', 0)} "
        f"(last file {doc.get('last_file') or 'none'})",
        f"  schema:          {doc.get('schema_version')}  user {doc.get('user_id')}",
    ]
    if doc.get("last_error"):
        lines.append(f"  last error:      {doc.get('last_error')} (at {doc.get('last_error_at')})")
    return "\n".join(lines)
