"""Commands a person types: wall time of `taskclf-daemon status`, `reload`, `--version`, `report`.

Each run is a fresh process of the installed console script (``<venv>/bin/taskclf-daemon``),
in a HOME of its own whose default config file points at the bench's data, exactly as a
person types the command (no ``--config``). With ``--baseline DIR`` (repeatable) the same
cases run against that checkout's console script (``DIR/.venv/bin/taskclf-daemon``) in the
same session, interleaved in a shuffled order round by round, so all meet the same load.
Trees are named by their directory (this one: ``this``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from taskclf_core.labels import CORE_LABELS as LABELS

WEEK = ("2026-06-15", "2026-06-21")  # the week report.py views: Mon 15 - Sun 21 June
FIRST_DAYS = 21  # the labelled days of the first-model case, ending yesterday
ZONE = "Europe/Berlin"
HEAVY = ("numpy", "pydantic", "pydantic_settings", "lightgbm", "sklearn", "yaml", "structlog")
TARGETS: dict[str, float | None] = {
    "--version": 100.0,
    "status": 100.0,
    "reload": 100.0,
    "report": 200.0,
    "status-first": None,  # no target: numpy and the archive, only until a first model
}


class Tree(NamedTuple):
    name: str
    root: Path
    venv_bin: Path

    @property
    def script(self) -> Path:
        return self.venv_bin / "taskclf-daemon"

    @property
    def python(self) -> Path:
        return self.venv_bin / "python"


class Case(NamedTuple):
    name: str
    command: str  # the target this case is held to
    argv: tuple[str, ...]
    env_kind: str  # "running", "none", "report", "floor"


CASES = (
    Case("--version", "--version", ("--version",), "none"),
    Case("status, daemon running", "status", ("status",), "running"),
    Case("status, none running", "status", ("status",), "none"),
    Case(
        f"status, baseline in force, {FIRST_DAYS} days labelled",
        "status-first",
        ("status",),
        "first",
    ),
    Case("reload, daemon running", "reload", ("reload",), "running"),
    Case("reload, none running", "reload", ("reload",), "none"),
    Case(
        "report, a week of a year's log, warm cache",
        "report",
        ("report", "--from", WEEK[0], "--to", WEEK[1]),
        "report",
    ),
    Case("report today (drift on), policy_file set", "report", ("report",), "report-policy"),
    Case("interpreter alone (python -c pass)", "", ("-c", "pass"), "floor"),
)


def first_model_days() -> tuple[list[dict[str, Any]], str]:
    """One person's last ``FIRST_DAYS`` working days, as the collector builds them from
    ActivityWatch (v3 rows, ~9.6 KB each: mostly title sketches), and their spans (JSONL)."""
    from taskclf_core.spans import spans_to_jsonl
    from taskclf_core.synthetic_aw import AWPerson, aw_days, collector_rows

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=FIRST_DAYS + 1)
    days = aw_days(AWPerson(), start=start, days=FIRST_DAYS, seed=0)
    rows = collector_rows(days, start=start, n_days=FIRST_DAYS, user_id="u", salt="5a17" * 16)
    return rows, spans_to_jsonl(days.spans)


def write_first_model_home(data: Path, rows: Sequence[dict[str, Any]], spans: str) -> None:
    """What three weeks of the rule baseline leave in a standalone install's data dir: the
    feature archive, the label log (the baseline's records) and the person's spans."""
    uniform = dict.fromkeys(LABELS, 0.125)
    for name in ("archive", "labels"):
        (data / name).mkdir(mode=0o700, exist_ok=True)
    for row in rows:
        day = row["bucket_start_ts"][:10]
        with open(data / "archive" / f"{day}.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
        record = {
            "user_id": row["user_id"],
            "bucket_start_ts": row["bucket_start_ts"],
            "bucket_end_ts": row["bucket_end_ts"],
            "core_label": "BreakIdle",
            "core_probs": uniform,
            "confidence": 0.125,
            "is_rejected": True,
            "label": "Mixed/Unknown",
            "smoothed_label": "Mixed/Unknown",
            "mapped_label": "Mixed/Unknown",
            "calibrator": "identity",
            "reject_threshold": 1.0,
            "model_bundle_id": "baseline",
            "store_id": None,
            "model_probs": uniform,
        }
        with open(data / "labels" / f"{day}.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
    (data / "label_spans.jsonl").write_text(spans)


def _default_config(work: c.Workdir, lines: Sequence[str]) -> None:
    """The config where a person's would be: $XDG_CONFIG_HOME/taskclf/daemon.toml."""
    config = work.home / ".config" / "taskclf" / "daemon.toml"
    config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.write_text("\n".join(lines) + "\n")


class Setup:
    """One tree's homes: a running daemon, none running, a year's label log for report."""

    def __init__(
        self,
        tree: Tree,
        bundle: Path,
        store: Path,
        year_labels: Path,
        first: tuple[list[dict[str, Any]], str],
    ) -> None:
        self.tree = tree
        self.running = c.Workdir(f"startup-{tree.name}-running-")
        self.none = c.Workdir(f"startup-{tree.name}-none-")
        self.report = c.Workdir(f"startup-{tree.name}-report-")
        self.policy = c.Workdir(f"startup-{tree.name}-policy-")
        self.first = c.Workdir(f"startup-{tree.name}-first-")
        for work in (self.running, self.none):
            _default_config(
                work,
                [
                    f'data_dir = "{work.data}"',
                    f'spool_dir = "{work.spool}"',
                    f'model_dir = "{bundle}"',
                    f'calibrator_store = "{store}"',
                ],
            )
        (self.report.data / "labels").symlink_to(year_labels)
        _default_config(self.report, [f'data_dir = "{self.report.data}"'])
        # what `init --model` sets up: a policy file, written here by `deploy`
        (self.policy.data / "labels").symlink_to(year_labels)
        policy_file = self.policy.data / "models" / "inference_policy.json"
        _default_config(
            self.policy, [f'data_dir = "{self.policy.data}"', f'policy_file = "{policy_file}"']
        )
        subprocess.run(
            [str(tree.script), "deploy", "--model", str(bundle), "--store", str(store)],
            env=self.env("report-policy"),
            capture_output=True,
            check=False,  # a checkout without `deploy`: its report cases exit 2 anyway
        )
        config = self.running.home / ".config" / "taskclf" / "daemon.toml"
        self.daemon = c.DaemonProcess(self.running, config, python=str(tree.python))
        # a standalone install (`init`, no model) with three weeks labelled, its daemon running
        subprocess.run(
            [str(tree.script), "init"], env=self.env("first"), capture_output=True, check=True
        )
        write_first_model_home(self.first.home / ".local" / "share" / "taskclf", *first)
        config = self.first.home / ".config" / "taskclf" / "daemon.toml"
        self.first_daemon = c.DaemonProcess(self.first, config, python=str(tree.python))

    def env(self, kind: str) -> dict[str, str]:
        work = {
            "running": self.running,
            "report": self.report,
            "report-policy": self.policy,
            "first": self.first,
        }.get(kind, self.none)
        env = c.isolated_env(work.home)
        if kind.startswith("report"):
            env["TZ"] = ZONE
        return env

    def argv(self, case: Case) -> list[str]:
        if case.env_kind == "floor":
            return [str(self.tree.python), *case.argv]
        return [str(self.tree.script), *case.argv]

    def close(self) -> int:
        rcs = [daemon.stop() for daemon in (self.daemon, self.first_daemon)]
        rc = next((rc for rc in rcs if rc), 0)
        for work in (self.running, self.none, self.report, self.policy, self.first):
            work.cleanup()
        return rc


class Run(NamedTuple):
    wall_ms: float
    cpu_ms: float
    rc: int
    load: float


def run_once(argv: list[str], env: dict[str, str]) -> Run:
    """One fresh process, output discarded; wall from spawn to reaped, and its rusage."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - t0) * 1e3
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = (usage.ru_utime + usage.ru_stime) * 1e3
    return Run(wall, cpu, proc.returncode, load)


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """The command's peak RSS, by ``/usr/bin/time`` (this process's own rusage of a child is
    no good: a child forked from this 50 MB interpreter starts its high-water mark here)."""
    time_bin = "/usr/bin/time"
    if not os.path.exists(time_bin):
        return float("nan")
    out = subprocess.run(
        [time_bin, "-f", "maxrss_kb=%M", *argv],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    found = re.findall(r"maxrss_kb=(\d+)", out.stderr)
    return int(found[-1]) / 1024 if found else float("nan")


def first_line(argv: list[str], env: dict[str, str], starting: str = "") -> str:
    """What the command says (its first line, stdout else stderr; or its first line
    ``starting`` so), to show it did its job."""
    out = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    text = (out.stdout.strip() or out.stderr.strip()).splitlines()
    text = [line for line in text if line.startswith(starting)]
    line = text[0] if text else f"(no line starting {starting!r})" if starting else ""
    return (line[:70] + "…") if len(line) > 71 else line


def imports(setup: Setup, case: Case) -> tuple[int, list[str]]:
    """(modules imported, the heavy packages among them) from ``python -X importtime``."""
    rest = list(case.argv) if case.env_kind == "floor" else [str(setup.tree.script), *case.argv]
    argv = [str(setup.tree.python), "-X", "importtime", *rest]
    out = subprocess.run(
        argv, env=setup.env(case.env_kind), capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    mods = [
        line.split("|")[-1].strip()
        for line in out.stderr.splitlines()
        if line.startswith("import time:") and not line.rstrip().endswith("imported package")
    ]
    tops = {m.split(".")[0] for m in mods}
    return len(mods), [h for h in HEAVY if h in tops]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another checkout (with .venv); repeat for several",
    )
    ap.add_argument("--runs", type=int, default=21, help="measured runs per case (default 21)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured runs per case first")
    ap.add_argument("--seed", type=int, default=0, help="shuffle seed")
    ap.add_argument("--quick", action="store_true", help="7 runs")
    args = ap.parse_args()
    runs = 7 if args.quick else args.runs

    c.print_header("commands a person types: fresh processes of the console script")
    trees = [
        Tree(d.resolve().name, d.resolve(), d.resolve() / ".venv" / "bin") for d in args.baseline
    ]
    trees.append(Tree("this", c.ROOT, Path(sys.executable).parent))
    if len({t.name for t in trees}) != len(trees):
        ap.error("two trees with one directory name")
    for tree in trees:
        if not tree.script.exists():
            ap.error(f"{tree.script}: no console script (pip install -e there first)")
        print(f"{tree.name:11s} {c.commit(tree.root)}: {tree.script}")
    bundle = c.bundle_path()
    store = c.store_path("temperature", bundle)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from report import write_year

    year = c.CACHE / "report-year"
    n_year = write_year(year)
    print(c.bundle_summary(bundle))
    print(
        f"report      a year of one user's log ({n_year:,} windows, bench/report.py's), "
        f"week {WEEK[0]} to {WEEK[1]}, TZ={ZONE}; cache filled by the warm-up runs"
    )
    print(f"runs        {runs} per case and tree (+{args.warmup} warm-up), shuffled each round")

    first = first_model_days()
    print(
        f"first model a standalone install (`init`, the rule baseline in force) with {FIRST_DAYS} "
        f"days labelled: {len(first[0]):,} archived windows, their label log and spans"
    )
    setups = {t.name: Setup(t, bundle, store, year / "labels", first) for t in trees}
    results: dict[tuple[str, str], list[Run]] = {}
    said: dict[tuple[str, str], str] = {}
    heavy: dict[tuple[str, str], tuple[int, list[str]]] = {}
    rss: dict[tuple[str, str], float] = {}
    rcs: dict[str, int] = {}
    try:
        for setup in setups.values():
            for daemon in (setup.daemon, setup.first_daemon):
                ready = daemon.wait_ready()
                print(f"daemon      {setup.tree.name}: pid {daemon.pid}, READY after {ready:.2f} s")
        time.sleep(1.0)  # the first status write
        jobs = [(t, case) for t in setups for case in CASES]
        for t, case in jobs:
            setup = setups[t]
            for _ in range(args.warmup):
                run_once(setup.argv(case), setup.env(case.env_kind))
            said[(t, case.name)] = first_line(
                setup.argv(case),
                setup.env(case.env_kind),
                "first model:" if case.env_kind == "first" else "",
            )
            heavy[(t, case.name)] = imports(setup, case)
            rss[(t, case.name)] = peak_rss_mb(setup.argv(case), setup.env(case.env_kind))
            if case.argv == ("reload",):
                time.sleep(0.5)
        rng = random.Random(args.seed)
        for _ in range(runs):
            rng.shuffle(jobs)
            for t, case in jobs:
                setup = setups[t]
                run = run_once(setup.argv(case), setup.env(case.env_kind))
                results.setdefault((t, case.name), []).append(run)
                if case.env_kind == "running" and case.argv == ("reload",):
                    time.sleep(0.4)  # let the daemon's reload (debounce + load) pass
    finally:
        for name, setup in setups.items():
            rcs[name] = setup.close()

    rows: list[list[object]] = []
    for case in CASES:
        for t in setups:
            rs = results[(t, case.name)]
            walls = [r.wall_ms for r in rs]
            p90 = c.percentiles(walls, (90,))[0]
            n_mods, heavies = heavy[(t, case.name)]
            rows.append(
                [
                    case.name,
                    t,
                    len(rs),
                    statistics.median(walls),
                    p90,
                    min(walls),
                    max(walls),
                    statistics.median(r.cpu_ms for r in rs),
                    rss[(t, case.name)],
                    ",".join(sorted({str(r.rc) for r in rs})),
                    f"{n_mods}: {', '.join(heavies) or '–'}",
                    statistics.median(r.load for r in rs),
                ]
            )
    print()
    print(
        "wall ms from spawn to exit; CPU = user + sys of the process (median); peak RSS and "
        "modules imported (-X importtime) from one more run each"
    )
    print(
        c.table(
            [
                "case",
                "tree",
                "runs",
                "median ms",
                "p90 ms",
                "min ms",
                "max ms",
                "CPU ms",
                "peak RSS MB",
                "exit",
                "modules: heavy ones",
                "load (median)",
            ],
            rows,
        )
    )
    print()
    print("what each said (first line of one run)")
    print(c.table(["case", "tree", "output"], [[k[1], k[0], v] for k, v in said.items()]))
    summary: list[list[object]] = []
    for case in CASES:
        if not case.command:
            continue
        line: list[object] = [case.name]
        for t in setups:
            rs = results[(t, case.name)]
            med = statistics.median(r.wall_ms for r in rs)
            ok = all(r.rc == rs[0].rc for r in rs)
            note = "" if ok else " (mixed exit codes)"
            if rs[0].rc == 2:
                note += " (exit 2: not in this version)"
            line.append(f"{med:.0f}{note}")
        target = TARGETS[case.command]
        this = statistics.median(r.wall_ms for r in results[("this", case.name)])
        if target is None:
            line += ["–", "–"]
        else:
            line += [f"<= {target:.0f}", "yes" if this <= target else "NO"]
        summary.append(line)
    print()
    print(
        c.table(
            ["case", *(f"{t} median ms" for t in setups), "target ms", "this tree meets it"],
            summary,
        )
    )
    loads = [r.load for rs in results.values() for r in rs]
    print(
        f"1-min load during the runs: median {statistics.median(loads):.2f}, "
        f"max {max(loads):.2f}; load avg at end {c.load_string()}"
    )
    bad = [name for name, rc in rcs.items() if rc != 0]
    if bad:
        print(f"daemon exit code not 0: {', '.join(f'{n} {rcs[n]}' for n in bad)}")
    statuses = {t: said[(t, "status, daemon running")] for t in setups}
    if any(not re.search(r"running|ok", s, re.I) for s in statuses.values()):
        print(f"WARNING: status against the running daemon did not say so: {statuses}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
