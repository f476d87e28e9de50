"""A model that learns from you, measured: calibration vs retrain on held-out days of people
with per-user habits (issue 21).

Per seed: a crowd of 8 people trains the global model (taskclf's, made elsewhere) and its
global calibrators; 10 other people with habits (a writer whose Write looks like others'
ReadResearch, a debugger at the terminal, meetings in the chat app, a light touch, careless
labels, few labels, plain) use the daemon, label their first days, and are scored on the days
after. Methods: the raw model, global calibration, per-user calibration (personalize, through
the guard), and retrain (taskclf's split, gates and champion comparison; then calibrated)
with and without ``user_id``. In process, through the same core functions the commands call
(:mod:`taskclf_core.personalize`, :mod:`taskclf_core.retrain`, :mod:`taskclf_core.vetting`):
:class:`Run` is where a later round puts the real commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from taskclf_core.baseline import baseline_model
from taskclf_core.bundle import Model, ModelBundle, bundle_from_text
from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    calibrate_rows,
)
from taskclf_core.fitting import fit_isotonic_calibrator, fit_temperature_calibrator
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.metrics import accepted_accuracy, ece, nll
from taskclf_core.personalize import LoggedWindows, personalize
from taskclf_core.retrain import (
    RetrainConfig,
    RetrainOutcome,
    evaluate_labels,
    predicted_labels,
    run_retrain,
)
from taskclf_core.schema import parse_window
from taskclf_core.spans import LabelSpan
from taskclf_core.synthetic import generate_population, generate_windows, labeller_spans
from taskclf_core.training import train_bundle
from taskclf_core.types import FloatArray, IntArray
from taskclf_core.vetting import UserReport, vet_probs

VERSION = "v2"
THRESHOLD = 0.55
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
CROWD_DAYS, CALIBRATION_DAYS = 5, 2  # the crowd: days to train the global model, then calibrate
LABEL_DAYS, HELD_DAYS = 4, 3  # you: days you label, then the held-out days everything is scored on
METHODS = (
    "raw",
    "global T",
    "per-user T",
    "global isotonic",
    "per-user isotonic",
    "retrain + user_id",
    "retrain - user_id",
)


def _features(model: Model, windows: Sequence[dict[str, Any]]) -> FloatArray:
    rows = [
        parse_window({k: v for k, v in w.items() if k != "label"}, model.schema) for w in windows
    ]
    return model.predict_many(np.stack([r.features for r in rows]))


def _truth(windows: Sequence[dict[str, Any]]) -> IntArray:
    return np.asarray([LABEL_INDEX[w["label"]] for w in windows], dtype=np.intp)


def _bundle(trained: Any, bundle_id: str) -> ModelBundle:
    return bundle_from_text(
        bundle_id,
        model_text=trained.model_text,
        metadata=trained.metadata,
        encoders=trained.encoders,
    )


@dataclass
class Scores:
    """One method on held-out windows: pooled figures and, per user, the two accuracies."""

    accuracy: float
    macro_f1: float
    nll: float
    ece: float
    reject_rate: float
    final_accuracy: float
    per_user: dict[str, tuple[float, float]] = field(default_factory=dict)  # acc, final acc


def score(probs: FloatArray, y: IntArray, users: Sequence[str]) -> Scores:
    best = probs.argmax(axis=1)
    names = [CORE_LABELS[i] for i in best]
    truth = [CORE_LABELS[i] for i in y]
    per_user = {}
    for u in sorted(set(users)):
        m = np.asarray([x == u for x in users])
        per_user[u] = (
            float(np.mean(best[m] == y[m])),
            accepted_accuracy(probs[m], y[m], THRESHOLD),
        )
    return Scores(
        accuracy=float(np.mean(best == y)),
        macro_f1=evaluate_labels(truth, names).macro_f1,
        nll=nll(probs, y),
        ece=ece(probs, y),
        reject_rate=float(np.mean(probs.max(axis=1) < THRESHOLD)),
        final_accuracy=accepted_accuracy(probs, y, THRESHOLD),
        per_user=per_user,
    )


@dataclass
class SeedResult:
    scores: dict[str, Scores]
    kinds: dict[str, str]  # user -> archetype
    shipped: dict[str, bool]  # method -> ships (retrain: deployed; per-user: the guard's store)
    retrain_lines: dict[str, tuple[str, ...]]
    guard: list[tuple[str, str, str, float, float]]  # method, user, decision, d_final, d_nll
    standalone: list[tuple[str, str, float, float, str]]  # kind, decision, baseline, model, failed
    seconds: float


class Run:
    """One seed: the crowd's model, your labels, every method scored on your held-out days.

    Each step is one call into the core (what the command runs): a later round replaces the
    bodies of ``personalize_store`` and ``retrain`` with the real `personalize`/`retrain`
    processes on a data dir, and reads the same outcomes back.
    """

    def __init__(self, seed: int, *, rounds: int) -> None:
        self.seed, self.rounds = seed, rounds
        crowd = generate_population(8, seed=seed, prefix="crowd", kinds=("plain",))
        crowd_w = generate_windows(
            users=crowd, days=CROWD_DAYS + CALIBRATION_DAYS, seed=seed, start=START,
            schema_version=VERSION,
        )  # fmt: skip
        cut = (START + timedelta(days=CROWD_DAYS)).strftime("%Y-%m-%d")
        train = [w for w in crowd_w if w["bucket_start_ts"] < cut]
        calibrate = [w for w in crowd_w if w["bucket_start_ts"] >= cut]
        self.model = _bundle(
            train_bundle(train, rounds=rounds, seed=seed, created_at="2026-03-07T00:00:00Z"),
            "crowd-model",
        )
        cal_p, cal_y = _features(self.model, calibrate), _truth(calibrate)
        self.global_t: Calibrator = fit_temperature_calibrator(cal_p, cal_y)[0]
        self.global_iso: Calibrator = fit_isotonic_calibrator(cal_p, cal_y)

        yours = generate_population(10, seed=seed + 1000, prefix="you")
        self.kinds = {u.user_id: u.user_id.rsplit("-", 1)[1] for u in yours}
        you_start = START + timedelta(days=14)
        mine = generate_windows(
            users=yours, days=LABEL_DAYS + HELD_DAYS, seed=seed + 1, start=you_start,
            schema_version=VERSION,
        )  # fmt: skip
        self.now = you_start + timedelta(days=LABEL_DAYS)
        cut = self.now.strftime("%Y-%m-%d")
        self.labelled = [w for w in mine if w["bucket_start_ts"] < cut]
        self.held = [w for w in mine if w["bucket_start_ts"] >= cut]
        self.spans: list[LabelSpan] = labeller_spans(self.labelled)
        self.archive = [{k: v for k, v in w.items() if k != "label"} for w in self.labelled]
        self.held_y = _truth(self.held)
        self.held_users = [w["user_id"] for w in self.held]

    # --- what the daemon logged, and the commands ------------------------------------------

    def logged(self) -> LoggedWindows:
        """The label log's model_probs of your labelled days (what personalize reads)."""
        probs = _features(self.model, self.labelled)
        starts = tuple(datetime.fromisoformat(w["bucket_start_ts"]) for w in self.labelled)
        return LoggedWindows(
            tuple(w["user_id"] for w in self.labelled),
            starts,
            tuple(s + timedelta(minutes=1) for s in starts),
            probs,
        )

    def personalize_store(
        self, global_cal: Calibrator, method: str
    ) -> tuple[CalibratorStore, tuple[UserReport, ...]]:
        base = CalibratorStore(global_calibrator=global_cal, method=method)
        outcome = personalize(
            self.spans,
            self.logged(),
            base,
            bundle_id=self.model.bundle_id,
            schema_hash=self.model.schema_hash,
            created_at=self.now.isoformat(),
            reject_threshold=THRESHOLD,
        )
        return outcome.store, outcome.users

    def retrain(
        self, user_id_feature: bool
    ) -> tuple[RetrainOutcome, ModelBundle | None, CalibratorStore | None]:
        name = "retrain-user" if user_id_feature else "retrain-nouser"
        outcome = run_retrain(
            self.model,
            self.archive,
            self.spans,
            now=self.now,
            champion_created_at="2026-03-07T00:00:00Z",
            challenger_id=name,
            config=RetrainConfig(
                rounds=self.rounds, seed=self.seed, user_id_feature=user_id_feature
            ),
            champion_calibrator=self.global_t,
        )
        return (outcome, *self.calibrated(outcome, name))

    def calibrated(
        self, outcome: RetrainOutcome, name: str
    ) -> tuple[ModelBundle | None, CalibratorStore | None]:
        """The challenger and the store it would ship with: global + per-user, guarded, fitted
        on the windows it did not train on (what `retrain` does after the gates)."""
        if outcome.challenger is None or outcome.data is None:
            return None, None
        challenger = _bundle(outcome.challenger, name)
        rows = outcome.calibration_rows
        data = outcome.data
        windows = [data.windows[i] for i in rows]
        calibrated = vet_probs(
            _features(challenger, windows),
            np.asarray([LABEL_INDEX[data.labels[i]] for i in rows], dtype=np.intp),
            [data.user_ids[i] for i in rows],
            [data.starts[i] for i in rows],
            bundle_id=name,
            schema_hash=challenger.schema_hash,
            created_at=None,
            reject_threshold=THRESHOLD,
        )
        return challenger, calibrated.store

    def standalone(self) -> list[tuple[str, str, float, float, str]]:
        """Each of you alone, with only ActivityWatch: the baseline labels, you label your days,
        `retrain` makes a first model. Per person: kind, decision, held-out accuracy of the
        baseline and of the first model (calibrated), the gates that failed."""
        champion = baseline_model(VERSION)
        out = []
        for user, kind in self.kinds.items():
            mine = [w for w in self.archive if w["user_id"] == user]
            spans = [sp for sp in self.spans if sp.user_id == user]
            outcome = run_retrain(
                champion,
                mine,
                spans,
                now=self.now,
                champion_created_at=None,
                challenger_id=f"first-{user}",
                config=RetrainConfig(rounds=self.rounds, seed=self.seed),
            )
            m = np.asarray([u == user for u in self.held_users])
            held = [w for w, keep in zip(self.held, m, strict=True) if keep]
            base = _features(champion, held).argmax(axis=1)
            base_labels = predicted_labels(champion, held, reject_threshold=THRESHOLD)
            y = self.held_y[m]
            base_acc = float(
                np.mean([CORE_LABELS[t] == b for t, b in zip(y, base_labels, strict=True)])
            )
            del base
            model, store = self.calibrated(outcome, f"first-{user}")
            acc = float("nan")
            if model is not None:
                probs, _ = calibrate_rows(
                    store, _features(model, held), [user] * len(held), [True] * len(held)
                )
                acc = accepted_accuracy(probs, y, THRESHOLD)
            failed = ",".join(g.name for g in outcome.report.gates if not g.passed)
            out.append((kind, outcome.report.decision, base_acc, acc, failed))
        return out

    # --- scoring ------------------------------------------------------------------------

    def on_held(self, model: Model, store: CalibratorStore | None) -> Scores:
        raw = _features(model, self.held)
        probs, _ = calibrate_rows(store, raw, self.held_users, [True] * len(self.held_users))
        return score(probs, self.held_y, self.held_users)

    def guard_check(
        self, method: str, users: Sequence[UserReport], global_cal: Calibrator
    ) -> list[tuple[str, str, str, float, float]]:
        """Each guard decision against the held-out days: what the judged calibrator does
        there vs global (final accuracy difference, NLL difference)."""
        raw = _features(self.model, self.held)
        out = []
        for u in users:
            judged = u.fitted
            if judged is None or u.decision == "n.a.":
                continue
            m = np.asarray([x == u.user_id for x in self.held_users])
            mine, theirs = judged.calibrate(raw[m]), global_cal.calibrate(raw[m])
            y = self.held_y[m]
            d_final = accepted_accuracy(mine, y, THRESHOLD) - accepted_accuracy(
                theirs, y, THRESHOLD
            )
            out.append((method, u.user_id, u.decision, d_final, nll(mine, y) - nll(theirs, y)))
        return out

    def run(self) -> SeedResult:
        t0 = time.perf_counter()
        scores = {"raw": self.on_held(self.model, None)}
        shipped: dict[str, bool] = {}
        guard: list[tuple[str, str, str, float, float]] = []
        for family, global_cal, method in (
            ("T", self.global_t, "temperature"),
            ("isotonic", self.global_iso, "isotonic"),
        ):
            scores[f"global {family}"] = self.on_held(
                self.model, CalibratorStore(global_calibrator=global_cal, method=method)
            )
            store, users = self.personalize_store(global_cal, method)
            scores[f"per-user {family}"] = self.on_held(self.model, store)
            shipped[f"per-user {family}"] = bool(store.user_ids)
            guard += self.guard_check(f"per-user {family}", users, global_cal)
        lines = {}
        for with_user in (True, False):
            key = "retrain + user_id" if with_user else "retrain - user_id"
            outcome, challenger, store = self.retrain(with_user)
            lines[key] = outcome.report.lines
            shipped[key] = outcome.report.decision == "deployed"
            if challenger is not None:
                scores[key] = self.on_held(challenger, store)
        return SeedResult(
            scores, self.kinds, shipped, lines, guard, self.standalone(), time.perf_counter() - t0
        )


