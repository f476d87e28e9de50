"""A crowd's retrain decided again in process, with other LightGBM parameters for the challenger.

``bench/learning.py``'s population, seed for seed: a crowd of 8 trains the global model, 2 more
of its days fit the global temperature, and 10 people with habits (a writer whose Write looks
like others' ReadResearch, a debugger at the terminal, meetings in the chat app, a light touch,
careless labels, few labels, plain) label ~260 windows of their first 4 days. Here the steps
run in process on the core's own functions instead of the commands: the champion as `init`
installs it (the crowd's model, its global temperature, the reject threshold 0.55), then
``run_retrain`` at the end of the labelled days once per side (a set of the challenger's
LightGBM parameters, ``RetrainConfig.challenger_params``) on the same rows, and each
challenger as `retrain` deploys it (``calibrate_challenger``: the global temperature it was
gated with, the per-user guard's store, its reject threshold). Each is scored against the
champion on the held-out days (``--held-days``, 20 by default: ``learning.py``'s 3, then 17
more of the same users drawn after them, ~3,000-4,300 windows a person and ~800 for the one
with few labels, where 3 days hold ~500 and a point is 5 of them): accuracy (the argmax),
final accuracy (a reject counts as wrong) and reject rate of the 10 people pooled, whether it
shipped or not (every challenger, as with ``learning.py``'s per-user gate off) and as it ships
(a refused one leaves the champion); how many people end more than a point lower than under
the champion; and, per side, each kind of user (the crowd's 8 too) on their own, over every
seed and over the seeds where it shipped (a mean over those).

    .venv/bin/python bench/crowd_retrain.py        # ~10 min: seeds 0-9, now and per tree
    .venv/bin/python bench/crowd_retrain.py --seeds 5 --side 'ff1=+{"feature_fraction": 1.0}'
    .venv/bin/python bench/crowd_retrain.py --lgbm-seeds 2   # ~17 min: one method's noise
    .venv/bin/python bench/crowd_retrain.py --reject-floor 0.03 --reject-floor 0

Sides: ``now`` (``CHALLENGER_PARAMS``), ``per tree`` (half the features for each tree,
``feature_fraction`` 0.5, as from 2026-12-07 until half the features at each split), any
``--side NAME=JSON`` (``+JSON``: added to ``now``'s), ``--reject-floor F`` (``now`` with the
reject-rate gate's floor at F instead of taskclf's 0.05: what the floor costs), and
``--no-user-id`` each side again without ``user_id``, ``--lgbm-seeds K`` each side again
with the challenger's LightGBM seeds 1..K-1 (how many people another seed of the same method
leaves more than a point lower on the same rows: the noise a person-by-person "no one worse"
count sits in).
``learning.py`` runs the same population through the real commands: the same windows, split,
champion and (the labelled rows taken in (user, start) order whatever the archive's order)
challengers: seeds 0, 3 and 4 came out with the same temperature and threshold both ways.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import learning
from first_models import _as_deployed
from journey_params import PER_TREE, parse_side

from taskclf_core.bundle import Model, bundle_from_text
from taskclf_core.calibration import CalibratorStore
from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.pipeline import Policy
from taskclf_core.retrain import (
    GateThresholds,
    RetrainConfig,
    labels_as_deployed,
    model_probs,
    run_retrain,
)
from taskclf_core.synthetic import generate_windows
from taskclf_core.training import CHALLENGER_PARAMS, train_bundle
from taskclf_core.vetting import calibrate_windows, parse_labelled

CREATED = "2026-12-01T00:00:00"


@dataclass(frozen=True)
class Scored:
    """The 10 people with habits pooled, and each user (the crowd too) on their own."""

    accuracy: float
    final: float
    reject: float
    # each user's (accuracy, final accuracy, reject rate) on their held-out days
    users: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True)
class Outcome:
    scored: Scored
    decision: str
    failed: tuple[str, ...]


def score(
    model: Model,
    store: CalibratorStore | None,
    policy: Policy,
    held: Sequence[Mapping[str, Any]],
    people: frozenset[str],
) -> Scored:
    truth = [w["label"] for w in held]
    best = model_probs(model, held).argmax(axis=1)
    labels = labels_as_deployed(model, held, store=store, policy=policy)
    right = [CORE_LABELS[i] == t for i, t in zip(best, truth, strict=True)]
    final = [a == t for a, t in zip(labels, truth, strict=True)]
    rejected = [a == REJECT_LABEL for a in labels]
    rows: dict[str, list[int]] = {}
    for i, w in enumerate(held):
        rows.setdefault(str(w["user_id"]), []).append(i)
    mine = [i for u, at in rows.items() if u in people for i in at]
    n = len(mine)
    return Scored(
        accuracy=sum(right[i] for i in mine) / n,
        final=sum(final[i] for i in mine) / n,
        reject=sum(rejected[i] for i in mine) / n,
        users={
            u: tuple(sum(xs[i] for i in at) / len(at) for xs in (right, final, rejected))
            for u, at in sorted(rows.items())
        },
    )


def lower(a: Scored, b: Scored, users: frozenset[str]) -> tuple[int, int, int, float, float]:
    """Of ``users``, those more than a point lower under ``b`` than under ``a``: in accuracy,
    in final accuracy, out of how many; and the largest drops (points)."""
    drops = [(b.users[u][0] - x[0], b.users[u][1] - x[1]) for u, x in a.users.items() if u in users]
    return (
        sum(d[0] < -0.01 for d in drops),
        sum(d[1] < -0.01 for d in drops),
        len(drops),
        100 * min(d[0] for d in drops),
        100 * min(d[1] for d in drops),
    )


def held_out(pop: learning.Population, seed: int, days: int) -> list[dict[str, Any]]:
    """Everyone's held-out days: ``learning.py``'s 3, then ``days`` - 3 more of the same users
    (their own habits, another draw) after them."""
    more = generate_windows(users=(*pop.people, *pop.crowd), days=days - learning.HELD_DAYS,
                            seed=seed + 7777, start=learning.TODAY,
                            schema_version=learning.VERSION)  # fmt: skip
    return [*pop.held, *more]


def run_seed(
    seed: int, sides: Mapping[str, RetrainConfig], rounds: int, held_days: int
) -> tuple[Scored, dict[str, Outcome], dict[str, str]]:
    """The champion's and each side's scores, and each user's kind."""
    pop = learning.population(seed)
    trained = train_bundle(pop.crowd_train, rounds=rounds, seed=seed, created_at=CREATED)
    champion = bundle_from_text("crowd-model", model_text=trained.model_text,
                                metadata=trained.metadata, encoders=trained.encoders)  # fmt: skip
    calibrate = parse_labelled(
        ((f"crowd-calibrate:{i}", w) for i, w in enumerate(pop.crowd_calibrate)), champion.schema
    )
    # `calibrate --min-windows 1000000000`: the global calibrator only
    store = calibrate_windows(champion, calibrate, min_windows=10**9, created_at=CREATED).store
    policy = Policy(reject_threshold=learning.THRESHOLD)
    people = frozenset(p.user_id for p in pop.people)
    held = held_out(pop, seed, held_days)
    windows = [*pop.crowd_train, *pop.crowd_calibrate, *pop.labelled_days]
    now = learning.TODAY - timedelta(days=learning.HELD_DAYS)
    outcomes = {}
    for side, config in sides.items():
        out = run_retrain(champion, windows, pop.spans, now=now, champion_created_at=CREATED,
                          challenger_id=side, config=config, force=True, champion_store=store,
                          champion_policy=policy)  # fmt: skip
        if out.challenger is None:
            raise SystemExit(f"seed {seed} {side}: no challenger ({out.report.decision})")
        outcomes[side] = Outcome(
            score(*_as_deployed(out, "challenger", CREATED), held, people),
            out.report.decision,
            tuple(g.name for g in out.report.gates if not g.passed),
        )
    kinds = {u: ("crowd" if u not in people else k) for u, k in pop.kinds.items()}
    return score(champion, store, policy, held, people), outcomes, kinds


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    ap.add_argument("--rounds", type=int, default=100, help="LightGBM rounds (taskclf: 100)")
    ap.add_argument("--side", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--no-user-id", action="store_true", help="each side again without user_id")
    ap.add_argument(
        "--reject-floor",
        type=float,
        action="append",
        default=[],
        metavar="F",
        help="a side: now (as --side now= sets it) with the reject-rate gate's floor at F "
        "instead of taskclf's 0.05 (`retrain_min_reject_rate`; repeat it)",
    )
    ap.add_argument(
        "--lgbm-seeds",
        type=int,
        default=1,
        metavar="K",
        help="each side also with the challenger's LightGBM seeds 1..K-1, on the same rows: how "
        "far two challengers of one method differ person by person (default 1: none)",
    )
    ap.add_argument(
        "--held-days",
        type=int,
        default=20,
        metavar="N",
        help=f"score on N held-out days (default 20): learning.py's {learning.HELD_DAYS}, then "
        "N-3 more of the same users; on 3 a person's point is 5 windows, within the sampling "
        "noise of one person's score",
    )
    args = ap.parse_args(argv)
    if args.held_days < learning.HELD_DAYS:
        ap.error(f"--held-days: at least {learning.HELD_DAYS}")
    if args.seeds < 1:
        ap.error("--seeds: at least 1")
    if args.lgbm_seeds < 1:
        ap.error("--lgbm-seeds: at least 1")
    params: dict[str, Mapping[str, Any]] = {"now": CHALLENGER_PARAMS, "per tree": PER_TREE}
    params.update(parse_side(s, CHALLENGER_PARAMS) for s in args.side)
    sides = {
        name: RetrainConfig(num_threads=1, rounds=args.rounds, challenger_params=p)
        for name, p in params.items()
    }
    for floor in args.reject_floor:
        if not 0 <= floor < GateThresholds().reject_rate_max:
            ap.error(f"--reject-floor: expected 0 <= F < {GateThresholds().reject_rate_max}")
        sides[f"now, floor {floor:g}"] = RetrainConfig(
            num_threads=1,
            rounds=args.rounds,
            challenger_params=params["now"],
            gates=replace(GateThresholds(), reject_rate_min=floor),
        )
    if args.no_user_id:
        sides |= {
            f"{name} - user_id": RetrainConfig(
                num_threads=1, rounds=args.rounds, challenger_params=p, user_id_feature=False
            )
            for name, p in params.items()
        }
    # a side again with another LightGBM seed: its name -> (the side, the seed)
    again: dict[str, tuple[str, int]] = {}
    for name, config in list(sides.items()):
        for k in range(1, args.lgbm_seeds):
            again[f"{name}, LightGBM seed {k}"] = (name, k)
            sides[f"{name}, LightGBM seed {k}"] = replace(config, seed=k)
    c.print_header("a crowd's retrain, in process: the challenger's LightGBM parameters")
    print("sides: " + "; ".join(f"{n} {json.dumps(dict(p))}" for n, p in params.items()))
    if args.reject_floor:
        print("reject floors (now's parameters): " + ", ".join(f"{f:g}" for f in args.reject_floor))
    champions: list[Scored] = []
    kinds: list[dict[str, str]] = []  # per seed, each user's kind ("crowd" for the crowd)
    results: dict[str, list[Outcome]] = {side: [] for side in sides}
    for seed in range(args.seeds):
        champion, outcomes, seed_kinds = run_seed(seed, sides, args.rounds, args.held_days)
        champions.append(champion)
        kinds.append(seed_kinds)
        for side, out in outcomes.items():
            results[side].append(out)
        print(
            f"seed {seed}: champion accuracy {champion.accuracy:.3f}; "
            + ", ".join(
                f"{side} {o.scored.accuracy:.3f} {o.decision}"
                + (f" ({', '.join(o.failed)})" if o.failed else "")
                for side, o in outcomes.items()
            ),
            flush=True,
        )

    def people(seed_kinds: Mapping[str, str]) -> frozenset[str]:
        return frozenset(u for u, k in seed_kinds.items() if k != "crowd")

    def failed_counts(outs: Sequence[Outcome]) -> Counter[str]:
        """How many seeds each gate refused."""
        return Counter(g for o in outs for g in o.failed)

    def people_lower(outs: Sequence[Outcome], shipped_only: bool) -> str:
        """People more than a point lower than under the champion (where the side ships)."""
        counts = [
            lower(ch, o.scored, people(seed_kinds))
            for o, ch, seed_kinds in zip(outs, champions, kinds, strict=True)
            if o.decision == "deployed" or not shipped_only
        ]
        if not counts:
            return "- (none ships)"
        return (
            f"{sum(x[0] for x in counts)} / {sum(x[1] for x in counts)} of "
            f"{sum(x[2] for x in counts)}"
        )

    def gain(outs: Sequence[Outcome], field: str, shipped_only: bool) -> float:
        return 100 * statistics.mean(
            getattr(o.scored, field) - getattr(ch, field)
            if o.decision == "deployed" or not shipped_only
            else 0.0
            for o, ch in zip(outs, champions, strict=True)
        )

    print(f"\nthe 10 people with habits, {args.held_days} held-out days, {args.seeds} seeds "
          f"(mean); points over the champion (the crowd's model, global temperature: accuracy "
          f"{statistics.mean(ch.accuracy for ch in champions):.3f}, final "
          f"{statistics.mean(ch.final for ch in champions):.3f}, reject "
          f"{statistics.mean(ch.reject for ch in champions):.3f})")  # fmt: skip
    rows = []
    for side, outs in results.items():
        rows.append([
            side,
            f"{gain(outs, 'accuracy', False):+.2f}",
            f"{gain(outs, 'final', False):+.2f}",
            people_lower(outs, False),
            f"{statistics.mean(o.scored.reject for o in outs):.3f}",
            f"{sum(o.decision == 'deployed' for o in outs)}/{len(outs)}",
            f"{gain(outs, 'accuracy', True):+.2f}",
            f"{gain(outs, 'final', True):+.2f}",
            people_lower(outs, True),
            ", ".join(f"{g} {n}" for g, n in sorted(failed_counts(outs).items())) or "-",
        ])  # fmt: skip
    print(c.table(["side", "accuracy, every challenger", "final", "people >1 pt lower: acc / final",
                   "reject", "ships", "accuracy as shipped", "final", "people >1 pt lower",
                   "gates failed (seeds)"], rows))  # fmt: skip
    for side, (first, k) in again.items():
        counts = [
            lower(a.scored, b.scored, people(seed_kinds))
            for a, b, seed_kinds in zip(results[first], results[side], kinds, strict=True)
        ]
        print(
            f"{first}, LightGBM seed {k} against seed 0 (the same rows, every challenger): people "
            f"more than a point lower: accuracy {sum(x[0] for x in counts)}, final accuracy "
            f"{sum(x[1] for x in counts)} of {sum(x[2] for x in counts)} (worst "
            f"{min(x[3] for x in counts):+.1f} / {min(x[4] for x in counts):+.1f} points)"
        )
    base = next(iter(results))
    for side, outs in results.items():
        if side == base or side in again:
            continue
        diffs = [
            100 * (o.scored.accuracy - b.scored.accuracy)
            for o, b in zip(outs, results[base], strict=True)
        ]
        print(
            f"{side} - {base}, accuracy seed by seed: "
            + " ".join(f"{d:+.1f}" for d in diffs)
            + f" (higher on {sum(d > 0 for d in diffs)} of {len(diffs)})"
        )
    print(f"\nuser by user against the champion, by kind of user (the crowd's 8 too), on the "
          f"{args.held_days} held-out days; points, mean over users and seeds:")  # fmt: skip
    print(c.table(["side", "kind", "every challenger: users", "accuracy", "final", "reject",
                   ">1 pt lower: acc / final", "where shipped: users", "accuracy", "final",
                   "reject", ">1 pt lower: acc / final"],
                  [[side, *row] for side, outs in results.items() if side not in again
                   for row in by_kind(outs, champions, kinds)]))  # fmt: skip
    return 0


def by_kind(
    outs: Sequence[Outcome], champions: Sequence[Scored], kinds: Sequence[Mapping[str, str]]
) -> list[list[str]]:
    """Per kind of user, every challenger and where it shipped: how many users (x seeds), the
    mean change in accuracy, final accuracy and reject rate, and how many more than a point
    lower in accuracy / final accuracy."""
    # kind -> (every challenger, where it shipped): each user's (d accuracy, d final, d reject)
    drops: dict[str, tuple[list[tuple[float, ...]], list[tuple[float, ...]]]] = {}
    for o, ch, seed_kinds in zip(outs, champions, kinds, strict=True):
        for u, kind in seed_kinds.items():
            d = tuple(b - a for a, b in zip(ch.users[u], o.scored.users[u], strict=True))
            every, shipped = drops.setdefault(kind, ([], []))
            every.append(d)
            if o.decision == "deployed":
                shipped.append(d)

    def cells(ds: Sequence[tuple[float, ...]]) -> list[str]:
        if not ds:
            return ["0", "-", "-", "-", "-"]
        return [
            str(len(ds)),
            *(f"{100 * statistics.mean(d[i] for d in ds):+.1f}" for i in range(3)),
            f"{sum(d[0] < -0.01 for d in ds)} / {sum(d[1] < -0.01 for d in ds)}",
        ]

    return [[kind, *cells(every), *cells(shipped)] for kind, (every, shipped) in
            sorted(drops.items(), key=lambda kv: (kv[0] == "crowd", kv[0]))]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
