"""Sporadic arrival: rename one window tmp/ -> new/ and time until its record is in the log."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


class Waiter:
    """Wait for a condition on files: sleep on inotify (default) or poll with a short sleep."""

    def __init__(self, mode: str, poll_s: float, dirs: list[Path]) -> None:
        self.poll_s = poll_s
        self.ino = c.Inotify() if mode == "inotify" else None
        if self.ino is not None:
            for d in dirs:
                self.ino.watch(d)

    def until(self, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            if self.ino is not None:
                # a short cap: an event between check() and wait() is never waited out
                self.ino.wait(min(left, 0.05))
            else:
                time.sleep(self.poll_s)

    def close(self) -> None:
        if self.ino is not None:
            self.ino.close()


class LogTail:
    """Where each day file of the label log has been read up to."""

    def __init__(self) -> None:
        self.offsets: dict[Path, int] = {}

    def has(self, path: Path, needle: bytes) -> bool:
        offset = self.offsets.get(path, 0)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return False
        if size <= offset:
            return False
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
        if data.endswith(b"\n") and needle in data:
            self.offsets[path] = offset + len(data)
            return True
        return False


def _fsync_probe(directory: Path, n: int) -> list[float]:
    """ms per append + fsync of one record-sized line on the label log's filesystem."""
    path = directory / "fsync-probe.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            os.write(fd, b"x" * 640 + b"\n")
            os.fsync(fd)
            out.append((time.perf_counter_ns() - t0) / 1e6)
            time.sleep(0.005)
    finally:
        os.close(fd)
        path.unlink()
    return out


class Phase:
    """Send windows one at a time, ``gap_ms`` apart; time rename -> readable and -> done/."""

    def __init__(self, work: c.Workdir, waiter: Waiter, tail: LogTail) -> None:
        self.work, self.waiter, self.tail = work, waiter, tail
        self.sent = 0

    def run(self, windows: list[dict[str, Any]], gap_ms: float) -> tuple[list[float], list[float]]:
        readable, acked = [], []
        gap_ns = int(gap_ms * 1e6)
        for window in windows:
            name = f"w{self.sent:06d}.jsonl"
            self.sent += 1
            log = self.work.labels / f"{window['bucket_start_ts'][:10]}.jsonl"
            needle = f'"bucket_start_ts":"{window["bucket_start_ts"]}"'.encode()
            t0 = c.drop(self.work.spool, name, [window])
            self.waiter.until(lambda log=log, needle=needle: self.tail.has(log, needle), 10.0)
            t1 = time.perf_counter_ns()
            done = self.work.spool / "done" / name
            self.waiter.until(done.exists, 10.0)
            t2 = time.perf_counter_ns()
            readable.append((t1 - t0) / 1e6)
            acked.append((t2 - t0) / 1e6)
            rest = t0 + gap_ns - time.perf_counter_ns()
            if rest > 0:
                time.sleep(rest / 1e9)
        return readable, acked


def _stats(label: str, vals: list[float]) -> list[object]:
    p50, p90, p99 = c.percentiles(vals, (50, 90, 99))
    return [label, len(vals), p50, p90, p99, max(vals), min(vals)]