# --- tables ------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def summary(results: Sequence[SeedResult]) -> str:
    rows = []
    for method in METHODS:
        got = [r.scores[method] for r in results if method in r.scores]
        if not got:
            continue
        ships = sum(r.shipped.get(method, True) for r in results)
        rows.append(
            [
                method,
                _mean([s.accuracy for s in got]),
                _mean([s.macro_f1 for s in got]),
                _mean([s.nll for s in got]),
                _mean([s.ece for s in got]),
                _mean([s.reject_rate for s in got]),
                _mean([s.final_accuracy for s in got]),
                f"{ships}/{len(results)}" if method in results[0].shipped else "-",
            ]
        )
    return c.table(
        ["method", "accuracy", "macro-F1", "NLL", "ECE", "reject", "final acc", "ships"], rows
    )


def per_kind(results: Sequence[SeedResult]) -> str:
    kinds = sorted({k for r in results for k in r.kinds.values()})
    rows = []
    for kind in kinds:
        row: list[object] = [kind]
        for method in ("global T", "per-user T", "retrain + user_id", "retrain - user_id"):
            accs = [
                s.per_user[u][0]
                for r in results
                if (s := r.scores.get(method)) is not None
                for u, k in r.kinds.items()
                if k == kind
            ]
            row.append(_mean(accs))
        rows.append(row)
    return c.table(["kind", "global T", "per-user T", "retrain +user_id", "retrain -user_id"], rows)


