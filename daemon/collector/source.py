"""Where events come from: a running ActivityWatch (REST) or an export file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from daemon.collector.client import AWClient
from taskclf_core.activity import (
    BucketChoice,
    InputEvent,
    WindowEvent,
    export_buckets,
    in_range,
    load_json,
    parse_input_events,
    parse_window_events,
    select_buckets,
)
from taskclf_core.errors import ConfigError

__all__ = ["EventSource", "ExportSource", "RestSource"]

# Events are asked for with room on both sides and cut to "starts in range" here: servers
# differ at the edges (aw-server returns overlapping events whole, aw-server-rust trims them
# to the query range), and a trimmed copy must never pass for an event that starts there.
_MARGIN_US = 60 * 1_000_000
_DAY_US = 86_400 * 1_000_000


class EventSource(Protocol):
    """Events of one host that start in ``[start_us, end_us)``, in canonical order."""

    @property
    def description(self) -> str: ...

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]: ...

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]: ...


@dataclass
class RestSource:
    """A running ActivityWatch server; buckets are looked up again on every poll."""

    client: AWClient
    hostname: str
    salt: str = field(repr=False)
    sketches: bool
    _choice: BucketChoice | None = field(default=None, init=False)

    @property
    def description(self) -> str:
        return self.client.url

    def refresh(self) -> BucketChoice:
        self._choice = select_buckets(
            self.client.buckets(), self.hostname, source=f"{self.client.url}/api/0/buckets/"
        )
        return self._choice

    def _buckets(self) -> BucketChoice:
        return self._choice if self._choice is not None else self.refresh()

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        bucket = self._buckets().window
        raw = self.client.events(bucket, start_us - _MARGIN_US, end_us + _DAY_US)
        parsed = parse_window_events(raw, bucket_id=bucket, salt=self.salt, sketches=self.sketches)
        return in_range(parsed, start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        bucket = self._buckets().input
        if bucket is None:
            return []
        raw = self.client.events(bucket, start_us - _MARGIN_US, end_us + _DAY_US)
        return in_range(parse_input_events(raw, bucket_id=bucket), start_us, end_us)


@dataclass
class ExportSource:
    """An ActivityWatch export (``GET /api/0/export`` or the web UI's "Export all buckets")."""

    path: Path
    windows: list[WindowEvent]
    inputs: list[InputEvent]
    choice: BucketChoice

    @classmethod
    def load(cls, path: Path, *, hostname: str, salt: str, sketches: bool) -> ExportSource:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--export: cannot read {path} ({exc.strerror or exc})") from None
        buckets: Mapping[str, Mapping[str, Any]] = export_buckets(
            load_json(data, str(path)), source=str(path)
        )
        choice = select_buckets(buckets, hostname, source=str(path))
        windows = parse_window_events(
            buckets[choice.window].get("events", []),
            bucket_id=choice.window,
            salt=salt,
            sketches=sketches,
        )
        inputs = (
            parse_input_events(buckets[choice.input].get("events", []), bucket_id=choice.input)
            if choice.input is not None
            else []
        )
        return cls(path=path, windows=windows, inputs=inputs, choice=choice)

    @property
    def description(self) -> str:
        return str(self.path)

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        return in_range(self.windows, start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        return in_range(self.inputs, start_us, end_us)

    def first_us(self) -> int | None:
        return self.windows[0].start_us if self.windows else None

    def last_us(self) -> int | None:
        return max(e.start_us for e in self.windows) if self.windows else None
