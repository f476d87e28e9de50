"""Journeys' first models decided again in process, with other LightGBM parameters and seeds.

A journey (``bench/journey.py``) keeps each run's HOME: the archive the daemon wrote from
ActivityWatch and the label spans the person imported. This script reads them back (the
archive up to the held-out day, as ``retrain`` saw it), and for each side (a set of the
challenger's LightGBM parameters, ``RetrainConfig.challenger_params``) and each seed runs the
core's ``run_retrain`` against the rule baseline, as the journey's first ``retrain`` did. Both
sides run on the same rows in one process, so a parameter change is measured on populations
written apart from the project without pushing them through aw-server again (seed 0 of the
"now" side decides as the journey's real ``retrain`` did on the same code).

    .venv/bin/python bench/journey.py --people bench/journey_people_3.py --salt 1 --work /tmp/j3
    .venv/bin/python bench/journey_params.py /tmp/j3 --seeds 3
    .venv/bin/python bench/journey_params.py /tmp/j3 --breakidle-gates-off
    .venv/bin/python bench/journey_params.py /tmp/j3 --side 'ff=+{"feature_fraction": 0.5}'

Sides: ``now`` (``CHALLENGER_PARAMS``), ``before`` (without ``extra_trees`` and
``feature_fraction``, as before 2026-12-07), and any ``--side NAME=JSON`` (``+JSON``: added to
``before``). Prints each run's decisions per side (D deployed, r refused, - not enough data),
then per side the first models deployed (runs x seeds; of true labels, and of random or
half-random ones, which must never ship), the challengers' mean accuracy and macro-F1 on their
evaluation windows, and the gates that failed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from daemon.archive import FeatureArchive
from daemon.spanfile import load_spans
from taskclf_core.baseline import baseline_model
from taskclf_core.retrain import DataRequirements, GateThresholds, RetrainConfig, run_retrain
from taskclf_core.training import CHALLENGER_PARAMS

# CHALLENGER_PARAMS before extra_trees and feature_fraction (2026-12-07)
BEFORE = {"min_data_per_group": 20, "cat_l2": 1.0, "cat_smooth": 30.0}
# and with them: half the features for each tree, until half at each split (2026-12-07)
PER_TREE = BEFORE | {"extra_trees": True, "feature_fraction": 0.5}
MARK = {"deployed": "D", "refused": "r", "not_enough_data": "-"}


def parse_side(text: str, base: Mapping[str, Any] = BEFORE) -> tuple[str, dict[str, Any]]:
    """``--side NAME=JSON`` (those parameters) or ``NAME=+JSON`` (added to ``base``)."""
    name, eq, spec = text.partition("=")
    if not eq or not name:
        raise SystemExit(f"--side: expected NAME=JSON or NAME=+JSON, got {text!r}")
    extra = json.loads(spec.removeprefix("+"))
    if not isinstance(extra, dict):
        raise SystemExit(f"--side {name}: expected a JSON object of LightGBM parameters")
    return name, {**base, **extra} if spec.startswith("+") else extra


def journey_rows(run: Path, held_day: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The run's archived windows before the held-out day, and its label spans."""
    data = run / "home" / ".local" / "share" / "taskclf"
    windows = [
        w
        for w in FeatureArchive(data / "archive").read().windows
        if str(w["bucket_start_ts"])[:10] < held_day
    ]
    return windows, load_spans(data / "label_spans.jsonl")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path, help="a journey's --work directory (results.json, runs/)")
    ap.add_argument("--seeds", type=int, default=3, help="LightGBM seeds 0..N-1 (default 3)")
    ap.add_argument(
        "--breakidle-gates-off",
        action="store_true",
        help="both BreakIdle gates at 0, as retrain_min_breakidle_precision/recall = 0",
    )
    ap.add_argument("--side", action="append", default=[], metavar="NAME=JSON")
    args = ap.parse_args()
    sides: dict[str, Mapping[str, Any]] = {"before": BEFORE, "now": CHALLENGER_PARAMS}
    sides.update(parse_side(text) for text in args.side)
    gates = (
        GateThresholds(breakidle_precision=0.0, breakidle_recall=0.0)
        if args.breakidle_gates_off
        else GateThresholds()
    )
    requirements = DataRequirements.for_gates(gates)
    results = json.loads((args.work / "results.json").read_text())
    c.print_header("journey_params: journeys' first models decided again, side by side")
    print(f"journey     {args.work} ({len(results)} runs)")
    print(f"gates       {'BreakIdle gates off' if args.breakidle_gates_off else 'taskclf'}")
    for name, params in sides.items():
        print(f"side {name:7s}{json.dumps(dict(params), sort_keys=True)}")
    deployed: Counter[tuple[str, bool]] = Counter()
    failed: dict[str, Counter[str]] = {name: Counter() for name in sides}
    accuracy: dict[str, list[float]] = {name: [] for name in sides}
    macro_f1: dict[str, list[float]] = {name: [] for name in sides}
    settings = sorted({f"{k}={v}" for r in results for k, v in (r.get("settings") or {}).items()})
    print(f"journey's settings: {', '.join(settings) or 'none recorded'}\n", flush=True)
    for r in results:
        held = r["days"][-1]
        windows, spans = journey_rows(args.work / "runs" / r["name"], held)
        # the retrain as the journey ran it: the morning of the held-out day (its lookback
        # holds every labelled day whenever this runs)
        now = datetime.fromisoformat(held).replace(tzinfo=UTC) + timedelta(hours=6)
        journey = r.get("decision")
        truthful = r["mode"] == "truth"
        line = f"{r['name']:24s} journey {MARK.get(journey, str(journey)):2s}"
        for name, params in sides.items():
            marks = ""
            for seed in range(args.seeds):
                config = RetrainConfig(
                    seed=seed, gates=gates, requirements=requirements, challenger_params=params
                )
                report = run_retrain(
                    baseline_model("v3"),
                    windows,
                    spans,
                    now=now,
                    champion_created_at=None,
                    challenger_id="first",
                    config=config,
                    force=True,
                ).report
                marks += MARK.get(report.decision, report.decision)
                deployed[name, truthful] += report.decision == "deployed"
                failed[name].update(g.name for g in report.gates if not g.passed)
                ev = report.challenger.evaluation if report.challenger else None
                if ev is not None:
                    accuracy[name].append(ev.accuracy)
                    macro_f1[name].append(ev.macro_f1)
            line += f"  {name} {marks}"
        print(line, flush=True)
    good = sum(r["mode"] == "truth" for r in results) * args.seeds
    bad = len(results) * args.seeds - good
    rows = [
        [
            name,
            f"{deployed[name, True]}/{good}",
            f"{deployed[name, False]}/{bad}",
            f"{statistics.mean(accuracy[name]):.3f}" if accuracy[name] else "-",
            f"{statistics.mean(macro_f1[name]):.3f}" if macro_f1[name] else "-",
            ", ".join(f"{g} {n}" for g, n in sorted(failed[name].items())) or "-",
        ]
        for name in sides
    ]
    print()
    print(
        c.table(
            [
                "side",
                "deployed: true labels",
                "bad labels",
                "challenger acc",
                "macro-F1",
                "gates failed",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