def worse_users(results: Sequence[SeedResult], method: str, against: str) -> tuple[int, int, float]:
    """Users whose held-out accuracy (and final accuracy) ``method`` cut by over 1 point,
    counted only where the method ships; the worst cut."""
    worse = total = 0
    worst = 0.0
    for r in results:
        if method not in r.scores or not r.shipped.get(method, True):
            continue
        for u, (acc, final) in r.scores[method].per_user.items():
            base_acc, base_final = r.scores[against].per_user[u]
            cut = max(base_acc - acc, base_final - final)
            total += 1
            worst = max(worst, cut)
            worse += cut > 0.01
    return worse, total, worst


def guard_table(results: Sequence[SeedResult]) -> str:
    rows = []
    for method in ("per-user T", "per-user isotonic"):
        entries = [g for r in results for g in r.guard if g[0] == method]
        kept = [g for g in entries if g[2] in ("kept", "previous")]
        dropped = [g for g in entries if g[2] == "dropped"]
        rows.append(
            [
                method,
                len(entries),
                sum(g[3] >= -0.01 and g[4] <= 0.01 for g in kept),
                sum(g[3] < -0.01 or g[4] > 0.01 for g in kept),
                sum(g[3] < 0.0 or g[4] > 0.0 for g in dropped),
                sum(g[3] >= 0.0 and g[4] <= 0.0 for g in dropped),
                min((g[3] for g in kept), default=float("nan")),
            ]
        )
    return c.table(
        [
            "guard of",
            "decisions",
            "kept, held up",
            "kept, hurt",
            "dropped, would hurt",
            "dropped, would help",
            "worst kept",
        ],
        rows,
    )


