"""Backlog after a suspend: 20,000 windows in files of 100 waiting in new/ at start."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

# pipeline steps for the grouped profile: (label, markers matched against "function (file)")
STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("model: NativeBooster.predict_many", ("NativeBooster.predict_many",)),
    ("JSON parse of the file (pydantic_core.from_json)", ("_loads (daemon",)),
    ("window validation: parse_window", ("parse_window", "_number (taskclf_core")),
    ("label-log JSON: LabelRecord.to_json_line", ("to_json_line", "LabelRecord.to_dict")),
    ("label-log write + fsync", ("LabelLog.append", "_fsync_dir")),
    ("per-window structlog line", ("(structlog/",)),
    ("calibration: calibrate_rows", ("calibrate_rows", "Calibrator.calibrate")),
    ("smoothing: SmoothingState.step", ("SmoothingState.step",)),
    ("datetime -> string: format_ts", ("format_ts",)),
    ("decide + LabelRecord (rest of _decide)", ("_decide",)),
    (
        "dedupe: _ensure_day, LabelLog.contains",
        ("_ensure_day", "LabelLog.contains", "load (daemon"),
    ),
    ("spool: claim, read, finish", ("Spool.", "Daemon._read")),
    ("status file", ("_write_status",)),
]


def _samples(raw: Path) -> int:
    """Main-thread samples under Daemon._drain in a py-spy raw file."""
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        first = stack.split(";", 1)[0]
        if count.isdigit() and c.thread_matches(first, "MainThread") and "_drain" in stack:
            total += int(count)
    return total


def _write_backlog(new_dir: Path, windows: list[dict[str, Any]], per_file: int, fmt: str) -> int:
    files = 0
    for i in range(0, len(windows), per_file):
        chunk = windows[i : i + per_file]
        name = f"b{files:05d}.{fmt}"
        path = new_dir.parent / "tmp" / name
        if fmt == "jsonl":
            c.write_jsonl(path, chunk)
        else:
            path.write_text(json.dumps(chunk, separators=(",", ":")))
        os.rename(path, new_dir / name)
        files += 1
    return files


def _drain_times(events: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(daemon_started ts, last window_labelled ts, labelled count) from the daemon's log."""
    started = next(c.log_ts(e) for e in events if e.get("event") == "daemon_started")
    labelled = [e for e in events if e.get("event") == "window_labelled"]
    return started, c.log_ts(labelled[-1]), len(labelled)


def _check(work: c.Workdir, n_windows: int, n_files: int) -> str:
    records = work.label_lines()
    keys = {(r["user_id"], r["bucket_start_ts"]) for r in records}
    done = len(os.listdir(work.spool / "done"))
    rejected = len(os.listdir(work.spool / "rejected"))
    ok = len(records) == len(keys) == n_windows and done == n_files and rejected == 0
    return (
        f"{'ok' if ok else 'MISMATCH'}: {len(records)} records, {len(keys)} unique, "
        f"{done}/{n_files} files done, {rejected} rejected"
    )


