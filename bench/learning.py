"""A model that learns from you, measured with the real commands (issue 21).

Per seed, in a temp HOME: a crowd of 8 people trains the global model (`train`) and its global
calibrator (`calibrate`, global only); `init` installs both; 10 other people with per-user
habits (a writer whose Write looks like others' ReadResearch, a debugger at the terminal,
meetings in the chat app, a light touch, careless labels, few labels, plain) use the daemon
(`run --once` labels and archives everyone's windows) and label some of their first 4 days
(~260 windows each, fewer for some; `label import`), the crowd's labelled windows being in the
archive too. Then, each in its own copy of the data dir: nothing more (global calibration),
`personalize` (per-user calibration), `retrain --force` with and without `user_id`. Every
copy's daemon labels the 3 days after (`run --once`), and the label log is scored against what
everyone really did: raw (the records' model_probs), global calibration, per-user calibration,
retrain with and without user_id. The guard's decisions (personalize) are judged on those days.
Standalone: people with only ActivityWatch (AW-derived windows: `collect --export`), from the
rule baseline to a first model (`init`, `collect`, `run`, `label import`, `retrain`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from daemon.paths import title_salt_file, user_id_file
from taskclf_core.baseline import baseline_model
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, REJECT_LABEL
from taskclf_core.metrics import accepted_accuracy, ece, nll
from taskclf_core.retrain import binomial_tail, evaluate_labels, predicted_labels
from taskclf_core.spans import LabelSpan, spans_to_csv
from taskclf_core.synthetic import (
    UserProfile,
    generate_population,
    generate_windows,
    labeller_spans,
)
from taskclf_core.synthetic_aw import AWPerson, aw_days

VERSION = "v2"
THRESHOLD = 0.55
CROWD, PEOPLE = 8, 10
CROWD_DAYS, CALIBRATION_DAYS = 5, 2  # the crowd: days that train the global model, then calibrate
LABEL_DAYS, HELD_DAYS = 4, 3  # the people: days they label (some of), then the held-out days
LABELS_EACH = 260  # windows each person labels of their first days (fewer if they did less)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
METHODS = ("raw", "global T", "per-user T", "retrain + user_id", "retrain - user_id")
SHIPPING = {"per-user T": "personal", "retrain + user_id": "retrain", "retrain - user_id": "plain"}
HOST = "benchhost"


def features(windows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in w.items() if k != "label"} for w in windows]


class Home:
    """A HOME and data dir where commands run as a person types them."""

    def __init__(self, root: Path, config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.config = root / "daemon.toml"
        self.env = c.isolated_env(root / "home") | {"TZ": "UTC", "OMP_NUM_THREADS": "2"}
        if config is not None:
            self.write_config(config)

    def write_config(self, values: Mapping[str, Any]) -> None:
        from daemon.config.render import toml_value

        self.config.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()))

    def cli(self, *args: str, check: bool = True, timeout: float = 1800) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "daemon", *args, "--config", str(self.config)]
            if args[0] not in ("train", "demo")
            else [sys.executable, "-m", "daemon", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
        return proc.stdout

    def spool(self, windows: Sequence[Mapping[str, Any]], prefix: str) -> None:
        spool = self.data / "spool"
        for i in range(0, len(windows), 500):
            c.drop(spool, f"{prefix}-{i // 500:05d}.jsonl", features(windows[i : i + 500]))

    def label_once(self, windows: Sequence[Mapping[str, Any]], prefix: str) -> None:
        """Drop ``windows`` into the spool and let the daemon label (and archive) them."""
        self.spool(windows, prefix)
        self.cli("run", "--once")

    def fork(self, root: Path) -> Home:
        """A copy of this data dir with its own config (the same keys, its own paths)."""
        shutil.copytree(self.data, root / "data", symlinks=True)
        values = {
            "data_dir": str(root / "data"),
            "policy_file": str(root / "data" / "models" / "inference_policy.json"),
        }
        return Home(root, values)

    def records(self, since: str) -> list[dict[str, Any]]:
        out = []
        for path in sorted((self.data / "labels").glob("*.jsonl")):
            if path.stem >= since[:10]:
                out += [json.loads(line) for line in path.read_text().splitlines() if line]
        return [r for r in out if r["bucket_start_ts"] >= since]


# --- the population ----------------------------------------------------------------------


@dataclass
class Population:
    crowd: tuple[UserProfile, ...]
    people: tuple[UserProfile, ...]
    crowd_train: list[dict[str, Any]]
    crowd_calibrate: list[dict[str, Any]]
    labelled_days: list[dict[str, Any]]  # the people's first days, all of them
    held: list[dict[str, Any]]  # everyone's days after
    spans: list[LabelSpan]  # the crowd's labels and the part of their days the people labelled

    @property
    def kinds(self) -> dict[str, str]:
        return {u.user_id: u.user_id.rsplit("-", 1)[1] for u in (*self.crowd, *self.people)}


def partial_spans(windows: list[dict[str, Any]], rng: np.random.Generator) -> list[LabelSpan]:
    """What one person labels: runs of their work picked at random until ~260 windows."""
    spans = labeller_spans(windows)
    order = rng.permutation(len(spans))
    chosen: list[LabelSpan] = []
    covered = 0
    for i in order:
        if covered >= LABELS_EACH:
            break
        span = spans[i]
        chosen.append(span)
        covered += round((span.end_ts - span.start_ts).total_seconds() / 60)
    return chosen


def population(seed: int) -> Population:
    crowd = generate_population(CROWD, seed=seed, prefix="crowd", kinds=("plain",))
    people = generate_population(PEOPLE, seed=seed + 1000, prefix="you")
    crowd_start = TODAY - timedelta(days=21)
    crowd_days = generate_windows(users=crowd, days=CROWD_DAYS + CALIBRATION_DAYS, seed=seed,
                                  start=crowd_start, schema_version=VERSION)  # fmt: skip
    cut = (crowd_start + timedelta(days=CROWD_DAYS)).strftime("%Y-%m-%d")
    held_start = TODAY - timedelta(days=HELD_DAYS)
    mine = generate_windows(users=people, days=LABEL_DAYS + HELD_DAYS, seed=seed + 1,
                            start=held_start - timedelta(days=LABEL_DAYS),
                            schema_version=VERSION)  # fmt: skip
    crowd_held = generate_windows(users=crowd, days=HELD_DAYS, seed=seed + 500,
                                  start=held_start, schema_version=VERSION)  # fmt: skip
    held_cut = held_start.strftime("%Y-%m-%d")
    rng = np.random.default_rng(seed)
    labelled = [w for w in mine if w["bucket_start_ts"] < held_cut]
    spans = labeller_spans(crowd_days)
    for person in people:
        spans += partial_spans([w for w in labelled if w["user_id"] == person.user_id], rng)
    return Population(
        crowd,
        people,
        [w for w in crowd_days if w["bucket_start_ts"] < cut],
        [w for w in crowd_days if w["bucket_start_ts"] >= cut],
        labelled,
        [w for w in mine if w["bucket_start_ts"] >= held_cut] + crowd_held,
        spans,
    )


# --- scoring the label log ----------------------------------------------------------------


@dataclass
class Scores:
    """One method on the held-out days: pooled figures and, per user, the two accuracies."""

    accuracy: float
    macro_f1: float
    nll: float
    ece: float
    reject_rate: float
    final_accuracy: float
    per_user: dict[str, tuple[float, float]] = field(default_factory=dict)  # acc, final acc


def score(records: list[dict[str, Any]], truth: Mapping[tuple[str, str], str], *,
          raw: bool) -> Scores:  # fmt: skip
    """``raw``: the records' model_probs at taskclf's default threshold (no calibration); else
    what the daemon decided: core_probs, core_label, label."""
    key = "model_probs" if raw else "core_probs"
    probs = np.asarray([[r[key][c] for c in CORE_LABELS] for r in records])
    y = np.asarray([LABEL_INDEX[truth[(r["user_id"], r["bucket_start_ts"])]] for r in records])
    best = probs.argmax(axis=1)
    if raw:
        final_right = (best == y) & (probs.max(axis=1) >= THRESHOLD)
        rejected = probs.max(axis=1) < THRESHOLD
    else:
        final_right = np.asarray(
            [r["label"] == CORE_LABELS[t] for r, t in zip(records, y, strict=True)]
        )
        rejected = np.asarray([r["label"] == REJECT_LABEL for r in records])
    users = [r["user_id"] for r in records]
    per_user = {}
    for u in sorted(set(users)):
        m = np.asarray([x == u for x in users])
        per_user[u] = (float(np.mean(best[m] == y[m])), float(np.mean(final_right[m])))
    return Scores(
        accuracy=float(np.mean(best == y)),
        macro_f1=evaluate_labels(
            [CORE_LABELS[i] for i in y], [CORE_LABELS[i] for i in best]
        ).macro_f1,
        nll=nll(probs, y),
        ece=ece(probs, y),
        reject_rate=float(np.mean(rejected)),
        final_accuracy=float(np.mean(final_right)),
        per_user=per_user,
    )


@dataclass
class SeedResult:
    scores: dict[str, Scores]
    yours: dict[str, Scores]  # the same, the 10 people with habits only (not the crowd)
    kinds: dict[str, str]
    shipped: dict[str, bool]
    retrain: dict[str, dict[str, Any]]  # method -> retrain's JSON
    guard: list[tuple[str, str, float, float]]  # user, decision, d_final, d_nll on held-out days
    seconds: float
    steps: dict[str, float]


def guard_check(
    home: Home, held: list[dict[str, Any]], truth: Mapping[tuple[str, str], str]
) -> list[tuple[str, str, float, float]]:
    """personalize's decision per user against the held-out days: the per-user calibrator it
    judged vs the global one there (final accuracy and NLL differences). The calibrators are
    fitted again in process by the core function the command calls (taskclf_core.personalize)
    on the same label log and spans; its decisions must be the command's."""
    from daemon.artifacts import load_deployment
    from daemon.runtime.labellog import LabelLog
    from daemon.spanfile import load_spans
    from taskclf_core.personalize import personalize, scan_records
    from taskclf_core.spans import span_days

    deployment = load_deployment(home.data / "models" / "inference_policy.json")
    last = json.loads((home.data / "personalize" / "last.json").read_text())
    spans = load_spans(home.data / "label_spans.jsonl")
    log = LabelLog(home.data / "labels")
    wanted = {d.isoformat() for d in span_days(spans)}
    scan = scan_records(log.iter_records([d for d in log.day_files() if d in wanted]),
                        bundle_id=deployment.bundle.bundle_id,
                        schema_hash=deployment.bundle.schema_hash)  # fmt: skip
    # the store before personalize: the global one `init` installed (still in force when
    # personalize kept no one: nothing was written, so the policy has no history)
    history = home.data / "models" / "inference_policy.history.jsonl"
    base = (load_deployment(home.data / "models" / "inference_policy.json",
                            _first_policy(home)).store
            if history.exists() else deployment.store)  # fmt: skip
    assert base is not None
    outcome = personalize(spans, scan.windows, base, bundle_id=deployment.bundle.bundle_id,
                          schema_hash=deployment.bundle.schema_hash,
                          created_at=last["at"].replace("Z", "+00:00")[:19],
                          reject_threshold=THRESHOLD)  # fmt: skip
    decided = {u["user_id"]: u["decision"] for u in last["users"]}
    out = []
    for u in outcome.users:
        judged = u.fitted
        if judged is None or u.decision == "n.a.":
            continue
        assert decided.get(u.user_id) == u.decision, (u.user_id, decided.get(u.user_id))
        mine = [r for r in held if r["user_id"] == u.user_id]
        if not mine:
            continue
        raw = np.asarray([[r["model_probs"][k] for k in CORE_LABELS] for r in mine])
        y = np.asarray([LABEL_INDEX[truth[(r["user_id"], r["bucket_start_ts"])]] for r in mine])
        own, glob = judged.calibrate(raw), base.global_calibrator.calibrate(raw)
        out.append((
            u.user_id,
            u.decision,
            accepted_accuracy(own, y, THRESHOLD) - accepted_accuracy(glob, y, THRESHOLD),
            nll(own, y) - nll(glob, y),
        ))  # fmt: skip
    return out


