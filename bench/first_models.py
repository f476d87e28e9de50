"""How many people's first models pass taskclf's gates: the reject threshold tuned on the
validation windows alone against the validation windows and stand-in afternoons; or, with
``--days``, the default retrain after that many labelled days; or, with ``--second``, the
retrain after it: a person's first model on 4 days replaced (or not) after 8, both scored on
a 9th day neither saw.

In process, on the core's own ``run_retrain``: for each seed, each of ``bench/learning.py``'s
six standalone people (only ActivityWatch, 4 days labelled) as the collector's builder makes
their rows, a first retrain against the rule baseline, once with ``stand_in_blocks=0`` and
once with the default, on the same rows. ``--days 4 6 8`` instead runs the default once per
count of labelled days (each its own days of the person, as ``aw_days`` draws them). Prints,
per person, how many deploy, the gates that failed, the evaluation windows' count and their
reject rate (the gate wants it in [0.05, 0.30]). ``--second`` draws 9 days of each person, deploys
each first model that passed on days 1-4 as the shell does (the global temperature it was
gated with, the per-user guard's store, its reject threshold), retrains on days 1-8 against
it, and labels day 9 with both, as deployed. ``--daily`` retrains each person at the end of
each day from the 3rd to the 8th, as the retrain timer tries: who has a first model by when.
``--before`` runs each side twice, with the challenger's LightGBM parameters now and before
2026-12-07 (no ``extra_trees``, no ``feature_fraction``), on the same rows; ``--per-tree``
likewise against half the features for each tree (``feature_fraction`` 0.5), not at each split.
``bench/learning.py --standalone N`` runs the same people through the real commands.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from journey_params import BEFORE, PER_TREE
from learning import STANDALONE_PEOPLE

from taskclf_core.baseline import baseline_model
from taskclf_core.bundle import Model
from taskclf_core.calibration import CalibratorStore
from taskclf_core.pipeline import Policy
from taskclf_core.retrain import (
    CADENCE_DAYS,
    STAND_IN_BLOCKS,
    DataRequirements,
    LabelledData,
    RetrainConfig,
    RetrainOutcome,
    calibrate_challenger,
    labelled_data,
    labels_as_deployed,
    run_retrain,
)
from taskclf_core.spans import LabelSpan
from taskclf_core.synthetic_aw import AWPerson, aw_days, collector_rows
from taskclf_core.training import CHALLENGER_PARAMS

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
SALT = "5a17" * 16


@dataclass(frozen=True, slots=True)
class Recorded:
    """How the days are recorded and labelled: ``with_input`` False, as an ActivityWatch
    without aw-watcher-input (its default install) records them (no keyboard or mouse data);
    ``mid_minute``, every switch inside a minute, as in life; ``lock_once``, one lock-screen
    event a break (no wakes), so one window."""

    with_input: bool = True
    mid_minute: bool = False
    lock_once: bool = False

    def describe(self) -> str:
        parts = [] if self.with_input else ["ActivityWatch without aw-watcher-input"]
        parts += ["switches inside a minute"] if self.mid_minute else []
        parts += ["one window a locked break"] if self.lock_once else []
        return f" ({', '.join(parts)})" if parts else ""


AS_RECORDED: Final = Recorded()


def person_rows(
    seed: int, person: AWPerson, n_days: int = 4, *, how: Recorded = AS_RECORDED
) -> tuple[list[dict[str, Any]], list[LabelSpan]]:
    """``n_days`` labelled days of a person (ending the day before ``NOW``), as the
    collector builds them from ActivityWatch, recorded ``how``."""
    start = NOW.replace(hour=0) - timedelta(days=n_days + 1)
    person = replace(
        person,
        mid_minute=person.mid_minute or how.mid_minute,
        lock_wakes=person.lock_wakes and not how.lock_once,
    )
    days = aw_days(person, start=start, days=n_days, seed=seed)
    rows = collector_rows(
        days, start=start, n_days=n_days, user_id="u", salt=SALT, with_input=how.with_input
    )
    return rows, list(days.spans)


def _as_deployed(
    outcome: RetrainOutcome, name: str, created_at: str
) -> tuple[Model, CalibratorStore, Policy]:
    """The challenger of ``outcome`` as `retrain` deploys it: bundle, store, policy."""
    from taskclf_core.bundle import bundle_from_text

    t = outcome.challenger
    assert t is not None
    assert outcome.reject_threshold is not None
    bundle = bundle_from_text(
        name, model_text=t.model_text, metadata=t.metadata, encoders=t.encoders
    )
    # the store `retrain` deploys it with (daemon/retraining.py)
    store = calibrate_challenger(outcome, bundle, created_at=created_at).store
    return bundle, store, Policy(reject_threshold=outcome.reject_threshold)


# a deployed model: the bundle, its store, its policy, and when it was made
Deployed = tuple[Model, CalibratorStore, Policy, datetime]


def retrain_at(
    rows: list[dict[str, Any]],
    spans: list[LabelSpan],
    end: datetime,
    config: RetrainConfig,
    champion: Deployed | None = None,
) -> RetrainOutcome:
    """A retrain at ``end`` on the rows and spans before it: a first model against the rule
    baseline, or with ``champion`` the next one against that deployed model."""
    model, store, policy, made = champion or (baseline_model("v3"), None, None, None)
    return run_retrain(
        model,
        [r for r in rows if r["bucket_start_ts"] < end.isoformat()[:16]],
        [s for s in spans if s.end_ts <= end],
        now=end,
        champion_created_at=made.isoformat() if made else None,
        challenger_id="first" if champion is None else "second",
        config=config,
        force=True,
        champion_store=store,
        champion_policy=policy,
    )


def held_day(rows: list[dict[str, Any]], spans: list[LabelSpan], since: datetime) -> LabelledData:
    """The labelled windows from ``since`` on: a day no retrain saw."""
    return labelled_data(spans, [r for r in rows if r["bucket_start_ts"] >= since.isoformat()[:16]])


def final_accuracy(
    model: Model, store: CalibratorStore | None, policy: Policy, held: LabelledData
) -> float:
    """The share of ``held``'s windows the model labels right as deployed (a reject is wrong)."""
    labels = labels_as_deployed(model, held.windows, store=store, policy=policy)
    return sum(a == b for a, b in zip(labels, held.labels, strict=True)) / max(len(held), 1)


