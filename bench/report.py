"""`report` over a year of one person's label log: cold vs warm cache, pure build vs reading.

Also the per-window cost of the live drift counters (``DriftTracker.observe``) next to the
daemon's per-window latency, and ``status()``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from daemon.reporting.summaries import DaySummaries, read_day_file
from taskclf_core.daily import build_day_reports, label_from_record, utc_days_overlapping
from taskclf_core.drift import DriftTracker
from taskclf_core.record import LabelRecord
from taskclf_core.synthetic import generate_label_log

ZONE = "Europe/Berlin"
TZ = ZoneInfo(ZONE)
YEAR_START = date(2026, 1, 1)
WEEK = [date(2026, 6, 15) + timedelta(days=i) for i in range(7)]  # Mon 15 - Sun 21 June


# daemon/config/settings.py, or daemon/settings.py in a checkout from before daemon/config/
_IMPORT_FLOOR = (
    "import daemon.cli\ntry:\n    import daemon.config.settings\n"
    "except ImportError:\n    import daemon.settings\n"
)


def with_spans(records: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """The records as the collector's windows make them: each stands for its events from a
    few seconds into its minute to the next one's start, 3 % are one long event (a call, a
    long read) that leaves no rows for the minutes it covers, and some hold away time."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    skip_until = ""
    for i, record in enumerate(records):
        if record["bucket_start_ts"] < skip_until:
            continue
        start = datetime.fromisoformat(record["bucket_start_ts"]) + timedelta(
            seconds=rng.uniform(0, 5)
        )
        if rng.random() < 0.03:
            end = start + timedelta(minutes=rng.randint(5, 20), seconds=rng.uniform(0, 59))
            skip_until = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            nxt = records[i + 1]["bucket_start_ts"] if i + 1 < len(records) else None
            end = start + timedelta(seconds=60)
            if nxt is not None and datetime.fromisoformat(nxt) < end + timedelta(seconds=5):
                end = datetime.fromisoformat(nxt) + timedelta(seconds=rng.uniform(0, 5))
        away = []
        if rng.random() < 0.02 and (end - start).total_seconds() > 40:
            away = [[_z(start + timedelta(seconds=10)), _z(start + timedelta(seconds=30))]]
        out.append(
            {**record, "span_start_ts": _z(start), "span_end_ts": _z(end), "span_away": away}
        )
    return out


