"""What the collector's tests share: a taskclf home, the CLI in-process, days, clocks, labels."""

from __future__ import annotations

import io
import json
import signal
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aw_fixtures import HOSTNAME, Case

from daemon.cli import main
from daemon.collector.collector import Collector
from daemon.collector.source import Frontier
from taskclf_core.activity import InputEvent, RowSpec, Skipped, WindowEvent, latest_end
from taskclf_core.errors import ActivityError, UnreachableError
from taskclf_core.schema import registry
from taskclf_core.timespan import Interval, clip

AFK_SHOWN_US = 180 * 1_000_000  # aw-watcher-afk's default timeout


@dataclass
class FakeClock:
    """The collector's clock seam: ``true_us`` is real time (the elapsed clock follows it);
    the system clock shows it plus ``offset_us`` (set it to step the system clock)."""

    true_us: int = 0
    offset_us: int = 0

    def wall(self) -> float:
        return (self.true_us + self.offset_us) / 1e6

    def elapsed(self) -> float:
        return self.true_us / 1e6


@dataclass
class TickingClock:
    """A right clock on which each poll (one ``elapsed`` read) takes ``tick_us`` of real time:
    the time a live collector needs for a quiet last minute to become final, in no time."""

    true_us: int
    tick_us: int = 30 * 1_000_000

    def wall(self) -> float:
        return self.true_us / 1e6

    def elapsed(self) -> float:
        self.true_us += self.tick_us
        return self.true_us / 1e6


@dataclass
class GrowingDay:
    """A day of events as a server shows them while it happens (events appear and grow).

    ``now_us`` is the real time the server is at: events that started by then are there,
    the current one as long as it has lasted so far.
    """

    events: list[WindowEvent]
    now_us: int = 0
    calls: int = 0
    down: bool = False
    failure: str = "down"
    description: str = "growing-day"
    seen: list[tuple[int, int]] = field(default_factory=list)
    complete: bool = False
    as_posted: frozenset[int] = frozenset()  # events shown whole once they start (broken ones)
    # an afk bucket: the away stretches, shown as aw-watcher-afk shows them (None: no bucket)
    away: list[tuple[int, int]] | None = None
    input_bucket: str | None = None  # it serves no input events

    def _visible(self) -> list[WindowEvent]:
        out = []
        for i, e in enumerate(self.events):
            if i in self.as_posted and e.start_us < self.now_us:
                out.append(e)
            elif e.start_us < self.now_us:
                end = min(e.end_us, self.now_us)
                out.append(
                    WindowEvent(
                        e.start_us, (end - e.start_us) / 1e6, end, e.app, e.title_hash, e.title
                    )
                )
        return out

    def _check(self) -> None:
        self.calls += 1
        if self.down and self.failure == "down":
            raise UnreachableError("ActivityWatch is not reachable (test)")
        if self.down:
            raise ActivityError("no 'currentwindow' bucket for hostname 'h' (test)")

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        self._check()
        self.seen.append((start_us, end_us))
        return [e for e in self._visible() if start_us <= e.start_us < end_us]

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        return []

    def afk_intervals(self, start_us: int, end_us: int) -> list[Interval]:
        # aw-watcher-afk posts an away stretch once it is AFK_SHOWN_US old, dated back
        shown = [
            (a, min(b, self.now_us)) for a, b in self.away or [] if a + AFK_SHOWN_US <= self.now_us
        ]
        return clip(shown, start_us, end_us)

    def frontier(self, ceiling_us: int) -> Frontier:
        self._check()
        newest = self._visible()[-1:]
        afk_seen = None if self.away is None else self._afk_seen()
        return Frontier(
            latest_end(newest, ceiling_us), newest[0].start_us if newest else None, afk_seen
        )

    def _afk_seen(self) -> int:
        """How far aw-watcher-afk's data reaches: now, less a not-yet-posted away stretch."""
        for a, _b in self.away or []:
            if a <= self.now_us < a + AFK_SHOWN_US:
                return a
        return self.now_us

    def drain_skipped(self) -> list[Skipped]:
        return []


def live_collector(
    tmp_path: Path,
    source: Any,
    spec: RowSpec,
    *,
    position: int,
    settle_us: int,
    clock: Any | None = None,
    mode: str = "live",
    **more: Any,
) -> Collector:
    """A live collector (or, ``mode="once"``, a ``collect --once``) over ``source`` writing
    under ``tmp_path`` (clock: the source's now)."""
    if clock is None:
        clock = SourceClock(source)
    return Collector(
        source=source,
        spec=spec,
        spool=tmp_path / "spool",
        cursor_path=tmp_path / "c/cursor.json",
        status_path=tmp_path / "c/status.json",
        hostname=HOSTNAME,
        position=position,
        settle_us=settle_us,
        mode=mode,
        clock=clock,
        **more,
    )


