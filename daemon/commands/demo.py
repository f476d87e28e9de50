"""`taskclf-daemon demo`: the whole product end to end on generated data, with the real daemon."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from daemon.artifacts import load_store
from daemon.exits import FAILED, OK
from daemon.fsutil import utc_now
from daemon.paths import labels_dir, status_file
from daemon.publish import install_bundle, write_store
from daemon.reporting.calibration import format_report
from daemon.runtime.status import read_status
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.errors import ConfigError, DemoError
from taskclf_core.synthetic import DEFAULT_USERS, generate_windows
from taskclf_core.training import check_training_rows, train_bundle
from taskclf_core.vetting import CalibrationOutcome, calibrate_windows, parse_labelled
from taskclf_core.words import plural

__all__ = ["Layout", "Plan", "add_arguments", "run", "run_demo"]

T = TypeVar("T")
Window = dict[str, Any]
_MARKER = ".taskclf-demo"
_SEED = 42
_POLL = 0.02  # seconds between looks at the daemon's files while waiting on a deadline
_BUNDLE_ID = "demo-bundle"


@dataclass(frozen=True, slots=True)
class Plan:
    """How big the demo is: days per part, live windows per user, boosting rounds, pace."""

    train_days: int
    calibration_days: int
    live_per_user: int | None  # None: the whole live day
    rounds: int
    pace_seconds: float  # between two spool files: a brisk live stream

    @property
    def days(self) -> int:
        return self.train_days + self.calibration_days + 1


FULL = Plan(train_days=4, calibration_days=4, live_per_user=None, rounds=100, pace_seconds=0.004)
QUICK = Plan(train_days=3, calibration_days=4, live_per_user=50, rounds=30, pace_seconds=0.002)


@dataclass(frozen=True, slots=True)
class Layout:
    """Every path the demo writes, under one root."""

    root: Path

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def model(self) -> Path:
        return self.root / "models" / _BUNDLE_ID

    @property
    def stores(self) -> Path:
        return self.root / "stores"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def labels(self) -> Path:
        return labels_dir(self.data)

    @property
    def config(self) -> Path:
        return self.root / "daemon.toml"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"


@dataclass(frozen=True, slots=True)
class Split:
    """Generated labelled windows, split by day: train, calibrate, stream live."""

    train: list[Window]
    calibration: list[Window]
    live: list[Window]


@dataclass(slots=True)
class Swap:
    """The mid-stream store swap, for the summary."""

    old_id: str
    new_id: str
    at_window: int
    in_force_after: float


def _say(text: str) -> None:
    print(text, flush=True)


def _step(n: int, text: str, started: float) -> None:
    _say(f"[{n}/6 at {time.monotonic() - started:4.1f} s] {text}")


# --- preparing the directory ---------------------------------------------------------------


def _prepare(directory: Path | None) -> tuple[Layout, bool]:
    """The work dir and whether to keep it; a re-used ``--dir`` must be a previous demo's."""
    if directory is None:
        return Layout(Path(tempfile.mkdtemp(prefix="taskclf-demo-"))), False
    root = directory.absolute()
    if root.exists():
        if not root.is_dir():
            raise ConfigError(f"--dir {root}: exists and is not a directory")
        entries = list(root.iterdir())
        if entries and not (root / _MARKER).exists():
            raise ConfigError(
                f"--dir {root}: not empty and not a previous demo directory; "
                "name a new or empty one"
            )
        # a previous run's label log would make every window a duplicate: start clean
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Layout(root), True


# --- steps ---------------------------------------------------------------------------------


