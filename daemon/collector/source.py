"""Where events come from: a running ActivityWatch (REST) or an export file."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from daemon.collector.client import AWClient
from taskclf_core.activity import (
    AfkEvent,
    BucketChoice,
    InputEvent,
    Parsed,
    Skipped,
    WindowEvent,
    afk_intervals,
    export_buckets,
    in_range,
    latest_end,
    load_json,
    parse_afk_events,
    parse_input_events,
    parse_window_events,
    select_buckets,
)
from taskclf_core.errors import ActivityError, ConfigError
from taskclf_core.timespan import Interval, clip

__all__ = ["EventSource", "ExportSource", "Frontier", "RestSource"]

# Events are asked for with room on both sides and cut to "starts in range" here: servers
# differ at the edges (aw-server returns overlapping events whole, aw-server-rust trims them
# to the query range), and a trimmed copy must never pass for an event that starts there.
_MARGIN_US: Final = 60 * 1_000_000
_DAY_US: Final = 86_400 * 1_000_000
# a bad event is counted once however often it is read again; past this many, start over
_MAX_REMEMBERED: Final = 100_000


@dataclass(frozen=True, slots=True)
class Frontier:
    """What a source's newest events show (µs; None when it has none).

    ``seen_us``: the latest moment recorded, not after a ceiling (see ``latest_end``): the
    evidence ActivityWatch's clock moves by. ``newest_start_us``: the start of the newest
    window event, the only one that can still grow. ``afk_seen_us``: how far the afk
    bucket's data reaches (its newest event's end); None without an afk bucket.
    """

    seen_us: int | None
    newest_start_us: int | None
    afk_seen_us: int | None = None


class EventSource(Protocol):
    """Events of one host that start in ``[start_us, end_us)``, in canonical order."""

    @property
    def description(self) -> str: ...

    @property
    def complete(self) -> bool:
        """The source already holds all it ever will (an export): no event still grows."""
        ...

    @property
    def input_bucket(self) -> str | None:
        """The aw-watcher-input bucket input events come from; None when the host has none
        (ActivityWatch's default install): keyboard and mouse columns then stay null."""
        ...

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]: ...

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]: ...

    def afk_intervals(self, start_us: int, end_us: int) -> list[Interval]:
        """The time the afk bucket marks ``afk`` within ``[start_us, end_us)`` (none without
        an afk bucket)."""
        ...

    def frontier(self, ceiling_us: int) -> Frontier:
        """What the newest event of each bucket shows, judged against ``ceiling_us``."""
        ...

    def drain_skipped(self) -> list[Skipped]:
        """Events left out as unreadable since the last call, each reported once."""
        ...


_E = TypeVar("_E", WindowEvent, InputEvent, AfkEvent)


