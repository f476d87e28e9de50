"""ActivityWatch events as frozen values: parsed from REST or export JSON, titles hashed at once."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from taskclf_core.activity.apps import AppInfo, normalize_app
from taskclf_core.activity.titles import TitleFeatures, title_features, title_hash
from taskclf_core.errors import ActivityError

__all__ = [
    "INPUT_TYPE",
    "WINDOW_TYPE",
    "BucketChoice",
    "InputEvent",
    "WindowEvent",
    "export_buckets",
    "format_us",
    "in_range",
    "load_json",
    "parse_input_events",
    "parse_timestamp_us",
    "parse_window_events",
    "select_buckets",
    "splice",
]

WINDOW_TYPE: Final = "currentwindow"
INPUT_TYPE: Final = "os.hid.input"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_INPUT_FIELDS: Final = (
    ("presses", "presses"),
    ("clicks", "clicks"),
    ("deltaX", "delta_x"),
    ("deltaY", "delta_y"),
    ("scrollX", "scroll_x"),
    ("scrollY", "scroll_y"),
)


@dataclass(frozen=True, slots=True)
class WindowEvent:
    """One ``currentwindow`` event with its title replaced by taskclf's hash (and v3 sketch).

    Times are integer microseconds since the Unix epoch (UTC): exact, and ordered like the
    datetimes taskclf compares. ``end_us`` is ``start + timedelta(seconds=duration)``.
    """

    start_us: int
    duration: float
    end_us: int
    app: AppInfo
    title_hash: str
    title: TitleFeatures | None

    @property
    def sort_key(self) -> tuple[int, str, str, float]:
        # taskclf sorts by timestamp only; equal timestamps get a fixed order here so the
        # result never depends on the order a server or export listed them in
        return (self.start_us, self.app.app_id, self.title_hash, self.duration)


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One ``os.hid.input`` sample (aw-watcher-input): counts only, never which keys."""

    start_us: int
    duration: float
    presses: int
    clicks: int
    delta_x: int
    delta_y: int
    scroll_x: int
    scroll_y: int

    @property
    def sort_key(self) -> tuple[int, float, int, int, int, int, int, int]:
        return (
            self.start_us,
            self.duration,
            self.presses,
            self.clicks,
            self.delta_x,
            self.delta_y,
            self.scroll_x,
            self.scroll_y,
        )


def format_us(us: int) -> str:
    """Epoch microseconds → ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    return (_EPOCH + timedelta(microseconds=us)).replace(tzinfo=None).isoformat() + "Z"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_timestamp_us(value: object, where: str) -> int:
    """An ISO-8601 timestamp (naive means UTC) → epoch microseconds."""
    if not isinstance(value, str):
        raise ActivityError(
            f"{where}: expected an ISO-8601 timestamp string, got {_type_name(value)}"
        )
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ActivityError(
            f"{where}: expected an ISO-8601 timestamp, got {value[:40]!r}"
        ) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _US


def _duration(raw: Mapping[str, Any], where: str) -> tuple[float, int]:
    value = raw.get("duration", 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActivityError(
            f"{where}.duration: expected a number of seconds, got {_type_name(value)}"
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ActivityError(f"{where}.duration: expected a finite number >= 0, got {value!r}")
    try:
        return seconds, timedelta(seconds=seconds) // _US
    except OverflowError:
        raise ActivityError(f"{where}.duration: {value!r} seconds is out of range") from None


def _data(raw: object, where: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(raw, dict):
        raise ActivityError(f"{where}: expected an event object, got {_type_name(raw)}")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise ActivityError(f"{where}.data: expected an object, got {_type_name(data)}")
    return raw, data


def parse_window_events(
    raw_events: object, *, bucket_id: str, salt: str, sketches: bool
) -> list[WindowEvent]:
    """``currentwindow`` events as AW returns them → :class:`WindowEvent` in canonical order.

    ``sketches`` computes the schema-v3 title features (the costly part; v1/v2 do not use
    them). Errors name the bucket, the event index and the field; titles are never quoted.
    """
    if not isinstance(raw_events, list):
        raise ActivityError(f"{bucket_id}: events: expected an array, got {_type_name(raw_events)}")
    seen: dict[str, tuple[str, TitleFeatures | None]] = {}  # titles repeat all day long
    out: list[WindowEvent] = []
    for i, item in enumerate(raw_events):
        where = f"{bucket_id}: event {i}"
        raw, data = _data(item, where)
        start = parse_timestamp_us(raw.get("timestamp"), f"{where}.timestamp")
        seconds, length = _duration(raw, where)
        app = data.get("app", "unknown")
        if not isinstance(app, str):
            raise ActivityError(f"{where}.data.app: expected a string, got {_type_name(app)}")
        title = data.get("title", "")
        if not isinstance(title, str):
            raise ActivityError(f"{where}.data.title: expected a string, got {_type_name(title)}")
        cached = seen.get(title)
        if cached is None:
            cached = (title_hash(title, salt), title_features(title, salt) if sketches else None)
            seen[title] = cached
        out.append(
            WindowEvent(
                start_us=start,
                duration=seconds,
                end_us=start + length,
                app=normalize_app(app),
                title_hash=cached[0],
                title=cached[1],
            )
        )
    out.sort(key=lambda e: e.sort_key)
    return out


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActivityError(f"{where}.data.{key}: expected a count, got {_type_name(value)}")
    if not math.isfinite(value) or value < 0:
        raise ActivityError(f"{where}.data.{key}: expected a finite count >= 0, got {value!r}")
    return int(value)  # taskclf truncates like int()


def parse_input_events(raw_events: object, *, bucket_id: str) -> list[InputEvent]:
    """``os.hid.input`` events (aw-watcher-input) → :class:`InputEvent` in canonical order."""
    if not isinstance(raw_events, list):
        raise ActivityError(f"{bucket_id}: events: expected an array, got {_type_name(raw_events)}")
    out: list[InputEvent] = []
    for i, item in enumerate(raw_events):
        where = f"{bucket_id}: event {i}"
        raw, data = _data(item, where)
        start = parse_timestamp_us(raw.get("timestamp"), f"{where}.timestamp")
        seconds, _length = _duration(raw, where)
        counts = {name: _count(data, key, where) for key, name in _INPUT_FIELDS}
        out.append(InputEvent(start_us=start, duration=seconds, **counts))
    out.sort(key=lambda e: e.sort_key)
    return out


def load_json(data: bytes | str, what: str) -> Any:
    """Decode JSON, or an :class:`ActivityError` naming ``what`` (a file or a URL)."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ActivityError(f"{what}: not valid JSON ({exc})") from None


