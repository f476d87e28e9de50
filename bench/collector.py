"""The ActivityWatch collector: CPU of polling a day every 30 s, a day's export back-fill, and
the collector process's resident memory.

A synthetic 8-hour day (~1,500 window events, ~5,800 input samples, an aw-watcher-afk bucket
with a lunch break and a few short ones) is replayed on a simulated clock: each poll sees the
events as a server would at that moment (the current event still growing, an away stretch
posted once aw-watcher-afk's 3-minute timeout has passed) and goes through the real parse path
(JSON dicts → frozen events → rows → spool file). Average CPU % = CPU seconds of all polls /
the day's 8 hours. A checkout whose collector reads no afk bucket ignores it.

Baseline: the straightforward collector, which re-reads and rebuilds the whole day at every
poll and writes the minutes after its cursor. With aw-server present (``AW_SERVER_BIN`` or
``.aw-venv``), one poll's cost against a real aw-server is measured too (the HTTP and JSON
part of a poll), and so is ``aw_write_labels``: the CPU of keeping the label bucket equal to
the report's segments while the daemon appends a record a minute.

Memory: the peak resident set (``VmHWM``) of a fresh ``taskclf-daemon collect`` process, read
at its exit: a day's back-fill from an export (schema v3), and a live collector against
aw-server that catches up on yesterday (the same day of events) and polls on (without and, in
a tree that has it, with ``aw_write_labels``). Run it under two trees in one session with
``bench/ab.py --baseline DIR collector.py`` (the script is this tree's, the code each venv's).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the code under test is the one this interpreter's venv installed (bench/ab.py runs this script
# under a baseline's venv too): never this checkout's by path
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from daemon.collector.collector import Collector
from daemon.collector.emit import write_windows
from daemon.collector.source import ExportSource, Frontier
from daemon.logs import configure_logging
from taskclf_core.activity import (
    InputEvent,
    RowSpec,
    Skipped,
    WindowEvent,
    build_day,
    finality,
    format_us,
    in_range,
    latest_end,
    parse_input_events,
    parse_timestamp_us,
    parse_window_events,
)

DAY = parse_timestamp_us("2026-03-02T00:00:00Z", "day")
START = DAY + 9 * 3600 * 1_000_000
HOURS = 8
POLL_US = 30 * 1_000_000
SETTLE_US = 60 * 1_000_000
SALT = "bench-salt-" + "a" * 53
APPS = ["Code", "iTerm2", "Google Chrome", "Firefox", "Slack", "zoom.us", "Obsidian", "Mail"]


@dataclass(frozen=True)
class Event:
    start_us: int
    duration_us: int
    data: dict[str, Any]


@functools.cache
def synthetic_day(seed: int = 0) -> tuple[list[Event], list[Event]]:
    rng = random.Random(seed)
    titles = [
        f"{w} {rng.randint(1, 999)} — project {rng.choice('abcdef')}"
        for w in (
            "main.py",
            "README",
            "Inbox",
            "standup",
            "PR #",
            "docs",
            "pytest",
            "design",
        )
        for _ in range(25)
    ]
    windows: list[Event] = []
    t, end = START, START + HOURS * 3600 * 1_000_000
    while t < end:
        duration = int(rng.expovariate(1 / 12.0) * 1_000_000) + 500_000
        if rng.random() < 0.01:
            duration += rng.randint(300, 900) * 1_000_000  # a meeting or a break
        app = rng.choice(APPS)
        windows.append(Event(t, duration, {"app": app, "title": rng.choice(titles)}))
        t += duration + (rng.randint(1, 3) * 1_000_000 if rng.random() < 0.3 else 0)
    inputs = [
        Event(
            s,
            5_000_000,
            {
                "presses": rng.choice([0, 0, 4, 30]),
                "clicks": rng.choice([0, 1, 3]),
                "deltaX": rng.randint(0, 400),
                "deltaY": rng.randint(0, 300),
                "scrollX": 0,
                "scrollY": rng.choice([0, 0, 5]),
            },
        )
        for s in range(START, end, 5_000_000)
    ]
    return windows, inputs


AFK_TIMEOUT_US = 180 * 1_000_000  # aw-watcher-afk's default


@functools.cache
def synthetic_afk() -> list[tuple[int, int]]:
    """Away stretches: a 45-minute lunch and four breaks of 4 to 12 minutes."""
    minute = 60 * 1_000_000
    return [
        (START + 70 * minute, START + 78 * minute),
        (START + 150 * minute, START + 154 * minute),
        (START + 200 * minute, START + 245 * minute),
        (START + 330 * minute, START + 342 * minute),
        (START + 420 * minute, START + 426 * minute),
    ]


def raw_afk(now_us: int, offset_us: int = 0) -> list[dict[str, Any]]:
    """The afk bucket at ``now_us``: not-afk between the away stretches, each away stretch
    posted once the watcher's timeout has passed (dated back), the current one growing; the
    day moved by ``offset_us`` (``now_us`` is after the shift)."""
    out, at = [], START + offset_us
    for a, b in ((a + offset_us, b + offset_us) for a, b in synthetic_afk()):
        if a + AFK_TIMEOUT_US > now_us:
            break
        out.append((at, a, "not-afk"))
        out.append((a, min(b, now_us), "afk"))
        at = b
    if at < now_us:
        out.append((at, now_us, "not-afk"))
    return [
        {
            "timestamp": format_us(a).replace("Z", "+00:00"),
            "duration": (b - a) / 1e6,
            "data": {"status": status},
        }
        for a, b, status in out
        if b > a
    ]


def _afk_events(now_us: int) -> list[Any]:
    from taskclf_core.activity import parse_afk_events  # a checkout with afk support

    return parse_afk_events(raw_afk(now_us), bucket_id="a").events


def _has_afk() -> bool:
    return "afk_events" in inspect.signature(build_day).parameters


def _batch(version: str) -> list[dict[str, object]]:
    more = {"afk_events": _afk_events(DAY + 86_400_000_000)} if _has_afk() else {}
    return build_day(DAY, *_parsed(version), spec=RowSpec("bench-user", version), **more)


def raw(events: list[Event], now_us: int, *, grows: bool) -> list[dict[str, Any]]:
    """The events as a server shows them at ``now_us``."""
    out = []
    for e in events:
        if grows and e.start_us >= now_us:
            continue
        if not grows and e.start_us + e.duration_us > now_us:
            continue  # input samples are posted when they end
        duration = min(e.duration_us, now_us - e.start_us)
        out.append(
            {
                "timestamp": format_us(e.start_us).replace("Z", "+00:00"),
                "duration": duration / 1e6,
                "data": e.data,
            }
        )
    return out


@dataclass
class ReplaySource:
    """What a REST source returns at the simulated time (same parse work as over REST)."""

    windows: list[Event]
    inputs: list[Event]
    sketches: bool
    now_us: int = 0
    description: str = "replay"
    complete: bool = False

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        # the server filters by time; parsing what it returns is the collector's cost
        chosen = [e for e in self.windows if start_us - 60_000_000 <= e.start_us < end_us]
        parsed = parse_window_events(
            raw(chosen, self.now_us, grows=True), bucket_id="w", salt=SALT, sketches=self.sketches
        ).events
        return in_range(parsed, start_us, end_us)

    def afk_intervals(self, start_us: int, end_us: int) -> list[tuple[int, int]]:
        from taskclf_core.activity import afk_intervals
        from taskclf_core.timespan import clip

        return clip(afk_intervals(_afk_events(self.now_us)), start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        chosen = [e for e in self.inputs if start_us - 60_000_000 <= e.start_us < end_us]
        return in_range(
            parse_input_events(raw(chosen, self.now_us, grows=False), bucket_id="i").events,
            start_us,
            end_us,
        )

    def frontier(self, ceiling_us: int) -> Frontier:
        # REST asks each bucket for its newest event (limit=1): one event each to parse
        w = [e for e in self.windows if e.start_us < self.now_us][-1:]
        i = [e for e in self.inputs if e.start_us + e.duration_us <= self.now_us][-1:]
        newest: list[WindowEvent | InputEvent] = [
            *parse_window_events(
                raw(w, self.now_us, grows=True), bucket_id="w", salt=SALT, sketches=False
            ).events,
            *parse_input_events(raw(i, self.now_us, grows=False), bucket_id="i").events,
        ]
        more: dict[str, Any] = {}
        if "afk_seen_us" in getattr(Frontier, "__dataclass_fields__", {}):
            away = _afk_events(self.now_us)[-1:]  # the afk bucket's newest event
            more["afk_seen_us"] = away[0].end_us if away else None
        return Frontier(latest_end(newest, ceiling_us), w[0].start_us if w else None, **more)

    def drain_skipped(self) -> list[Skipped]:
        return []


@dataclass
class ReplayClock:
    """The simulated time, right on both the system and the elapsed clock."""

    source: ReplaySource

    def wall(self) -> float:
        return self.source.now_us / 1e6

    def elapsed(self) -> float:
        return self.source.now_us / 1e6


def polls() -> list[int]:
    """Every 30 s from before the first event until the last one has settled."""
    windows, _ = synthetic_day()
    last_end = max(e.start_us + e.duration_us for e in windows)
    return list(range(START - 60 * 1_000_000, last_end + SETTLE_US + 2 * POLL_US, POLL_US))


def _collector(source: Any, spec: RowSpec, work: Path, **mode: Any) -> Collector:
    """The bench day's collector writing under ``work``; ``mode`` says live or export."""
    return Collector(
        source=source,
        spec=spec,
        spool=work / "spool",
        cursor_path=work / "c" / "cursor.json",
        status_path=work / "c" / "status.json",
        hostname="bench",
        position=DAY,
        settle_us=SETTLE_US,
        **mode,
    )