# --second's sides: the second retrain as it is; with the reject aim not lowered to the
# champion's rate; with the per-user gate's sign test over windows; with neither (before)
SECOND_SIDES: Final = {
    "now": RetrainConfig(num_threads=1),
    "margin only": RetrainConfig(num_threads=1, aim_at_champion_rejects=False),
    "windows test": RetrainConfig(num_threads=1, user_runs=False),
    "before": RetrainConfig(num_threads=1, aim_at_champion_rejects=False, user_runs=False),
}


def second_retrains(
    seeds: range, *, how: Recorded = AS_RECORDED, sides: Sequence[str] = ("now",)
) -> None:
    """The retrain after the first model: does a model of 4 days give way to one of 8, and is
    what ships better on the 9th day, which neither saw? With more than one of ``sides``
    (:data:`SECOND_SIDES`), each second retrain runs once per side on the same first model
    and rows."""
    config = SECOND_SIDES["now"]
    tried = first_ok = 0
    failed: dict[str, Counter[str]] = {side: Counter() for side in sides}
    # per second retrain: deployed?, final accuracy on the 9th day of the first and second
    outcomes: dict[str, list[tuple[bool, float, float]]] = {side: [] for side in sides}
    # final accuracy and reject rate on the second's evaluation windows, first and second
    evals: dict[str, list[tuple[float, float, float, float]]] = {side: [] for side in sides}
    for seed in seeds:
        for kind, person in STANDALONE_PEOPLE:
            rows, spans = person_rows(seed, person, 9, how=how)
            midnight = NOW.replace(hour=0)
            fifth, ninth = midnight - timedelta(days=6), midnight - timedelta(days=2)
            held = held_day(rows, spans, ninth)
            first = retrain_at(rows, spans, fifth, config)
            tried += 1
            if first.report.decision != "deployed":
                continue
            first_ok += 1
            champion, store, policy = _as_deployed(first, "first", fifth.isoformat())
            decisions = []
            for side in sides:
                second = retrain_at(
                    rows,
                    spans,
                    ninth,
                    SECOND_SIDES[side],
                    (champion, store, policy, fifth),
                )
                report = second.report
                failed[side].update(g.name for g in report.gates if not g.passed)
                cp = report.champion.evaluation
                ch = report.challenger.evaluation if report.challenger else None
                if cp is None or ch is None:
                    continue
                evals[side].append((cp.accuracy, ch.accuracy, cp.reject_rate, ch.reject_rate))
                # the 9th day, as each would label it
                right = [
                    final_accuracy(mo, st, po, held)
                    for mo, st, po in (
                        (champion, store, policy),
                        _as_deployed(second, "second", ninth.isoformat()),
                    )
                ]
                outcomes[side].append((report.decision == "deployed", right[0], right[1]))
                decisions.append(f"{side}: {report.decision}")
            print(f"seed {seed} {kind}: second {', '.join(decisions)}", flush=True)

    def line(rows: list[tuple[bool, float, float]]) -> str:
        if not rows:
            return "none"
        drops = [a - b for _, a, b in rows]
        return (
            f"{statistics.mean(a for _, a, _ in rows):.3f} -> "
            f"{statistics.mean(b for _, _, b in rows):.3f}; higher for "
            f"{sum(d < 0 for d in drops)}, lower for {sum(d > 0 for d in drops)} "
            f"(by more than a point: {sum(d > 0.01 for d in drops)}) of {len(rows)}; "
            f"changes {-max(drops) * 100:+.1f} to {-min(drops) * 100:+.1f} points"
        )

    print(f"\n{tried} people: {first_ok} first models deployed on days 1-4 (of 9)")
    for side in sides:
        shipped = [o for o in outcomes[side] if o[0]]
        kept = [o for o in outcomes[side] if not o[0]]
        print(
            f"\n{side}: second retrains on days 1-8 against them: "
            f"{len(shipped)}/{first_ok} deployed"
        )
        print(
            "gates failed: "
            + (", ".join(f"{g} {n}" for g, n in sorted(failed[side].items())) or "-")
        )
        if evals[side]:
            a, b, ra, rb = (statistics.mean(col) for col in zip(*evals[side], strict=True))
            print(
                f"final accuracy on the second's evaluation windows (mean): first {a:.3f} -> "
                f"second {b:.3f}; reject rate {ra:.3f} -> {rb:.3f}"
            )
        print("final accuracy on day 9 (neither model saw it), first model -> second:")
        print(f"  deployed: {line(shipped)}")
        print(f"  refused (had it shipped): {line(kept)}")
        what = [(True, a, b if ok else a) for ok, a, b in outcomes[side]]
        print(f"  what is in force after it, everyone: {line(what)}")


