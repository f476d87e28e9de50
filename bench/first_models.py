"""How many people's first models pass taskclf's gates: the reject threshold tuned on the
validation windows alone against the validation windows and stand-in afternoons.

In process, on the core's own ``run_retrain``: for each seed, each of ``bench/learning.py``'s
six standalone people (only ActivityWatch, 4 days labelled) as the collector's builder makes
their rows, a first retrain against the rule baseline, once with ``stand_in_blocks=0`` and
once with the default, on the same rows. Prints, per person, how many deploy, the gates that
failed, and the evaluation afternoon's reject rate (the gate wants it in [0.05, 0.30]).
``bench/learning.py --standalone N`` runs the same people through the real commands.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from learning import STANDALONE_PEOPLE

from taskclf_core.activity import (
    DAY_US,
    RowSpec,
    build_day,
    parse_input_events,
    parse_window_events,
)
from taskclf_core.baseline import baseline_model
from taskclf_core.retrain import STAND_IN_BLOCKS, RetrainConfig, run_retrain
from taskclf_core.spans import LabelSpan
from taskclf_core.synthetic_aw import AWPerson, aw_days

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
SALT = "5a17" * 16


def person_rows(seed: int, person: AWPerson) -> tuple[list[dict[str, Any]], list[LabelSpan]]:
    """Four labelled days of a person, as the collector builds them from ActivityWatch."""
    start = NOW.replace(hour=0) - timedelta(days=5)
    days = aw_days(person, start=start, days=4, seed=seed)
    buckets = days.export("host")["buckets"]
    windows = parse_window_events(
        buckets["aw-watcher-window_host"]["events"], bucket_id="w", salt=SALT, sketches=True
    ).events
    inputs = parse_input_events(buckets["aw-watcher-input_host"]["events"], bucket_id="i").events
    first = int(start.timestamp()) * 1_000_000
    rows = [
        row
        for d in range(4)
        for row in build_day(first + d * DAY_US, windows, inputs, spec=RowSpec("u", "v3"))
    ]
    return rows, list(days.spans)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="5 seeds")
    args = ap.parse_args()
    seeds = range(args.first_seed, args.first_seed + (5 if args.quick else args.seeds))
    c.print_header("first models: the reject threshold tuned on one afternoon or on four")
    sides = {"validation only": 0, f"+ {STAND_IN_BLOCKS} stand-ins": STAND_IN_BLOCKS}
    deployed: dict[tuple[str, str], int] = Counter()
    failed: dict[tuple[str, str], Counter[str]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    seconds: dict[str, float] = Counter()
    total = 0
    for seed in seeds:
        for kind, person in STANDALONE_PEOPLE:
            rows, spans = person_rows(seed, person)
            total += 1
            for side, blocks in sides.items():
                t0 = time.perf_counter()
                out = run_retrain(
                    baseline_model("v3"),
                    rows,
                    spans,
                    now=NOW,
                    champion_created_at=None,
                    challenger_id="first",
                    config=RetrainConfig(num_threads=1, stand_in_blocks=blocks),
                    force=True,
                )
                seconds[side] += time.perf_counter() - t0
                report = out.report
                deployed[kind, side] += report.decision == "deployed"
                failed.setdefault((kind, side), Counter()).update(
                    g.name for g in report.gates if not g.passed
                )
                ev = report.challenger.evaluation if report.challenger else None
                if ev is not None:
                    rates.setdefault((kind, side), []).append(ev.reject_rate)
        print(f"seed {seed} done", flush=True)
    runs = len(seeds)
    print(f"\n{runs} seeds x {len(STANDALONE_PEOPLE)} people = {total} first models per side")
    print(
        "| person | side | deployed | eval reject rate: mean, sd, outside [0.05, 0.30] "
        "| gates failed |"
    )
    print("|---|---|---:|---|---|")
    for kind in [*(k for k, _ in STANDALONE_PEOPLE), "all"]:
        for side in sides:
            keys = [(k, side) for k, _ in STANDALONE_PEOPLE] if kind == "all" else [(kind, side)]
            got = sum(deployed[k] for k in keys)
            rs = [r for k in keys for r in rates.get(k, [])]
            fails: Counter[str] = Counter()
            for k in keys:
                fails.update(failed.get(k, Counter()))
            outside = sum(not 0.05 <= r <= 0.30 for r in rs)
            spread = (
                f"{statistics.mean(rs):.3f}, {statistics.pstdev(rs):.3f}, {outside}" if rs else "-"
            )
            n = runs * (len(STANDALONE_PEOPLE) if kind == "all" else 1)
            line = ", ".join(f"{g} {k}" for g, k in sorted(fails.items())) or "-"
            print(f"| {kind} | {side} | {got}/{n} | {spread} | {line} |")
    print("\nseconds per retrain: " + ", ".join(f"{s} {t / total:.2f}" for s, t in seconds.items()))


if __name__ == "__main__":
    main()
