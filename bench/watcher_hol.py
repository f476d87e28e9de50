"""Why latency.py's p50 is ~0.5 s: watchdog holds events behind the daemon's own claim rename.

watchdog's inotify emitter keeps every IN_MOVED_FROM for 0.5 s (to pair it with an
IN_MOVED_TO) in a FIFO queue, and nothing behind it is delivered meanwhile. The daemon
claims a file by renaming it new/ -> cur/ (cur/ is not watched), an unpaired IN_MOVED_FROM
in new/: a window renamed into new/ within 0.5 s after a claim is seen only when that
claim's 0.5 s are up. This isolates the effect with watchdog alone, no daemon.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


class _Seen(FileSystemEventHandler):
    def __init__(self) -> None:
        self.at: dict[str, int] = {}
        self.cond = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "moved"):
            path = event.dest_path if event.event_type == "moved" else event.src_path
            with self.cond:
                self.at.setdefault(os.path.basename(os.fsdecode(path)), time.perf_counter_ns())
                self.cond.notify_all()


def _run(root: Path, seen: _Seen, *, claim: bool, n: int, gap_s: float, tag: str) -> list[float]:
    out = []
    for i in range(n):
        name = f"{tag}{i:04d}.jsonl"
        (root / "tmp" / name).write_text("{}\n")
        t0 = time.perf_counter_ns()
        os.rename(root / "tmp" / name, root / "new" / name)
        with seen.cond:
            seen.cond.wait_for(lambda name=name: name in seen.at, timeout=5)
        out.append((seen.at[name] - t0) / 1e6)
        if claim:  # what daemon/spool.py Spool.claim does
            os.rename(root / "new" / name, root / "cur" / name)
        time.sleep(gap_s)
    return out


def _case(root: Path, *, claim: bool, hold: float | None, n: int, gap_s: float) -> list[float]:
    grouper = InotifyMoveEventGrouper
    saved = grouper.delay
    if hold is not None:
        grouper.delay = hold  # read when an observer's watch is created
    seen = _Seen()
    observer = Observer()
    try:
        observer.schedule(seen, str(root / "new"), recursive=False)
        observer.start()
        time.sleep(0.3)
        tag = f"{'c' if claim else 'n'}{'h' if hold is None else 'z'}"
        return _run(root, seen, claim=claim, n=n, gap_s=gap_s, tag=tag)
    finally:
        observer.stop()
        observer.join()
        grouper.delay = saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--quick", action="store_true", help="15 files per case")
    args = ap.parse_args()
    n = 15 if args.quick else args.windows
    c.print_header("watchdog head-of-line delay: tmp/ -> new/ rename to handler call")
    root = Path(tempfile.mkdtemp(prefix="hol-", dir=c.CACHE))
    for d in ("tmp", "new", "cur"):
        (root / d).mkdir()
    rows = []
    try:
        for claim, hold, label in (
            (False, None, "files stay in new/ (no claim)"),
            (True, None, "each file then renamed new/ -> cur/ (a claim, as the daemon does)"),
            (True, 0.0, "claim, with InotifyMoveEventGrouper.delay = 0 (a possible fix)"),
        ):
            lat = _case(root, claim=claim, hold=hold, n=n, gap_s=args.gap_ms / 1e3)
            p50, p99 = c.percentiles(lat)
            rows.append([label, n, p50, p99, max(lat)])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nrenames {args.gap_ms:g} ms apart; ms from rename() to the watchdog handler call")
    print(c.table(["case", "n", "p50", "p99", "max"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