def daily_tries(
    seeds: range, last: int = 8, share: float = 1.0, *, how: Recorded = AS_RECORDED
) -> None:
    """The retrain timer asks each day: a first model refused on day 3 is tried again on day
    4 with a day more, and so on. Per person, one draw of ``last`` days; a retrain at the end
    of each day from the 3rd (taskclf's minimum) on the days before it. Prints, per day, the
    share of people whose retrain that day passes (one try, as a weekly timer would make it)
    and the share who have a first model by then (a try each day); then how each person's first
    model, as deployed, labels the day after ``last``, which no retrain saw (all of it: the
    truth of the day), by whether it shipped on its first try or after refusals. ``share`` < 1:
    the person labels only that share of their spans (each kept at random), as someone who
    labels some of their time."""
    config = RetrainConfig(num_threads=1)
    first_day = DataRequirements().min_days
    days = range(first_day, last + 1)
    passed: dict[int, int] = Counter()  # that day's retrain deployed
    have: dict[int, int] = Counter()  # a first model by that day
    short: dict[int, int] = Counter()  # not enough labelled data yet
    # the held-out day's final accuracy: (first model's, the rule baseline's), by whether it
    # shipped on the first try with enough data or after refusals
    held_out: dict[str, list[tuple[float, float]]] = {"first try": [], "after refusals": []}
    people = 0
    for seed in seeds:
        for _, person in STANDALONE_PEOPLE:
            people += 1
            rows, truth = person_rows(seed, person, last + 1, how=how)
            picks = random.Random(seed)
            spans = [s for s in truth if share >= 1 or picks.random() < share]
            start = NOW.replace(hour=0) - timedelta(days=last + 2)
            held = held_day(rows, truth, start + timedelta(days=last))
            got = False
            refusals = 0
            for d in days:
                end = start + timedelta(days=d)
                out = retrain_at(rows, spans, end, config)
                ok = out.report.decision == "deployed"
                if out.report.decision == "not_enough_data":
                    short[d] += 1
                refusals += out.report.decision == "refused" and not got
                if ok and not got:
                    key = "after refusals" if refusals else "first try"
                    held_out[key].append(
                        (
                            final_accuracy(*_as_deployed(out, "first", end.isoformat()), held),
                            final_accuracy(baseline_model("v3"), None, Policy(), held),
                        )
                    )
                passed[d] += ok
                got = got or ok
                have[d] += got
        print(f"seed {seed} done", flush=True)
    print(
        f"\n{people} people ({len(seeds)} seeds x {len(STANDALONE_PEOPLE)}), {last} days each"
        + (f", {share:.0%} of their spans labelled" if share < 1 else "")
    )
    print(
        "| labelled days | that day's retrain deploys (one try) "
        "| a first model by then (a try each day) | not enough data yet |"
    )
    print("|---:|---:|---:|---:|")
    for d in days:
        print(
            f"| {d} | {passed[d]} of {people} ({passed[d] / people:.0%}) "
            f"| {have[d]} of {people} ({have[d] / people:.0%}) | {short[d]} |"
        )
    print(f"\nfinal accuracy on day {last + 1} (no retrain saw it), first model (rule baseline):")
    for key, pairs in held_out.items():
        if pairs:
            model_acc, base_acc = (statistics.mean(col) for col in zip(*pairs, strict=True))
            print(
                f"  shipped {key}: {len(pairs)} people, {model_acc:.3f} ({base_acc:.3f}); "
                f"lowest {min(a for a, _ in pairs):.3f}"
            )


