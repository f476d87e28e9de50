"""Run one bench script against two checkouts in one session: a baseline and this tree.

``python bench/ab.py --baseline DIR [--rounds 3] SCRIPT [script args]`` runs
``DIR/.venv/bin/python bench/SCRIPT`` and ``<this venv>/python bench/SCRIPT`` alternately
(baseline first in odd rounds, this tree first in even ones), so both sides meet the same
load. The *scripts* are this tree's for both sides; the *code* under test (``daemon``,
``taskclf_core``, the daemon process the script starts) is whatever each venv's editable
install points at. Each run's full output is kept in ``bench/.cache/ab/``; the summary is a
table of the script's key figures: the median over rounds per side, their ratio, every round's
value and the 1-min load when each run started.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


class Metric(NamedTuple):
    """A figure in a script's output: the row whose label matches ``row`` (a regex searched
    in the label as is and with a leading thread id dropped), cell ``column`` (a header); ``part``
    picks one number of an ``a / b`` cell."""

    name: str
    row: str
    column: str
    lower_is_better: bool = True
    part: int = 0


_G = r"\d+(\.\d+)? ms apart"
METRICS: dict[str, list[Metric]] = {
    "latency.py": [
        Metric("20 ms apart: readable p50, ms", rf"^{_G}: record readable", "p50"),
        Metric("20 ms apart: readable p99, ms", rf"^{_G}: record readable", "p99"),
        Metric("20 ms apart: in done/ p50, ms", rf"^{_G}: file in done/", "p50"),
        Metric("20 ms apart: in done/ p99, ms", rf"^{_G}: file in done/", "p99"),
        Metric("600 ms apart: readable p50, ms", r"^600 ms apart: record readable", "p50"),
        Metric("600 ms apart: in done/ p50, ms", r"^600 ms apart: file in done/", "p50"),
        Metric("daemon's own latency_ms p50", r"^daemon's own status latency_ms", "p50"),
        Metric("daemon's own latency_ms p99", r"^daemon's own status latency_ms", "p99"),
        Metric("daemon CPU per window, 20 ms apart, ms", r"^daemon CPU per window, 20", "value"),
        Metric("disk alone: write+fsync p50, ms (control)", r"^disk alone", "p50"),
        Metric("disk alone: write+fsync p99, ms (control)", r"^disk alone", "p99"),
        Metric("breakdown: parse_spool_file p50, µs", r"^parse_spool_file", "p50"),
        Metric("breakdown: label_window p50, µs", r"^label_window \(", "p50"),
        Metric("breakdown: LabelLog.append p50, µs", r"^LabelLog.append", "p50"),
        Metric("breakdown: window_labelled log line p50, µs", r"^window_labelled log", "p50"),
        Metric("breakdown: total loop body p50, µs", r"^total loop body", "p50"),
    ],
    "compute.py": [
        Metric("(a) ours, temperature store, p50 µs", r"^\(a\) ours: .*temperature", "p50 µs"),
        Metric("(a) ours, isotonic store, p50 µs", r"^\(a\) ours: .*isotonic store", "p50 µs"),
        Metric("(a') ours incl. JSON in/out, p50 µs", r"^\(a'\)", "p50 µs"),
        Metric("(b) naive pandas+sklearn, p50 µs (control)", r"^\(b\) naive", "p50 µs"),
        Metric("(c) model alone predict_one, p50 µs (control)", r"^\(c\) model alone", "p50 µs"),
        Metric("stage: parse_window p50 µs", r"^parse_window \(dict", "p50 µs"),
        Metric("stage: calibrate_rows isotonic p50 µs", r"^calibrate_rows, isotonic", "p50 µs"),
        Metric("stage: calibrate_rows temperature p50 µs", r"^calibrate_rows, temp", "p50 µs"),
        Metric("stage: label_window total p50 µs", r"^label_window total", "p50 µs"),
        Metric("stage: LabelRecord.to_json_line p50 µs", r"^LabelRecord.to_json_line", "p50 µs"),
        Metric("naive / ours (isotonic), p50", r"^naive / ours \(isotonic", "p50", False),
        Metric("naive / ours (temperature), p50", r"^naive / ours \(temperature", "p50", False),
        Metric("spaced 20 ms: label_window wall ms", r"^ours: label_window", "wall ms/call"),
    ],
    "backlog.py": [
        Metric("run --once: windows/s", r"^run --once$", "windows/s", False),
        Metric("run --once: drain s", r"^run --once$", "drain s"),
        Metric("run --once: start to READY s", r"^run --once$", "start to READY s"),
        Metric("run: windows/s", r"^run \(long-running\)$", "windows/s", False),
        Metric("run: READY to done s", r"^run \(long-running\)$", "READY to done (bench clock) s"),
        Metric("run: daemon CPU s", r"^run \(long-running\)$", "daemon CPU s"),
        Metric(
            "model only, one call, rows/s (control)",
            r"^predict_many, all rows.*default",
            "rows/s",
            False,
        ),
    ],
    "idle.py": [
        Metric("idle CPU % (schedstat)", r"^CPU % of one core \(schedstat", "value"),
        Metric("idle CPU ms over the period", r"^CPU ms over the whole idle", "value"),
        Metric("RSS MB", r"^RSS MB", "value"),
        Metric("peak RSS MB", r"^peak RSS MB", "value"),
        Metric("threads", r"^threads$", "value"),
        Metric("MainThread wake-ups per s", r"^MainThread", "per second"),
        Metric("start-up to READY, median s", r"^median$", "s"),
        Metric("start-up to READY, max s", r"^max$", "s"),
        Metric("SIGTERM -> exit, median s", r"^SIGTERM -> exit", "s"),
        Metric("python -c pass, s (control)", r"^python -c pass", "s"),
        Metric("imports (-X importtime sum), s", r"^imports \(-X importtime", "s"),
        Metric("load_bundle in process, s", r"^load_bundle", "s"),
    ],
    "report.py": [
        Metric("week, cold cache, ms", r"^week, cold cache", "median ms"),
        Metric("week, warm cache, ms", r"^week, warm cache", "median ms"),
        Metric("pure build (week), ms", r"^pure build \(week\)", "median ms"),
        Metric("read + parse (week), ms", r"^read \+ parse \(week\)", "median ms"),
        Metric("year, cold cache, ms", r"^year, cold cache", "median ms"),
        Metric("year, warm cache, ms", r"^year, warm cache", "median ms"),
        Metric("command text, cold, ms", r"^command text, cold", "median ms"),
        Metric("command text, warm, ms", r"^command text, warm", "median ms"),
        Metric("command --html, cold, ms", r"^command --html, cold", "median ms"),
        Metric("command --html, warm, ms", r"^command --html, warm", "median ms"),
        Metric("`report` process, cold, ms", r"^`report` process, cold", "median ms"),
        Metric("`report` process, warm, ms", r"^`report` process, warm", "median ms"),
        Metric("drift observe(record dict), mean µs", r"^observe\(record dict\)", "mean µs"),
    ],
    "collector.py": [
        Metric("v1: avg CPU % at a 30 s poll", r"^v1: collector, avg CPU", "value"),
        Metric("v3: avg CPU % at a 30 s poll", r"^v3: collector, avg CPU", "value"),
        Metric("v3: back-fill of the day, s", r"^v3: back-fill", "value"),
        Metric("back-fill of a day (v3): peak RSS MB", r"^back-fill of a day", "value"),
        Metric("live collector, a day caught up: peak RSS MB", r"^live collector \(", "value"),
        Metric("live collector, aw_write_labels: peak RSS MB", r"^live collector with", "value"),
        Metric("REST poll, client CPU: ms", r"^REST poll \(client", "value"),
        Metric("REST poll, % CPU at one per 30 s", r"^REST poll, %", "value"),
        Metric("aw_write_labels sync, a record appended: ms", r"^aw_write_labels sync, a", "value"),
        Metric("aw_write_labels sync, nothing new: ms", r"^aw_write_labels sync, nothing", "value"),
        Metric("aw_write_labels at a 30 s poll: CPU %", r"^aw_write_labels at one", "value"),
    ],
    "hotswap.py": [
        Metric(
            "store: write -> reload_swapped logged, ms", r"^write -> reload_swapped", "store swap"
        ),
        Metric("store: write -> first record, new id, ms", r"^write -> first record", "store swap"),
        Metric("store: stale windows per swap", r"^windows sent after the write", "store swap"),
        Metric("store stream: send -> processed_at p50, ms", r"^send -> processed_at", "value"),
        Metric(
            "store stream: send -> processed_at p99, ms", r"^send -> processed_at", "value", True, 1
        ),
    ],
}


def parse_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table in a script's output: (headers, rows of cells)."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("|") and re.match(r"^\|[-:| ]+\|$", lines[i + 1]):
            headers = [h.strip() for h in lines[i].strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([x.strip() for x in lines[i].strip().strip("|").split("|")])
                i += 1
            tables.append((headers, rows))
        else:
            i += 1
    return tables


def _number(cell: str, part: int) -> float:
    found = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", cell)
    if len(found) <= part:
        return math.nan
    return float(found[part].replace(",", ""))


def extract(text: str, metric: Metric) -> float:
    pattern = re.compile(metric.row)
    for headers, rows in parse_tables(text):
        if metric.column not in headers[1:]:
            continue
        col = headers.index(metric.column)
        for cells in rows:
            bare = re.sub(r"^\d+ ", "", cells[0])  # thread rows start with their tid
            if (pattern.search(cells[0]) or pattern.search(bare)) and col < len(cells):
                return _number(cells[col], metric.part)
    return math.nan


def _median(values: list[float]) -> float:
    real = [v for v in values if not math.isnan(v)]
    return statistics.median(real) if real else math.nan


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    return c._fmt(float(value))


def hint(base: list[float], this: list[float], lower_is_better: bool) -> str:
    """A first reading (the verdict is a person's): within 10 % or overlapping ranges = noise."""
    b, t = _median(base), _median(this)
    if math.isnan(b) or math.isnan(t) or b == 0:
        return "–"
    ratio = t / b
    real_b = [v for v in base if not math.isnan(v)]
    real_t = [v for v in this if not math.isnan(v)]
    overlap = min(real_t) <= max(real_b) and min(real_b) <= max(real_t)
    if abs(ratio - 1) <= 0.10 or (overlap and abs(ratio - 1) <= 0.20):
        return "same"
    better = ratio < 1 if lower_is_better else ratio > 1
    return f"{'better' if better else 'WORSE'} {abs(ratio - 1) * 100:.0f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", type=Path, required=True, help="the other checkout (with .venv)")
    ap.add_argument(
        "--baseline-python", type=Path, default=None, help="default: DIR/.venv/bin/python"
    )
    ap.add_argument("--rounds", type=int, default=3, help="runs per side (default 3)")
    ap.add_argument(
        "--outputs",
        type=Path,
        default=None,
        metavar="DIR",
        help="run nothing: summarise the outputs an earlier run kept in DIR",
    )
    ap.add_argument("script", help="a bench script: latency.py, compute.py, ...")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")
    args = ap.parse_args()
    script = args.script if args.script.endswith(".py") else args.script + ".py"
    path = Path(__file__).resolve().parent / script
    if not path.exists():
        ap.error(f"no bench script {path}")
    base_py = args.baseline_python or args.baseline / ".venv" / "bin" / "python"
    if not base_py.exists():
        ap.error(f"{base_py}: no interpreter (make the baseline's venv first)")
    sides = {"baseline": str(base_py), "this": sys.executable}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out_dir = args.outputs or c.CACHE / "ab" / f"{path.stem}-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)

    print(f"# A/B: {script} {' '.join(args.args)}".rstrip())
    print(f"date        {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"baseline    {c.commit(args.baseline.resolve())} ({args.baseline})")
    print(f"this        {c.commit(c.ROOT)} ({c.ROOT})")
    print(f"rounds      {args.rounds} per side, alternating; outputs in {out_dir}")
    if args.outputs is None:
        print(f"load avg    {c.load_string()} (1/5/15 min, at start)", flush=True)
    else:
        print("(summarising the outputs kept there; the load below is each run's own header's)")

    texts: dict[str, list[str]] = {"baseline": [], "this": []}
    loads: dict[str, list[float]] = {"baseline": [], "this": []}
    failed: list[str] = []
    if args.outputs is not None:
        for side in texts:
            for kept in sorted(out_dir.glob(f"{side}-*.txt")):
                text = kept.read_text().split("\n--- stderr ---\n")[0]
                texts[side].append(text)
                found = re.search(r"^load avg +([\d.]+)", text, re.M)
                loads[side].append(float(found.group(1)) if found else math.nan)
    for r in range(0 if args.outputs is not None else args.rounds):
        order = ["baseline", "this"] if r % 2 == 0 else ["this", "baseline"]
        for side in order:
            loads[side].append(os.getloadavg()[0])
            t0 = time.monotonic()
            proc = subprocess.run(
                [sides[side], str(path), *args.args],
                capture_output=True,
                text=True,
                cwd=c.ROOT,
            )
            text = proc.stdout + ("\n--- stderr ---\n" + proc.stderr if proc.stderr else "")
            (out_dir / f"{side}-{r + 1}.txt").write_text(text)
            texts[side].append(proc.stdout)
            print(
                f"  round {r + 1} {side:8s}: exit {proc.returncode}, "
                f"{time.monotonic() - t0:.0f} s, load at start {loads[side][-1]:.2f}",
                flush=True,
            )
            if proc.returncode != 0:
                failed.append(f"{side} round {r + 1} (exit {proc.returncode})")

    rows: list[list[object]] = []
    for metric in METRICS.get(script, []):
        base = [extract(t, metric) for t in texts["baseline"]]
        this = [extract(t, metric) for t in texts["this"]]
        b, t = _median(base), _median(this)
        rows.append(
            [
                metric.name,
                _fmt(b),
                _fmt(t),
                _fmt(t / b) if b and not math.isnan(b) and not math.isnan(t) else "–",
                ", ".join(_fmt(v) for v in base),
                ", ".join(_fmt(v) for v in this),
                hint(base, this, metric.lower_is_better),
            ]
        )
    print()
    print(
        c.table(
            [
                "metric",
                "baseline (median)",
                "this (median)",
                "this / baseline",
                "baseline runs",
                "this runs",
                "first reading",
            ],
            rows,
        )
    )
    print(
        "1-min load at each run's start: "
        + "; ".join(f"{s} {', '.join(f'{x:.2f}' for x in loads[s])}" for s in loads)
    )
    if args.outputs is None:
        print(f"load avg at end {c.load_string()}")
    if failed:
        print("FAILED runs (see their outputs): " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
