"""Drift figures for people: a line per user, one per alert (`status`, `report`, the page)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from taskclf_core.words import plural

__all__ = ["alert_text", "format_drift", "labeller_note"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def alert_text(alert: Mapping[str, Any]) -> str:
    """One alert in words: its severity and what moved."""
    d = alert.get("details") or {}
    trigger = alert.get("trigger")
    if trigger == "reject_rate_increase":
        what = f"reject rate {_pct(d.get('ref_rate'))} → {_pct(d.get('cur_rate'))}"
    elif trigger == "class_shift":
        what = f"class shares moved > 15 pts: {', '.join(d.get('shifted_classes', []))}"
    elif trigger == "entropy_spike":
        what = f"prediction entropy {d.get('ratio', 0):.1f}× the previous week"
    elif trigger == "missing_features":
        what = (
            f"missing features {_pct(d.get('ref_share'))} → {_pct(d.get('cur_share'))} "
            "(is the collector healthy?)"
        )
    else:
        what = str(trigger)
    return f"{str(alert.get('severity', '')).upper()} {what}"


def _when(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("Z")[:16] + " UTC"


def labeller_note(doc: Mapping[str, Any]) -> str | None:
    """Why the figures leave some windows out: the model or threshold changed within the 8
    days, and drift compares the new one's own windows only (None: no change)."""
    who = doc.get("labeller") or {}
    since = who.get("since")
    if not isinstance(since, str):
        return None
    changed = who.get("changed") or []
    back = " back" if who.get("back") else ""
    if "model" in changed:
        what = f"model changed{back} to {who.get('model_bundle_id')}"
    elif "reject_threshold" in changed:
        before = (who.get("previous") or {}).get("reject_threshold")
        what = f"reject threshold changed{back} {before} → {who.get('reject_threshold')}"
    else:
        what = f"labeller changed{back}"
    # back: its windows from before the one in between count too
    compared = "its own windows, from before too" if back else "its own windows from then on"
    note = f"{what} {_when(since)}: drift compares {compared}"
    full, as_of = who.get("reference_full_at"), doc.get("as_of")
    # back: its own windows from before are its reference already, nothing to build up
    if isinstance(full, str) and isinstance(as_of, str) and not back:
        try:
            left = (datetime.fromisoformat(full) - datetime.fromisoformat(as_of)).total_seconds()
        except ValueError:
            return note
        note += f"; reference builds up over {plural(max(1, math.ceil(left / 86400)), 'day')}"
    return note


def format_drift(
    drift: Mapping[str, Mapping[str, Any]],
    *,
    label_width: int = 15,
    in_force: str | None = None,
) -> list[str]:
    """Human lines for ``status``/``report``: one summary line per user, one per alert.
    ``in_force``: the model the daemon runs, when known; a user whose newest window another
    model labelled (a deploy or rollback since, nothing labelled yet) is said to be."""
    lines: list[str] = []
    for user_id, doc in drift.items():
        # at least one space after a long user id ("drift u-0-plainALERT" ran together)
        head = f"  {'drift ' + user_id:<{label_width - 1}} "
        cur = doc.get("current") or {}
        ref = doc.get("reference") or {}
        note = labeller_note(doc)
        if not doc.get("enough_data"):
            counts = (
                f"{plural(cur.get('windows', 0), 'window')} in 24 h, "
                f"{ref.get('windows', 0)} in the 7 days before"
            )
            state = (
                f"not enough data yet ({counts})"
                if note is None
                else f"{note} (not enough for an alert yet: {counts})"
            )
        else:
            ratio = doc.get("entropy_ratio")
            state = (
                f"{'ok' if not doc.get('alerts') else 'ALERT'}: 24 h "
                f"{plural(cur.get('windows', 0), 'window')}, "
                f"reject {_pct(cur.get('reject_rate'))} (week {_pct(ref.get('reject_rate'))}), "
                f"entropy ×{'-' if ratio is None else f'{ratio:.2f}'}, "
                f"class shift {_pct(doc.get('max_class_shift'))}"
            )
            if note is not None:
                state += f"; {note}"
        model = doc.get("model") or {}
        labeller = model.get("bundle_id")
        if in_force is not None and isinstance(labeller, str) and labeller != in_force:
            state += (
                f"; these are {labeller}'s windows: {in_force}, in force now, has labelled "
                "none of this user's yet"
            )
        elif model.get("age_days") is not None:
            due = ", retrain due" if model.get("retrain_due") else ""
            state += f"; model {model['age_days']:.0f} d old{due}"
        lines.append(head + state)
        lines += [f"  {'':<{label_width}}{alert_text(alert)}" for alert in doc.get("alerts", [])]
    return lines