def second_daily(seeds: range, tries: int = 4, *, how: Recorded = AS_RECORDED) -> None:
    """The retrain after a first model, tried each day as the timer does: a first model on days
    1-4, due again a week later (the end of day 11), then retrained each day until one ships
    (at most ``tries``); the day after, which no retrain saw, scores the model in force before
    and after. Does a challenger that ships after refusals (more draws of the gates) make
    anyone worse?"""
    config = RetrainConfig(num_threads=1)
    first_days, cadence = 4, CADENCE_DAYS
    last = first_days + cadence + tries  # days of labels the last try sees
    # per second model shipped: (tries it took, final accuracy on the held-out day before, after)
    shipped: list[tuple[int, float, float]] = []
    never = 0  # refused at every try
    firsts = people = 0
    for seed in seeds:
        for _, person in STANDALONE_PEOPLE:
            people += 1
            rows, spans = person_rows(seed, person, last + 1, how=how)
            start = NOW.replace(hour=0) - timedelta(days=last + 2)
            held = held_day(rows, spans, start + timedelta(days=last))
            made = start + timedelta(days=first_days)
            first = retrain_at(rows, spans, made, config)
            if first.report.decision != "deployed":
                continue
            firsts += 1
            champion, store, policy = _as_deployed(first, "first", made.isoformat())
            before = final_accuracy(champion, store, policy, held)
            for t in range(tries):
                end = start + timedelta(days=first_days + cadence + t)
                out = retrain_at(rows, spans, end, config, (champion, store, policy, made))
                if out.report.decision == "deployed":
                    after = final_accuracy(*_as_deployed(out, "second", end.isoformat()), held)
                    shipped.append((t + 1, before, after))
                    break
            else:
                never += 1
        print(f"seed {seed} done", flush=True)
    print(
        f"\n{people} people, {firsts} first models (days 1-{first_days}); then a retrain "
        f"each day from day {first_days + cadence} until one ships (at most {tries} tries)"
    )
    print(
        "| second model shipped at try | people | final accuracy on the day after: before -> after "
        "| worse by more than a point (worst) |"
    )
    print("|---:|---:|---|---|")
    for t in range(1, tries + 1):
        rows_t = [(b, a) for k, b, a in shipped if k == t]
        if not rows_t:
            continue
        worse = [b - a for b, a in rows_t if b - a > 0.01]
        print(
            f"| {t} | {len(rows_t)} | {statistics.mean(b for b, _ in rows_t):.3f} -> "
            f"{statistics.mean(a for _, a in rows_t):.3f} | {len(worse)}"
            + (f" ({-max(worse) * 100:+.1f} points)" if worse else "")
            + " |"
        )
    print(f"refused at every try: {never}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="5 seeds")
    ap.add_argument(
        "--days",
        type=int,
        nargs="+",
        metavar="N",
        help="compare these counts of labelled days (the default retrain) instead of the "
        "stand-ins on and off (on 4 days)",
    )
    ap.add_argument(
        "--second",
        action="store_true",
        help="the retrain after a first model: 4 labelled days, then 8, scored on the 9th",
    )
    ap.add_argument(
        "--daily",
        action="store_true",
        help="a retrain at the end of each day from the 3rd to --last-day: who has a first "
        "model by when, tried each day (the retrain timer) or once",
    )
    ap.add_argument(
        "--sides",
        nargs="+",
        default=["now"],
        choices=list(SECOND_SIDES),
        help="with --second: the second retrain once per side, on the same first models: "
        "now; margin only (the aim not lowered to the champion's reject rate); windows test "
        "(the per-user gate's sign test over windows, not runs); before (neither)",
    )
    ap.add_argument("--last-day", type=int, default=8, help="with --daily (default 8)")
    ap.add_argument(
        "--labelled",
        type=float,
        default=1.0,
        metavar="SHARE",
        help="with --daily: the share of each person's spans they label (default 1)",
    )
    ap.add_argument(
        "--no-input",
        action="store_true",
        help="as ActivityWatch without aw-watcher-input records the days (its default "
        "install): no keyboard or mouse data",
    )
    ap.add_argument(
        "--mid-minute",
        action="store_true",
        help="every switch falls inside a minute, as in life (without it, on a minute mark, "
        "where a span typed to the minute is exactly right)",
    )
    ap.add_argument(
        "--lock-once",
        action="store_true",
        help="a locked break is one lock-screen event, so one window (without it, the lock "
        "screen wakes every few minutes, a window each time)",
    )
    ap.add_argument(
        "--before",
        action="store_true",
        help="each side twice: the challenger's LightGBM parameters now and before "
        "2026-12-07 (no extra_trees, no feature_fraction), on the same rows (the default "
        "mode and --days)",
    )
    ap.add_argument(
        "--per-tree",
        action="store_true",
        help="as --before, against half the features for each tree (feature_fraction 0.5), "
        "not at each split",
    )
    args = ap.parse_args()
    if (args.before or args.per_tree) and (args.second or args.daily):
        ap.error("--before, --per-tree: only in the default mode or with --days")
    if args.before and args.per_tree:
        ap.error("--before or --per-tree, not both")
    how = Recorded(
        with_input=not args.no_input, mid_minute=args.mid_minute, lock_once=args.lock_once
    )
    source = how.describe()
    seeds = range(args.first_seed, args.first_seed + (5 if args.quick else args.seeds))
    if args.second and args.daily:
        c.print_header("the retrain after a first model, tried each day once due" + source)
        second_daily(seeds, how=how)
        return
    if args.daily:
        c.print_header("first models: tried each day from the 3rd labelled day" + source)
        daily_tries(seeds, args.last_day, args.labelled, how=how)
        return
    if args.second:
        c.print_header(
            "the retrain after a first model: 4 labelled days, then 8, scored on the 9th" + source
        )
        second_retrains(seeds, how=how, sides=args.sides)
        return
    # each side: its label -> (labelled days, stand-in blocks)
    if args.days:
        c.print_header("first models: after how many labelled days" + source)
        sides = {f"{n} days": (n, STAND_IN_BLOCKS) for n in args.days}
    else:
        c.print_header(
            "first models: the reject threshold tuned on one afternoon or on four" + source
        )
        sides = {"validation only": (4, 0), f"+ {STAND_IN_BLOCKS} stand-ins": (4, STAND_IN_BLOCKS)}
    # RetrainConfig's challenger_params only with --before or --per-tree: ab.py runs this
    # script under older checkouts' venvs, whose RetrainConfig has none
    params: dict[str, dict[str, Mapping[str, Any]]] = {side: {} for side in sides}
    if args.before or args.per_tree:
        other, name = (BEFORE, "before") if args.before else (PER_TREE, "per tree")
        sides = {f"{side}, {when}": at for side, at in sides.items() for when in (name, "now")}
        params = {
            side: {"challenger_params": other if side.endswith(name) else CHALLENGER_PARAMS}
            for side in sides
        }
    deployed: dict[tuple[str, str], int] = Counter()
    failed: dict[tuple[str, str], Counter[str]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    sizes: dict[str, list[int]] = {}
    judged: list[tuple[int, bool]] = []  # (evaluation windows, deployed) of every first model
    seconds: dict[str, float] = defaultdict(float)
    total = 0
    for seed in seeds:
        for kind, person in STANDALONE_PEOPLE:
            total += 1
            made: dict[int, tuple[list[dict[str, Any]], list[LabelSpan]]] = {}
            for side, (n_days, blocks) in sides.items():
                if n_days not in made:
                    made[n_days] = person_rows(seed, person, n_days, how=how)
                rows, spans = made[n_days]
                t0 = time.perf_counter()
                out = run_retrain(
                    baseline_model("v3"),
                    rows,
                    spans,
                    now=NOW,
                    champion_created_at=None,
                    challenger_id="first",
                    config=RetrainConfig(num_threads=1, stand_in_blocks=blocks, **params[side]),
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
                    sizes.setdefault(side, []).append(ev.n)
                    judged.append((ev.n, report.decision == "deployed"))
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
    print(
        "\nevaluation windows per first model (mean, range): "
        + ", ".join(
            f"{s} {statistics.mean(v):.0f} ({min(v)}-{max(v)})" for s, v in sizes.items() if v
        )
    )
    print("\nfirst models that pass, by the evaluation windows they are judged on (every side):")
    for lo, hi in ((0, 120), (120, 180), (180, 10**9)):
        passed = [ok for n, ok in judged if lo <= n < hi]
        if passed:
            span = f"{lo}-{hi - 1}" if hi < 10**9 else f"{lo}+"
            rate = sum(passed) / len(passed)
            print(f"  {span:>8} windows: {sum(passed)}/{len(passed)} ({rate:.2f})")
    print("seconds per retrain: " + ", ".join(f"{s} {t / total:.2f}" for s, t in seconds.items()))


if __name__ == "__main__":
    main()
