"""Label spans (taskclf's LabelSpan): parse, validate, merge, and project onto windows."""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from taskclf_core.errors import SpanError
from taskclf_core.jsonl import split_lines
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.schema import format_ts
from taskclf_core.timerange import in_range, out_of_range

__all__ = [
    "CSV_COLUMNS",
    "TYPED_MINUTES",
    "LabelSpan",
    "SpanFile",
    "SpanOverlap",
    "TypedStep",
    "check_overlaps",
    "csv_cell",
    "csv_field",
    "csv_text",
    "merge_spans",
    "near_typed_switch",
    "parse_span",
    "project",
    "read_spans_csv",
    "read_spans_jsonl",
    "span_days",
    "span_minutes",
    "spans_to_csv",
    "spans_to_jsonl",
    "typed_steps",
]

# taskclf's import columns (``user_id``/``confidence`` optional); export writes all six
CSV_COLUMNS = ("start_ts", "end_ts", "label", "provenance", "user_id", "confidence")
_REQUIRED = ("start_ts", "end_ts", "label", "provenance")
# taskclf's export adds extend_forward; our own span file adds the derived id
_TOLERATED = ("extend_forward", "id")
# OWASP's CSV-injection triggers: a spreadsheet runs a cell that starts with one of these
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CELL_ESCAPE = "'"
_FREE_TEXT = ("provenance", "user_id")  # the columns csv_cell escapes on export


class _OutOfRange(SpanError):
    """A span time outside the supported times (the span file skips such a span)."""


class SpanOverlap(SpanError):
    """Two spans of one user overlap with different labels; ``spans`` are the two, in time
    order (a caller adding one can name the other: `label add`, the page)."""

    def __init__(self, message: str, spans: tuple[LabelSpan, LabelSpan]) -> None:
        super().__init__(message)
        self.spans = spans


@dataclass(frozen=True, slots=True)
class LabelSpan:
    """``[start_ts, end_ts)`` of one user's time carrying one core label (taskclf's LabelSpan).

    Times are aware UTC. ``user_id`` ``None`` means any user, as in taskclf's projection.
    """

    start_ts: datetime
    end_ts: datetime
    label: str
    provenance: str = "manual"
    user_id: str | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        for name in ("start_ts", "end_ts"):
            ts = getattr(self, name)
            if not isinstance(ts, datetime):
                raise SpanError(f"{name}: expected a datetime, got {type(ts).__name__}")
            # naive means UTC, as taskclf's ts_utc_aware_get
            try:
                aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            except OverflowError:  # before the first UTC instant
                aware = datetime.min.replace(tzinfo=UTC)
            if not in_range(aware):
                raise _OutOfRange(out_of_range(name, ts.isoformat()))
            object.__setattr__(self, name, aware)
        if self.end_ts <= self.start_ts:
            raise SpanError(
                f"end_ts: {format_ts(self.end_ts)} is not after start_ts "
                f"{format_ts(self.start_ts)} (a span needs end > start)"
            )
        # free text is kept trimmed, as every reader of it trims: a span reads back the same
        if isinstance(self.provenance, str):
            object.__setattr__(self, "provenance", self.provenance.strip())
        if isinstance(self.user_id, str):
            object.__setattr__(self, "user_id", self.user_id.strip())
        if self.label not in LABEL_INDEX:
            raise SpanError(f"label: {self.label!r} is not a core label ({', '.join(CORE_LABELS)})")
        if not isinstance(self.provenance, str) or not self.provenance.strip():
            raise SpanError("provenance: expected a non-empty string such as 'manual'")
        if self.user_id is not None and (
            not isinstance(self.user_id, str) or not self.user_id.strip()
        ):
            raise SpanError("user_id: expected a non-empty string (or nothing: any user)")
        c = self.confidence
        if c is not None and not (isinstance(c, float) and math.isfinite(c) and 0.0 <= c <= 1.0):
            raise SpanError(f"confidence: expected a number in [0, 1], got {c!r}")

    @property
    def key(self) -> tuple[str | None, datetime, datetime]:
        """What makes two spans the same span (taskclf's merge key); a newer one replaces it."""
        return (self.user_id, self.start_ts, self.end_ts)

    @property
    def id(self) -> str:
        """10 hex of SHA-256 over the key: stable across export, import and restarts."""
        text = f"{self.user_id or ''}\0{format_ts(self.start_ts)}\0{format_ts(self.end_ts)}"
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def applies_to(self, user_id: str) -> bool:
        return self.user_id is None or self.user_id == user_id

    def to_json(self) -> dict[str, Any]:
        """One line of the span file (``id`` is derived, written for people reading it)."""
        return {
            "id": self.id,
            "start_ts": format_ts(self.start_ts),
            "end_ts": format_ts(self.end_ts),
            "label": self.label,
            "provenance": self.provenance,
            "user_id": self.user_id,
            "confidence": self.confidence,
        }

    def describe(self) -> str:
        who = self.user_id if self.user_id is not None else "any user"
        return (
            f"{self.id} [{format_ts(self.start_ts)}, {format_ts(self.end_ts)}) {self.label} ({who})"
        )


