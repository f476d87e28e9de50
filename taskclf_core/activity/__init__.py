"""ActivityWatch events → taskclf feature rows (pure: no I/O, no clock)."""

from __future__ import annotations

from taskclf_core.activity.apps import AppInfo, normalize_app
from taskclf_core.activity.builder import (
    DAY_US,
    MINUTE_US,
    DayState,
    RowSpec,
    build_day,
    build_rows,
    day_start_us,
    final_until,
    floor_minute,
)
from taskclf_core.activity.events import (
    BucketChoice,
    InputEvent,
    WindowEvent,
    export_buckets,
    format_us,
    in_range,
    load_json,
    parse_input_events,
    parse_timestamp_us,
    parse_window_events,
    select_buckets,
    splice,
)
from taskclf_core.activity.titles import TitleFeatures, title_features, title_hash

__all__ = [
    "DAY_US",
    "MINUTE_US",
    "AppInfo",
    "BucketChoice",
    "DayState",
    "InputEvent",
    "RowSpec",
    "TitleFeatures",
    "WindowEvent",
    "build_day",
    "build_rows",
    "day_start_us",
    "export_buckets",
    "final_until",
    "floor_minute",
    "format_us",
    "in_range",
    "load_json",
    "normalize_app",
    "parse_input_events",
    "parse_timestamp_us",
    "parse_window_events",
    "select_buckets",
    "splice",
    "title_features",
    "title_hash",
]