def run_incremental(version: str, work: Path) -> tuple[float, list[dict[str, Any]]]:
    windows, inputs = synthetic_day()
    source = ReplaySource(windows, inputs, sketches=version == "v3")
    spec = RowSpec("bench-user", version)
    collector = _collector(source, spec, work, mode="live", clock=ReplayClock(source))
    cpu = 0.0
    for now in polls():
        source.now_us = now
        t0 = time.process_time()
        collector.step()
        cpu += time.process_time() - t0
    return cpu, read_spool(work / "spool")


def run_baseline(version: str, work: Path) -> tuple[float, list[dict[str, Any]]]:
    """Re-read and rebuild the whole day at every poll; write the minutes after the cursor."""
    windows, inputs = synthetic_day()
    spec = RowSpec("bench-user", version)
    cursor = DAY
    cpu = 0.0
    for now in polls():
        t0 = time.process_time()
        w = parse_window_events(
            raw(windows, now, grows=True), bucket_id="w", salt=SALT, sketches=version == "v3"
        ).events
        i = parse_input_events(raw(inputs, now, grows=False), bucket_id="i").events
        until = finality(w, from_us=cursor, now_us=now, settle_us=SETTLE_US).until_us
        rows = [
            r
            for r in build_day(DAY, w, i, spec=spec)
            if cursor <= parse_timestamp_us(r["bucket_start_ts"], "s") < until
        ]
        if rows:
            write_windows(work / "spool", rows)
        cursor = until
        cpu += time.process_time() - t0
    return cpu, read_spool(work / "spool")


