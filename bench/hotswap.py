"""Hot swaps under a 100 windows/s stream: a calibrator store swap, and a model swap by policy.

Two scenarios, each with its own daemon, in one run:

- **store**: ``calibrator_store`` is a symlink; the bench flips it between stores A and B
  (``os.symlink`` + ``os.replace``) several times.
- **policy** (issue 12): the daemon runs with ``policy_file``; the bench runs
  ``taskclf-daemon deploy --model DIR --store DIR`` to alternate between two 100-round
  bundles (taskclf's default size), each with its own store. Bundle B is trained by the
  project's own ``train --rounds 100`` command on generated windows (seed 3).

Per swap: the write (the symlink's rename; the policy file's rename into ``models/``, seen by
inotify) → ``reload_swapped`` in the daemon's log, → ``processed_at`` of the first record
carrying the new id, and how many windows sent after the write were still labelled by the
old one. Integrity: every window labelled exactly once, ids in log order switching exactly
once per swap, to the right one.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

CLI_BUNDLE_SEED = 3


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def cli_bundle_path(rounds: int) -> Path:
    """A second bundle, trained by ``taskclf-daemon train --rounds`` (cached)."""
    path = c.CACHE / f"bundle_cli_r{rounds}_d{c.BUNDLE_DAYS}_s{CLI_BUNDLE_SEED}"
    if (path / "model.txt").exists():
        return path
    data = c.CACHE / f"windows_d{c.BUNDLE_DAYS}_s{CLI_BUNDLE_SEED}.jsonl"
    if not data.exists():
        c.write_jsonl(data, c.labelled_windows(c.BUNDLE_DAYS, CLI_BUNDLE_SEED))
    print(f"training a second bundle with `train --rounds {rounds}` into {path} ...")
    subprocess.run(
        [
            *(sys.executable, "-m", "daemon", "train", "--data", str(data), "--out", str(path)),
            *("--rounds", str(rounds), "--seed", str(CLI_BUNDLE_SEED)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


def has_policies() -> bool:
    """Whether the checkout under test knows ``policy_file`` (issue 12)."""
    try:
        from daemon.config.settings import Settings
    except ImportError:  # a checkout from before daemon/config/
        from daemon.settings import Settings  # type: ignore[no-redef]

    return "policy_file" in Settings.model_fields


class RenameClock:
    """Wall time of each rename of ``name`` into ``directory`` (IN_MOVED_TO), from a thread."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = os.fsencode(name)
        self.ino = c.Inotify()
        self.ino.watch(directory, c.IN_MOVED_TO)
        self.times: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="rename-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.ino.fd], [], [], 0.1)
            if not ready:
                continue
            t = time.time()
            try:
                data = os.read(self.ino.fd, 65536)
            except BlockingIOError:
                continue
            offset = 0
            while offset + 16 <= len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
                offset += 16 + length
                if name == self.name:
                    self.times.append(t)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.ino.close()


@dataclass
class Swap:
    index: int  # the window being sent when the swap started
    to: str  # the id the records should carry after it
    started: float  # wall time the bench started it (symlink rename; deploy spawn)
    written: float = float("nan")  # wall time the new file was in place
    proc: subprocess.Popen[bytes] | None = None  # deploy
    ended: float = float("nan")  # wall time the deploy process exited
    err: bytes = b""
    waiter: threading.Thread | None = None

    @property
    def deploy_s(self) -> float:
        return self.ended - self.started

    def wait_in_background(self) -> None:
        def wait() -> None:
            assert self.proc is not None
            _, self.err = self.proc.communicate()
            self.ended = time.time()

        self.waiter = threading.Thread(target=wait, name="deploy-waiter", daemon=True)
        self.waiter.start()


@dataclass
class Outcome:
    name: str
    swaps: list[Swap]
    per_swap: list[list[object]] = field(default_factory=list)
    logged_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    deploy_to_first_ms: list[float] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    integrity: list[list[object]] = field(default_factory=list)
    ok: bool = False


def stream(
    work: c.Workdir,
    windows: Sequence[dict[str, Any]],
    rate: float,
    at: dict[int, Callable[[], None]],
) -> tuple[dict[str, float], float]:
    """Send one window per file at ``rate``/s; ``at[i]()`` runs right before window ``i``.
    Returns the send wall time per file name and how far behind schedule the bench fell."""
    sent: dict[str, float] = {}
    period = 1.0 / rate
    start = time.monotonic() + 0.05
    for i, window in enumerate(windows):
        delay = start + i * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i in at:
            at[i]()
        name = f"s{i:06d}.jsonl"
        sent[name] = time.time()
        c.drop(work.spool, name, [window])
    return sent, time.monotonic() - (start + (len(windows) - 1) * period)


