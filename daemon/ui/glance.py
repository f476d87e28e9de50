"""Status and drift at a glance: what `status` says of the daemon, for the page.

Read from the same files `status` reads (the status file beside the spool lock, the lock's
holder, the collector's status, the last personalize) and judged by the same verdict
(:func:`daemon.runtime.status.evaluate`). Drift is the running daemon's own live figures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from daemon.collector.status import format_collector_status, read_collector_status
from daemon.lock import lock_holder
from daemon.records import describe_last, read_last
from daemon.reporting.drift import format_drift
from daemon.runtime.status import evaluate, read_status

if TYPE_CHECKING:
    from daemon.config.settings import Settings

__all__ = ["drifting_users", "glance", "glance_digest"]


def _pick(doc: Mapping[str, Any], key: str, *fields: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, Mapping):
        return dict.fromkeys(fields)
    return {f: value.get(f) for f in fields}


def _drift(doc: Mapping[str, Any]) -> dict[str, Any]:
    drift = doc.get("drift") if doc.get("running") else None
    if not isinstance(drift, Mapping):
        return {}
    out: dict[str, Any] = {}
    for user, figures in drift.items():
        if not isinstance(figures, Mapping):
            continue
        alerts = figures.get("alerts") or []
        out[str(user)] = {
            "enough_data": bool(figures.get("enough_data")),
            "alerts": [
                {"trigger": a.get("trigger"), "severity": a.get("severity")}
                for a in alerts
                if isinstance(a, Mapping)
            ],
            "lines": [line.strip() for line in format_drift({str(user): figures})],
        }
    return out


def glance(settings: Settings) -> dict[str, Any]:
    """The daemon's state, model, store, last window and drift; the collector's and the last
    personalize's one line each."""
    code, doc = evaluate(read_status(settings.status_path), lock_holder(settings.lock_path))
    collector = read_collector_status(settings.data_dir)
    last = read_last(settings.data_dir)
    return {
        "running": bool(doc.get("running")),
        "healthy": bool(doc.get("healthy")),
        "exit": code,
        "problems": [str(p) for p in doc.get("problems", [])],
        "pid": doc.get("pid") if doc.get("running") else None,
        "heartbeat_at": doc.get("heartbeat_at"),
        "model": _pick(doc, "model", "bundle_id", "schema_hash"),
        "store": _pick(doc, "store", "id", "method", "loaded_at", "user_ids"),
        "last_window": _pick(doc, "last_window", "user_id", "bucket_start_ts", "label", "at"),
        "windows": _pick(doc, "windows", "labelled", "refused", "duplicates"),
        "drift": _drift(doc),
        "collector": (
            None if collector is None else format_collector_status(collector).splitlines()
        ),
        "personalize": None if last is None else describe_last(last),
        "status_file": str(settings.status_path),
    }


def glance_digest(view: Mapping[str, Any]) -> str:
    """What changes the page's status panel (not the heartbeat's time): a short hash."""
    shown = {k: v for k, v in view.items() if k != "heartbeat_at"}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:16]


def drifting_users(view: Mapping[str, Any]) -> list[str]:
    """The users with a drift alert active now (their drift windows are worth asking about)."""
    drift = view.get("drift") or {}
    return sorted(u for u, d in drift.items() if d.get("alerts"))