def read_spool(spool: Path) -> list[dict[str, Any]]:
    files = sorted((spool / "new").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def export_file(path: Path) -> None:
    windows, inputs = synthetic_day()
    end = DAY + 86_400_000_000
    doc = {
        "buckets": {
            "aw-watcher-window_bench": {
                "id": "aw-watcher-window_bench",
                "type": "currentwindow",
                "client": "aw-watcher-window",
                "hostname": "bench",
                "events": raw(windows, end, grows=True),
            },
            "aw-watcher-input_bench": {
                "id": "aw-watcher-input_bench",
                "type": "os.hid.input",
                "client": "aw-watcher-input",
                "hostname": "bench",
                "events": raw(inputs, end, grows=False),
            },
            "aw-watcher-afk_bench": {
                "id": "aw-watcher-afk_bench",
                "type": "afkstatus",
                "client": "aw-watcher-afk",
                "hostname": "bench",
                "events": raw_afk(end),
            },
        }
    }
    path.write_text(json.dumps(doc))


def backfill(version: str, work: Path) -> tuple[float, int]:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "export.json"
    export_file(path)
    t0 = time.perf_counter()
    source = ExportSource.load(path, hostname="bench", salt=SALT, sketches=version == "v3")
    collector = _collector(
        source, RowSpec("bench-user", version), work, mode="export", to_us=DAY + 86_400_000_000
    )
    n = collector.step()
    return time.perf_counter() - t0, n


def _home(work: Path) -> Path:
    """A data dir with the bench salt and user id and a v3 bundle's metadata.json."""
    data = work / "data"
    (data / "data" / "processed").mkdir(parents=True)
    (data / "data" / "processed" / ".title_secret").write_text(SALT)
    (data / "data" / "processed" / ".user_id").write_text("bench-user")
    (data / "model").mkdir()
    meta = {"schema_version": "v3", "schema_hash": "7f29b4b8795e", "label_set": []}
    (data / "model" / "metadata.json").write_text(json.dumps(meta))
    return data


# run as `python -c MEASURED collect ...`: the collector as `python -m daemon` runs it, and its
# peak resident set (VmHWM) on stderr when it exits (also after SIGTERM, a clean stop)
MEASURED = """
import atexit, runpy, sys

def _peak():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM"))
    sys.stderr.write(f"\\nBENCH_VMHWM_KB {kb}\\n")

atexit.register(_peak)
sys.argv = ["taskclf-daemon", *sys.argv[1:]]
runpy.run_module("daemon", run_name="__main__", alter_sys=True)
"""


def _peak_mb(stderr: str) -> float:
    for line in reversed(stderr.splitlines()):
        if line.startswith("BENCH_VMHWM_KB "):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"the collector reported no peak memory: {stderr[-2000:]}")


