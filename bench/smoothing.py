"""Which smoothing tells the day closer to the truth: the live trailing vote or the centred one.

Labelled synthetic days as the collector makes them: tasks of 3 to 60 minutes, a row a minute
while the task switches windows, and a meeting as ONE row that stands for all of it (a call
is one ActivityWatch event). Each row's raw label is the truth, or (as a model errs) another
label or Mixed/Unknown. Four ways to label the rows, scored against the truth in one run:

- ``raw``: the model's label, no smoothing;
- ``trailing (live)``: the daemon's rolling majority over the row and the 2 before it
  (``SmoothingState``, as in every record's ``smoothed_label``);
- ``centred by rows``: taskclf's ``rolling_majority`` over the day's rows (window 3);
- ``centred by minutes (report)``: the same vote over a label per minute of time (the
  report's ``story_labels``: a 17-minute call is 17 votes).

Scores: accuracy per row and per minute of time; for each true task switch, how far the
nearest segment start is (minutes; 0 = on it) and the share within one minute; segments made
per true task (1.0 = none split or invented).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from taskclf_core.daily import story_labels
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.smoothing import Entry, SmoothingState, rolling_majority
from taskclf_core.timespan import TimeSpan

MINUTE = 60.0
WORK = ("Build", "Debug", "Write", "ReadResearch", "Review", "Communicate")


@dataclass(frozen=True)
class Row:
    start: float  # seconds into the day
    seconds: float
    truth: str
    raw: str


def day(seed: int, *, error: float, hours: float = 8.0) -> list[Row]:
    """One labelled day: tasks back to back, a row a minute, meetings one row each."""
    rng = random.Random(seed)
    rows: list[Row] = []
    t, end = 9 * 3600.0, (9 + hours) * 3600.0
    previous = ""
    while t < end:
        task = rng.choice([x for x in (*WORK, "Meet") if x != previous])
        previous = task
        if task == "Meet":
            length = rng.choice([15, 17.7, 25, 30, 45, 60]) * MINUTE
            rows.append(Row(t, length, task, _noisy(rng, task, error)))
            t += length
            continue
        for _ in range(rng.randint(3, 60)):
            rows.append(Row(t, MINUTE, task, _noisy(rng, task, error)))
            t += MINUTE
    return rows


def _noisy(rng: random.Random, truth: str, error: float) -> str:
    if rng.random() >= error:
        return truth
    if rng.random() < 0.4:
        return REJECT_LABEL
    return rng.choice([x for x in CORE_LABELS if x != truth])


def trailing(rows: list[Row]) -> list[str]:
    state = SmoothingState(3, 300.0)
    return state.steps(("u", Entry(r.start, r.start + r.seconds, r.raw)) for r in rows)[1]


def by_minutes(rows: list[Row]) -> list[str]:
    spans = [TimeSpan(0, round(r.seconds * 1e6)) for r in rows]
    return story_labels([r.raw for r in rows], spans)


def starts(rows: list[Row], labels: list[str]) -> list[float]:
    """Where segments start: the first row and each row whose label differs from the last."""
    return [r.start for i, r in enumerate(rows) if i == 0 or labels[i] != labels[i - 1]]


@dataclass
class Score:
    rows: int = 0
    rows_right: int = 0
    seconds: float = 0.0
    seconds_right: float = 0.0
    switch_errors: list[float] | None = None
    segments: int = 0
    tasks: int = 0

    def add(self, rows: list[Row], labels: list[str]) -> None:
        self.switch_errors = self.switch_errors or []
        self.rows += len(rows)
        self.rows_right += sum(r.truth == x for r, x in zip(rows, labels, strict=True))
        self.seconds += sum(r.seconds for r in rows)
        self.seconds_right += sum(
            r.seconds for r, x in zip(rows, labels, strict=True) if r.truth == x
        )
        truth = starts(rows, [r.truth for r in rows])
        found = starts(rows, labels)
        for switch in truth[1:]:
            self.switch_errors.append(min(abs(f - switch) for f in found) / MINUTE)
        self.segments += len(found)
        self.tasks += len(truth)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 days")
    args = parser.parse_args()
    n = 40 if args.quick else args.days
    c.print_header("smoothing: the live trailing vote against taskclf's centred one")
    methods = {
        "raw (no smoothing)": lambda rows: [r.raw for r in rows],
        "trailing (live smoothed_label)": trailing,
        "centred by rows (taskclf as is)": lambda rows: rolling_majority([r.raw for r in rows], 3),
        "centred by minutes (report)": by_minutes,
    }
    for error in (0.12, 0.25):
        scores = {name: Score() for name in methods}
        for seed in range(n):
            rows = day(seed, error=error)
            for name, method in methods.items():
                scores[name].add(rows, method(rows))
        table = []
        for name, s in scores.items():
            errors = s.switch_errors or [0.0]
            table.append(
                [
                    name,
                    f"{100 * s.rows_right / s.rows:.1f}",
                    f"{100 * s.seconds_right / s.seconds:.1f}",
                    f"{statistics.median(errors):.1f}",
                    f"{statistics.mean(errors):.2f}",
                    f"{100 * sum(e < 1 for e in errors) / len(errors):.1f}",
                    f"{s.segments / s.tasks:.2f}",
                ]
            )
        print(
            f"\n{n} days, {sum(len(day(k, error=error)) for k in range(min(n, 5))) // min(n, 5)} "
            f"rows a day, the model wrong on {100 * error:.0f} % of rows"
        )
        print(
            c.table(
                [
                    "labels",
                    "rows right %",
                    "time right %",
                    "switch error median min",
                    "switch error mean min",
                    "switches found within 1 min %",
                    "segments per true task",
                ],
                table,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