@dataclass
class RestSource:
    """A running ActivityWatch server; buckets are looked up again on every poll."""

    client: AWClient
    hostname: str
    salt: str = field(repr=False)
    sketches: bool
    _choice: BucketChoice | None = field(default=None, init=False)
    _reported: set[tuple[str, str, str]] = field(default_factory=set, init=False, repr=False)
    _skipped: list[Skipped] = field(default_factory=list, init=False, repr=False)

    @property
    def description(self) -> str:
        return self.client.url

    @property
    def complete(self) -> bool:
        return False

    def refresh(self) -> BucketChoice:
        self._choice = select_buckets(
            self.client.buckets(), self.hostname, source=f"{self.client.url}/api/0/buckets/"
        )
        return self._choice

    def _buckets(self) -> BucketChoice:
        return self._choice if self._choice is not None else self.refresh()

    @property
    def input_bucket(self) -> str | None:
        return self._buckets().input

    def _keep(self, parse: Callable[[], Parsed[_E]]) -> list[_E]:
        """The events ``parse`` reads; those it skips are reported once each."""
        try:
            parsed = parse()
        except ActivityError as exc:  # the answer is not a list of events: name the server
            said = str(exc)  # (an answer that is not JSON names its URL already)
            named = said if said.startswith(self.client.url) else f"{self.client.url}: {said}"
            raise ActivityError(named) from None
        if len(self._reported) > _MAX_REMEMBERED:
            self._reported.clear()
        for skipped in parsed.skipped:
            if skipped.key not in self._reported:
                self._reported.add(skipped.key)
                self._skipped.append(skipped)
        return parsed.events

    def _windows(self, raw: object, bucket: str, *, sketches: bool) -> list[WindowEvent]:
        return self._keep(
            lambda: parse_window_events(raw, bucket_id=bucket, salt=self.salt, sketches=sketches)
        )

    def _inputs(self, raw: object, bucket: str) -> list[InputEvent]:
        return self._keep(lambda: parse_input_events(raw, bucket_id=bucket))

    def _afk(self, raw: object, bucket: str) -> list[AfkEvent]:
        return self._keep(lambda: parse_afk_events(raw, bucket_id=bucket))

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        bucket = self._buckets().window
        raw = self.client.events(bucket, start_us - _MARGIN_US, end_us + _DAY_US)
        return in_range(self._windows(raw, bucket, sketches=self.sketches), start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        bucket = self._buckets().input
        if bucket is None:
            return []
        raw = self.client.events(bucket, start_us - _MARGIN_US, end_us + _DAY_US)
        return in_range(self._inputs(raw, bucket), start_us, end_us)

    def afk_intervals(self, start_us: int, end_us: int) -> list[Interval]:
        bucket = self._buckets().afk
        if bucket is None:
            return []
        # an away stretch may have started long before: a day of margin (aw-server returns
        # the events that overlap the range, aw-server-rust trims them to it)
        raw = self.client.events(bucket, start_us - _DAY_US, end_us)
        return clip(afk_intervals(self._afk(raw, bucket)), start_us, end_us)

    def frontier(self, ceiling_us: int) -> Frontier:
        choice = self._buckets()
        # only its times matter here: no title sketches
        newest = self._windows(
            self.client.latest_event(choice.window), choice.window, sketches=False
        )
        latest: list[WindowEvent | InputEvent] = [*newest]
        if choice.input is not None:
            latest += self._inputs(self.client.latest_event(choice.input), choice.input)
        afk_seen = None
        if choice.afk is not None:
            away = self._afk(self.client.latest_event(choice.afk), choice.afk)
            afk_seen = max((e.end_us for e in away), default=None)
        return Frontier(
            latest_end(latest, ceiling_us),
            max((e.start_us for e in newest), default=None),
            afk_seen,
        )

    def drain_skipped(self) -> list[Skipped]:
        out, self._skipped = self._skipped, []
        return out


def _between(events: Sequence[_E], starts: Sequence[int], start_us: int, end_us: int) -> list[_E]:
    return list(events[bisect_left(starts, start_us) : bisect_left(starts, end_us)])


@dataclass
class ExportSource:
    """An ActivityWatch export (``GET /api/0/export`` or the web UI's "Export all buckets")."""

    path: Path
    windows: list[WindowEvent]
    inputs: list[InputEvent]
    choice: BucketChoice
    skipped: list[Skipped] = field(default_factory=list)
    afk: list[Interval] = field(default_factory=list)
    _window_starts: list[int] = field(default_factory=list, init=False, repr=False)
    _input_starts: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        # days are walked one by one (years of them in an odd export): find a day's events
        # by bisection, not by reading them all
        self._window_starts = [e.start_us for e in self.windows]
        self._input_starts = [e.start_us for e in self.inputs]

    @classmethod
    def load(cls, path: Path, *, hostname: str, salt: str, sketches: bool) -> ExportSource:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--export: cannot read {path} ({exc.strerror or exc})") from None
        doc = load_json(data, str(path))
        del data
        buckets: Mapping[str, Mapping[str, Any]] = export_buckets(doc, source=str(path))
        choice = select_buckets(buckets, hostname, source=str(path))
        raw_windows = buckets[choice.window].get("events", [])
        raw_inputs = buckets[choice.input].get("events", []) if choice.input is not None else []
        raw_afk = buckets[choice.afk].get("events", []) if choice.afk is not None else []
        # a day's back-fill runs beside the daemon: the other buckets (browser, ...) and
        # each bucket's raw JSON go as soon as they are read, not at the end
        del doc, buckets
        try:
            windows = parse_window_events(
                raw_windows, bucket_id=choice.window, salt=salt, sketches=sketches
            )
            del raw_windows
            inputs: Parsed[InputEvent] = (
                parse_input_events(raw_inputs, bucket_id=choice.input)
                if choice.input is not None
                else Parsed([], ())
            )
            afk: Parsed[AfkEvent] = (
                parse_afk_events(raw_afk, bucket_id=choice.afk)
                if choice.afk is not None
                else Parsed([], ())
            )
        except ActivityError as exc:  # a bucket's events are not a list: name the file
            raise ActivityError(f"{path}: {exc}") from None
        return cls(
            path=path,
            windows=windows.events,
            inputs=inputs.events,
            choice=choice,
            skipped=[*windows.skipped, *inputs.skipped, *afk.skipped],
            afk=afk_intervals(afk.events),
        )

    @property
    def description(self) -> str:
        return str(self.path)

    @property
    def input_bucket(self) -> str | None:
        return self.choice.input

    @property
    def complete(self) -> bool:
        return True

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        return _between(self.windows, self._window_starts, start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        return _between(self.inputs, self._input_starts, start_us, end_us)

    def afk_intervals(self, start_us: int, end_us: int) -> list[Interval]:
        return clip(self.afk, start_us, end_us)

    def frontier(self, ceiling_us: int) -> Frontier:
        newest = self.windows[-1].start_us if self.windows else None
        return Frontier(latest_end([*self.windows[-1:], *self.inputs[-1:]], ceiling_us), newest)

    def drain_skipped(self) -> list[Skipped]:
        out, self.skipped = self.skipped, []
        return out

    def first_us(self) -> int | None:
        return self.windows[0].start_us if self.windows else None

    def last_us(self) -> int | None:
        return self.windows[-1].start_us if self.windows else None