def backfill_cli(work: Path) -> tuple[float, float]:
    """The same back-fill as a user runs it: a fresh `taskclf-daemon collect --export` process;
    its wall time and peak resident set (MB)."""
    import subprocess

    data = _home(work)
    path = work / "export-cli.json"
    export_file(path)
    env = {**os.environ, "HOME": str(work)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED,
            "collect",
            "--export",
            str(path),
            "--data-dir",
            str(data),
            "--aw-hostname",
            "bench",
            "--from",
            "2026-03-02T00:00Z",
            "--to",
            "2026-03-03T00:00Z",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=work,  # not a checkout: `-c` puts the working directory first on sys.path
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"collect --export failed: {proc.stderr[-2000:]}")
    return elapsed, _peak_mb(proc.stderr)


def _aw_server() -> Any:
    """tests/aw_server.py's context manager and aw-server's executable, or None."""
    sys.path.insert(0, str(c.ROOT / "tests"))
    from aw_server import aw_server, find_aw_server

    exe, _why = find_aw_server(install=False)  # AW_SERVER_BIN, else .aw-venv
    return None if exe is None else functools.partial(aw_server, exe)


def _bench_buckets(offset_us: int, end_us: int) -> dict[str, Any]:
    """The bench day's window, input and afk buckets, moved by ``offset_us``, as recorded by
    ``end_us`` (after the shift)."""
    windows, inputs = synthetic_day()

    def moved(events: list[Event]) -> list[Event]:
        return [Event(e.start_us + offset_us, e.duration_us, e.data) for e in events]

    return {
        "aw-watcher-window_bench": {
            "client": "w",
            "type": "currentwindow",
            "hostname": "bench",
            "events": raw(moved(windows), end_us, grows=True),
        },
        "aw-watcher-input_bench": {
            "client": "i",
            "type": "os.hid.input",
            "hostname": "bench",
            "events": raw(moved(inputs), end_us, grows=False),
        },
        "aw-watcher-afk_bench": {
            "client": "a",
            "type": "afkstatus",
            "hostname": "bench",
            "events": raw_afk(end_us, offset_us),
        },
    }