def _first_policy(home: Home) -> Any:
    from taskclf_core.policy import parse_policy

    history = (home.data / "models" / "inference_policy.history.jsonl").read_text().splitlines()
    return parse_policy(json.dumps(json.loads(history[-1])["policy"]).encode(), source="history")


def run_seed(seed: int, rounds: int, work: Path, retrain_args: Sequence[str] = ()) -> SeedResult:
    t0 = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started

    pop = population(seed)
    truth = {(w["user_id"], w["bucket_start_ts"]): w["label"] for w in (*pop.labelled_days,
             *pop.held, *pop.crowd_train, *pop.crowd_calibrate)}  # fmt: skip
    base = Home(work / "base", {"data_dir": str(work / "base" / "data")})
    inputs = work / "inputs"
    inputs.mkdir()
    c.write_jsonl(inputs / "crowd-train.jsonl", pop.crowd_train)
    c.write_jsonl(inputs / "crowd-calibrate.jsonl", pop.crowd_calibrate)
    (inputs / "spans.csv").write_text(spans_to_csv(pop.spans))
    s = time.perf_counter()
    base.cli("train", "--data", str(inputs / "crowd-train.jsonl"), "--out",
             str(inputs / "crowd-model"), "--rounds", str(rounds), "--seed", str(seed))  # fmt: skip
    step("train", s)
    s = time.perf_counter()
    base.cli(
        "calibrate",
        "--model",
        str(inputs / "crowd-model"),
        "--data",
        str(inputs / "crowd-calibrate.jsonl"),
        "--out",
        str(inputs / "crowd-store"),
        "--min-windows",
        "1000000000",
    )  # fmt: skip  (the global calibrator only)
    step("calibrate", s)
    base.cli("init", "--force", "--model", str(inputs / "crowd-model"), "--store",
             str(inputs / "crowd-store"), "--data-dir", str(base.data))  # fmt: skip
    s = time.perf_counter()
    base.label_once([*pop.crowd_train, *pop.crowd_calibrate, *pop.labelled_days], "you")
    step("run --once (labelled days)", s)
    base.cli("label", "import", str(inputs / "spans.csv"))

    homes = {name: base.fork(work / name) for name in ("global", "personal", "retrain", "plain")}
    s = time.perf_counter()
    homes["personal"].cli("personalize")
    step("personalize", s)
    retrains = {}
    for method, name, extra in (
        ("retrain + user_id", "retrain", ()),
        ("retrain - user_id", "plain", ("--retrain-user-id-feature", "false")),
    ):
        s = time.perf_counter()
        out = homes[name].cli(
            "retrain", "--force", "--json", "--no-activitywatch", *extra, *retrain_args
        )
        step("retrain", s)
        retrains[method] = json.loads(out)
    held_from = (TODAY - timedelta(days=HELD_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    logged: dict[str, list[dict[str, Any]]] = {}
    for name, home in homes.items():
        s = time.perf_counter()
        home.label_once(pop.held, "held")
        step("run --once (held-out days)", s)
        logged[name] = home.records(held_from)

    def methods(keep: Any) -> dict[str, Scores]:
        mine = {name: [r for r in got if keep(r["user_id"])] for name, got in logged.items()}
        return {
            "raw": score(mine["global"], truth, raw=True),
            "global T": score(mine["global"], truth, raw=False),
            "per-user T": score(mine["personal"], truth, raw=False),
            "retrain + user_id": score(mine["retrain"], truth, raw=False),
            "retrain - user_id": score(mine["plain"], truth, raw=False),
        }

    people = {p.user_id for p in pop.people}
    scores, yours = methods(lambda u: True), methods(lambda u: u in people)
    personal_store = json.loads((homes["personal"].data / "personalize" / "last.json").read_text())
    shipped = {
        "per-user T": bool(personal_store["store"]["user_ids"]),
        **{m: doc["decision"] == "deployed" for m, doc in retrains.items()},
    }
    guard = guard_check(homes["personal"], logged["global"], truth)
    shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - t0
    return SeedResult(scores, yours, pop.kinds, shipped, retrains, guard, seconds, steps)


# --- standalone: only ActivityWatch, from the rule baseline to a first model -------------------


STANDALONE_PEOPLE: tuple[tuple[str, AWPerson], ...] = (
    ("five tasks", AWPerson()),
    ("three tasks", AWPerson(tasks=("Build", "Communicate", "Meet"))),
    ("short days", AWPerson(minutes_per_day=180)),
    ("many glances", AWPerson(glances=0.25)),
    ("typed to 5 min", AWPerson(label_rounding=5)),
    ("no glances", AWPerson(glances=0.0)),
)


@dataclass
class Standalone:
    kind: str
    decision: str
    failed: str
    baseline_final: float
    model_final: float
    reject_rate: float
    windows: int


def standalone(seed: int, kind: str, person: AWPerson, work: Path) -> Standalone:
    """init (no model) → `collect --export` of 4 days → `run --once` (the baseline labels) →
    `label import` → `retrain` → the 5th day collected and labelled by what is in force."""
    start = TODAY - timedelta(days=6)
    days = aw_days(person, start=start, days=5, seed=seed)
    home = Home(work)
    home.root.mkdir(parents=True, exist_ok=True)
    export = work / "aw-export.json"
    export.write_text(json.dumps(days.export(HOST)))
    # the salt and user id a standalone `init` would draw at random, drawn from the seed (init
    # keeps them): every tree sees the same rows, so two trees compare person by person
    for path, value in (
        (title_salt_file(home.data), hashlib.sha256(f"salt {seed} {kind}".encode()).hexdigest()),
        (user_id_file(home.data), str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{seed}/{kind}"))),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
        path.chmod(0o600)
    home.cli("init", "--data-dir", str(home.data))
    with open(home.config, "a") as fh:
        fh.write(f'aw_hostname = "{HOST}"\n')

    def day(n: int) -> str:
        return (start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S")

    home.cli("collect", "--export", str(export), "--from", day(0), "--to", day(4))
    home.cli("run", "--once")
    labelled = [s for s in days.spans if s.start_ts < start + timedelta(days=4)]
    (work / "spans.csv").write_text(spans_to_csv(labelled))
    home.cli("label", "import", str(work / "spans.csv"))
    doc = json.loads(home.cli("retrain", "--json", "--no-activitywatch"))
    home.cli("collect", "--export", str(export), "--from", day(4), "--to", day(5))
    home.cli("run", "--once")
    records = home.records(day(4) + "Z")
    truth = []
    for r in records:
        t = datetime.fromisoformat(r["bucket_start_ts"].replace("Z", "+00:00"))
        a, b = days.label_of(t), days.label_of(t + timedelta(seconds=59))
        truth.append(a if a == b else None)
    kept = [(r, t) for r, t in zip(records, truth, strict=True) if t is not None]
    archive = {w["bucket_start_ts"]: w for w in _archived(home)}
    rules = predicted_labels(baseline_model("v3"), [archive[r["bucket_start_ts"]] for r, _ in kept],
                             reject_threshold=THRESHOLD)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return Standalone(
        kind,
        doc["decision"],
        ",".join(g["name"] for g in doc["gates"] if not g["passed"]),
        float(np.mean([p == t for p, (_, t) in zip(rules, kept, strict=True)])),
        float(np.mean([r["label"] == t for r, t in kept])),
        float(np.mean([r["label"] == REJECT_LABEL for r, _ in kept])),
        len(kept),
    )


def _archived(home: Home) -> list[dict[str, Any]]:
    from daemon.archive import FeatureArchive

    return list(FeatureArchive(home.data / "archive").read().windows)


# --- tables ------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def summary(results: Sequence[SeedResult], *, yours: bool = False) -> str:
    rows = []
    for method in METHODS:
        got = [(r.yours if yours else r.scores)[method] for r in results]
        ships = sum(r.shipped.get(method, True) for r in results)
        rows.append([
            method,
            _mean([s.accuracy for s in got]),
            _mean([s.macro_f1 for s in got]),
            _mean([s.nll for s in got]),
            _mean([s.ece for s in got]),
            _mean([s.reject_rate for s in got]),
            _mean([s.final_accuracy for s in got]),
            f"{ships}/{len(results)}" if method in SHIPPING else "-",
        ])  # fmt: skip
    return c.table(
        ["method", "accuracy", "macro-F1", "NLL", "ECE", "reject", "final acc", "ships"], rows
    )


def per_kind(results: Sequence[SeedResult]) -> str:
    kinds = sorted({k for r in results for k in r.kinds.values()})
    rows = []
    for kind in kinds:
        row: list[object] = [kind]
        for method in METHODS[1:]:
            row.append(_mean([
                r.scores[method].per_user[u][0]
                for r in results
                for u, k in r.kinds.items()
                if k == kind and u in r.scores[method].per_user
            ]))  # fmt: skip
        rows.append(row)
    return c.table(["kind", *METHODS[1:]], rows)


def deltas(results: Sequence[SeedResult], method: str) -> tuple[int, int, int, float, float]:
    """Users ``method`` leaves more than 1 point worse than global calibration, where it ships:
    (worse in accuracy, worse in final accuracy, users, worst accuracy cut, worst final cut)."""
    worse_acc = worse_final = total = 0
    worst_acc = worst_final = 0.0
    for r in results:
        if not r.shipped.get(method, True):
            continue
        for u, (acc, final) in r.scores[method].per_user.items():
            base_acc, base_final = r.scores["global T"].per_user[u]
            total += 1
            worse_acc += base_acc - acc > 0.01
            worse_final += base_final - final > 0.01
            worst_acc = max(worst_acc, base_acc - acc)
            worst_final = max(worst_final, base_final - final)
    return worse_acc, worse_final, total, worst_acc, worst_final


def worst_users(results: Sequence[SeedResult], method: str, n: int = 5) -> str:
    """The ``n`` largest final-accuracy cuts ``method`` made where it shipped, each as
    ``seed/user global-T -> method``."""
    cuts = []
    for seed, r in enumerate(results):
        if not r.shipped.get(method, True):
            continue
        for u, (_, final) in r.scores[method].per_user.items():
            base = r.scores["global T"].per_user[u][1]
            cuts.append((base - final, f"{seed}/{u} {base:.3f} -> {final:.3f}"))
    worst = [what for cut, what in sorted(cuts, reverse=True)[:n] if cut > 0.01]
    return ", ".join(worst) or "-"


def losses_table(results: Sequence[SeedResult]) -> str:
    """Each user a shipped retrain lost more than a point of final accuracy on its evaluation
    windows: the sign test over windows and over runs of work (the gate's), and what the
    held-out days then showed (final accuracy, global T -> the retrain)."""
    rows = []
    for seed, r in enumerate(results):
        for method in ("retrain + user_id", "retrain - user_id"):
            doc = r.retrain.get(method)
            if not doc or not r.shipped.get(method, False):
                continue
            for u in doc["per_user"]:
                if u["challenger_accuracy"] - u["champion_accuracy"] >= -0.01:
                    continue
                lost, gained = u["lost"], u["gained"]
                base = r.scores["global T"].per_user[u["user_id"]][1]
                after = r.scores[method].per_user[u["user_id"]][1]
                rows.append([
                    seed, method, u["user_id"], u["windows"],
                    f"{u['champion_accuracy']:.3f} -> {u['challenger_accuracy']:.3f}",
                    f"{lost}/{gained}", f"{u.get('lost_runs')}/{u.get('gained_runs')}",
                    f"{binomial_tail(lost, lost + gained):.4f}", f"{u['p_value']:.4f}",
                    f"{base:.3f} -> {after:.3f} ({(after - base) * 100:+.1f})",
                ])  # fmt: skip
    return c.table(
        ["seed", "retrain", "user", "eval windows", "eval final acc", "lost/gained",
         "runs lost/gained", "p windows", "p runs", "held-out final acc"],
        rows,
    )  # fmt: skip


def guard_table(results: Sequence[SeedResult]) -> str:
    entries = [g for r in results for g in r.guard]
    kept = [g for g in entries if g[1] in ("kept", "previous")]
    dropped = [g for g in entries if g[1] == "dropped"]
    rows = [[
        "per-user T",
        len(entries),
        sum(g[2] >= -0.01 and g[3] <= 0.01 for g in kept),
        sum(g[2] < -0.01 or g[3] > 0.01 for g in kept),
        sum(g[2] < 0.0 or g[3] > 0.0 for g in dropped),
        sum(g[2] >= 0.0 and g[3] <= 0.0 for g in dropped),
        min((g[2] for g in kept), default=float("nan")),
    ]]  # fmt: skip
    return c.table(
        ["guard of", "decisions", "kept, held up", "kept, hurt", "dropped, would hurt",
         "dropped, would help", "worst kept"],
        rows,
    )  # fmt: skip


def retrain_table(results: Sequence[SeedResult]) -> str:
    rows = []
    for i, r in enumerate(results):
        for method, doc in r.retrain.items():
            ch, cp = doc.get("challenger") or {}, doc.get("champion") or {}
            rows.append([
                i,
                method,
                doc["decision"],
                (doc.get("reject_threshold") or {}).get("threshold", "-"),
                cp.get("macro_f1"),
                ch.get("macro_f1"),
                ", ".join(g["name"] for g in doc["gates"] if not g["passed"]) or "-",
            ])  # fmt: skip
    return c.table(
        ["seed", "retrain", "decision", "threshold", "champion F1", "challenger F1", "failed"],
        rows,
    )


def standalone_table(entries: Sequence[Standalone]) -> str:
    rows = []
    for kind in dict.fromkeys(e.kind for e in entries):
        mine = [e for e in entries if e.kind == kind]
        deployed = [e for e in mine if e.decision == "deployed"]
        failed: dict[str, int] = {}
        for e in mine:
            for name in filter(None, e.failed.split(",")):
                failed[name] = failed.get(name, 0) + 1
        rows.append([
            kind,
            f"{len(deployed)}/{len(mine)}",
            _mean([e.baseline_final for e in mine]),
            _mean([e.model_final for e in deployed]),
            _mean([e.reject_rate for e in deployed]),
            _mean([float(e.windows) for e in mine]),
            ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "-",
        ])  # fmt: skip
    return c.table(
        ["person", "deployed", "baseline final acc", "first model final acc", "its reject",
         "held windows", "gates failed (times)"],
        rows,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=100, help="LightGBM rounds (taskclf: 100)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 rounds, 1 standalone")
    parser.add_argument("--standalone", type=int, default=2,
                        help="seeds of the standalone people (each seed: every kind)")  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="print every retrain decision")
    parser.add_argument(
        "--retrain-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG to every `retrain` of the pooled bench (repeat it), e.g. the gate off: "
        "--retrain-arg=--retrain-user-regression-tolerance --retrain-arg=1",
    )
    args = parser.parse_args(argv)
    seeds, rounds = (2, 40) if args.quick else (args.seeds, args.rounds)
    standalone_seeds = 1 if args.quick else args.standalone
    c.print_header("learning: calibration vs retrain on held-out days, real commands (issue 21)")
    print(
        f"{seeds} seeds; crowd: {CROWD} plain people x {CROWD_DAYS} days `train` the global model "
        f"({rounds} rounds, {VERSION}), {CALIBRATION_DAYS} more days `calibrate` its global "
        f"calibrator; you: {PEOPLE} people with habits label ~{LABELS_EACH} windows of their "
        f"first {LABEL_DAYS} days; everyone scored on the {HELD_DAYS} days after, as the "
        "daemon labels them",
        flush=True,
    )
    results = []
    c.CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="learning-", dir=c.CACHE) as tmp:
        for seed in range(seeds):
            result = run_seed(seed, rounds, Path(tmp) / f"seed{seed}", args.retrain_arg)
            results.append(result)
            decisions = {m: d["decision"] for m, d in result.retrain.items()}
            timing = ", ".join(f"{k} {v:.0f} s" for k, v in result.steps.items())
            print(f"seed {seed}: {result.seconds:.0f} s ({timing}); {decisions}", flush=True)
            if args.verbose:
                for method, doc in result.retrain.items():
                    print(f"  {method}:\n    " + "\n    ".join(doc["explanation"]))
        people: list[Standalone] = []
        for seed in range(standalone_seeds):
            for kind, person in STANDALONE_PEOPLE:
                people.append(standalone(seed, kind, person, Path(tmp) / f"alone-{seed}-{kind}"))
        print(f"standalone: {len(people)} people", flush=True)
    print("\nheld-out days, everyone pooled (mean over seeds):")
    print(summary(results))
    print(f"\nheld-out days, the {PEOPLE} people with habits only (mean over seeds):")
    print(summary(results, yours=True))
    print("\nheld-out accuracy by kind of person (mean over seeds and people):")
    print(per_kind(results))
    print(
        f"\nusers left more than 1 point worse than global calibration, where the method ships "
        f"(on {HELD_DAYS} held-out days one person's score moves a point or two with the draw "
        f"alone; crowd_retrain.py counts on 20):"
    )
    for method in SHIPPING:
        acc, final, total, worst_acc, worst_final = deltas(results, method)
        print(
            f"  {method}: accuracy {acc} of {total} (worst {worst_acc * 100:+.1f} points), "
            f"final accuracy {final} of {total} (worst {worst_final * 100:+.1f} points)"
        )
        print(f"    largest final-accuracy cuts (seed/user): {worst_users(results, method)}")
    print()
    for method in ("retrain + user_id", "retrain - user_id"):
        for who, pick in (("everyone", "scores"), (f"the {PEOPLE} people with habits", "yours")):
            got = [getattr(r, pick) for r in results]
            gain = _mean([g[method].accuracy - g["global T"].accuracy for g in got])
            final_gain = _mean([g[method].final_accuracy - g["global T"].final_accuracy
                                for g in got])  # fmt: skip
            print(f"{method} vs global T, {who}: {gain * 100:+.1f} points of held-out "
                  f"accuracy, {final_gain * 100:+.1f} of final accuracy")  # fmt: skip
    print("\nretrain decisions:")
    print(retrain_table(results))
    print("\nwhere a retrain shipped, each user it cost more than a point on their evaluation "
          "windows, and their held-out days:")  # fmt: skip
    print(losses_table(results))
    print("\nthe guard's decisions (personalize) against the held-out days (kept: within 1 point "
          "and 0.01 NLL of global):")  # fmt: skip
    print(guard_table(results))
    print("\nstandalone: only ActivityWatch (`collect --export`), the rule baseline, 4 days "
          "labelled, `retrain`; scored on the 5th day as the daemon labels it:")  # fmt: skip
    print(standalone_table(people))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
