"""A person's first two weeks with taskclf-daemon, end to end, on days the project did not write.

What it measures: whether a person with only ActivityWatch gets a first model of their own
from the real commands, and how that model labels a day it never saw. Per run, a person of
``bench/journey_people.py`` (dev, writer, manager, part-timer) has 8 weekdays pushed into a
real aw-server (``tests/aw_server.py``, peewee storage); in a HOME of its own the installed
console script runs ``init`` (no model: the rule baseline), the config is pointed at
aw-server, ``run`` starts in the background, ``collect --once`` brings days 1-7 (the daemon
labels them with the baseline), ``label import`` takes the person's labels of days 1-7,
``status``, ``retrain --json``; then ``collect --once`` of day 8, labelled live by whatever is in
force (the first model if it was deployed), is scored against the truth next to the baseline's
labels of the same windows (a scratch ``run --once --model <data_dir>/models/baseline``).
Labels are the truth, random or half random (noisy), their span edges rounded to the nearest
minute (5 minutes for the part-timer) or floored, as a clock shows them: 15 runs with true
labels (the deploy rate of first models) and 3 with bad ones (they must never ship).

The generator (``bench/journey_people.py``) was written apart from the project's own
``taskclf_core/synthetic_aw.py`` and ``synthetic.py`` and imports neither: a second,
independently made population. Days: the 8 weekdays ending on the last weekday before
yesterday (UTC), inside retrain's 30-day lookback; children run with ``TZ=UTC``.

    .venv/bin/python bench/journey.py                # 18 runs, ~10-15 min
    .venv/bin/python bench/journey.py --quick        # 4 runs, ~2-3 min
    .venv/bin/python bench/journey.py --only dev-s0 writer-s1-floor
    .venv/bin/python bench/journey.py --days 14      # two weeks labelled ("day 8" is day 15)
    .venv/bin/python bench/journey.py --setting retrain_min_breakidle_recall=0  # a key, every run

Work dirs (each cleaned before its run) and ``results.json`` are in ``bench/.cache/journey/``.
Exit 1 when something crashed: a command failing, the daemon exiting non-zero or not labelling
what was collected, an exception in the driver.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib.util
import json
import math
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _common as c
import journey_people
from aw_server import AWServer, aw_server, find_aw_server
from daemon_harness import isolated_env
from journey_people import People, iso, parse

BIN = Path(sys.executable).parent / "taskclf-daemon"
WORK = c.CACHE / "journey"
LOOKBACK_DAYS = 30  # retrain's default lookback: every day must be inside it
LABELS = ["BreakIdle", "Build", "Communicate", "Debug", "Meet", "ReadResearch", "Review", "Write"]
REJECTED = "Mixed/Unknown"


@dataclass(frozen=True, slots=True)
class Spec:
    name: str  # also the ActivityWatch hostname
    person: str
    seed: int
    mode: str  # the labels: "truth", "random", or "noisy" (half of them random)
    rounding: str  # span edges: "nearest" or "floor"


RUNS = [
    # batch A: edges rounded to the nearest minute (the part-timer: nearest 5 minutes)
    Spec("dev-s0", "dev", 0, "truth", "nearest"),
    Spec("dev-s1", "dev", 1, "truth", "nearest"),
    Spec("writer-s0", "writer", 0, "truth", "nearest"),
    Spec("writer-s1", "writer", 1, "truth", "nearest"),
    Spec("manager-s0", "manager", 0, "truth", "nearest"),
    Spec("manager-s1", "manager", 1, "truth", "nearest"),
    Spec("parttime-s0", "parttime", 0, "truth", "nearest"),
    Spec("parttime-s1", "parttime", 1, "truth", "nearest"),
    # batch B: the same people and days, edges written as the clock showed them (floor)
    Spec("dev-s0-floor", "dev", 0, "truth", "floor"),
    Spec("dev-s1-floor", "dev", 1, "truth", "floor"),
    Spec("writer-s0-floor", "writer", 0, "truth", "floor"),
    Spec("writer-s1-floor", "writer", 1, "truth", "floor"),
    Spec("manager-s0-floor", "manager", 0, "truth", "floor"),
    Spec("manager-s1-floor", "manager", 1, "truth", "floor"),
    Spec("parttime-s0-floor", "parttime", 0, "truth", "floor"),
    # worse never ships: labels that carry no (or half the) signal
    Spec("dev-random-s0-floor", "dev", 0, "random", "floor"),
    Spec("manager-random-s0-floor", "manager", 0, "random", "floor"),
    Spec("dev-noisy-s0-floor", "dev", 0, "noisy", "floor"),
]
QUICK = ("writer-s1", "manager-s1", "dev-s0-floor", "dev-random-s0-floor")
POPULATION: Any = journey_people  # --people swaps in another module with people_days and RUNS
SETTINGS: dict[str, str] = {}  # --setting KEY=VALUE: TASKCLF_KEY for every command of every run


def load_population(path: Path) -> Any:
    """A population module from a file: ``people_days(name, seed, host, dates) -> People``
    (``People``-shaped: export, truth, person.rounding, person.labelled, counts) and ``RUNS``, a
    list of ``(name, person, seed, mode, rounding)``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--people {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    for name in ("people_days", "RUNS"):
        if not hasattr(module, name):
            raise SystemExit(f"--people {path}: defines no {name}")
    return module


def journey_days(today: date, n: int = 8) -> list[str]:
    """The ``n`` weekdays ending on the last weekday before yesterday, oldest first."""
    day = today - timedelta(days=2)
    out: list[date] = []
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day -= timedelta(days=1)
    out.reverse()
    if (today - out[0]).days >= LOOKBACK_DAYS:
        raise RuntimeError(f"{out[0]} is outside retrain's {LOOKBACK_DAYS}-day lookback")
    return [d.isoformat() for d in out]


def rounded(t: datetime, step: int, how: str) -> datetime:
    """``t`` to a multiple of ``step`` minutes in its hour: the nearest one, or the one before."""
    hour = t.replace(minute=0, second=0, microsecond=0)
    minutes = (t - hour).total_seconds() / 60
    k = math.floor(minutes / step) if how == "floor" else round(minutes / step)
    return hour + timedelta(minutes=k * step)


def zulu(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Journey:
    """One person's run through the real commands, in a HOME of its own."""

    def __init__(self, spec: Spec, aw: AWServer, days: list[str], salt: int | None = None) -> None:
        self.spec = spec
        self.salt = salt
        self.aw = aw
        self.days = days
        self.dir = WORK / "runs" / spec.name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.env = isolated_env(self.dir / "home")
        self.env["TZ"] = "UTC"
        self.env.update(SETTINGS)
        self.data = Path(self.env["XDG_DATA_HOME"]) / "taskclf"
        self.daemon: subprocess.Popen[bytes] | None = None
        self.stopped = False
        self.user = ""
        self.people: People | None = None
        self.problems: list[str] = []
        self.res: dict[str, Any] = {
            "name": spec.name,
            "person": spec.person,
            "seed": spec.seed,
            "mode": spec.mode,
            "rounding": spec.rounding,
            "days": days,
            "settings": dict(SETTINGS),  # --setting, as TASKCLF_KEY
            "problems": self.problems,
        }

    # --- helpers ------------------------------------------------------------------------

    def sh(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``taskclf-daemon *args``, logged to commands.log; a failure is a problem if ``check``."""
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BIN), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
            check=False,
        )
        elapsed = time.perf_counter() - t0
        with open(self.dir / "commands.log", "a", encoding="utf-8") as log:
            log.write(
                f"\n$ taskclf-daemon {' '.join(args)}   # rc={proc.returncode} {elapsed:.1f}s\n"
                f"{proc.stdout}\n--- stderr ---\n{proc.stderr[-4000:]}\n"
            )
        if check and proc.returncode != 0:
            self.problems.append(
                f"`{' '.join(args)}` exited {proc.returncode}: {proc.stderr[-500:]}"
            )
        return proc

    def status_model(self) -> str | None:
        proc = self.sh("status", "--json", check=False)
        try:
            bundle_id: str | None = json.loads(proc.stdout)["model"].get("bundle_id")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"? {exc!r}"
        return bundle_id

    def label_records(self, days: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for day in days:
            path = self.data / "labels" / f"{day}.jsonl"
            if path.exists():
                out += read_jsonl(path)
        return out

    def labelled_count(self, days: Sequence[str]) -> int:
        n = 0
        for day in days:
            path = self.data / "labels" / f"{day}.jsonl"
            if path.exists():
                with open(path, encoding="utf-8") as fh:
                    n += sum(1 for _ in fh)
        return n

    def wait_labelled(self, days: Sequence[str], expect: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.labelled_count(days) >= expect:
                return
            if self.daemon is not None and self.daemon.poll() is not None:
                break
            time.sleep(0.5)
        self.problems.append(
            f"daemon labelled {self.labelled_count(days)} of {expect} windows of {list(days)} "
            f"within {timeout:.0f} s (daemon rc {self.daemon.poll() if self.daemon else None})"
        )

    def collect(self, start: str, end: str) -> int:
        """``collect --once --from start --to end``: the windows it wrote."""
        proc = self.sh("collect", "--once", "--from", start, "--to", end)
        windows = 0
        for line in proc.stderr.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "collector_finished":
                windows = int(event.get("windows", 0))
        return windows

    # --- the journey --------------------------------------------------------------------

    def go(self) -> dict[str, Any]:
        r = self.res
        spec = self.spec
        self.people = POPULATION.people_days(spec.person, spec.seed, spec.name, self.days)
        self.aw.load_export(self.people.export)
        (self.dir / "truth.json").write_text(
            json.dumps(
                {
                    "counts": self.people.counts,
                    "truth": [
                        {"start": iso(b.start), "end": iso(b.end), "label": b.label}
                        for b in self.people.truth
                    ],
                },
                indent=1,
            )
        )
        r["events"] = self.people.counts
        if self.salt is not None:
            self.fix_identity(self.salt)
        self.sh("init")
        self.configure()
        self.start_daemon()
        first, last = self.days[0], self.days[-1]
        # days 1-7, labelled by the baseline as they arrive
        n = self.collect(first, last)
        r["windows_days1_7"] = n
        self.wait_labelled(self.days[:-1], n)
        records = self.label_records(self.days[:-1])
        r["records_days1_7"] = len(records)
        r["records_models_days1_7"] = sorted({x["model_bundle_id"] for x in records})
        r["status_model_before"] = self.status_model()
        self.sh("status", check=False)
        # the person's labels of days 1-7
        spans = self.make_spans()
        with open(self.dir / "labels.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["start_ts", "end_ts", "label", "provenance", "user_id"])
            for s, e, label in spans:
                writer.writerow([zulu(s), zulu(e), label, "manual", self.user])
        r["spans_imported"] = len(spans)
        r["days_labelled"] = len({s.date() for s, _, _ in spans})
        self.sh("label", "import", str(self.dir / "labels.csv"))
        status = self.sh("status", check=False)
        r["status_first_model"] = [
            line
            for line in status.stdout.splitlines()
            if any(
                k in line
                for k in ("first model", "still needed", "enough to train", "will test it")
            )
        ]
        self.retrain()
        time.sleep(6)  # the daemon rescans the policy every 5 s
        r["status_model_after"] = self.status_model()
        # day 8: labelled live by whatever is in force now
        next_day = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
        n8 = self.collect(last, next_day)
        r["windows_day8"] = n8
        self.wait_labelled([last], n8)
        live = self.label_records([last])
        r["day8_live_models"] = sorted({x["model_bundle_id"] for x in live})
        r["day8_live"] = self.score(live)
        r["day8_baseline"] = self.score(self.scratch_baseline())
        if r["decision"] == "deployed":
            self.second_retrain_dry()
        self.stop_daemon()
        return r

    def fix_identity(self, seed: int) -> None:
        """The title salt and user id `init` keeps (it makes random ones only when missing),
        drawn from ``seed`` and the run's name: the same hashed titles, so the same model,
        on every invocation (paired comparisons of two checkouts)."""
        processed = self.data / "data" / "processed"
        processed.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{seed}:{self.spec.name}".encode()).digest()
        identity = {
            ".title_secret": digest.hex(),
            ".user_id": str(uuid.UUID(bytes=digest[:16], version=4)),
        }
        for name, value in identity.items():
            path = processed / name
            path.write_text(value + "\n")
            path.chmod(0o600)

    def configure(self) -> None:
        cfg = Path(self.env["XDG_CONFIG_HOME"]) / "taskclf" / "daemon.toml"
        text = cfg.read_text(encoding="utf-8")
        text, n_url = re.subn(r"^# aw_url = .*$", f'aw_url = "{self.aw.url}"', text, flags=re.M)
        text, n_host = re.subn(
            r"^# aw_hostname = .*$", f'aw_hostname = "{self.spec.name}"', text, flags=re.M
        )
        if n_url != 1 or n_host != 1:
            raise RuntimeError(f"{cfg}: no single commented aw_url / aw_hostname line to set")
        cfg.write_text(text, encoding="utf-8")
        self.user = (self.data / "data" / "processed" / ".user_id").read_text().strip()

    def start_daemon(self) -> None:
        with open(self.dir / "daemon.log", "wb") as log:
            self.daemon = subprocess.Popen(
                [str(BIN), "run"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
        time.sleep(2)
        if self.daemon.poll() is not None:
            raise RuntimeError(f"`taskclf-daemon run` exited {self.daemon.returncode} at start")

    def stop_daemon(self) -> None:
        if self.daemon is None or self.stopped:
            return
        self.stopped = True
        if self.daemon.poll() is not None:
            self.res["daemon_rc"] = self.daemon.returncode
            self.problems.append(f"daemon exited {self.daemon.returncode} before SIGTERM")
            return
        self.daemon.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            self.problems.append("daemon did not stop within 30 s of SIGTERM")
            self.daemon.kill()
            self.daemon.wait()
            return
        self.res["daemon_rc"] = rc
        if rc != 0:
            self.problems.append(f"daemon exited {rc} after SIGTERM")

    def retrain(self) -> None:
        r = self.res
        proc = self.sh("retrain", "--json")
        try:
            out: dict[str, Any] = json.loads(proc.stdout)
        except ValueError:
            out = {}
            self.problems.append(
                f"retrain --json not JSON: {proc.stdout[:300]} {proc.stderr[-300:]}"
            )
        (self.dir / "retrain.json").write_text(json.dumps(out, indent=1))
        dataset = out.get("dataset") or {}
        gates = out.get("gates") or []
        r["decision"] = out.get("decision")
        r["gates"] = [(g["name"], g["value"], g["threshold"], g["passed"]) for g in gates]
        r["failed_gates"] = [
            (g["name"], g["value"], g["threshold"]) for g in gates if not g["passed"]
        ]
        r["champion"] = out.get("champion")
        r["challenger"] = out.get("challenger")
        r["labelled_windows"] = dataset.get("rows") or dataset.get("windows")
        r["dataset"] = {k: v for k, v in dataset.items() if not isinstance(v, list | dict)}
        r["per_user"] = out.get("per_user")
        r["why"] = [line for line in out.get("explanation") or [] if str(line).startswith("why")]
        r["reject_threshold"] = (out.get("reject_threshold") or {}).get("threshold")

    def second_retrain_dry(self) -> None:
        proc = self.sh("retrain", "--force", "--dry-run", "--json")
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            self.problems.append(f"retrain --force --dry-run --json not JSON: {proc.stdout[:300]}")
            return
        self.res["second_retrain_dry"] = {
            "decision": out.get("decision"),
            "champion": out.get("champion"),
            "challenger": out.get("challenger"),
            "failed": [(g["name"], g["value"]) for g in out.get("gates") or [] if not g["passed"]],
        }

    def make_spans(self) -> list[tuple[datetime, datetime, str]]:
        """The person's labels of days 1-7: every break, a share of the rest, edges rounded."""
        assert self.people is not None
        person = self.people.person
        rng = random.Random(f"labels-{self.spec.name}")
        spans = []
        for block in self.people.truth:
            s, e, label = block.start, block.end, block.label
            if s.strftime("%Y-%m-%d") == self.days[-1]:
                continue  # the held-out day is never labelled
            if label != "BreakIdle" and rng.random() > person.labelled:
                continue
            s = rounded(s, person.rounding, self.spec.rounding)
            e = rounded(e, person.rounding, self.spec.rounding)
            if e <= s:
                continue
            if self.spec.mode == "random" or (self.spec.mode == "noisy" and rng.random() < 0.5):
                label = rng.choice(LABELS)
            spans.append((s, e, label))
        return spans

    def truth_at(self, t: datetime) -> str | None:
        assert self.people is not None
        return next((b.label for b in self.people.truth if b.start <= t < b.end), None)

    def truth_of_minute(self, m: datetime) -> str | None:
        """The block holding the whole minute from ``m``, if one does."""
        assert self.people is not None
        end = m + timedelta(minutes=1)
        return next((b.label for b in self.people.truth if b.start <= m and end <= b.end), None)

    def score(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Records against the truth: at the window's (span's) start, and for windows inside
        one block; final accuracy counts rejects as wrong."""
        rows = []
        for x in records:
            t = parse(x.get("span_start_ts") or x["bucket_start_ts"])
            rows.append(
                (x["label"], self.truth_at(t), self.truth_of_minute(parse(x["bucket_start_ts"])))
            )
        confusion: dict[str, dict[str, int]] = {}
        for predicted, truth, _ in rows:
            row = confusion.setdefault(str(truth), {})
            row[predicted] = row.get(predicted, 0) + 1
        return {
            "windows": len(records),
            "all": accuracy([(p, t) for p, t, _ in rows]),
            "contained": accuracy([(p, m) for p, _, m in rows]),
            "confusion": confusion,
        }

    def scratch_baseline(self) -> list[dict[str, Any]]:
        """The baseline's labels of day 8's archived windows: a scratch ``run --once``."""
        scratch = self.dir / "scratch"
        (scratch / "data" / "spool" / "new").mkdir(parents=True)
        (scratch / "empty.toml").write_text("")
        day = self.days[-1]
        lines: list[str] = []
        for path in sorted((self.data / "archive").glob(f"{day}.jsonl*")):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as fh:
                lines += [line for line in fh if line.strip()]
        (scratch / "data" / "spool" / "new" / "day8.jsonl").write_text("".join(lines))
        env = isolated_env(scratch / "home")
        env["TZ"] = "UTC"
        proc = subprocess.run(
            [
                str(BIN),
                "run",
                "--once",
                "--config",
                str(scratch / "empty.toml"),
                "--data-dir",
                str(scratch / "data"),
                "--model",
                str(self.data / "models" / "baseline"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode:
            self.problems.append(
                f"scratch baseline run exited {proc.returncode}: {proc.stderr[-300:]}"
            )
        out = scratch / "data" / "labels" / f"{day}.jsonl"
        return read_jsonl(out) if out.exists() else []


def accuracy(pairs: list[tuple[str, str | None]]) -> dict[str, Any] | None:
    known = [(p, t) for p, t in pairs if t is not None]
    if not known:
        return None
    kept = [(p, t) for p, t in known if p != REJECTED]
    return {
        "n": len(known),
        "acc": round(sum(p == t for p, t in known) / len(known), 3),
        "reject_rate": round(1 - len(kept) / len(known), 3),
        "acc_non_rejected": round(sum(p == t for p, t in kept) / len(kept), 3) if kept else None,
    }


def run_one(spec: Spec, aw: AWServer, days: list[str], salt: int | None) -> dict[str, Any]:
    t0 = time.monotonic()
    journey = Journey(spec, aw, days, salt)
    try:
        result = journey.go()
    except Exception:  # any crash of one run is reported, and the others still run
        result = journey.res
        journey.problems.append("driver exception: " + traceback.format_exc()[-800:])
    finally:
        journey.stop_daemon()
    result["seconds"] = round(time.monotonic() - t0)
    return result


def _acc(score: dict[str, Any] | None, key: str = "acc") -> float | str:
    """A share of day 8's windows, in %."""
    part = (score or {}).get("all") or {}
    value = part.get(key)
    return "–" if value is None else round(100 * float(value), 1)


def _gates(failed: list[tuple[str, float | None, Any]] | None) -> str:
    """Failed gates and their values (a gate with nothing to measure has none)."""
    return (
        ", ".join(
            name if value is None else f"{name} {value:.3g}" for name, value, _ in failed or []
        )
        or "–"
    )


def report(results: list[dict[str, Any]]) -> None:
    rows = [
        [
            r["name"],
            r["person"],
            r["mode"],
            r["rounding"],
            r.get("decision") or "–",
            _gates(r.get("failed_gates")),
            r.get("labelled_windows") if r.get("labelled_windows") is not None else "–",
            _acc(r.get("day8_live")),
            _acc(r.get("day8_baseline")),
            _acc(r.get("day8_live"), "reject_rate"),
            r.get("seconds", "–"),
        ]
        for r in results
    ]
    headers = [
        "run",
        "person",
        "labels",
        "rounding",
        "decision",
        "failed gates (value)",
        "labelled windows",
        "day 8 final acc % live",
        "baseline",
        "live reject %",
        "s",
    ]
    print()
    print(c.table(headers, rows))
    good = [r for r in results if r["mode"] == "truth"]
    bad = [r for r in results if r["mode"] != "truth"]
    deployed = sum(r.get("decision") == "deployed" for r in good)
    refused = sum(r.get("decision") != "deployed" for r in bad)
    print()
    if good:
        print(f"first models deployed: {deployed} of {len(good)} good-label runs")
    if bad:
        print(f"bad labels refused: {refused} of {len(bad)} (not deployed)")
    print(f"commit      {c.commit(c.ROOT)}")
    print(f"load avg    {c.load_string()} (1/5/15 min, at the end)")


def main() -> int:
    global WORK, POPULATION
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--quick", action="store_true", help=f"4 runs: {', '.join(QUICK)}")
    ap.add_argument(
        "--salt",
        type=int,
        metavar="SEED",
        help="title salt and user id from SEED and the run's name, not `init`'s random ones: "
        "the same models on every invocation, to compare two checkouts run for run",
    )
    ap.add_argument(
        "--people",
        type=Path,
        metavar="FILE",
        help="another population: a module with people_days() and RUNS "
        "(name, person, seed, mode, rounding), in place of bench/journey_people.py",
    )
    ap.add_argument(
        "--work",
        type=Path,
        metavar="DIR",
        help=f"work dirs and results.json here, not {WORK} (two journeys at once)",
    )
    ap.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="N",
        help="weekdays the person labels before the retrain (default 7), the next one held out",
    )
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a configuration key for every command of every run, as TASKCLF_KEY (e.g. "
        "retrain_min_breakidle_recall=0); repeatable",
    )
    args = ap.parse_args()
    for item in args.setting:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SystemExit(f"--setting: expected KEY=VALUE, got {item!r}")
        SETTINGS[f"TASKCLF_{key.upper()}"] = value
    if args.work is not None:
        WORK = args.work.resolve()
    runs = RUNS
    if args.people is not None:
        POPULATION = load_population(args.people)
        runs = [Spec(*run) for run in POPULATION.RUNS]
    unknown = set(args.only or ()) - {s.name for s in runs}
    if unknown:
        raise SystemExit(f"--only: no run named {', '.join(sorted(unknown))}")
    specs = [s for s in runs if not args.quick or s.name in QUICK]
    specs = [s for s in specs if not args.only or s.name in args.only]
    if not specs:
        raise SystemExit("no run selected")
    if not BIN.is_file():
        raise SystemExit(
            f"no console script at {BIN}: run with the venv's python (pip install -e .)"
        )
    exe, why = find_aw_server()
    if exe is None:
        raise SystemExit(f"journey.py needs a real aw-server: {why}")
    if args.days < 1:
        raise SystemExit("--days: expected 1 or more")
    days = journey_days(datetime.now(UTC).date(), args.days + 1)
    c.print_header("journey.py: a person's first model from ActivityWatch, end to end")
    print(f"aw-server   {exe}")
    print(f"days        {', '.join(days)} (UTC; 1-{args.days} labelled, the last held out)")
    print(f"runs        {len(specs)}, work dirs in {WORK}", flush=True)
    if SETTINGS:
        print(f"settings    {', '.join(f'{k}={v}' for k, v in SETTINGS.items())}", flush=True)
    identity = "random (`init`)" if args.salt is None else f"from --salt {args.salt}"
    print(f"salt, user  {identity}", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / "results.json"
    results: list[dict[str, Any]] = []
    awhome = WORK / "awhome"
    shutil.rmtree(awhome, ignore_errors=True)
    with aw_server(exe, awhome, storage="peewee") as aw:
        for spec in specs:
            r = run_one(spec, aw, days, args.salt)
            results.append(r)
            out.write_text(json.dumps(results, indent=1, default=str))
            live, base = _acc(r.get("day8_live")), _acc(r.get("day8_baseline"))
            print(
                f"{spec.name:24} {r.get('decision')!s:16} live {live} baseline {base} "
                f"({r['seconds']} s){'  PROBLEMS' if r['problems'] else ''}",
                flush=True,
            )
    report(results)
    print(f"results     {out}")
    crashed = [r for r in results if r["problems"]]
    for r in crashed:
        print(f"\n{r['name']}: " + "\n  ".join(r["problems"]), file=sys.stderr)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