def _has_labels() -> bool:
    try:
        import daemon.collector.awlabels  # noqa: F401 - only whether this tree has it
    except ImportError:
        return False
    return True


def live_memory(polls: int = 3) -> dict[str, float] | None:
    """Peak resident set (MB) of a live `taskclf-daemon collect` against aw-server: its cursor
    at yesterday 00:00 UTC, which holds the bench day's events, so its first poll reads and
    writes that whole day; stopped (SIGTERM) after ``polls`` polls. ``labels``: the same with
    ``aw_write_labels`` and two days of label log (this tree only)."""
    import subprocess
    from datetime import UTC, datetime, timedelta

    server = _aw_server()
    if server is None:
        return None
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    day0 = int(datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC).timestamp())
    offset = day0 * 1_000_000 - DAY
    out: dict[str, float] = {}
    runs = ["plain", "labels"] if _has_labels() else ["plain"]
    for run in runs:
        with tempfile.TemporaryDirectory() as d, server(Path(d) / "aw") as aw:
            work = Path(d)
            aw.load_export({"buckets": _bench_buckets(offset, day0 * 1_000_000 + 86_400_000_000)})
            data = _home(work)
            cursor = data / "collector" / "cursor.json"
            cursor.parent.mkdir(mode=0o700)
            cursor.write_text(
                json.dumps(
                    {
                        "next_bucket_start_ts": f"{yesterday.isoformat()}T00:00:00Z",
                        "user_id": "bench-user",
                        "aw_hostname": "bench",
                    }
                )
            )
            more: list[str] = []
            if run == "labels":
                from taskclf_core.synthetic import generate_label_log

                records = generate_label_log(
                    user_id="bench-user", start=yesterday, days=2, weekends=True
                )
                labels = data / "labels"
                labels.mkdir()
                for day in (yesterday, today):
                    lines = [r for r in records if r["bucket_start_ts"].startswith(day.isoformat())]
                    (labels / f"{day.isoformat()}.jsonl").write_text(
                        "".join(json.dumps(r) + "\n" for r in lines)
                    )
                more = ["--aw-write-labels", "true"]
            env = {**os.environ, "HOME": str(work), "TZ": "UTC"}
            args = [
                sys.executable,
                "-c",
                MEASURED,
                "collect",
                "--data-dir",
                str(data),
                "--aw-url",
                aw.url,
                "--aw-hostname",
                "bench",
                "--collect-interval-seconds",
                "1",
                *more,
            ]
            proc = subprocess.Popen(
                args,
                env=env,
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            status = data / "collector" / "status.json"
            seen: set[str] = set()
            deadline = time.monotonic() + 300
            while len(seen) < polls and time.monotonic() < deadline and proc.poll() is None:
                try:
                    doc = json.loads(status.read_text())
                except (OSError, ValueError):
                    doc = {}
                if doc.get("pid") == proc.pid and doc.get("last_poll_at"):
                    seen.add(doc["last_poll_at"])
                time.sleep(0.1)
            proc.send_signal(15)
            _out, err = proc.communicate(timeout=60)
            if len(seen) < polls:
                raise SystemExit(f"the live collector did not poll {polls} times: {err[-2000:]}")
            if run == "labels" and not (work / "data" / "collector" / "aw-labels.json").exists():
                raise SystemExit(f"the live collector wrote no labels: {err[-2000:]}")
            out[run] = _peak_mb(err)
    return out


def label_sync_cost(repeat: int) -> tuple[float, float] | None:
    """aw_write_labels against aw-server: CPU (ms) of one sync when the daemon appended a
    record to today's log since the last, and of one when nothing changed (both after the
    first sync of two days of log)."""
    if not _has_labels():
        return None
    server = _aw_server()
    if server is None:
        return None
    from datetime import UTC, datetime, timedelta

    from daemon.collector.awlabels import LabelWriter
    from daemon.collector.client import AWClient
    from daemon.collector.segments import ReportSegments
    from taskclf_core.synthetic import generate_label_log

    today = datetime.now(UTC).date()
    records = generate_label_log(
        user_id="bench-user", start=today - timedelta(days=1), days=2, weekends=True
    )
    with tempfile.TemporaryDirectory() as d, server(Path(d) / "aw") as aw:
        labels = Path(d) / "labels"
        labels.mkdir()
        path = labels / f"{today.isoformat()}.jsonl"
        for day in {r["bucket_start_ts"][:10] for r in records}:
            lines = [r for r in records if r["bucket_start_ts"].startswith(day)]
            (labels / f"{day}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        from zoneinfo import ZoneInfo

        segments = ReportSegments(
            labels, ZoneInfo("UTC"), cache_dir=Path(d) / "cache", idle_gap=300
        )
        writer = LabelWriter(AWClient(aw.url), "bench", "bench-user", segments, Path(d) / "s.json")
        writer.sync()
        last = max(
            (r for r in records if r["bucket_start_ts"].startswith(today.isoformat())),
            key=lambda r: r["bucket_start_ts"],
        )
        start = datetime.fromisoformat(last["bucket_start_ts"].replace("Z", "+00:00"))
        changed = unchanged = 0.0
        for i in range(repeat):
            at = start + timedelta(minutes=i + 1)
            record = {
                **last,
                "bucket_start_ts": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "bucket_end_ts": (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            with open(path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            t0 = time.process_time()
            writer.sync()
            t1 = time.process_time()
            writer.sync()
            changed += t1 - t0
            unchanged += time.process_time() - t1
    return 1000 * changed / repeat, 1000 * unchanged / repeat


def rest_poll_cost(repeat: int) -> float | None:
    """Client CPU of one steady-state poll (buckets, each bucket's newest event, 2 event
    queries; nothing new) over REST."""
    server = _aw_server()
    if server is None:
        return None

    from daemon.collector.client import AWClient
    from daemon.collector.source import RestSource

    with tempfile.TemporaryDirectory() as home, server(Path(home)) as aw:
        end = START + HOURS * 3600 * 1_000_000
        aw.load_export({"buckets": _bench_buckets(0, end)})
        source = RestSource(AWClient(aw.url), "bench", SALT, sketches=True)
        cursor = end - 2 * 60 * 1_000_000
        t0 = time.process_time()
        for _ in range(repeat):
            source.refresh()
            source.frontier(end + 7200 * 1_000_000)
            source.window_events(cursor, DAY + 86_400_000_000)
            source.input_events(cursor, DAY + 86_400_000_000)
            if hasattr(source, "afk_intervals"):  # a checkout that reads the afk bucket
                source.afk_intervals(cursor, DAY + 2 * 86_400_000_000)
        return (time.process_time() - t0) / repeat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="v3 only, fewer REST polls")
    args = parser.parse_args()
    configure_logging("warning")  # one info line per emitted file would swamp the table
    try:
        from daemon.logs import configure_lines
    except ImportError:  # a tree whose collector logs through structlog (a baseline)
        pass
    else:
        configure_lines("warning")
    c.print_header("collector: polling a day every 30 s, a day's back-fill, its memory")
    day_s = HOURS * 3600
    versions = ["v3"] if args.quick else ["v1", "v3"]
    windows, inputs = synthetic_day()
    print(
        f"synthetic day: {len(windows)} window events, {len(inputs)} input samples, "
        f"{HOURS} h, {len(polls())} polls (every 30 s)\n"
    )
    rows_table = []
    ok = True
    for version in versions:
        with tempfile.TemporaryDirectory(dir=c.CACHE if c.CACHE.is_dir() else None) as d:
            inc_cpu, inc_rows = run_incremental(version, Path(d) / "inc")
            base_cpu, base_rows = run_baseline(version, Path(d) / "base")
            batch = _batch(version)
            plain = build_day(DAY, *_parsed(version), spec=RowSpec("bench-user", version))
            # the straightforward baseline reads no afk bucket: its rows match the plain batch
            same = inc_rows == batch and base_rows == plain
            ok &= same
            fill_s, fill_n = backfill(version, Path(d) / "fill")
            same = same and fill_n == len(batch)
            ok &= same
            rows_table.append((version, inc_cpu, base_cpu, fill_s, same, len(batch)))
    print(
        f"{'schema':<7}{'collector CPU':>15}{'avg CPU %':>11}{'baseline CPU':>14}"
        f"{'baseline %':>12}{'speed-up':>10}{'back-fill':>11}{'rows':>7}  equal to batch"
    )
    for version, inc, base, fill_s, same, n in rows_table:
        print(
            f"{version:<7}{inc:>13.2f} s{100 * inc / day_s:>10.4f}%{base:>12.2f} s"
            f"{100 * base / day_s:>11.4f}%{base / inc:>9.0f}x{fill_s:>9.3f} s{n:>7}  "
            f"{'yes' if same else 'NO'}"
        )
    with tempfile.TemporaryDirectory() as d:
        cli_s, fill_mb = backfill_cli(Path(d))
    print(
        f"\nback-fill as a fresh process (`collect --export`, v3, imports included): {cli_s:.2f} s"
    )
    per_poll = rest_poll_cost(20 if args.quick else 100)
    if per_poll is None:
        print("REST poll: skipped (no aw-server: AW_SERVER_BIN or .aw-venv; see .ci/run)")
    else:
        print(
            f"REST poll against aw-server (client CPU, steady state): {1000 * per_poll:.2f} ms "
            f"-> {100 * per_poll / 30:.4f} % CPU at one poll per 30 s"
        )
    sync = label_sync_cost(10 if args.quick else 30)
    live = live_memory()
    # the label log changes once a minute: every other 30 s poll finds a change
    label_pct = None if sync is None else 100 * (sync[0] + sync[1]) / 2 / 1000 / 30
    figures: list[list[object]] = []
    for version, inc, _base, fill_s, _same, _n in rows_table:
        figures.append(
            [f"{version}: collector, avg CPU % at a 30 s poll", f"{100 * inc / day_s:.4f}"]
        )
        figures.append([f"{version}: back-fill of the day, s", f"{fill_s:.3f}"])
    figures += [
        ["back-fill of a day (collect --export, v3): peak RSS MB", round(fill_mb, 1)],
        [
            "live collector (a day caught up, 3 polls): peak RSS MB",
            "n/a" if live is None else round(live["plain"], 1),
        ],
        [
            "live collector with aw_write_labels: peak RSS MB",
            "n/a" if live is None or "labels" not in live else round(live["labels"], 1),
        ],
        [
            "REST poll (client CPU, steady state): ms",
            "n/a" if per_poll is None else round(1000 * per_poll, 2),
        ],
        [
            "REST poll, % CPU at one per 30 s",
            "n/a" if per_poll is None else f"{100 * per_poll / 30:.4f}",
        ],
        [
            "aw_write_labels sync, a record appended: ms",
            "n/a" if sync is None else round(sync[0], 2),
        ],
        ["aw_write_labels sync, nothing new: ms", "n/a" if sync is None else round(sync[1], 2)],
        [
            "aw_write_labels at one poll per 30 s: CPU %",
            "n/a" if label_pct is None else f"{label_pct:.4f}",
        ],
    ]
    print()
    print(c.table(["figure", "value"], figures))
    print(
        "\ntargets: average CPU <= 0.1 % (polls and label writes together); back-fill of a day "
        "< 1 s; peak resident memory <= 30 MB"
    )
    return 0 if ok else 1


def _parsed(version: str) -> tuple[list[WindowEvent], list[InputEvent]]:
    windows, inputs = synthetic_day()
    end = DAY + 86_400_000_000
    return (
        parse_window_events(
            raw(windows, end, grows=True), bucket_id="w", salt=SALT, sketches=version == "v3"
        ).events,
        parse_input_events(raw(inputs, end, grows=False), bucket_id="i").events,
    )


if __name__ == "__main__":
    raise SystemExit(main())