def _breakdown(
    bundle: Path, store: Path | None, windows: list[dict[str, Any]]
) -> list[list[object]]:
    """The daemon's per-file steps, run in this process on its own modules, each timed (µs).

    No watcher and no other threads: this is the loop body for one single-window file.
    """

    from daemon.logs import configure_logging

    try:
        from daemon.config.settings import Settings
    except ImportError:  # a checkout from before daemon/config/
        from daemon.settings import Settings  # type: ignore[no-redef]
    try:
        from daemon.runtime.intake import parse_spool_file
        from daemon.runtime.labellog import LabelLog
        from daemon.runtime.spool import Spool
        from daemon.runtime.status import utc_now
        from daemon.runtime.worker import log_window_labelled
    except ImportError:  # a checkout from before daemon/runtime/ (e083778): same functions
        from daemon.intake import parse_spool_file  # type: ignore[no-redef]
        from daemon.labellog import LabelLog  # type: ignore[no-redef]
        from daemon.loop import log_window_labelled  # type: ignore[no-redef]
        from daemon.spool import Spool  # type: ignore[no-redef]
        from daemon.status import utc_now  # type: ignore[no-redef]
    from taskclf_core.bundle import load_bundle
    from taskclf_core.calibration import load_calibrator_store
    from taskclf_core.pipeline import Policy, Snapshot, label_window

    work = c.Workdir("breakdown-")
    spool = Spool(work.spool)
    spool.ensure()
    labels = LabelLog(work.labels)
    labels.open()
    sink = open(work.root / "log.jsonl", "w")  # noqa: SIM115 - closed below
    configure_logging("info", stream=sink)
    model = load_bundle(bundle)
    snapshot = Snapshot(
        bundle=model,
        store=load_calibrator_store(store) if store is not None else None,
        policy=Policy(),
    )
    state = snapshot.policy.empty_state()
    max_bytes = int(Settings.model_fields["max_file_bytes"].default)
    names = [
        "scan new/ (Spool.pending)",
        "claim (Spool.claim: lstat + link + unlink)",
        "read the file (read(max_file_bytes + 1))",
        "parse_spool_file (JSON + parse_window)",
        "dedupe lookup (window.key, LabelLog.contains)",
        "label_window (predict_one + calibrate + record)",
        "LabelLog.append (JSON line + write + fsync)",
        "window_labelled log line (structlog JSON)",
        "Spool.finish (rename cur/ -> done/)",
    ]
    times: list[list[float]] = [[] for _ in names]
    clock = time.perf_counter_ns
    for i, window in enumerate(windows):
        name = f"w{i:06d}.jsonl"
        c.drop(work.spool, name, [window])
        t = [clock()]
        spool.pending()
        t.append(clock())
        claimed = spool.claim(name)
        assert claimed is not None
        t.append(clock())
        with open(claimed.path, "rb") as fh:  # as Daemon._read does
            data = fh.read(max_bytes + 1)
        t.append(clock())
        parsed = parse_spool_file(name, data, model.schema)
        assert hasattr(parsed, "windows")
        t.append(clock())
        fw = parsed.windows[0]
        labels.contains(fw.key)
        t.append(clock())
        state, record = label_window(snapshot, state, fw, source=name, processed_at=utc_now())
        t.append(clock())
        labels.append([record])
        t.append(clock())
        log_window_labelled(record)
        t.append(clock())
        spool.finish(claimed)
        t.append(clock())
        for k in range(len(names)):
            times[k].append((t[k + 1] - t[k]) / 1e3)
        time.sleep(0.02)
    labels.close()
    sink.close()
    work.cleanup()
    rows: list[list[object]] = []
    for label, vals in zip(names, times, strict=True):
        p50, p99 = c.percentiles(vals)
        rows.append([label, float(sum(vals) / len(vals)), p50, p99])
    totals = [sum(col) for col in zip(*times, strict=True)]
    p50, p99 = c.percentiles(totals)
    rows.append(["total loop body", float(sum(totals) / len(totals)), p50, p99])
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--windows", type=int, default=500)
    ap.add_argument("--gap-ms", type=float, default=20.0, help="arrival spacing (default 20)")
    ap.add_argument("--warmup", type=int, default=10, help="windows sent first, reported apart")
    ap.add_argument(
        "--slow-windows",
        type=int,
        default=40,
        help="then this many windows 600 ms apart (past watchdog's 0.5 s hold), same daemon",
    )
    ap.add_argument("--breakdown", type=int, default=200, help="in-process per-step timing")
    ap.add_argument("--store", choices=("temperature", "isotonic", "none"), default="temperature")
    ap.add_argument(
        "--wait",
        choices=("inotify", "poll"),
        default="inotify",
        help="how the bench waits for the record: inotify on labels/ and done/ (default) or "
        "stat() polling every --poll-us",
    )
    ap.add_argument("--poll-us", type=float, default=50.0, help="polling sleep (µs)")
    ap.add_argument("--profile", type=Path, help="py-spy raw profile of the daemon to this file")
    ap.add_argument("--quick", action="store_true", help="150 + 10 windows, 60 in the breakdown")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    n, n_slow, n_break = (
        (150, 10, 60) if args.quick else (args.windows, args.slow_windows, args.breakdown)
    )

    c.print_header("latency: rename into new/ -> record readable in the label log")
    bundle = c.bundle_path()
    print(c.bundle_summary(bundle))
    store = None if args.store == "none" else c.store_path(args.store, bundle)
    windows = c.stream_windows(args.warmup + n + n_slow)
    work = c.Workdir("latency-")
    fsync = _fsync_probe(work.root, 200)
    config = work.config(bundle, store)
    daemon = c.DaemonProcess(work, config)
    tail = LogTail()
    waiter: Waiter | None = None
    spy = None
    try:
        ready = daemon.wait_ready()
        waiter = Waiter(args.wait, args.poll_us / 1e6, [work.labels, work.spool / "done"])
        print(f"daemon      pid {daemon.pid}, READY after {ready:.2f} s, store {args.store}")
        phase = Phase(work, waiter, tail)
        warm, _ = phase.run(windows[: args.warmup], args.gap_ms)
        time.sleep(0.6)  # let the warm-up's status write pass
        if args.profile is not None:
            spy = c.PySpy(daemon.pid, args.profile)
        cpu0 = c.proc_cpu_ns(daemon.pid)
        threads0 = c.proc_threads(daemon.pid)
        fast_r, fast_a = phase.run(windows[args.warmup : args.warmup + n], args.gap_ms)
        cpu_fast = (c.proc_cpu_ns(daemon.pid) - cpu0) / 1e6 / n
        threads1 = c.proc_threads(daemon.pid)
        names = c.thread_names(daemon.pid)
        time.sleep(0.6)
        cpu0 = c.proc_cpu_ns(daemon.pid)
        slow_r, slow_a = phase.run(windows[args.warmup + n :], 600.0)
        cpu_slow = (c.proc_cpu_ns(daemon.pid) - cpu0) / 1e6 / max(1, n_slow)
        if spy is not None:
            spy.stop()
        time.sleep(0.7)  # one status write after the last window
        status = work.status() or {}
    finally:
        if waiter is not None:
            waiter.close()
        rc = daemon.stop()
    events = daemon.log_events()
    records = work.label_lines()
    keys = {(r["user_id"], r["bucket_start_ts"]) for r in records}
    ok = len(records) == len(windows) == len(keys)
    if not args.keep:
        work.cleanup()
    else:
        print(f"kept {work.root}")
    breakdown = _breakdown(bundle, store, c.stream_windows(n_break)) if n_break else []

    daemon_lat = status.get("latency_ms") or {}
    nan = float("nan")
    rows = [
        _stats(f"{args.gap_ms:g} ms apart: record readable in the log", fast_r),
        _stats(f"{args.gap_ms:g} ms apart: file in done/ (after fsync)", fast_a),
        *(
            [
                _stats("600 ms apart: record readable in the log", slow_r),
                _stats("600 ms apart: file in done/ (after fsync)", slow_a),
            ]
            if slow_r
            else []
        ),
        [
            "daemon's own status latency_ms (all files)",
            len(windows),
            float(daemon_lat.get("p50") or nan),
            nan,
            float(daemon_lat.get("p99") or nan),
            nan,
            nan,
        ],
        _stats("disk alone: write + fsync of one line", fsync),
    ]
    how = "inotify" if args.wait == "inotify" else f"polling every {args.poll_us:g} µs"
    print()
    print(
        f"one window per file, one at a time; bench waits by {how}; "
        "ms from just before rename() into new/"
    )
    print(c.table(["measure", "n", "p50", "p90", "p99", "max", "min"], rows))
    print("target: p50 <= 3 ms, p99 <= 10 ms")
    print()
    print(
        c.table(
            ["other", "value"],
            [
                ["first windows after READY (warm-up), ms", ", ".join(f"{x:.1f}" for x in warm)],
                [f"daemon CPU per window, {args.gap_ms:g} ms apart (all threads), ms", cpu_fast],
                ["daemon CPU per window, 600 ms apart (all threads), ms", cpu_slow],
                ["records / unique keys / sent", f"{len(records)} / {len(keys)} / {len(windows)}"],
                [
                    "window_labelled log lines",
                    sum(e.get("event") == "window_labelled" for e in events),
                ],
                ["daemon exit code", rc],
                ["load avg at end", c.load_string()],
            ],
        )
    )
    per_thread = []
    for key, after in sorted(threads1.items()):
        before = threads0.get(key)
        if before is None or after["cpu_ns"] == before["cpu_ns"]:
            continue
        tid = key.split(":")[0]
        per_thread.append(
            [
                f"{tid} {names.get(tid, 'native')}",
                (after["cpu_ns"] - before["cpu_ns"]) / 1e6 / n,
                (after["voluntary"] - before["voluntary"]) / n,
            ]
        )
    print()
    print(f"daemon CPU by thread while {n} windows arrived {args.gap_ms:g} ms apart")
    print(c.table(["thread", "CPU ms per window", "wake-ups per window"], per_thread))
    if breakdown:
        print()
        print(
            f"where the loop body's time goes: the daemon's own functions run in-process on "
            f"{n_break} single-window files (no watcher threads), µs"
        )
        print(c.table(["step", "mean", "p50", "p99"], breakdown))
    if args.profile is not None:
        print()
        print(f"py-spy profile of the daemon over the measured windows ({args.profile}):")
        print(c.profile_table(args.profile))
    return 0 if ok and rc == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
