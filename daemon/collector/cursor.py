"""The persisted cursor: the first minute the collector has not emitted yet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from daemon.fsutil import atomic_write_text, utc_now
from taskclf_core.activity import MINUTE_US, format_us, parse_timestamp_us
from taskclf_core.errors import ActivityError, ConfigError

__all__ = ["Cursor", "read_cursor", "write_cursor"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Minutes before ``next_us`` were emitted for ``user_id`` from ``hostname``'s buckets."""

    next_us: int
    user_id: str
    hostname: str


def read_cursor(path: Path) -> Cursor | None:
    """The cursor, or None when there is none yet; a damaged one is a ConfigError naming it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: the collector cursor is unreadable ({exc}); remove it to start from "
            "today's UTC start (the daemon skips windows it already labelled)"
        ) from None
    try:
        if not isinstance(doc, dict):
            raise ActivityError("expected an object")
        next_us = parse_timestamp_us(doc.get("next_bucket_start_ts"), "next_bucket_start_ts")
        user_id, hostname = doc.get("user_id"), doc.get("aw_hostname")
        if not isinstance(user_id, str) or not isinstance(hostname, str):
            raise ActivityError("user_id and aw_hostname: expected strings")
    except ActivityError as exc:
        raise ConfigError(f"{path}: not a collector cursor ({exc}); remove it") from None
    if next_us % MINUTE_US:
        raise ConfigError(f"{path}: next_bucket_start_ts is not a whole minute; remove it")
    return Cursor(next_us=next_us, user_id=user_id, hostname=hostname)


def write_cursor(path: Path, cursor: Cursor) -> None:
    """Replace the cursor atomically and durably (0600)."""
    doc = {
        "next_bucket_start_ts": format_us(cursor.next_us),
        "user_id": cursor.user_id,
        "aw_hostname": cursor.hostname,
        "updated_at": utc_now(),
    }
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
