"""Store hot swap under a 100 windows/s stream: time to the first record with the new store id."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0, help="stream length (default 10)")
    ap.add_argument("--rate", type=float, default=100.0, help="windows per second")
    ap.add_argument("--quick", action="store_true", help="4 s stream")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    seconds = 4.0 if args.quick else args.seconds
    n = int(seconds * args.rate)

    c.print_header("hot swap: symlink rename of the calibrator store while windows stream in")
    bundle = c.bundle_path()
    print(c.bundle_summary(bundle))
    from taskclf_core.calibration import load_calibrator_store

    store_a = c.store_path("temperature", bundle, variant=0)
    store_b = c.store_path("temperature", bundle, variant=1)
    id_a = load_calibrator_store(store_a).store_id
    id_b = load_calibrator_store(store_b).store_id
    assert id_a != id_b
    windows = c.stream_windows(n)
    work = c.Workdir("hotswap-")
    stores = work.root / "stores"
    stores.mkdir()
    link = stores / "current"
    os.symlink(store_a, link)
    config = work.config(bundle, link)
    daemon = c.DaemonProcess(work, config)
    sent_wall: dict[str, float] = {}
    swap_index = n // 2
    try:
        ready = daemon.wait_ready()
        print(
            f"daemon      pid {daemon.pid}, READY after {ready:.2f} s; store A {id_a} -> "
            f"B {id_b} at window {swap_index} of {n} ({args.rate:g}/s, one window per file)"
        )
        time.sleep(0.5)
        period = 1.0 / args.rate
        start = time.monotonic() + 0.05
        t_swap_wall = 0.0
        for i, window in enumerate(windows):
            delay = start + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if i == swap_index:
                tmp = stores / "current.tmp"
                os.symlink(store_b, tmp)
                t_swap_wall = time.time()
                os.replace(tmp, link)
            name = f"s{i:06d}.jsonl"
            sent_wall[name] = time.time()
            c.drop(work.spool, name, [window])
        late = time.monotonic() - (start + (n - 1) * period)
        done = work.spool / "done"
        drained = c.wait_until(lambda: len(os.listdir(done)) >= n, 30, interval=0.02)
    finally:
        rc = daemon.stop()
    events = daemon.log_events()
    records = work.label_lines()
    # store_swapped/store_refused: the names before the one reload record (e083778)
    swapped = [e for e in events if e.get("event") in ("reload_swapped", "store_swapped")]
    refused = [e for e in events if e.get("event") in ("reload_refused", "store_refused")]

    sources = [r["source"] for r in records]
    keys = [(r["user_id"], r["bucket_start_ts"]) for r in records]
    ids = [r["store_id"] for r in records]
    first_b = next((i for i, s in enumerate(ids) if s == id_b), None)
    monotonic = (
        first_b is not None
        and all(s == id_a for s in ids[:first_b])
        and all(s == id_b for s in ids[first_b:])
    )
    lost = sorted(set(sent_wall) - set(sources))
    doubled = len(sources) - len(set(sources))
    double_keys = len(keys) - len(set(keys))
    rows: list[list[object]] = []
    if swapped:
        rows.append(
            ["swap -> store_swapped logged (reload done)", log_delay(swapped[0], t_swap_wall)]
        )
    if first_b is not None:
        rec = records[first_b]
        rows.append(
            [
                "swap -> first record with the new store id (its processed_at)",
                (_epoch(rec["processed_at"]) - t_swap_wall) * 1e3,
            ]
        )
        sent_after = [
            r for r in records if sent_wall[r["source"]] > t_swap_wall and r["store_id"] == id_a
        ]
        rows.append(
            ["windows sent after the swap but labelled with the old store", len(sent_after)]
        )
        if sent_after:
            rows.append(
                [
                    "  the last of them was sent this long after the swap, ms",
                    (max(sent_wall[r["source"]] for r in sent_after) - t_swap_wall) * 1e3,
                ]
            )
    lat = [(_epoch(r["processed_at"]) - sent_wall[r["source"]]) * 1e3 for r in records]
    p50, p99 = c.percentiles(lat)
    print()
    print(
        c.table(
            ["hot swap", "value"],
            [
                *rows,
                ["target: swap visible within, ms", "<= 1,000"],
                ["reload settings", "reload_debounce_seconds 0.25 (default), inotify watcher"],
            ],
        )
    )
    print()
    print(
        c.table(
            ["integrity", "value"],
            [
                [
                    "windows sent / records / done files",
                    f"{n} / {len(records)} / {len(os.listdir(work.spool / 'done'))}",
                ],
                ["lost windows", len(lost)],
                ["double-labelled (same file or same window key)", f"{doubled} / {double_keys}"],
                ["store ids in log order: A...A then B...B only", "yes" if monotonic else "NO"],
                ["records with A / with B", f"{ids.count(id_a)} / {ids.count(id_b)}"],
                ["store_swapped / store_refused events", f"{len(swapped)} / {len(refused)}"],
                ["send -> processed_at during the stream, p50 / p99 ms", f"{p50:.1f} / {p99:.1f}"],
                ["bench fell behind schedule by, ms", late * 1e3],
                ["drained / daemon exit code", f"{drained} / {rc}"],
            ],
        )
    )
    print(f"load avg at end {c.load_string()}")
    if not args.keep:
        work.cleanup()
    ok = not lost and not doubled and not double_keys and monotonic and drained and rc == 0
    return 0 if ok else 1


def log_delay(event: dict[str, object], t_wall: float) -> float:
    return (c.log_ts(event) - t_wall) * 1e3


if __name__ == "__main__":
    raise SystemExit(main())