def _generate(plan: Plan) -> Split:
    windows = generate_windows(users=DEFAULT_USERS, days=plan.days, seed=_SEED)
    first = date.fromisoformat(windows[0]["bucket_start_ts"][:10])
    calib_from = (first + timedelta(days=plan.train_days)).isoformat()
    live_from = (first + timedelta(days=plan.train_days + plan.calibration_days)).isoformat()
    train = [w for w in windows if w["bucket_start_ts"] < calib_from]
    calibration = [w for w in windows if calib_from <= w["bucket_start_ts"] < live_from]
    live = [w for w in windows if w["bucket_start_ts"] >= live_from]
    if plan.live_per_user is not None:
        seen: Counter[str] = Counter()
        kept = []
        for w in live:
            seen[w["user_id"]] += 1
            if seen[w["user_id"]] <= plan.live_per_user:
                kept.append(w)
        live = kept
    # a live stream interleaves users minute by minute, as collectors would send them
    live.sort(key=lambda w: (w["bucket_start_ts"], w["user_id"]))
    return Split(train, calibration, live)


def _write_jsonl(path: Path, rows: Sequence[Window]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _items(rows: Sequence[Window], what: str) -> list[tuple[str, Window]]:
    return [(f"{what} window {i}", row) for i, row in enumerate(rows)]


def _train(layout: Layout, split: Split, plan: Plan) -> ModelBundle:
    data = check_training_rows(_items(split.train, "training"))
    trained = train_bundle(
        data.windows, rounds=plan.rounds, seed=_SEED, created_at=utc_now("seconds"), num_threads=1
    )
    install_bundle(trained, layout.model)
    m = trained.metrics
    _say(
        f"      {plan.rounds} rounds on {trained.metadata['train_rows']} windows; held-out "
        f"macro F1 {m.get('macro_f1', 0):.3f}, weighted F1 {m.get('weighted_f1', 0):.3f}"
    )
    return load_bundle(layout.model)


def _fit_store(bundle: ModelBundle, rows: Sequence[Window], what: str) -> CalibrationOutcome:
    # the code path of `taskclf-daemon calibrate`, with its default thresholds and holdout
    data = parse_labelled(_items(rows, what), bundle.schema)
    return calibrate_windows(bundle, data, created_at=utc_now("seconds"), num_threads=1)


def _first_store(layout: Layout, bundle: ModelBundle, split: Split) -> CalibrationOutcome:
    outcome = _fit_store(bundle, split.calibration, "calibration")
    _say("      " + format_report(outcome.report).replace("\n", "\n      "))
    store = outcome.store
    write_store(store, layout.stores / store.store_id, check=lambda p: load_store(p, bundle))
    os.symlink(os.path.join("stores", store.store_id), layout.store)
    _say(f"      store {store.store_id} -> stores/{store.store_id}; store -> it (a symlink)")
    return outcome


def _toml(value: Path) -> str:
    # a JSON string is a valid TOML basic string for any path
    return json.dumps(str(value))


def _write_config(layout: Layout) -> None:
    lines = [
        "# written by `taskclf-daemon demo`",
        f"spool_dir = {_toml(layout.spool)}",
        f"model_dir = {_toml(layout.model)}",
        f"calibrator_store = {_toml(layout.store)}",
        f"data_dir = {_toml(layout.data)}",
        "heartbeat_seconds = 1.0",
        "rescan_interval_seconds = 1.0",
        "reload_debounce_seconds = 0.05",
        "predict_threads = 1",
    ]
    layout.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _child_env() -> dict[str, str]:
    # the config file must win: TASKCLF_* from the caller's shell would point the demo
    # daemon at their real spool or store, and a systemd socket would confuse the manager
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TASKCLF_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")
    }
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _start_daemon(layout: Layout) -> subprocess.Popen[bytes]:
    with open(layout.log, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(layout.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=_child_env(),
            cwd=layout.root,
        )


def _wait_for(
    check: Callable[[], T | None], what: str, proc: subprocess.Popen[bytes], timeout: float
) -> T:
    """Poll ``check`` until it returns a value; fail at the deadline or if the daemon dies."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        code = proc.poll()
        if code is not None:
            raise DemoError(f"the daemon exited with code {code} while waiting for {what}")
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(_POLL)


def _status(layout: Layout) -> dict[str, Any] | None:
    return read_status(status_file(layout.spool))


def _ready(layout: Layout, pid: int) -> dict[str, Any] | None:
    doc = _status(layout)
    return doc if doc and doc.get("pid") == pid and doc.get("running") else None


def _drop(spool: Path, name: str, content: bytes) -> None:
    """What a collector does: write into tmp/, then rename into new/ (atomic on one fs)."""
    tmp = spool / "tmp" / name
    tmp.write_bytes(content)
    os.rename(tmp, spool / "new" / name)


def _public(window: Window) -> Window:
    return {k: v for k, v in window.items() if k != "label"}


def _stream(
    layout: Layout,
    split: Split,
    plan: Plan,
    bundle: ModelBundle,
    proc: subprocess.Popen[bytes],
    first_id: str,
) -> tuple[Swap, str]:
    """Feed the live windows one file each; drop a broken file; swap the store midway."""
    live = split.live
    n = len(live)
    broken_at, swap_at = n // 3, n // 2
    broken = ""
    swap: Swap | None = None
    report_every = max(1, n // 5)
    for i, window in enumerate(live):
        _drop(
            layout.spool, f"w{i:05d}-{window['user_id']}.json", json.dumps(_public(window)).encode()
        )
        if i == broken_at:
            broken = f"w{i:05d}-truncated.json"
            text = json.dumps(_public(window))
            _drop(layout.spool, broken, text[: len(text) // 2].encode())
            _say(f"      dropped a malformed file: {broken} (JSON cut off halfway)")
        if i == swap_at:
            swap = _swap_store(layout, split, bundle, proc, first_id, i)
        if (i + 1) % report_every == 0 or i + 1 == n:
            logged = len(_records(layout))
            _say(f"      streamed {i + 1}/{n} windows; {logged} in the label log so far")
        time.sleep(plan.pace_seconds)  # the stream's pace, not a wait for a condition
    if swap is None:
        raise DemoError("the live stream was too short to swap the store midway")
    return swap, broken


def _swap_store(
    layout: Layout,
    split: Split,
    bundle: ModelBundle,
    proc: subprocess.Popen[bytes],
    first_id: str,
    at: int,
) -> Swap:
    # store 2: the calibration days plus the live windows so far, as if the user had
    # confirmed their labels; written beside store 1, then the symlink is swapped atomically
    outcome = _fit_store(bundle, split.calibration + split.live[: at + 1], "recalibration")
    store = outcome.store
    target = write_store(store, layout.store, check=lambda p: load_store(p, bundle))
    swapped = time.monotonic()
    _say(
        f"      fitted store {store.store_id} on {len(split.calibration) + at + 1} windows "
        f"(per-user: {', '.join(store.user_ids) or 'none'}); "
        f"store -> {target.relative_to(layout.root)} (atomic symlink swap)"
    )

    def in_force() -> bool | None:
        doc = _status(layout) or {}
        return True if (doc.get("store") or {}).get("id") == store.store_id else None

    _wait_for(in_force, f"the daemon to load store {store.store_id}", proc, timeout=15)
    after = time.monotonic() - swapped
    _say(f"      the daemon swapped to store {store.store_id} after {after:.2f} s")
    return Swap(first_id, store.store_id, at, after)


def _records(layout: Layout) -> list[dict[str, Any]]:
    """Every complete record in the label log (the daemon may be mid-append on the last)."""
    out: list[dict[str, Any]] = []
    for path in sorted(layout.labels.glob("*.jsonl")):
        complete = path.read_text(encoding="utf-8").split("\n")[:-1]
        out.extend(json.loads(line) for line in complete if line.strip())
    return out


def _all_logged(layout: Layout, expected: int, broken: str) -> list[dict[str, Any]] | None:
    sidecar = layout.spool / "rejected" / f"{broken}.error.json"
    records = _records(layout)
    return records if len(records) >= expected and sidecar.exists() else None


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the daemon drains and exits 0); SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# --- the summary ---------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _summary(
    layout: Layout,
    split: Split,
    records: list[dict[str, Any]],
    swap: Swap,
    broken: str,
    keep: bool,
) -> str:
    n = len(records)
    per_user = Counter(r["user_id"] for r in records)
    labels = Counter(r["label"] for r in records)
    rejected = sum(1 for r in records if r["is_rejected"])
    truth = {(w["user_id"], w["bucket_start_ts"]): w["label"] for w in split.live}
    agree = sum(
        1 for r in records if truth.get((r["user_id"], r["bucket_start_ts"])) == r["core_label"]
    )
    keys = Counter((r["user_id"], r["bucket_start_ts"]) for r in records)
    sidecar = json.loads(
        (layout.spool / "rejected" / f"{broken}.error.json").read_text(encoding="utf-8")
    )
    status = _status(layout) or {}
    latency = status.get("latency_ms") or {}
    lines = [
        "summary",
        f"  windows labelled   {n} of {len(split.live)} streamed, "
        f"{'each exactly once' if max(keys.values(), default=1) == 1 else 'WITH DUPLICATES'}: "
        + ", ".join(f"{u} {c}" for u, c in sorted(per_user.items())),
        "  labels             "
        + ", ".join(f"{label} {c} ({_pct(c, n)})" for label, c in labels.most_common()),
        f"  reject rate        {_pct(rejected, n)} ({plural(rejected, 'window')} below the "
        "confidence "
        f"threshold {records[0]['reject_threshold'] if records else '-'} -> Mixed/Unknown)",
        f"  vs generated truth {_pct(agree, n)} of core labels match the (noisy) true labels",
        "  calibrators        " + _calibrators(records),
        *_swap_lines(records, swap),
        f"  quarantined        {broken} -> spool/rejected/: {sidecar.get('error')}: "
        f"{sidecar.get('detail')}",
        f"  latency            p50 {latency.get('p50', '-')} ms, p99 {latency.get('p99', '-')} ms "
        "(file renamed into new/ -> record fsynced; from the status file)",
        *(_kept_lines(layout) if keep else _removed_lines(layout)),
    ]
    return "\n".join(lines)


def _kept_lines(layout: Layout) -> list[str]:
    return [
        "  look at",
        f"    label log        {layout.labels}",
        f"    spool            {layout.spool} (done/, rejected/)",
        f"    store            {layout.store} -> {os.readlink(layout.store)}",
        f"    daemon log       {layout.log}",
        f"    config           {layout.config}",
    ]


def _removed_lines(layout: Layout) -> list[str]:
    # nothing above is left to look at: say how to keep it instead of naming removed paths
    return [
        f"  work directory     {layout.root}, a temporary directory removed when the demo ends;",
        "                     `taskclf-daemon demo --dir DIR` keeps the label log, spool, "
        "stores, daemon log and config in DIR",
    ]


def _calibrators(records: list[dict[str, Any]]) -> str:
    by_user: dict[str, Counter[str]] = {}
    for r in records:
        by_user.setdefault(r["user_id"], Counter())[r["calibrator"]] += 1
    return "; ".join(
        f"{u}: " + ", ".join(f"{kind} x{c}" for kind, c in sorted(kinds.items()))
        for u, kinds in sorted(by_user.items())
    )


def _swap_lines(records: list[dict[str, Any]], swap: Swap) -> list[str]:
    old = sum(1 for r in records if r["store_id"] == swap.old_id)
    new = [r for r in records if r["store_id"] == swap.new_id]
    first = (
        f"first record with it: {new[0]['source']} at {new[0]['processed_at']}"
        if new
        else "no record used it"
    )
    return [
        f"  store swap         {swap.old_id} -> {swap.new_id} after window {swap.at_window} "
        f"(in force {swap.in_force_after:.2f} s after the symlink swap)",
        f"                     {plural(old, 'record')} with the old id, {len(new)} with the new; "
        f"{first}",
    ]


def _report(layout: Layout, split: Split, keep: bool) -> str:
    """Where the live day went, as `taskclf-daemon report` shows it (times in UTC here), and
    the command that shows it again: on the kept directory's config; a temporary one is gone
    by then, so how to keep one."""
    day = split.live[0]["bucket_start_ts"][:10]
    argv = [sys.executable, "-m", "daemon", "report", "--config", str(layout.config)]
    done = subprocess.run(
        [*argv, "--date", day],
        capture_output=True,
        text=True,
        env=_child_env() | {"TZ": "UTC", "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"`taskclf-daemon report` exited {done.returncode}: {done.stderr.strip()}")
    body = "\n".join("  " + line for line in done.stdout.rstrip().splitlines())
    again = f"TZ=UTC taskclf-daemon report --date {day} --config "
    if keep:
        how = f"again: `{again}{shlex.quote(str(layout.config))}`"
    else:
        how = (
            "to look again, keep the run: `taskclf-daemon demo --dir DIR`, then "
            f"`{again}DIR/{layout.config.name}`"
        )
    return f"where the live day went, as `taskclf-daemon report` shows it ({how}):\n{body}"


def _log_tail(layout: Layout, lines: int = 20) -> str:
    try:
        text = layout.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "  (no daemon log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:]) or "  (empty)"


# --- the command ---------------------------------------------------------------------------


def _run(layout: Layout, plan: Plan, keep: bool) -> None:
    started = time.monotonic()
    users = ", ".join(u.user_id for u in DEFAULT_USERS)
    _step(1, f"generating labelled windows for {users} over {plan.days} days", started)
    split = _generate(plan)
    _write_jsonl(layout.inputs / "train.jsonl", split.train)
    _write_jsonl(layout.inputs / "calibrate.jsonl", split.calibration)
    _say(
        f"      {len(split.train)} to train ({plan.train_days} days), {len(split.calibration)} "
        f"to calibrate ({plan.calibration_days} days), {len(split.live)} to stream live (1 day)"
    )
    _step(2, "training a LightGBM bundle (taskclf layout)", started)
    bundle = _train(layout, split, plan)
    _step(3, "fitting calibrator store 1 (as `taskclf-daemon calibrate` does)", started)
    first = _first_store(layout, bundle, split).store
    _step(4, "starting the real daemon: python -m daemon run --config daemon.toml", started)
    _write_config(layout)
    proc = _start_daemon(layout)
    try:
        doc = _wait_for(lambda: _ready(layout, proc.pid), "the daemon to start", proc, 30)
        _say(f"      running, pid {proc.pid}, watcher {doc.get('watcher')}")
        _step(
            5,
            f"streaming {len(split.live)} windows, one file each: spool/tmp/ -> spool/new/",
            started,
        )
        swap, broken = _stream(layout, split, plan, bundle, proc, first.store_id)
        _wait_for(
            lambda: _all_logged(layout, len(split.live), broken),
            "every window in the label log",
            proc,
            30,
        )
        _step(6, "stopping the daemon (SIGTERM)", started)
        code = _stop(proc)
        if code != 0:
            raise DemoError(f"the daemon exited with code {code} on SIGTERM (expected 0)")
        _say("      stopped cleanly (exit 0)")
    finally:
        _stop(proc)
    _say(_summary(layout, split, _records(layout), swap, broken, keep))
    _say(_report(layout, split, keep))
    _say(f"done in {time.monotonic() - started:.1f} s")


def run_demo(directory: Path | None = None, *, quick: bool = False) -> int:
    """Run the demo in ``directory`` (kept) or a temp dir (removed on success); 0 or 1."""
    layout, keep = _prepare(directory)
    (layout.root / _MARKER).write_text("taskclf-daemon demo work directory\n", encoding="utf-8")
    _say(f"taskclf-daemon demo: working in {layout.root}")
    try:
        _run(layout, QUICK if quick else FULL, keep)
    except Exception as exc:  # any failure: say what and show the daemon's side
        _say(f"demo FAILED: {type(exc).__name__}: {exc}")
        _say(f"daemon log ({layout.log}), last lines:\n{_log_tail(layout)}")
        _say(f"the work directory is kept for inspection: {layout.root}")
        return FAILED
    if not keep:
        shutil.rmtree(layout.root, ignore_errors=True)
    return OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=None, help="work here and keep it (default: a temp dir)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer windows (for tests)")


def run(args: argparse.Namespace) -> int:
    return run_demo(args.dir, quick=args.quick)