def analyse(
    outcome: Outcome,
    key: str,
    records: list[dict[str, Any]],
    events: list[dict[str, Any]],
    sent: dict[str, float],
    first_id: str,
    n_files: int,
    late_s: float,
    rc: int,
    drained: bool,
) -> None:
    """Per-swap timings and the integrity checks, from the label log and the daemon's log."""
    swapped = [e for e in events if e.get("event") in ("reload_swapped", "store_swapped")]
    refused = [e for e in events if e.get("event") in ("reload_refused", "store_refused")]
    # a read that the files changed under: no verdict, read again after a backoff
    unsettled = [e for e in events if e.get("event") == "reload_unsettled"]
    ids = [r[key] for r in records]
    switches = [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    expected = [first_id] + [s.to for s in outcome.swaps]
    runs = [ids[0]] + [ids[i] for i in switches] if ids else []
    in_order = runs == expected
    sources = [r["source"] for r in records]
    keys = [(r["user_id"], r["bucket_start_ts"]) for r in records]
    lost = len(set(sent) - set(sources))
    doubled = len(sources) - len(set(sources))
    double_keys = len(keys) - len(set(keys))
    for n, swap in enumerate(outcome.swaps):
        logged = next((c.log_ts(e) for e in swapped if c.log_ts(e) >= swap.written), None)
        first = switches[n] if in_order and n < len(switches) else None
        first_at = _epoch(records[first]["processed_at"]) if first is not None else float("nan")
        stale = sum(
            1
            for r in records
            if sent[r["source"]] > swap.written
            and r[key] != swap.to
            and (n + 1 >= len(outcome.swaps) or sent[r["source"]] < outcome.swaps[n + 1].written)
        )
        logged_ms = (logged - swap.written) * 1e3 if logged is not None else float("nan")
        first_ms = (first_at - swap.written) * 1e3
        outcome.logged_ms.append(logged_ms)
        outcome.first_ms.append(first_ms)
        outcome.stale.append(stale)
        if swap.proc is not None:
            outcome.deploy_to_first_ms.append((first_at - swap.started) * 1e3)
        outcome.per_swap.append(
            [
                outcome.name,
                n + 1,
                f"-> {swap.to[:20]}",
                logged_ms,
                first_ms,
                stale,
                swap.deploy_s * 1e3 if swap.proc is not None else "–",
            ]
        )
    counts = ", ".join(f"{i[:20]} {ids.count(i)}" for i in dict.fromkeys(ids))
    outcome.integrity = [
        ["windows sent / records / done files", f"{len(sent)} / {len(records)} / {n_files}"],
        ["lost windows", lost],
        ["double-labelled (same file or same window key)", f"{doubled} / {double_keys}"],
        [
            f"{key} in log order switches once per swap, to the right id",
            "yes" if in_order else f"NO: runs {runs}",
        ],
        ["records per id", counts],
        [
            "reload_swapped / reload_refused / reload_unsettled events",
            f"{len(swapped)} / {len(refused)} / {len(unsettled)}",
        ],
        [
            "send -> processed_at during the stream, p50 / p99 ms",
            "{:.1f} / {:.1f}".format(
                *c.percentiles(
                    [(_epoch(r["processed_at"]) - sent[r["source"]]) * 1e3 for r in records]
                )
            ),
        ],
        ["bench fell behind schedule by, ms", late_s * 1e3],
        ["drained / daemon exit code", f"{drained} / {rc}"],
    ]
    together = True
    if key != "store_id":  # the policy swaps model and store as one: never a mixed pair
        pairs = sorted({(r[key], r["store_id"]) for r in records})
        together = len(pairs) == len(set(ids))
        outcome.integrity.insert(
            4,
            [
                "model and store switch at the same record (pairs seen)",
                ("yes" if together else "NO") + f" ({len(pairs)} pairs)",
            ],
        )
    clean = not lost and not doubled and not double_keys
    outcome.ok = clean and in_order and together and drained and rc == 0


def _finish(
    outcome: Outcome,
    key: str,
    work: Any,
    daemon: Any,
    sent: dict[str, float],
    first_id: str,
    late_s: float,
    rc: int,
    drained: bool,
    *,
    keep: bool,
) -> Outcome:
    """What both scenarios end with: analyse the run, then drop its work dir unless kept."""
    analyse(
        outcome,
        key,
        work.label_lines(),
        daemon.log_events(),
        sent,
        first_id,
        len(os.listdir(work.spool / "done")),
        late_s,
        rc,
        drained,
    )
    if not keep:
        work.cleanup()
    return outcome


def store_scenario(
    bundle: Path, windows: list[dict[str, Any]], rate: float, swap_at: list[int], keep: bool
) -> Outcome:
    from taskclf_core.calibration import load_calibrator_store

    stores = [c.store_path("temperature", bundle, variant=v) for v in (0, 1)]
    ids = [load_calibrator_store(s).store_id for s in stores]
    assert ids[0] != ids[1]
    work = c.Workdir("hotswap-store-")
    links = work.root / "stores"
    links.mkdir()
    link = links / "current"
    os.symlink(stores[0], link)
    daemon = c.DaemonProcess(work, work.config(bundle, link))
    outcome = Outcome("store", [])

    def flip(n: int) -> Callable[[], None]:
        def go() -> None:
            target = (n + 1) % 2
            tmp = links / "current.tmp"
            os.symlink(stores[target], tmp)
            t = time.time()
            os.replace(tmp, link)
            outcome.swaps.append(Swap(swap_at[n], ids[target], t, written=t))

        return go

    try:
        ready = daemon.wait_ready()
        print(
            f"store       daemon pid {daemon.pid}, READY after {ready:.2f} s; stores "
            f"{ids[0]} <-> {ids[1]} (symlink), {len(swap_at)} swaps"
        )
        time.sleep(0.5)
        sent, late = stream(work, windows, rate, {i: flip(n) for n, i in enumerate(swap_at)})
        done = work.spool / "done"
        drained = c.wait_until(lambda: len(os.listdir(done)) >= len(windows), 30, interval=0.02)
    finally:
        rc = daemon.stop()
    return _finish(outcome, "store_id", work, daemon, sent, ids[0], late, rc, drained, keep=keep)


def policy_scenario(
    bundles: list[Path], windows: list[dict[str, Any]], rate: float, swap_at: list[int], keep: bool
) -> Outcome:
    stores = [c.store_path("temperature", b) for b in bundles]
    ids = [b.resolve().name for b in bundles]
    work = c.Workdir("hotswap-policy-")
    models = work.data / "models"
    models.mkdir(mode=0o700)
    policy = models / "inference_policy.json"
    config = work.root / "daemon.toml"
    config.write_text(
        f'data_dir = "{work.data}"\nspool_dir = "{work.spool}"\npolicy_file = "{policy}"\n'
    )
    env = c.isolated_env(work.home)

    def deploy_argv(k: int) -> list[str]:
        return [
            *(sys.executable, "-m", "daemon", "deploy", "--config", str(config)),
            *("--model", str(bundles[k]), "--store", str(stores[k])),
        ]

    subprocess.run(deploy_argv(0), env=env, check=True, stdout=subprocess.DEVNULL)
    clock = RenameClock(models, policy.name)
    daemon = c.DaemonProcess(work, config)
    outcome = Outcome("policy", [])

    def deploy(n: int) -> Callable[[], None]:
        def go() -> None:
            target = (n + 1) % 2
            t = time.time()
            proc = subprocess.Popen(
                deploy_argv(target),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
            swap = Swap(swap_at[n], ids[target], t, proc=proc)
            swap.wait_in_background()
            outcome.swaps.append(swap)

        return go

    try:
        ready = daemon.wait_ready()
        print(
            f"policy      daemon pid {daemon.pid}, READY after {ready:.2f} s; bundles "
            f"{ids[0]} <-> {ids[1]}, each with its store, by `deploy`, {len(swap_at)} swaps"
        )
        time.sleep(0.5)
        sent, late = stream(work, windows, rate, {i: deploy(n) for n, i in enumerate(swap_at)})
        done = work.spool / "done"
        drained = c.wait_until(lambda: len(os.listdir(done)) >= len(windows), 30, interval=0.02)
    finally:
        for swap in outcome.swaps:
            if swap.waiter is not None:
                swap.waiter.join(60)
            if swap.proc is not None and swap.proc.returncode != 0:
                print(f"deploy exit {swap.proc.returncode}: {swap.err.decode(errors='replace')}")
        rc = daemon.stop()
        clock.close()
    # each deploy's rename of the policy file, seen by inotify (deploys never overlap)
    writes = sorted(clock.times)
    for swap in outcome.swaps:
        swap.written = next((t for t in writes if t >= swap.started), float("nan"))
    return _finish(
        outcome, "model_bundle_id", work, daemon, sent, ids[0], late, rc, drained, keep=keep
    )


def _load_ms(bundle: Path) -> str:
    """``load_bundle`` in this process (median of 3): the model's part of a swap."""
    from taskclf_core.bundle import load_bundle

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        load_bundle(bundle)
        times.append((time.perf_counter() - t0) * 1e3)
    return f"load_bundle({bundle.name}) {statistics.median(times):.0f} ms"


def _spread(values: list[float]) -> str:
    real = [v for v in values if v == v]
    if not real:
        return "–"
    return f"{statistics.median(real):.0f} ({min(real):.0f}–{max(real):.0f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0, help="stream length per scenario")
    ap.add_argument("--rate", type=float, default=100.0, help="windows per second")
    ap.add_argument("--swaps", type=int, default=6, help="swaps per scenario (default 6)")
    ap.add_argument("--only", choices=("store", "policy"), default=None, help="one scenario only")
    ap.add_argument(
        "--second-rounds",
        type=int,
        default=c.BUNDLE_ROUNDS,
        help="rounds of the policy scenario's second bundle (default 100; 200 makes ~5.6 MB)",
    )
    ap.add_argument("--quick", action="store_true", help="8 s streams, 3 swaps each")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    seconds, swaps = (8.0, 3) if args.quick else (args.seconds, args.swaps)
    n = int(seconds * args.rate)
    # swaps evenly spread, the first after 1 s, the last >= 1.5 s before the end
    gap = (seconds - 2.5) / max(1, swaps - 1) if swaps > 1 else 0.0
    swap_at = [int((1.0 + k * gap) * args.rate) for k in range(swaps)]

    c.print_header("hot swap: calibrator store (symlink) and model (policy) under a stream")
    bundle = c.bundle_path()
    print(c.bundle_summary(bundle))
    windows = c.stream_windows(n)
    outcomes: list[Outcome] = []
    if args.only in (None, "store"):
        outcomes.append(store_scenario(bundle, windows, args.rate, swap_at, args.keep))
    if args.only in (None, "policy"):
        if has_policies():
            second = cli_bundle_path(args.second_rounds)
            print(c.bundle_summary(second))
            print(f"load        {_load_ms(bundle)} / {_load_ms(second)}")
            outcomes.append(
                policy_scenario([bundle, second], windows, args.rate, swap_at, args.keep)
            )
        else:
            print("policy      skipped: this checkout has no policy_file (before issue 12)")
    print(
        f"stream      {n} windows, one per file, {args.rate:g}/s for {seconds:g} s per scenario; "
        f"swaps at windows {', '.join(map(str, swap_at))}; reload_debounce_seconds 0.25 "
        "(default), inotify watcher"
    )

    by_name = {o.name: o for o in outcomes}
    names = list(by_name)
    rows: list[list[object]] = [
        [
            "write -> reload_swapped logged, ms",
            *(_spread(by_name[k].logged_ms) for k in names),
        ],
        [
            "write -> first record with the new id (its processed_at), ms",
            *(_spread(by_name[k].first_ms) for k in names),
        ],
        [
            "windows sent after the write, labelled by the old, per swap",
            *(_spread([float(x) for x in by_name[k].stale]) for k in names),
        ],
    ]
    if "policy" in by_name:
        pol = by_name["policy"]
        deploys = [s.deploy_s * 1e3 for s in pol.swaps]
        rows.append(
            [
                "`deploy` process: spawn -> exit, ms",
                *("–" if k != "policy" else _spread(deploys) for k in names),
            ]
        )
        rows.append(
            [
                "`deploy` spawn -> first record with the new model, ms",
                *("–" if k != "policy" else _spread(pol.deploy_to_first_ms) for k in names),
            ]
        )
    rows.append(["target: swap visible within, ms", *("<= 1,000" for _ in names)])
    print()
    print("median (min–max) over the swaps; 'write' = the rename that puts the new file in place")
    print(c.table(["hot swap", *(f"{k} swap" for k in names)], rows))
    print()
    print(
        c.table(
            [
                "scenario",
                "swap",
                "to",
                "write -> logged ms",
                "write -> first record ms",
                "stale windows",
                "deploy ms",
            ],
            [r for o in outcomes for r in o.per_swap],
        )
    )
    for o in outcomes:
        print()
        print(c.table([f"integrity: {o.name}", "value"], o.integrity))
    print(f"load avg at end {c.load_string()}")
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