def standalone_table(results: Sequence[SeedResult]) -> str:
    rows = []
    kinds = sorted({e[0] for r in results for e in r.standalone})
    for kind in kinds:
        entries = [e for r in results for e in r.standalone if e[0] == kind]
        deployed = [e for e in entries if e[1] == "deployed"]
        failed: dict[str, int] = {}
        for e in entries:
            for name in filter(None, e[4].split(",")):
                failed[name] = failed.get(name, 0) + 1
        rows.append(
            [
                kind,
                f"{len(deployed)}/{len(entries)}",
                _mean([e[2] for e in entries]),
                _mean([e[3] for e in entries if e[3] == e[3]]),
                _mean([e[3] for e in deployed]),
                ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "-",
            ]
        )
    return c.table(
        ["kind", "deployed", "baseline final acc", "first model final acc",
         "deployed ones", "gates failed (times)"],
        rows,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=100, help="LightGBM rounds (taskclf: 100)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 rounds")
    parser.add_argument("--verbose", action="store_true", help="print every retrain decision")
    args = parser.parse_args(argv)
    seeds, rounds = (2, 40) if args.quick else (args.seeds, args.rounds)
    c.print_header("learning: calibration vs retrain on held-out days (issue 21)")
    print(
        f"{seeds} seeds; crowd: 8 plain people x {CROWD_DAYS} days train the global model "
        f"({rounds} rounds, {VERSION}), {CALIBRATION_DAYS} more days fit its global "
        f"calibrators; you: 10 people with habits label {LABEL_DAYS} days, scored on the "
        f"{HELD_DAYS} days after; reject threshold {THRESHOLD}",
        flush=True,
    )
    results = []
    for seed in range(seeds):
        result = Run(seed, rounds=rounds).run()
        results.append(result)
        decisions = {k: v[-1] for k, v in result.retrain_lines.items()}
        print(f"seed {seed}: {result.seconds:.1f} s; {decisions}", flush=True)
        if args.verbose:
            for key, lines in result.retrain_lines.items():
                print(f"  {key}:\n    " + "\n    ".join(lines))
    print("\nheld-out days, all of you pooled (mean over seeds):")
    print(summary(results))
    print("\nheld-out accuracy by kind of person (mean over seeds and people):")
    print(per_kind(results))
    print("\nusers made worse by more than 1 point (accuracy or final accuracy) by what ships:")
    for method, against in (
        ("per-user T", "global T"),
        ("per-user isotonic", "global isotonic"),
        ("retrain + user_id", "global T"),
        ("retrain - user_id", "global T"),
    ):
        worse, total, worst = worse_users(results, method, against)
        print(f"  {method} vs {against}: {worse} of {total} (worst cut {worst * 100:.1f} points)")
    gain = _mean(
        [
            r.scores["retrain + user_id"].accuracy - r.scores["global T"].accuracy
            for r in results
            if "retrain + user_id" in r.scores
        ]
    )
    print(f"\nretrain + user_id vs global T: {gain * 100:+.1f} points of held-out accuracy")
    print("\nthe guard's decisions against the held-out days (kept: within 1 point and 0.01 NLL):")
    print(guard_table(results))
    print(
        "\nstandalone (each of you alone, only ActivityWatch): the rule baseline, then the first "
        "model `retrain` trains on your labelled days (champion: the baseline); held-out days:"
    )
    print(standalone_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