def _z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def write_year(root: Path) -> int:
    """One person's 2026 working days into ``root/labels`` (cached between runs), with the
    span fields the collector writes (a checkout that does not know them ignores them)."""
    labels = root / "labels"
    marker = root / "windows.txt"
    if marker.exists():
        return int(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    labels.mkdir(parents=True, mode=0o700)
    records = generate_label_log(
        user_id="u-ada",
        start=YEAR_START,
        days=365,
        tz=TZ,
        seed=0,
        model_bundle_ids=("bundle_q1", "bundle_q2", "bundle_q3", "bundle_q4"),
        buckets={"Build": "Deep work", "Debug": "Deep work", "Write": "Deep work", "Meet": "Talk"},
    )
    records = with_spans(records)
    by_day: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_day[record["bucket_start_ts"][:10]].append(json.dumps(record))
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
    marker.write_text(str(len(records)))
    return len(records)


def timed(
    fn: Callable[[], object], reps: int, before: Callable[[], None] = lambda: None
) -> list[float]:
    """Milliseconds per call of ``fn`` (``before`` runs untimed ahead of each)."""
    out = []
    for _ in range(reps):
        before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def row(name: str, ms: list[float], note: str = "") -> list[object]:
    return [name, len(ms), statistics.median(ms), min(ms), max(ms), note]


@contextlib.contextmanager
def tz_env() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = ZONE
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repetitions, no year view")
    args = parser.parse_args()
    reps = 3 if args.quick else args.reps
    c.print_header("report: a week view over a year of one person's label log")
    root = c.CACHE / "report-year-spans"
    n = write_year(root)
    labels = root / "labels"
    cache = root / "data-cache" / "report"
    files = sorted(labels.glob("*.jsonl"))
    size = sum(p.stat().st_size for p in files)
    try:  # a day reads the day before too since its spans can run past midnight
        from taskclf_core.daily import reach_days

        week_files = utc_days_overlapping(reach_days(WEEK, TZ), TZ)
    except ImportError:
        week_files = utc_days_overlapping(WEEK, TZ)
    print(
        f"log         {n:,} windows of one user in {len(files)} day files ({size / 1e6:.1f} MB), "
        f"{ZONE}; week {WEEK[0]} to {WEEK[-1]} reads {len(week_files)} files"
    )

    def drop_cache() -> None:
        shutil.rmtree(cache.parent, ignore_errors=True)

    # the pieces, in process
    records = [r for d in week_files for r in read_day_file(labels / f"{d}.jsonl").records]
    parsed = [label_from_record(r) for r in records]
    rows: list[list[object]] = []
    rows.append(
        row(
            "pure build (week)",
            timed(lambda: build_day_reports(parsed, TZ, days=WEEK), reps * 3),
            f"build_day_reports on {len(parsed):,} parsed windows",
        )
    )
    rows.append(
        row(
            "read + parse (week)",
            timed(
                lambda: [
                    label_from_record(r)
                    for d in week_files
                    for r in read_day_file(labels / f"{d}.jsonl").records
                ],
                reps * 3,
            ),
            "read_day_file + label_from_record, no figures",
        )
    )

    def week() -> object:
        return DaySummaries(labels, TZ, cache_dir=cache).load(WEEK)

    rows.append(
        row(
            "week, cold cache",
            timed(week, reps, drop_cache),
            f"reads the {len(week_files)} files, writes 7 entries",
        )
    )
    week()
    rows.append(
        row(
            "week, warm cache",
            timed(week, reps * 3),
            f"stats {len(week_files)} files, reads 7 entries",
        )
    )
    year = [YEAR_START + timedelta(days=i) for i in range(365)]

    def whole_year() -> object:
        return DaySummaries(labels, TZ, cache_dir=cache).load(year)

    if not args.quick:
        rows.append(row("year, cold cache", timed(whole_year, reps, drop_cache), "every file"))
        whole_year()
        rows.append(row("year, warm cache", timed(whole_year, reps), "365 entries"))

    def users() -> object:
        return DaySummaries(labels, TZ, cache_dir=cache).users()

    rows.append(
        row("users in log, cold", timed(users, reps, drop_cache), "--user check, whole log")
    )
    users()
    rows.append(row("users in log, warm", timed(users, reps * 3), "users.json index"))

    # the command in process (settings, view, text), then as a process
    from daemon.cli import main as cli

    span = ["--from", str(WEEK[0]), "--to", str(WEEK[-1])]
    argv = ["report", "--data-dir", str(root / "data-link"), *span]
    link = root / "data-link"
    if not link.exists():
        link.mkdir()
        (link / "labels").symlink_to(labels)

    def drop_command_cache() -> None:
        shutil.rmtree(link / "cache", ignore_errors=True)

    def command(*extra: str) -> Callable[[], object]:
        def go() -> object:
            with tz_env(), contextlib.redirect_stdout(io.StringIO()):
                return cli([*argv, *extra])

        return go

    for form, extra in (
        ("text", ()),
        ("--json", ("--json",)),
        ("--html", ("--html", str(root / "week.html"))),
    ):
        cold = timed(command(*extra), reps, drop_command_cache)
        rows.append(row(f"command {form}, cold", cold, "in process"))
        rows.append(row(f"command {form}, warm", timed(command(*extra), reps * 2), "in process"))

    def process() -> object:
        return subprocess.run(
            [sys.executable, "-m", "daemon", *argv],
            capture_output=True,
            check=True,
            env={**os.environ, "TZ": ZONE},
        )

    cold = timed(process, reps, drop_command_cache)
    rows.append(row("`report` process, cold", cold, "interpreter + imports included"))
    rows.append(
        row("`report` process, warm", timed(process, reps), "interpreter + imports included")
    )
    rows.append(
        row(
            "`python -c` importing daemon.cli and the settings",
            timed(
                lambda: subprocess.run([sys.executable, "-c", _IMPORT_FLOOR], check=True),
                reps,
            ),
            "the floor of any command",
        )
    )
    print()
    print(c.table(["step", "runs", "median ms", "min ms", "max ms", "what"], rows))

    # drift: per-window observe, status(), and the rebuild at start
    recent = records[-1]["bucket_start_ts"]
    now = datetime.fromisoformat(recent.replace("Z", "+00:00")) + timedelta(minutes=1)
    eight = [
        r
        for d in range(8, -1, -1)
        for r in read_day_file(
            labels / f"{(now.date() - timedelta(days=d)).isoformat()}.jsonl"
        ).records
    ]
    as_records = [
        LabelRecord(
            **{k: v for k, v in r.items() if k != "model_probs" and not k.startswith("span_")}
        )
        for r in eight[:2000]
    ]
    drift_rows = []
    tracker = DriftTracker()
    for r in eight:
        tracker.observe(r, now)
    clock = time.perf_counter_ns

    def per_call(fn: Callable[[Any], object], items: list[Any]) -> list[float]:
        out = []
        for item in items:
            t0 = clock()
            fn(item)
            out.append((clock() - t0) / 1e3)
        return out

    warm = DriftTracker()
    warm.observe_many(eight, now)
    us = per_call(lambda r: warm.observe(r, now), eight[-2000:] * 3)
    p50, p99 = c.percentiles(us)
    drift_rows.append(["observe(record dict)", len(us), statistics.mean(us), p50, p99])
    us = per_call(lambda r: warm.observe(r, now), as_records * 3)
    p50, p99 = c.percentiles(us)
    drift_rows.append(["observe(LabelRecord)", len(us), statistics.mean(us), p50, p99])
    us = per_call(lambda _: warm.status(now), list(range(200)))
    p50, p99 = c.percentiles(us)
    drift_rows.append(["status(now), 1 user", len(us), statistics.mean(us), p50, p99])
    us = per_call(lambda _: warm.transitions(now), list(range(200)))
    p50, p99 = c.percentiles(us)
    drift_rows.append(["transitions(now), 1 user", len(us), statistics.mean(us), p50, p99])
    t0 = time.perf_counter()
    rebuilt = DriftTracker()
    rebuilt.observe_many(eight, now)
    rebuild_ms = (time.perf_counter() - t0) * 1e3
    print()
    print(c.table(["drift", "calls", "mean µs", "p50 µs", "p99 µs"], drift_rows))
    print(
        f"\nrebuild at start: observe {len(eight):,} records of the last 8 days in "
        f"{rebuild_ms:.0f} ms (parsed dicts); {rebuilt.bucket_count()} hourly buckets held.\n"
        "The daemon's own per-window latency is ~3 ms p50 (bench/RESULTS.md): observe adds the "
        "µs above, once per window."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
