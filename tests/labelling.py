"""Test helpers for label spans: the spans a careful labeller would make from true labels."""

from __future__ import annotations

from typing import Any

from taskclf_core.schema import parse_ts
from taskclf_core.spans import LabelSpan

__all__ = ["spans_from"]


def spans_from(windows: list[dict[str, Any]], label_key: str = "label") -> list[LabelSpan]:
    """One span per run of contiguous windows of one user and one label (a careful labeller)."""
    spans: list[LabelSpan] = []
    run: list[dict[str, Any]] = []

    def close() -> None:
        if run:
            spans.append(
                LabelSpan(
                    parse_ts(run[0]["bucket_start_ts"], "s"),
                    parse_ts(run[-1]["bucket_end_ts"], "e"),
                    run[0][label_key],
                    "manual",
                    run[0]["user_id"],
                )
            )
            run.clear()

    for w in sorted(windows, key=lambda w: (w["user_id"], w["bucket_start_ts"])):
        if run and (
            w["user_id"] != run[-1]["user_id"]
            or w[label_key] != run[-1][label_key]
            or w["bucket_start_ts"] != run[-1]["bucket_end_ts"]
        ):
            close()
        run.append(w)
    close()
    return spans
