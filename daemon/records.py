"""What the latest `personalize` and `retrain` did (their timers' trace): written by each,
shown by `status`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.paths import ensure_private_dir, personalize_record, retrain_record

__all__ = [
    "describe_last",
    "describe_retrain",
    "read_last",
    "read_retrain",
    "record_last",
    "record_retrain",
    "retrain_advice",
    "retrain_checked",
]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def read_last(data_dir: Path) -> dict[str, Any] | None:
    """The latest personalize's record, or ``None`` if it never ran (or the file is damaged)."""
    return _read(personalize_record(data_dir))


def read_retrain(data_dir: Path) -> dict[str, Any] | None:
    """The latest decided retrain's record (a later ``not_due`` check as its ``checked``), or
    ``None`` if it never ran (or the file is damaged)."""
    return _read(retrain_record(data_dir))


def record_last(data_dir: Path, doc: Mapping[str, Any]) -> None:
    """Write personalize's record (0600); a failure is a warning, never the run's outcome."""
    _write(personalize_record(data_dir), doc)


def record_retrain(data_dir: Path, doc: Mapping[str, Any]) -> None:
    """Write retrain's record (0600); a failure is a warning, never the run's outcome.

    A ``not_due`` run (the daily timer, six days of seven) does not hide the decision before
    it: that record is kept, with the check added as ``checked`` (when, and why not due).
    """
    path = retrain_record(data_dir)
    before = _read(path) if doc.get("decision") == "not_due" else None
    if before is not None and before.get("decision") in _DECIDED:
        from daemon.fsutil import utc_now

        due = doc.get("due") or {}
        doc = {**before, "checked": {"at": utc_now("seconds"), "reason": due.get("reason")}}
    _write(path, doc)


# what a not_due check leaves in the record: a decision that trained or looked at the data
_DECIDED = ("deployed", "refused", "not_enough_data")


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    from daemon.fsutil import atomic_write_text, utc_now  # `status` only reads

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


def describe_retrain(
    doc: Mapping[str, Any], *, needs_below: bool = False, in_force: str | None = None
) -> str:
    """One line for `status`: when retrain last decided and what (or why it failed).
    ``needs_below``: `status` shows what a first model needs now under it, so a
    not_enough_data run points there instead of saying its (older) count again.
    ``in_force``: the model the daemon runs, when known: a model deployed then and no longer
    in force (a rollback or deploy since) is said to be."""
    head = f"retrain {doc.get('decision', '?')} at {doc.get('at', '?')}"
    if doc.get("error"):
        return f"{head}: {doc['error']}"
    challenger = doc.get("challenger") or {}
    champion = doc.get("champion") or {}
    if doc.get("decision") in ("deployed", "refused") and challenger:
        failed = [g.get("name") for g in doc.get("gates") or [] if not g.get("passed")]
        head += (
            f": {challenger.get('bundle_id')} (macro-F1 {challenger.get('macro_f1')}) vs "
            f"{champion.get('bundle_id')} (macro-F1 {champion.get('macro_f1')})"
        )
        if failed:
            head += f"; failed {', '.join(map(str, failed))}"
        elif in_force is not None and in_force != challenger.get("bundle_id"):
            head += f"; no longer in force ({in_force} is: a rollback or deploy since)"
    missing = (doc.get("data") or {}).get("missing") or []
    if doc.get("decision") == "not_enough_data" and needs_below:
        head += ": not enough labelled data (what a first model needs now: below)"
    elif doc.get("decision") == "not_enough_data" and missing:
        head += f": {missing[0]}" + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
    if doc.get("decision") == "not_due":
        head += _due_reason(doc.get("due"))
    return head


def retrain_checked(doc: Mapping[str, Any]) -> list[str]:
    """The line for a run after the recorded decision that found no retrain due (the daily
    timer's), for `status` to show last; none when there was none."""
    checked = doc.get("checked")
    if not isinstance(checked, dict):
        return []
    return [f"  checked again at {checked.get('at', '?')}: not due" + _due_reason(checked)]


def _due_reason(due: object) -> str:
    reason = due.get("reason") if isinstance(due, dict) else None
    return f": {reason}" if isinstance(reason, str) and reason else ""


def retrain_advice(doc: Mapping[str, Any]) -> list[str]:
    """The refused retrain's ``why`` lines (what its wrong windows were, what to label), for
    `status` to show under its line; none for any other outcome."""
    if doc.get("decision") != "refused":
        return []
    return [f"  {line}" for line in doc.get("why") or () if isinstance(line, str)]