@dataclass(frozen=True, slots=True)
class BucketChoice:
    """The buckets the collector reads for one host: window (required) and input (optional)."""

    window: str
    input: str | None


def select_buckets(buckets: Mapping[str, object], hostname: str, *, source: str) -> BucketChoice:
    """Pick the ``currentwindow`` and ``os.hid.input`` buckets whose ``hostname`` is ``hostname``.

    Several window buckets for one host (e.g. an X11 and a Wayland watcher) → the one named
    ``aw-watcher-window_<host>``, else the first by id; taskclf's REST path also takes one.
    """
    windows: list[str] = []
    inputs: list[str] = []
    hosts: set[str] = set()
    for bucket_id, meta in buckets.items():
        if not isinstance(meta, dict):
            raise ActivityError(f"{source}: bucket {bucket_id!r}: expected an object")
        kind = meta.get("type")
        host = meta.get("hostname")
        if kind == WINDOW_TYPE and isinstance(host, str):
            hosts.add(host)
        if host != hostname:
            continue
        if kind == WINDOW_TYPE:
            windows.append(bucket_id)
        elif kind == INPUT_TYPE:
            inputs.append(bucket_id)
    if not windows:
        seen = ", ".join(sorted(hosts)) or "none"
        raise ActivityError(
            f"{source}: no {WINDOW_TYPE!r} bucket for hostname {hostname!r} (window buckets "
            f"exist for: {seen}); set aw_hostname to the machine whose activity to read"
        )

    def pick(ids: list[str], prefix: str) -> str:
        preferred = f"{prefix}_{hostname}"
        return preferred if preferred in ids else sorted(ids)[0]

    return BucketChoice(
        window=pick(windows, "aw-watcher-window"),
        input=pick(inputs, "aw-watcher-input") if inputs else None,
    )


def export_buckets(doc: object, *, source: str) -> Mapping[str, Mapping[str, Any]]:
    """The bucket map of an ActivityWatch export (``{"buckets": {...}}`` or the bare map)."""
    if not isinstance(doc, dict):
        raise ActivityError(f"{source}: expected an ActivityWatch export object")
    buckets = doc.get("buckets", doc)
    if not isinstance(buckets, dict):
        raise ActivityError(f"{source}: buckets: expected an object of bucket id -> bucket")
    for bucket_id, bucket in buckets.items():
        if not isinstance(bucket, dict):
            raise ActivityError(f"{source}: bucket {bucket_id!r}: expected an object")
    return buckets


_E = TypeVar("_E", WindowEvent, InputEvent)


def in_range(events: Iterable[_E], start_us: int, end_us: int) -> list[_E]:
    """The events that start in ``[start_us, end_us)``, in their order."""
    return [e for e in events if start_us <= e.start_us < end_us]


def splice(kept: Sequence[_E], fresh: Sequence[_E], boundary_us: int) -> list[_E]:
    """``kept`` before ``boundary_us`` then ``fresh`` from it on (both sorted): a re-fetch.

    Events that start before the boundary are final and kept as first read; a re-fetch
    from the boundary on replaces the rest (the last event grows while it is current).
    """
    return [e for e in kept if e.start_us < boundary_us] + [
        e for e in fresh if e.start_us >= boundary_us
    ]