@dataclass
class SourceClock:
    """A right clock that reads the time off a :class:`GrowingDay`."""

    source: Any

    def wall(self) -> float:
        return float(self.source.now_us) / 1e6

    def elapsed(self) -> float:
        return float(self.source.now_us) / 1e6


def spool_rows_in(spool: Path) -> list[dict[str, Any]]:
    new = spool / "new"
    if not new.is_dir():
        return []
    return [
        json.loads(line)
        for p in sorted(new.iterdir())
        for line in p.read_text().splitlines()
        if line
    ]


def rows_written_since(spool: Path, seen: dict[str, bytes]) -> list[dict[str, Any]]:
    """The rows of the files in ``<spool>/new`` that are new or changed since ``seen`` (which
    is updated): what the runs since then wrote, in file order."""
    new = spool / "new"
    rows: list[dict[str, Any]] = []
    for path in sorted(new.iterdir()) if new.is_dir() else []:
        content = path.read_bytes()
        if seen.get(path.name) != content:
            seen[path.name] = content
            rows += [json.loads(line) for line in content.decode().splitlines() if line]
    return rows


def write_identity(data: Path, *, salt: str | None, user_id: str | None) -> None:
    """taskclf's title salt and user id files in the data dir ``data`` (None: not there)."""
    processed = data / "data" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    if salt is not None:
        (processed / ".title_secret").write_text(salt + "\n")
    if user_id is not None:
        (processed / ".user_id").write_text(user_id)


def make_home(root: Path, *, version: str = "v1", salt: str | None, user_id: str | None) -> Path:
    """A data dir as taskclf leaves it (salt, user id) plus a bundle's metadata.json."""
    data = root / "data"
    write_identity(data, salt=salt, user_id=user_id)
    model = data / "model"
    model.mkdir()
    reg = registry(version)
    assert reg is not None
    (model / "metadata.json").write_text(
        json.dumps({"schema_version": version, "schema_hash": reg.schema_hash, "label_set": []})
    )
    return data


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def aw_args(data: Path, url: str, *more: str) -> tuple[str, ...]:
    """``collect`` reading the ActivityWatch at ``url`` for the fixture host, into ``data``."""
    return ("collect", "--data-dir", str(data), "--aw-url", url, "--aw-hostname", HOSTNAME, *more)


@contextmanager
def collector_process(
    args: Sequence[str], log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A live collector process (its output appended to ``log``), stopped with SIGTERM at the
    end of the block, which it must exit 0 on (killed if the block failed first)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(args), stdout=out, stderr=out, env=dict(env))
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def labels_once_args(data: Path, url: str, day: str, *more: str) -> tuple[str, ...]:
    """``collect --once`` of the local ``day`` with ``aw_write_labels`` (aw_args' server)."""
    return aw_args(
        data,
        url,
        "--once",
        "--from",
        day,
        "--to",
        f"{day}T23:59",
        "--aw-write-labels",
        "true",
        *more,
    )


def export_args(case: Case, data: Path) -> tuple[str, ...]:
    """``collect --export`` of an ActivityWatch fixture case into the home at ``data``."""
    return (
        "collect",
        "--export",
        str(case.export_path),
        "--data-dir",
        str(data),
        "--aw-hostname",
        HOSTNAME,
    )


def spool_rows(data: Path) -> list[dict[str, Any]]:
    new = data / "spool" / "new"
    return [
        json.loads(line)
        for path in sorted(new.iterdir())
        for line in path.read_text().splitlines()
        if line
    ]


def seed_cursor(data: Path, ts: str, user_id: str) -> Path:
    """The cursor a collector leaves after emitting every minute before ``ts`` (as JSON)."""
    path = data / "collector" / "cursor.json"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    doc = {"next_bucket_start_ts": ts, "user_id": user_id, "aw_hostname": HOSTNAME}
    path.write_text(json.dumps(doc))
    return path


LABEL_USER = "u-ada"
_MINUTE = timedelta(minutes=1)


def _utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label_record(
    start: datetime,
    label: str,
    *,
    model: str = "model-a",
    confidence: float = 0.8,
    user: str = LABEL_USER,
) -> dict[str, Any]:
    """A label-log record (the fields the report reads; docs/windows.md)."""
    return {
        "user_id": user,
        "bucket_start_ts": _utc(start),
        "bucket_end_ts": _utc(start + _MINUTE),
        "confidence": confidence,
        "is_rejected": label == "Mixed/Unknown",
        "label": label,
        "smoothed_label": label,
        "mapped_label": label,
        "model_bundle_id": model,
        "store_id": None,
    }


def write_label_log(labels: Path, records: Iterable[dict[str, Any]]) -> None:
    """``records`` as the label log's UTC day files (replacing them)."""
    labels.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_day[r["bucket_start_ts"][:10]].append(json.dumps(r) + "\n")
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("".join(lines))
