"""What the latest `personalize` did (the daily timer's trace): written by it, shown by `status`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.paths import ensure_private_dir, personalize_record

__all__ = ["describe_last", "read_last", "record_last"]


def read_last(data_dir: Path) -> dict[str, Any] | None:
    """The latest run's record, or ``None`` if personalize never ran (or the file is damaged)."""
    try:
        doc = json.loads(personalize_record(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def record_last(data_dir: Path, doc: Mapping[str, Any]) -> None:
    """Write the record (0600); a failure is a warning, never the run's outcome."""
    from daemon.fsutil import atomic_write_text, utc_now  # `status` only reads

    path = personalize_record(data_dir)
    try:
        ensure_private_dir(path.parent)
        atomic_write_text(path, json.dumps({"at": utc_now("seconds"), **doc}, indent=2) + "\n")
    except OSError as exc:
        print(f"taskclf-daemon: warning: cannot write {path} ({exc.strerror or exc})")


def describe_last(doc: Mapping[str, Any]) -> str:
    """One line for `status`: when personalize last ran, what it did, per user."""
    outcome = doc.get("outcome", "?")
    head = f"personalize {outcome} at {doc.get('at', '?')}"
    store = doc.get("store") or {}
    if outcome in ("written", "unchanged") and store.get("id"):
        head += f": store {store['id']}"
    if outcome in ("failed", "skipped"):
        return f"{head}: {doc.get('error') or doc.get('reason') or ''}".rstrip(": ")
    users = doc.get("users") or []
    parts = [f"{u.get('user_id')} {_short(u)}" for u in users if isinstance(u, dict)]
    return f"{head} ({', '.join(parts)})" if parts else head


def _short(user: Mapping[str, Any]) -> str:
    decision = user.get("decision")
    if decision == "n.a.":
        return "not eligible" if user.get("why") != "opted out" else "opted out"
    return str(decision)
