"""Idle cost (CPU, RSS, wake-ups with an empty spool) and start-up time to READY=1."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def _idle(args: argparse.Namespace, bundle: Path, store: Path | None) -> None:
    work = c.Workdir("idle-")
    config = work.config(bundle, store)
    daemon = c.DaemonProcess(work, config)
    try:
        ready = daemon.wait_ready()
        time.sleep(args.settle)
        pid = daemon.pid
        threads0 = c.proc_threads(pid)
        cpu0, ticks0, t0 = c.proc_cpu_ns(pid), c.proc_stat_ticks(pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, ticks1, t1 = c.proc_cpu_ns(pid), c.proc_stat_ticks(pid), time.monotonic()
        threads1 = c.proc_threads(pid)
        status = c.proc_status(pid)
        names = c.thread_names(pid)
        strace_summary = _strace(pid, args.strace) if args.strace else None
    finally:
        rc = daemon.stop()
    wall = t1 - t0
    hz = os.sysconf("SC_CLK_TCK")
    print()
    print(f"idle {wall:.0f} s with an empty spool (store {args.store}; READY after {ready:.2f} s)")
    print(
        c.table(
            ["measure", "value", "target"],
            [
                [
                    "CPU % of one core (schedstat, all threads)",
                    100 * (cpu1 - cpu0) / 1e9 / wall,
                    "<= 0.1",
                ],
                [
                    f"CPU % of one core (/proc stat utime+stime, {hz} Hz ticks)",
                    100 * (ticks1 - ticks0) / hz / wall,
                    "<= 0.1",
                ],
                ["CPU ms over the whole idle period", (cpu1 - cpu0) / 1e6, ""],
                ["RSS MB (VmRSS)", int(status["VmRSS"].split()[0]) / 1024, "<= 150"],
                ["peak RSS MB (VmHWM)", int(status["VmHWM"].split()[0]) / 1024, ""],
                ["threads", int(status["Threads"]), ""],
                ["daemon exit code after SIGTERM", rc, "0"],
            ],
        )
    )
    rows = []
    for key, after in sorted(threads1.items()):
        before = threads0.get(key)
        if before is None:
            continue
        woke = after["voluntary"] - before["voluntary"]
        tid = key.split(":")[0]
        rows.append(
            [
                f"{tid} {names.get(tid, 'native (OpenMP/BLAS pool)')}",
                woke,
                woke / wall,
                after["involuntary"] - before["involuntary"],
                (after["cpu_ns"] - before["cpu_ns"]) / 1e6,
            ]
        )
    print()
    print(
        "wake-ups per thread (voluntary context switches = times a thread slept and was woken; "
        "rescan_interval_seconds = heartbeat_seconds = 5 by default)"
    )
    print(
        c.table(
            [
                "thread (tid, Python name, waits in)",
                "wake-ups",
                "per second",
                "involuntary",
                "CPU ms",
            ],
            rows,
        )
    )
    if strace_summary:
        print()
        print(f"strace -c -f over {args.strace:g} s (a separate window after the one above):")
        print(strace_summary)
    if not args.keep:
        work.cleanup()


def _strace(pid: int, seconds: float) -> str:
    out = Path(f"/tmp/taskclf-bench-strace-{pid}.txt")
    try:
        proc = subprocess.Popen(
            ["strace", "-c", "-f", "-p", str(pid), "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        return f"(strace unavailable: {exc})"
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    try:
        text = out.read_text()
    except OSError:
        return "(strace wrote nothing: ptrace not permitted?)"
    finally:
        out.unlink(missing_ok=True)
    return "\n".join(text.splitlines()[:16])


def _startups(args: argparse.Namespace, bundle: Path, store: Path | None) -> None:
    work = c.Workdir("startup-")
    config = work.config(bundle, store)
    times, stops = [], []
    for i in range(args.starts):
        daemon = c.DaemonProcess(work, config, log_name=f"start{i}.log")
        try:
            times.append(daemon.wait_ready())
        finally:
            t0 = time.perf_counter()
            daemon.stop()
            stops.append(time.perf_counter() - t0)
    # the interpreter alone, and the imports, for what dominates
    base = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
    imports = _importtime(work, config)
    from taskclf_core.bundle import load_bundle

    t0 = time.perf_counter()
    load_bundle(bundle)
    bundle_s = time.perf_counter() - t0

    p50 = c.percentiles(times, (50,))[0]
    print()
    print(f"start-up: spawn -> READY=1 datagram on NOTIFY_SOCKET, {len(times)} starts")
    print(
        c.table(
            ["measure", "s"],
            [
                ["each start", ", ".join(f"{t:.2f}" for t in times)],
                ["median", p50],
                ["max", max(times)],
                ["target", "<= 2"],
                ["SIGTERM -> exit, median", c.percentiles(stops, (50,))[0]],
                ["python -c pass (interpreter alone), median", c.percentiles(base, (50,))[0]],
                ["imports (-X importtime, sum of self times)", imports[0]],
                ["load_bundle (model.txt parse, in this process)", bundle_s],
            ],
        )
    )
    print()
    print("what the imports are (python -X importtime -m daemon run --once; self time by package)")
    print(c.table(["package", "ms", "% of imports"], imports[1]))
    if not args.keep:
        work.cleanup()


def _importtime(work: c.Workdir, config: Path) -> tuple[float, list[list[object]]]:
    """Total import time and the packages that dominate it (sum of self times per package)."""
    daemon = c.DaemonProcess(
        work, config, once=True, python_flags=["-X", "importtime"], log_name="importtime.log"
    )
    try:
        daemon.wait(60)
    finally:
        daemon.stop()
    by_package: dict[str, float] = {}
    for line in daemon.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        if not parts[0].strip().isdigit():
            continue  # the header line
        package = parts[2].strip().split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(parts[0]) / 1e3
    total = sum(by_package.values())
    top = sorted(by_package.items(), key=lambda kv: -kv[1])[:12]
    return total / 1e3, [[name, ms, 100 * ms / total] for name, ms in top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0, help="idle measurement (default 60)")
    ap.add_argument("--settle", type=float, default=3.0, help="wait after READY before measuring")
    ap.add_argument("--starts", type=int, default=7, help="start-ups to time (>= 5)")
    ap.add_argument("--store", choices=("temperature", "isotonic", "none"), default="temperature")
    ap.add_argument("--strace", type=float, default=0.0, help="also strace -c -f for N seconds")
    ap.add_argument("--quick", action="store_true", help="15 s idle, 5 starts")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.starts = min(args.seconds, 15.0), 5
    c.print_header("idle cost and start-up")
    bundle = c.bundle_path()
    print(c.bundle_summary(bundle))
    store = None if args.store == "none" else c.store_path(args.store, bundle)
    _idle(args, bundle, store)
    _startups(args, bundle, store)
    print(f"load avg at end {c.load_string()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