def _scenario(
    label: str,
    bundle: Path,
    store: Path | None,
    windows: list[dict[str, Any]],
    args: argparse.Namespace,
    *,
    once: bool,
    profiled: bool = False,
) -> tuple[list[object], str]:
    work = c.Workdir("backlog-")
    n_files = _write_backlog(work.spool / "new", windows, args.per_file, args.format)
    config = work.config(bundle, store, log_level=args.log_level)
    wrapper: list[str] = []
    profile = None
    if profiled:
        profile = args.profile
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        wrapper = [spy, "record", "--rate", "250", "--format", "raw", "--threads"]
        wrapper += ["--output", str(profile), "--"]
    daemon = c.DaemonProcess(work, config, once=once, wrapper=wrapper)
    try:
        ready = daemon.wait_ready(60)
        cpu0 = 0 if wrapper else c.proc_cpu_ns(daemon.pid)
        t_ready = daemon.t_ready or 0
        if once:
            daemon.wait(600)
            t_end = time.perf_counter_ns()
            cpu = float("nan")
        else:
            done = work.spool / "done"
            c.wait_until(lambda: len(os.listdir(done)) >= n_files, 600, interval=0.01)
            t_end = time.perf_counter_ns()
            cpu = (c.proc_cpu_ns(daemon.pid) - cpu0) / 1e9
    finally:
        rc = daemon.stop()
    started, last, labelled = _drain_times(daemon.log_events())
    drain = last - started
    status = _check(work, len(windows), n_files)
    if not args.keep:
        work.cleanup()
    else:
        print(f"kept {work.root}")
    row: list[object] = [
        label,
        ready,
        drain,
        labelled / drain,
        (t_end - t_ready) / 1e9,
        cpu,
        rc,
    ]
    return row, status + (f"; py-spy profile in {profile}" if profile else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--windows", type=int, default=20_000)
    ap.add_argument("--per-file", type=int, default=100)
    ap.add_argument("--format", choices=("jsonl", "json"), default="jsonl")
    ap.add_argument("--store", choices=("temperature", "isotonic", "none"), default="temperature")
    ap.add_argument("--log-level", default="info", help="daemon log level (info: a line/window)")
    ap.add_argument("--profile", type=Path, help="py-spy raw profile of the --once run")
    ap.add_argument("--skip-run", action="store_true", help="only the --once scenario")
    ap.add_argument("--quick", action="store_true", help="5,000 windows")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    n = 5_000 if args.quick else args.windows

    c.print_header("backlog: windows waiting in new/ at start -> drained into the label log")
    bundle = c.bundle_path()
    print(c.bundle_summary(bundle))
    store = None if args.store == "none" else c.store_path(args.store, bundle)
    windows = c.stream_windows(n)
    print(
        f"backlog     {n:,} windows in {-(-n // args.per_file)} .{args.format} files of "
        f"{args.per_file}; store {args.store}; daemon log level {args.log_level}; "
        "batch_max_windows 256 (default), predict_threads 0 (default)"
    )

    # the limit: the model alone on the same rows
    from taskclf_core.bundle import load_bundle
    from taskclf_core.schema import parse_window

    model = load_bundle(bundle)
    rows = np.stack([parse_window(w, model.schema).features for w in windows])
    limits: list[list[object]] = []
    for label, threads, batch in (
        ("predict_many, all rows in one call, default threads", 0, len(rows)),
        ("predict_many, all rows in one call, 1 thread", 1, len(rows)),
        ("predict_many, batches of 300 rows, default threads", 0, 300),
    ):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                model.booster.predict_many(rows[i : i + batch], num_threads=threads)
            best = min(best, time.perf_counter() - t0)
        limits.append([label, len(rows), best, len(rows) / best])
    model_rate = float(limits[0][3])  # type: ignore[arg-type]

    runs = []
    notes = []
    row, note = _scenario("run --once", bundle, store, windows, args, once=True)
    runs.append(row)
    notes.append(note)
    if not args.skip_run:
        row, note = _scenario("run (long-running)", bundle, store, windows, args, once=False)
        runs.append(row)
        notes.append(note)
    profiled_row = None
    if args.profile is not None:
        profiled_row, note = _scenario(
            "run --once under py-spy (not in the ratios)",
            bundle,
            store,
            windows,
            args,
            once=True,
            profiled=True,
        )
        notes.append(note)

    print()
    print("the limit: the model alone on the same rows (best of 3)")
    print(c.table(["model-only", "rows", "seconds", "rows/s"], limits))
    print()
    print(
        "the daemon: drain = first claim .. last record, from the daemon's log "
        "(daemon_started is logged right before READY and the first claim)"
    )
    print(
        c.table(
            [
                "daemon",
                "start to READY s",
                "drain s",
                "windows/s",
                "READY to done (bench clock) s",
                "daemon CPU s",
                "exit",
            ],
            runs + ([profiled_row] if profiled_row else []),
        )
    )
    print()
    rows_out = [
        [
            f"{r[0]}: windows/s / model-only rate (one call, default threads)",
            float(r[3]) / model_rate,  # type: ignore[arg-type]
        ]
        for r in runs
    ]
    rows_out.append(["target windows/s", ">= 5,000"])
    print(c.table(["ratio", "value"], rows_out))
    for note in notes:
        print(note)
    if args.profile is not None and profiled_row is not None:
        drain_s = float(profiled_row[2])  # type: ignore[arg-type]
        labelled = float(profiled_row[3]) * drain_s  # type: ignore[arg-type]
        samples = _samples(args.profile)
        print()
        print(
            f"where the drain's time goes (py-spy, main thread, under Daemon._drain; "
            f"{drain_s:.2f} s for {labelled:,.0f} windows while profiled), {args.profile}:"
        )
        print(
            c.grouped_profile(
                args.profile,
                STEPS,
                under="_drain",
                us_per_sample=drain_s * 1e6 / labelled / max(1, samples),
                also=(
                    "µs per window (scaled to the unprofiled --once drain)",
                    float(runs[0][2]) * 1e6 / labelled / max(1, samples),  # type: ignore[arg-type]
                ),
            )
        )
        print()
        print("the same samples by function:")
        print(c.profile_table(args.profile, under="_drain", top=25))
    print(f"load avg at end {c.load_string()}")
    return 0 if all("ok" in n.split(":")[0] for n in notes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
