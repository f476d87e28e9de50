"""ActivityWatch events as frozen values: parsed from REST or export JSON, titles hashed at once."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from taskclf_core.activity.apps import AppInfo, normalize_app
from taskclf_core.activity.titles import TitleFeatures, title_features, title_hash
from taskclf_core.errors import ActivityError
from taskclf_core.surrogates import replace_surrogates
from taskclf_core.timerange import EARLIEST, LATEST, out_of_range
from taskclf_core.timespan import format_us

__all__ = [
    "AFK_TYPE",
    "INPUT_TYPE",
    "SKIP_REASONS",
    "WINDOW_TYPE",
    "AfkEvent",
    "BucketChoice",
    "InputEvent",
    "JsonArray",
    "Parsed",
    "Skipped",
    "WindowEvent",
    "export_buckets",
    "format_us",
    "in_range",
    "load_json",
    "load_json_lazily",
    "parse_afk_events",
    "parse_input_events",
    "parse_timestamp_us",
    "parse_window_events",
    "select_buckets",
    "splice",
]

WINDOW_TYPE: Final = "currentwindow"
INPUT_TYPE: Final = "os.hid.input"
AFK_TYPE: Final = "afkstatus"
_AFK_STATUSES: Final = {"afk": True, "not-afk": False}

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
    end_us: int
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


@dataclass(frozen=True, slots=True)
class AfkEvent:
    """One ``afkstatus`` event (aw-watcher-afk): whether the person was away from it."""

    start_us: int
    duration: float
    end_us: int
    afk: bool

    @property
    def sort_key(self) -> tuple[int, int, bool]:
        return (self.start_us, self.end_us, self.afk)


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
    try:
        return (ts - _EPOCH) // _US
    except OverflowError:  # an offset that moves 0001-01-01 or 9999-12-31 off the calendar
        raise ActivityError(f"{where}: {value[:40]!r} is out of range") from None


# --- events as a server or an export holds them: anything at all --------------------------
#
# One bad event never costs the others: it is left out with a reason (Skipped) and the rest
# of the bucket is read. Reasons are codes, so a status can count them.

SKIP_REASONS: Final = (
    "not_an_object",  # the event is not a JSON object
    "bad_timestamp",  # missing, not an ISO-8601 string, or outside the supported times
    "bad_duration",  # not a number, negative, NaN/inf, or more seconds than a date can hold
    "bad_data",  # `data` is not an object
    "bad_app",  # `data.app` is not a string, or longer than any application name
    "bad_title",  # `data.title` is not a string
    "bad_count",  # an input count is not a whole number >= 0 a device can produce
    "bad_status",  # (aw-watcher-afk) `data.status` is not "afk" or "not-afk"
)
# Events outside the supported times (taskclf_core.timerange) are a broken clock or a broken
# file, not activity: a window for them would be refused by the daemon, and walking the days
# up to them would never end. An event that starts at LATEST would make a minute ending after it.
_EARLIEST_US: Final = (EARLIEST - _EPOCH) // _US
_LATEST_US: Final = (LATEST - _EPOCH) // _US
_MAX_APP_CHARS: Final = 512  # app_id carries the name into every window line
_MAX_COUNT: Final = 10**9  # keys, clicks or pixels in one aw-watcher-input sample


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event left out: where it was, why (one of :data:`SKIP_REASONS`), never its title."""

    bucket_id: str
    index: int
    reason: str
    detail: str
    timestamp: str | None  # as the event gave it: the same event read again has the same key

    @property
    def key(self) -> tuple[str, str, str]:
        """The event's identity across reads (its index changes with the range asked for)."""
        seen = self.timestamp if self.timestamp is not None else f"#{self.index}"
        return (self.bucket_id, self.reason, seen)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_E = TypeVar("_E", WindowEvent, InputEvent, AfkEvent)


