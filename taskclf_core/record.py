"""The label record: one JSON line per window in the label log (docs/windows.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic_core

from taskclf_core.errors import WindowError
from taskclf_core.smoothing import Entry
from taskclf_core.timerange import parse_ts
from taskclf_core.timespan import TimeSpan

__all__ = ["LabelRecord", "LoggedWindow", "parse_logged_window"]


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """Everything the daemon logs about one window; field order is the log's."""

    user_id: str
    bucket_start_ts: str
    bucket_end_ts: str
    core_label: str
    core_probs: Mapping[str, float]
    confidence: float
    is_rejected: bool
    label: str
    smoothed_label: str
    mapped_label: str
    mapped_probs: Mapping[str, float] | None
    calibrator: str
    reject_threshold: float
    model_bundle_id: str
    model_schema_hash: str | None
    store_id: str | None
    source: str
    processed_at: str
    # the model's own (uncalibrated) probabilities: calibration can be refitted from the log
    model_probs: Mapping[str, float] | None = None
    # the time the window stands for, when its collector said (taskclf_core/timespan.py)
    span: TimeSpan | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.user_id, self.bucket_start_ts)

    @property
    def day(self) -> str:
        """UTC day of ``bucket_start_ts``: the label-log file this record belongs in."""
        return self.bucket_start_ts[:10]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user_id": self.user_id,
            "bucket_start_ts": self.bucket_start_ts,
            "bucket_end_ts": self.bucket_end_ts,
            "core_label": self.core_label,
            "core_probs": dict(self.core_probs),
            "confidence": self.confidence,
            "is_rejected": self.is_rejected,
            "label": self.label,
            "smoothed_label": self.smoothed_label,
            "mapped_label": self.mapped_label,
        }
        if self.mapped_probs is not None:
            data["mapped_probs"] = dict(self.mapped_probs)
        data.update(
            calibrator=self.calibrator,
            reject_threshold=self.reject_threshold,
            model_bundle_id=self.model_bundle_id,
            model_schema_hash=self.model_schema_hash,
            store_id=self.store_id,
            source=self.source,
            processed_at=self.processed_at,
        )
        if self.model_probs is not None:
            data["model_probs"] = dict(self.model_probs)
        if self.span is not None:
            data.update(self.span.to_fields())
        return data

    def to_json_line(self) -> bytes:
        """One compact JSON line, newline-terminated, ready to append."""
        # pydantic-core serialises ~3x faster than json.dumps; values are always finite here
        return pydantic_core.to_json(self.to_dict()) + b"\n"


@dataclass(frozen=True, slots=True)
class LoggedWindow:
    """What start-up needs back from a logged record: identity and the smoothing entry."""

    user_id: str
    bucket_start_ts: str
    entry: Entry

    @property
    def key(self) -> tuple[str, str]:
        return (self.user_id, self.bucket_start_ts)


def parse_logged_window(line: bytes | str) -> LoggedWindow:
    """Parse one label-log line; raises ValueError (only) if it is not a record."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("label-log line is not a JSON object")
    try:
        start, end = data["bucket_start_ts"], data["bucket_end_ts"]
        entry = Entry(
            parse_ts(start, "bucket_start_ts").timestamp(),
            parse_ts(end, "bucket_end_ts").timestamp(),
            str(data["label"]),
        )
        user_id = str(data["user_id"])
    except KeyError as exc:
        raise ValueError(f"label-log line has no {exc} field") from None
    except WindowError as exc:
        # one exception type, so a reader can skip a damaged line with a single except
        raise ValueError(f"label-log line: {exc}") from None
    return LoggedWindow(user_id=user_id, bucket_start_ts=str(start), entry=entry)
