"""Drift figures for people: a line per user, one per alert (`status`, `report`, the page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskclf_core.words import plural

__all__ = ["alert_text", "format_drift"]


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


def format_drift(drift: Mapping[str, Mapping[str, Any]], *, label_width: int = 15) -> list[str]:
    """Human lines for ``status``/``report``: one summary line per user, one per alert."""
    lines: list[str] = []
    for user_id, doc in drift.items():
        # at least one space after a long user id ("drift u-0-plainALERT" ran together)
        head = f"  {'drift ' + user_id:<{label_width - 1}} "
        cur = doc.get("current") or {}
        ref = doc.get("reference") or {}
        if not doc.get("enough_data"):
            state = (
                f"not enough data yet ({plural(cur.get('windows', 0), 'window')} in 24 h, "
                f"{ref.get('windows', 0)} in the 7 days before)"
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
        model = doc.get("model") or {}
        if model.get("age_days") is not None:
            due = ", retrain due" if model.get("retrain_due") else ""
            state += f"; model {model['age_days']:.0f} d old{due}"
        lines.append(head + state)
        lines += [f"  {'':<{label_width}}{alert_text(alert)}" for alert in doc.get("alerts", [])]
    return lines