@dataclass(frozen=True, slots=True)
class Parsed(Generic[_E]):
    """The events of one bucket that could be read (canonical order), and those left out."""

    events: list[_E]
    skipped: tuple[Skipped, ...]


def _start(raw: Mapping[str, Any]) -> int:
    value = raw.get("timestamp")
    try:
        start = parse_timestamp_us(value, "timestamp")
    except ActivityError as exc:
        raise _Bad("bad_timestamp", str(exc)) from None
    if not _EARLIEST_US <= start < _LATEST_US:
        raise _Bad("bad_timestamp", out_of_range("timestamp", repr(str(value)[:40])))
    return start


def _duration(raw: Mapping[str, Any]) -> tuple[float, int]:
    value = raw.get("duration", 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(
            "bad_duration", f"duration: expected a number of seconds, got {_type_name(value)}"
        )
    try:
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise _Bad("bad_duration", f"duration: expected a finite number >= 0, got {seconds}")
        return seconds, timedelta(seconds=seconds) // _US
    except OverflowError:
        raise _Bad("bad_duration", "duration: more seconds than a date can hold") from None


def _data(raw: object) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(raw, dict):
        raise _Bad("not_an_object", f"expected an event object, got {_type_name(raw)}")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise _Bad("bad_data", f"data: expected an object, got {_type_name(data)}")
    return raw, data


def _text(data: Mapping[str, Any], key: str, default: str, reason: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _Bad(reason, f"data.{key}: expected a string, got {_type_name(value)}")
    return replace_surrogates(value)


def _each(raw_events: object, bucket_id: str, read: Callable[[object], _E]) -> Parsed[_E]:
    if not isinstance(raw_events, list | JsonArray):
        raise ActivityError(f"{bucket_id}: events: expected an array, got {_type_name(raw_events)}")
    out: list[_E] = []
    skipped: list[Skipped] = []
    for i, item in enumerate(raw_events):
        try:
            out.append(read(item))
        except _Bad as bad:
            stamp = item.get("timestamp") if isinstance(item, dict) else None
            skipped.append(
                Skipped(
                    bucket_id=bucket_id,
                    index=i,
                    reason=bad.reason,
                    detail=f"{bucket_id}: event {i}.{bad.detail}"
                    if bad.reason != "not_an_object"
                    else f"{bucket_id}: event {i}: {bad.detail}",
                    timestamp=stamp[:64] if isinstance(stamp, str) else None,
                )
            )
    out.sort(key=lambda e: e.sort_key)
    return Parsed(out, tuple(skipped))


def parse_window_events(
    raw_events: object, *, bucket_id: str, salt: str, sketches: bool
) -> Parsed[WindowEvent]:
    """``currentwindow`` events as AW returns them → :class:`WindowEvent` in canonical order.

    ``sketches`` computes the schema-v3 title features (the costly part; v1/v2 do not use
    them). An event that cannot be read is skipped with its reason; the details name the
    bucket, the event index and the field, never a title. Unpaired surrogates in an app
    name or title become U+FFFD (:mod:`taskclf_core.surrogates`) before anything else.
    """
    seen: dict[str, tuple[str, TitleFeatures | None]] = {}  # titles repeat all day long

    def read(item: object) -> WindowEvent:
        raw, data = _data(item)
        start = _start(raw)
        seconds, length = _duration(raw)
        app = _text(data, "app", "unknown", "bad_app")
        if len(app) > _MAX_APP_CHARS:
            raise _Bad("bad_app", f"data.app: longer than {_MAX_APP_CHARS} characters")
        title = _text(data, "title", "", "bad_title")
        cached = seen.get(title)
        if cached is None:
            cached = (title_hash(title, salt), title_features(title, salt) if sketches else None)
            seen[title] = cached
        return WindowEvent(
            start_us=start,
            duration=seconds,
            end_us=start + length,
            app=normalize_app(app),
            title_hash=cached[0],
            title=cached[1],
        )

    return _each(raw_events, bucket_id, read)


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("bad_count", f"data.{key}: expected a count, got {_type_name(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite or not 0 <= value <= _MAX_COUNT:
        raise _Bad("bad_count", f"data.{key}: expected a count in 0..{_MAX_COUNT}")
    return int(value)  # taskclf truncates like int()


def parse_input_events(raw_events: object, *, bucket_id: str) -> Parsed[InputEvent]:
    """``os.hid.input`` events (aw-watcher-input) → :class:`InputEvent` in canonical order."""

    def read(item: object) -> InputEvent:
        raw, data = _data(item)
        start = _start(raw)
        seconds, length = _duration(raw)
        counts = {name: _count(data, key) for key, name in _INPUT_FIELDS}
        return InputEvent(start_us=start, duration=seconds, end_us=start + length, **counts)

    return _each(raw_events, bucket_id, read)


def parse_afk_events(raw_events: object, *, bucket_id: str) -> Parsed[AfkEvent]:
    """``afkstatus`` events (aw-watcher-afk) → :class:`AfkEvent` in canonical order."""

    def read(item: object) -> AfkEvent:
        raw, data = _data(item)
        start = _start(raw)
        seconds, length = _duration(raw)
        status = data.get("status")
        afk = _AFK_STATUSES.get(status) if isinstance(status, str) else None
        if afk is None:
            got = repr(status[:20]) if isinstance(status, str) else _type_name(status)
            raise _Bad("bad_status", f"data.status: expected 'afk' or 'not-afk', got {got}")
        return AfkEvent(start_us=start, duration=seconds, end_us=start + length, afk=afk)

    return _each(raw_events, bucket_id, read)


# --- JSON as a server or a file sends it ---------------------------------------------------

_MAX_DEPTH: Final = 64  # nesting kept when a document is deeper than Python can recurse
_MAX_INT_DIGITS: Final = 4_000  # Python refuses to read longer integers (4,300 digits)
_TOKEN: Final = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]', re.DOTALL)


def _long_int(digits: str) -> int | float:
    # a number too long for int() is no duration or count: an infinity the field checks refuse
    if len(digits) > _MAX_INT_DIGITS:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def _cut_deep(text: str) -> str:
    """``text`` with every value nested deeper than ``_MAX_DEPTH`` replaced by ``null``: an
    event holding one then fails the check of that field, instead of the whole document."""
    out: list[str] = []
    pos = depth = 0
    cut_at: int | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth == _MAX_DEPTH + 1:
                cut_at = match.start()
        elif token in "]}":
            if depth == _MAX_DEPTH + 1 and cut_at is not None:
                out.append(text[pos:cut_at])
                out.append("null")
                pos, cut_at = match.end(), None
            depth -= 1
    out.append(text[pos:])
    return "".join(out)


def load_json(data: bytes | bytearray | str, what: str) -> Any:
    """Decode JSON, or an :class:`ActivityError` naming ``what`` (a file or a URL).

    Integers longer than Python reads and nesting deeper than it recurses do not make the
    whole document unreadable: such a value becomes an infinity or ``null``, which the
    event's field check then refuses (that event is skipped, the others are read).
    """
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ActivityError(f"{what}: not valid JSON ({exc})") from None
    except (ValueError, RecursionError):
        pass
    try:
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data))
        return json.loads(_cut_deep(text), parse_int=_long_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ActivityError(f"{what}: not valid JSON ({exc})") from None


_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


def _skip_space(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON whitespace."""
    found = _WHITESPACE.match(text, pos)
    return pos if found is None else found.end()


class JsonArray:
    """A JSON array (as text) whose elements are parsed one at a time as it is iterated.

    A day of events as JSON objects is ~5 MB for its input samples alone; parsed one by one
    into frozen events, the objects never all exist at once (the collector runs all day).
    Iterating again parses again. Errors are :func:`load_json`'s: a document that is not
    JSON is an :class:`ActivityError` naming ``what`` (when the iteration reaches it); an
    integer or a nesting Python cannot read is read the way :func:`load_json` reads it.
    """

    __slots__ = ("_text", "_what")

    def __init__(self, text: str, what: str) -> None:
        self._text = text
        self._what = what

    def __iter__(self) -> Iterator[Any]:
        text, index = self._text, 0
        try:
            pos = _skip_space(text, _skip_space(text, 0) + 1)  # after the "["
            if text[pos : pos + 1] != "]":
                while True:
                    value, pos = _DECODER.raw_decode(text, pos)
                    yield value
                    index += 1
                    pos = _skip_space(text, pos)
                    if text[pos : pos + 1] == "]":
                        break
                    if text[pos : pos + 1] != ",":
                        raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
                    pos = _skip_space(text, pos + 1)
            end = _skip_space(text, pos + 1)
            if end != len(text):
                raise json.JSONDecodeError("Extra data", text, end)
        except json.JSONDecodeError as exc:
            raise ActivityError(f"{self._what}: not valid JSON ({exc})") from None
        except (ValueError, RecursionError):
            # a 5,000-digit number, nesting deeper than Python recurses: the whole document,
            # as load_json reads it (that element then fails its field's check)
            yield from load_json(text, self._what)[index:]


def load_json_lazily(data: bytes | bytearray | str, what: str) -> Any:
    """:func:`load_json`, except that an array comes back as a :class:`JsonArray` (its
    elements parsed as they are iterated): what a server's list of events is read as."""
    if isinstance(data, str):
        text = data
    else:
        try:  # as json.loads decodes bytes
            text = data.decode(json.detect_encoding(data), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise ActivityError(f"{what}: not valid JSON ({exc})") from None
    start = _skip_space(text, 0)
    if text[start : start + 1] == "[":
        return JsonArray(text, what)
    return load_json(text, what)


@dataclass(frozen=True, slots=True)
class BucketChoice:
    """The buckets the collector reads for one host: window (required), input and afk
    (optional)."""

    window: str
    input: str | None
    afk: str | None = None


def select_buckets(buckets: Mapping[str, object], hostname: str, *, source: str) -> BucketChoice:
    """Pick the ``currentwindow``, ``os.hid.input`` and ``afkstatus`` buckets whose
    ``hostname`` is ``hostname``.

    Several window buckets for one host (e.g. an X11 and a Wayland watcher) → the one named
    ``aw-watcher-window_<host>``, else the first by id; taskclf's REST path also takes one.
    The same for input (``aw-watcher-input_<host>``) and afk (``aw-watcher-afk_<host>``).
    """
    windows: list[str] = []
    inputs: list[str] = []
    afks: list[str] = []
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
        elif kind == AFK_TYPE:
            afks.append(bucket_id)
    if not windows and hosts:
        raise ActivityError(
            f"{source}: no {WINDOW_TYPE!r} bucket for hostname {hostname!r} (window buckets "
            f"exist for: {', '.join(sorted(hosts))}); set aw_hostname to the machine whose "
            "activity to read"
        )
    if not windows:
        # nothing records windows at all: a hostname would not help, the watcher would
        there = ", ".join(sorted(buckets)) or "none"
        raise ActivityError(
            f"{source}: no {WINDOW_TYPE!r} bucket at all: start aw-watcher-window (aw-qt "
            f"starts it with ActivityWatch; its bucket appears with its first event); "
            f"buckets there: {there}"
        )

    def pick(ids: list[str], prefix: str) -> str:
        preferred = f"{prefix}_{hostname}"
        return preferred if preferred in ids else sorted(ids)[0]

    return BucketChoice(
        window=pick(windows, "aw-watcher-window"),
        input=pick(inputs, "aw-watcher-input") if inputs else None,
        afk=pick(afks, "aw-watcher-afk") if afks else None,
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