def _sort_key(span: LabelSpan) -> tuple[datetime, str, datetime, str]:
    return (span.start_ts, span.user_id or "", span.end_ts, span.label)


# --- parsing -----------------------------------------------------------------------------


def _ts(value: object, field: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise SpanError(f"{field}: expected an ISO-8601 timestamp, got {value!r}")
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SpanError(
            f"{field}: expected an ISO-8601 timestamp such as 2026-01-05T09:00:00Z "
            f"(no offset means UTC), got {value.strip()[:40]!r}"
        ) from None
    try:
        utc = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00: before the first UTC instant
        raise _OutOfRange(out_of_range(field, repr(value.strip()[:40]))) from None
    if not in_range(utc):
        raise _OutOfRange(out_of_range(field, repr(value.strip()[:40])))
    return utc


def _optional_text(value: object, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise SpanError(f"{field}: expected a string, got {type(value).__name__}")
    return value.strip()


def _confidence(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpanError(f"confidence: expected a number in [0, 1], got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise SpanError(f"confidence: expected a number in [0, 1], got {value!r}") from None
    if math.isnan(number):
        return None  # taskclf reads NaN (pandas' empty cell) as "no confidence"
    return number


def _extend_forward(value: object) -> bool:
    if value is None or value is False or (isinstance(value, str) and not value.strip()):
        return False
    if value is True:
        return True
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "0", "1"):
        return value.strip().lower() in ("true", "1")
    raise SpanError(f"extend_forward: expected true or false, got {value!r}")


def parse_span(obj: Mapping[str, object]) -> LabelSpan | None:
    """One span from a CSV row or JSON object; ``None`` for an open "label from now" span.

    taskclf's tray writes "label from now" as ``extend_forward`` with ``end_ts = start_ts``;
    its projection labels no window with it, so it is skipped rather than refused.
    """
    for name in _REQUIRED:
        if obj.get(name) is None:
            raise SpanError(f"{name}: missing (required: {', '.join(_REQUIRED)})")
    start = _ts(obj["start_ts"], "start_ts")
    end = _ts(obj["end_ts"], "end_ts")
    if _extend_forward(obj.get("extend_forward")) and end == start:
        return None
    label = obj["label"]
    if not isinstance(label, str):
        raise SpanError(f"label: expected a string, got {type(label).__name__}")
    provenance = obj["provenance"]
    if not isinstance(provenance, str):
        raise SpanError(f"provenance: expected a string, got {type(provenance).__name__}")
    return LabelSpan(
        start_ts=start,
        end_ts=end,
        label=label.strip(),
        provenance=provenance.strip(),
        user_id=_optional_text(obj.get("user_id"), "user_id"),
        confidence=_confidence(obj.get("confidence")),
    )


@dataclass(frozen=True, slots=True)
class SpanFile:
    """The spans of one file, in file order; how many open "from now" spans were skipped;
    and, when asked to skip them, the spans outside the supported times (``file:line: why``).
    """

    spans: tuple[LabelSpan, ...]
    skipped_open: int = 0
    out_of_range: tuple[str, ...] = ()


def _check_columns(names: Iterable[str], where: str) -> None:
    known = set(CSV_COLUMNS) | set(_TOLERATED)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SpanError(
            f"{where}: unknown column {unknown[0]!r} (expected {', '.join(CSV_COLUMNS)})"
        )


def _parse_rows(
    rows: Iterable[tuple[str, Mapping[str, object]]], *, skip_out_of_range: bool = False
) -> SpanFile:
    spans: list[LabelSpan] = []
    skipped = 0
    outside: list[str] = []
    for where, row in rows:
        try:
            span = parse_span(row)
        except _OutOfRange as exc:
            if not skip_out_of_range:
                raise SpanError(f"{where}: {exc}") from None
            outside.append(f"{where}: {exc}")
            continue
        except SpanError as exc:
            raise SpanError(f"{where}: {exc}") from None
        if span is None:
            skipped += 1
        else:
            spans.append(span)
    return SpanFile(tuple(spans), skipped, tuple(outside))


def read_spans_csv(text: str, *, source: str) -> SpanFile:
    """taskclf's label CSV (``start_ts,end_ts,label,provenance[,user_id][,confidence]``).

    All or nothing: the first bad row raises :class:`SpanError` naming ``source:line`` and
    the field. Timestamps are ISO-8601 (``T`` or a space; no offset means UTC).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if header is None:
        raise SpanError(f"{source}: empty file (expected a header: {','.join(CSV_COLUMNS)})")
    names = [h.strip() for h in header]
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise SpanError(
            f"{source}:1: missing column {missing[0]!r} (the header needs "
            f"{', '.join(_REQUIRED)}; optional user_id, confidence)"
        )
    _check_columns(names, f"{source}:1")
    if len(set(names)) != len(names):
        raise SpanError(f"{source}:1: a column is named twice")

    def rows() -> Iterable[tuple[str, Mapping[str, object]]]:
        for raw in reader:
            where = f"{source}:{reader.line_num}"
            if None in raw:
                raise SpanError(f"{where}: more fields than the header has columns")
            values = {k.strip(): v for k, v in raw.items() if k is not None}
            if all(v is None or not v.strip() for v in values.values()):
                continue  # a blank line
            short = [k for k, v in values.items() if v is None]
            if short:
                raise SpanError(f"{where}: {short[0]}: missing (the row has too few fields)")
            for name in _FREE_TEXT:
                cell = values.get(name)
                if cell is not None:
                    values[name] = csv_text(cell.strip())
            yield where, values

    try:
        return _parse_rows(rows())
    except csv.Error as exc:
        raise SpanError(f"{source}:{reader.line_num}: not valid CSV ({exc})") from None


def read_spans_jsonl(text: str, *, source: str, skip_out_of_range: bool = False) -> SpanFile:
    """One span object a line (the span file's own format, or a taskclf span as JSON).

    All or nothing, as :func:`read_spans_csv`; a last line without its newline is read if it
    parses (:mod:`taskclf_core.jsonl`). ``skip_out_of_range``: a span outside the supported
    times (an older version accepted them) is left out and listed instead of refused.
    """
    read = split_lines(text)
    if read.torn:
        number = text.count("\n") + 1
        raise SpanError(
            f"{source}:{number}: an unfinished last line (no newline, not valid JSON): "
            "a write that was cut short? remove that line"
        )

    def rows() -> Iterable[tuple[str, Mapping[str, object]]]:
        for number, line in read.lines:
            where = f"{source}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SpanError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(obj, dict):
                raise SpanError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            _check_columns(obj, where)
            yield where, obj

    return _parse_rows(rows(), skip_out_of_range=skip_out_of_range)


def csv_cell(text: str) -> str:
    """A free-text cell no spreadsheet runs as a formula: OWASP's leading single quote before
    ``= + - @``, a tab or a carriage return, and before a leading quote too, so that
    :func:`csv_text` can take exactly one quote off and every text comes back unchanged."""
    return _CELL_ESCAPE + text if text.startswith((*_FORMULA_START, _CELL_ESCAPE)) else text


def csv_text(cell: str) -> str:
    """The text :func:`csv_cell` wrote: one leading single quote taken off, nothing else."""
    return cell[1:] if cell.startswith(_CELL_ESCAPE) else cell


def spans_to_csv(spans: Iterable[LabelSpan]) -> str:
    """taskclf's CSV columns, in time order; read back by :func:`read_spans_csv` unchanged.

    Free text (``provenance``, ``user_id``) goes through :func:`csv_cell`.
    """
    rows = [CSV_COLUMNS]
    for s in sorted(spans, key=_sort_key):
        rows.append(
            (
                format_ts(s.start_ts),
                format_ts(s.end_ts),
                s.label,
                csv_cell(s.provenance),
                csv_cell(s.user_id or ""),
                "" if s.confidence is None else repr(s.confidence),
            )
        )
    return "".join(",".join(csv_field(cell) for cell in row) + "\n" for row in rows)


def csv_field(text: str) -> str:
    """One CSV field with RFC 4180's quoting: a field holding a comma, a quote, CR or LF is
    quoted, its quotes doubled (the csv module leaves a lone CR bare when lines end in LF,
    and a reader then splits the row there)."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def spans_to_jsonl(spans: Iterable[LabelSpan]) -> str:
    """The span file: one JSON object a line, in time order."""
    return "".join(
        json.dumps(s.to_json(), separators=(",", ":")) + "\n" for s in sorted(spans, key=_sort_key)
    )


# --- validation --------------------------------------------------------------------------


def check_overlaps(spans: Sequence[LabelSpan]) -> None:
    """Refuse two spans that overlap for one user with different labels, naming both
    (:class:`SpanOverlap`).

    A span without ``user_id`` applies to every user (taskclf's wildcard), so it conflicts
    with any overlapping span of another label. Same-label overlaps are allowed: projection
    gives their windows that one label.
    """
    ordered = sorted(spans, key=_sort_key)
    active: list[LabelSpan] = []
    for span in ordered:
        active = [a for a in active if a.end_ts > span.start_ts]
        for other in active:
            same_user = (
                other.user_id is None or span.user_id is None or other.user_id == span.user_id
            )
            if same_user and other.label != span.label:
                who = span.user_id or other.user_id or "any user"
                raise SpanOverlap(
                    f"spans overlap for {who} with different labels: {other.describe()} and "
                    f"{span.describe()}",
                    (other, span),
                )
        active.append(span)


def merge_spans(existing: Iterable[LabelSpan], added: Iterable[LabelSpan]) -> list[LabelSpan]:
    """``existing`` plus ``added`` (a span with the same key is replaced), checked, in order."""
    by_key = {s.key: s for s in existing}
    for s in added:
        by_key[s.key] = s
    merged = sorted(by_key.values(), key=_sort_key)
    check_overlaps(merged)
    return merged


def span_days(spans: Iterable[LabelSpan]) -> set[date]:
    """The UTC days the spans touch: the label-log files projection has to read."""
    days: set[date] = set()
    for s in spans:
        day = s.start_ts.date()
        last = (s.end_ts - timedelta(microseconds=1)).date()
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


def span_minutes(
    spans: Iterable[LabelSpan],
    since: datetime,
    until: datetime,
    *,
    days: Collection[date] | None = None,
) -> dict[str, float]:
    """Minutes each label's spans cover within ``[since, until)`` (each span counted whole:
    overlapping spans count twice); with ``days``, only their minutes on those UTC days."""
    out: dict[str, float] = {}
    for s in spans:
        start, end = max(s.start_ts, since), min(s.end_ts, until)
        if end <= start:
            continue
        seconds = (end - start).total_seconds() if days is None else _seconds_on(start, end, days)
        if seconds > 0:
            out[s.label] = out.get(s.label, 0.0) + seconds / 60
    return out


def _seconds_on(start: datetime, end: datetime, days: Collection[date]) -> float:
    """The seconds of ``[start, end)`` on the UTC ``days``."""
    seconds = 0.0
    day, last = start.date(), (end - timedelta(microseconds=1)).date()
    while day <= last:
        if day in days:
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            seconds += (
                min(end, midnight + timedelta(days=1)) - max(start, midnight)
            ).total_seconds()
        day += timedelta(days=1)
    return seconds


# --- how precisely spans were typed ------------------------------------------------------

# the coarse steps people type times to, coarsest first (minutes)
TYPED_MINUTES: Final = (15, 10, 5)
# a person's spans are taken as typed to a coarse step when this many of their span edges,
# and this share of them, lie on it (spans typed to the minute put 1 edge in 5 on a
# 5-minute mark: 90 % of 12 or more is never chance)
_TYPED_MIN_EDGES = 12
_TYPED_MIN_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class TypedStep:
    """How one user's spans were typed: to ``minutes`` (15, 10 or 5: a coarse step; 1: to the
    minute, as on the labelling page, for the edges on a minute mark; 0: every edge finer, as
    `label add --to now` or a program writes them), judged on ``edges`` distinct span edges
    of which ``on_step`` lie on a multiple of it (on a minute mark, for 0 and 1)."""

    user_id: str | None
    minutes: int
    edges: int
    on_step: int

    @property
    def margin(self) -> timedelta:
        """How far a typed switch can be from the true one: half a step (to the minute: the
        minute either side of the edge may hold some of both tasks)."""
        return timedelta(minutes=self.minutes / 2)

    @property
    def coarse(self) -> bool:
        """Typed to 5, 10 or 15 minutes (:data:`TYPED_MINUTES`)."""
        return self.minutes > 1

    def margin_at(self, edge: datetime) -> timedelta:
        """:attr:`margin` at one edge: none for an edge off the minute (typed to the second)
        unless the user types to a coarse step."""
        return self.margin if self.coarse or _on_step(edge, 1) else timedelta(0)


def _on_step(ts: datetime, minutes: int) -> bool:
    return ts.second == 0 and ts.microsecond == 0 and ts.minute % minutes == 0


def typed_steps(spans: Iterable[LabelSpan]) -> dict[str | None, TypedStep]:
    """Each user's (``None``: spans for any user) typing step: the coarsest of
    :data:`TYPED_MINUTES` that 90 % of at least 12 distinct span edges lie on, else 1 when
    some lie on a minute (each such edge was typed to it: :meth:`TypedStep.margin_at`), else
    0.

    Marks are read in UTC. A 5- or 15-minute mark is one in every time zone (every offset is
    a multiple of 15 minutes); in a zone offset by :45 (Nepal, Chatham) a 10-minute typist
    reads as typed to 5 minutes, with half the margin."""
    edges: dict[str | None, set[datetime]] = {}
    for s in spans:
        edges.setdefault(s.user_id, set()).update((s.start_ts, s.end_ts))
    out: dict[str | None, TypedStep] = {}
    for user_id, times in edges.items():
        step = None
        if len(times) >= _TYPED_MIN_EDGES:
            for minutes in TYPED_MINUTES:
                on = sum(_on_step(t, minutes) for t in times)
                if on >= _TYPED_MIN_SHARE * len(times):
                    step = TypedStep(user_id, minutes, len(times), on)
                    break
        if step is None:
            on = sum(_on_step(t, 1) for t in times)
            step = TypedStep(user_id, 1 if on else 0, len(times), on)
        out[user_id] = step
    return out


def _switch_zones(
    spans: Sequence[LabelSpan], steps: Mapping[str | None, TypedStep]
) -> list[tuple[datetime, datetime]]:
    """``[t - m, t + m]`` around each switch of these spans (one user's own and those for
    any user, together), sorted; ``m`` is the margin of whoever typed that edge, at it."""
    none = TypedStep(None, 0, 0, 0)
    runs: list[tuple[datetime, datetime, str, TypedStep, TypedStep]] = []
    for s in sorted(spans, key=_sort_key):
        step = steps.get(s.user_id, none)
        if runs and runs[-1][2] == s.label and s.start_ts <= runs[-1][1]:
            start, end, label, by_start, _ = runs[-1]
            if s.end_ts > end:  # one label goes on: no switch where the spans meet
                runs[-1] = (start, s.end_ts, label, by_start, step)
        else:
            runs.append((s.start_ts, s.end_ts, s.label, step, step))
    zones = []
    for start, end, _, by_start, by_end in runs:
        for t, step in ((start, by_start), (end, by_end)):
            m = step.margin_at(t)
            if m > timedelta(0):
                zones.append((t - m, t + m))
    return sorted(zones)


def near_typed_switch(
    spans: Sequence[LabelSpan],
    windows: Sequence[tuple[str, datetime, datetime]],
    steps: Mapping[str | None, TypedStep] | None = None,
) -> list[bool]:
    """Per window ``(user_id, start, end)``: does it come within half a typing step of a
    switch in spans typed to the minute or to a coarse step (:func:`typed_steps`)?

    A span typed to 5 minutes says 10:30 for a switch anywhere from 10:27:30 to 10:32:30:
    a minute that close may belong to the task on the other side. A switch is an edge of the
    spans that apply to the window's user (their own and those for any user, as in
    :func:`project`) where the label changes or labelled time ends; where one label goes on
    into the next span there is none. A span typed to the minute says 10:30 for a switch
    between 10:29:30 and 10:30:30: the minutes 10:29 and 10:30 may hold some of both. An edge
    typed finer (off the minute mark: `label add --to now`) has none, unless its user types
    to a coarse step."""
    steps = typed_steps(spans) if steps is None else steps
    widest = max((step.margin for step in steps.values()), default=timedelta(0))
    if widest <= timedelta(0):
        return [False] * len(windows)
    wildcard = [s for s in spans if s.user_id is None]
    own: dict[str, list[LabelSpan]] = {}
    for s in spans:
        if s.user_id is not None:
            own.setdefault(s.user_id, []).append(s)
    zones: dict[str, tuple[list[datetime], list[tuple[datetime, datetime]]]] = {}
    out: list[bool] = []
    for user_id, start, end in windows:
        if user_id not in zones:
            found = _switch_zones([*own.get(user_id, ()), *wildcard], steps)
            zones[user_id] = ([lo for lo, _ in found], found)
        los, found = zones[user_id]
        # a zone that reaches the window starts after start - 2 * widest and before end
        i = bisect.bisect_right(los, start - 2 * widest)
        while i < len(found) and found[i][0] < end and found[i][1] <= start:
            i += 1
        out.append(i < len(found) and found[i][0] < end)
    return out


# --- projection --------------------------------------------------------------------------


class _UserSpans:
    """One user's applicable spans by start, with a running maximum of their ends."""

    def __init__(self, spans: Sequence[LabelSpan]) -> None:
        self.spans = sorted(spans, key=lambda s: s.start_ts)
        self.starts = [s.start_ts for s in self.spans]
        self.max_end: list[datetime] = []
        for s in self.spans:
            self.max_end.append(max(self.max_end[-1], s.end_ts) if self.max_end else s.end_ts)

    def label_of(self, start: datetime, end: datetime) -> str | None:
        labels: set[str] = set()
        i = bisect.bisect_right(self.starts, start) - 1
        # only spans starting at or before the window can contain it; stop once none of the
        # earlier ones reaches the window's end
        while i >= 0 and self.max_end[i] >= end:
            if self.spans[i].end_ts >= end:
                labels.add(self.spans[i].label)
            i -= 1
        return labels.pop() if len(labels) == 1 else None


def project(
    spans: Sequence[LabelSpan], windows: Sequence[tuple[str, datetime, datetime]]
) -> list[str | None]:
    """Each window's label under taskclf's strict containment, or ``None`` (dropped).

    A window ``(user_id, start, end)`` gets a label only when its whole ``[start, end)`` lies
    inside spans that apply to its user (own or without ``user_id``) and those containing
    spans agree on one label. Partly covered windows, windows straddling two spans and
    windows contained in spans of different labels get ``None``.
    """
    wildcard = [s for s in spans if s.user_id is None]
    by_user: dict[str, list[LabelSpan]] = {}
    for s in spans:
        if s.user_id is not None:
            by_user.setdefault(s.user_id, []).append(s)
    index: dict[str, _UserSpans] = {}
    shared = _UserSpans(wildcard)
    out: list[str | None] = []
    for user_id, start, end in windows:
        own = by_user.get(user_id)
        if own is None:
            out.append(shared.label_of(start, end))
            continue
        spans_of = index.get(user_id)
        if spans_of is None:
            spans_of = index[user_id] = _UserSpans([*own, *wildcard])
        out.append(spans_of.label_of(start, end))
    return out
