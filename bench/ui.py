"""The labelling page on a busy day, in Chromium: navigation timing, time to the timeline drawn,
the API answers' times; then the page server's idle CPU with no page open and with one open.

    .venv/bin/python bench/ui.py                 # ~3 min: 7 loads, 60 s idle twice
    .venv/bin/python bench/ui.py --quick         # ~40 s: 3 loads, 10 s idle twice

The busy day: one user's windows from 06:00 to midnight (1,080), a task switch every ~4
minutes, ~10 % rejected, 40 spans of their own. Run 1 builds the report's day cache (the
first look at a day); the others read it, as every later look does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from ui_kit import CHROME_FLAGS  # tests/ is on the path once _common is imported

ZONE = "Europe/Berlin"
DAY = date(2026, 3, 23)
LABELS = ("Build", "Debug", "Review", "Write", "ReadResearch", "Communicate", "Meet", "BreakIdle")


def busy_day(data_dir: Path, seed: int = 1) -> tuple[int, int]:
    """Write the busy day's label log and spans; (windows, spans)."""
    rng = random.Random(seed)
    tz = ZoneInfo(ZONE)
    t = datetime(DAY.year, DAY.month, DAY.day, 6, 0, tzinfo=tz).astimezone(UTC)
    end = datetime(DAY.year, DAY.month, DAY.day, 23, 59, tzinfo=tz).astimezone(UTC)
    records: list[dict[str, Any]] = []
    label = "Build"
    while t < end:
        if rng.random() < 0.25:
            label = rng.choice(LABELS)
        confidence = rng.uniform(0.3, 0.99)
        rejected = confidence < 0.55 and rng.random() < 0.5
        probs = dict.fromkeys(LABELS, round((1 - confidence) / 7, 6))
        probs[label] = round(confidence, 6)
        records.append(
            {
                "user_id": "u-busy",
                "bucket_start_ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "bucket_end_ts": (t + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "core_label": label,
                "core_probs": probs,
                "confidence": confidence,
                "is_rejected": rejected,
                "label": "Mixed/Unknown" if rejected else label,
                "smoothed_label": label,
                "mapped_label": label,
                "calibrator": "global",
                "reject_threshold": 0.55,
                "model_bundle_id": "bundle_busy",
                "model_schema_hash": "x",
                "store_id": None,
                "source": "bench.jsonl",
                "processed_at": "2026-03-23T23:59:59Z",
                "model_probs": probs,
            }
        )
        t += timedelta(minutes=1)
    labels = data_dir / "labels"
    labels.mkdir(parents=True)
    by_day: dict[str, list[str]] = {}
    for r in records:
        by_day.setdefault(r["bucket_start_ts"][:10], []).append(json.dumps(r))
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
    spans = []
    for i in range(40):
        start = datetime(DAY.year, DAY.month, DAY.day, 6, 0, tzinfo=tz) + timedelta(minutes=25 * i)
        spans.append(
            {
                "start_ts": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_ts": (start + timedelta(minutes=20))
                .astimezone(UTC)
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "label": LABELS[i % 8],
                "provenance": "manual",
                "user_id": "u-busy",
                "confidence": None,
            }
        )
    (data_dir / "label_spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    return len(records), len(spans)


def start_ui(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    out = work / "ui.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daemon",
                "ui",
                "--no-browser",
                "--config",
                str(work / "c.toml"),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", out.read_text())
        if found:
            return proc, found.group(0)
        if proc.poll() is not None:
            raise SystemExit(f"ui exited {proc.returncode}: {out.read_text()}")
        time.sleep(0.05)
    raise SystemExit("ui printed no URL in 30 s")


def cpu_seconds(pid: int) -> float:
    return c.proc_stat_ticks(pid) / os.sysconf("SC_CLK_TCK")


def load_page(driver: Any, url: str) -> dict[str, float]:
    driver.get("about:blank")
    driver.get(f"{url}#{DAY.isoformat()}")
    deadline = time.monotonic() + 30
    while not driver.execute_script("return document.documentElement.dataset.drawn"):
        if time.monotonic() > deadline:
            raise SystemExit("the timeline was not drawn in 30 s")
        time.sleep(0.01)
    got = driver.execute_script(
        """
        var n = performance.getEntriesByType('navigation')[0];
        var drawn = performance.getEntriesByName('timeline-drawn')[0];
        var begun = performance.getEntriesByName('timeline-draw-start')[0];
        var res = {};
        performance.getEntriesByType('resource').forEach(function (r) {
          var m = r.name.match(/\\/(api\\/day|api\\/asks|api\\/status|api\\/meta)/);
          if (m && !(m[1] in res)) res[m[1]] = r.duration;
        });
        return {response: n.responseEnd, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                drawn: drawn.startTime, day: res['api/day'], asks: res['api/asks'],
                draw: drawn.startTime - begun.startTime,
                segments: document.querySelectorAll('#tl rect.seg').length,
                errors: document.body.getAttribute('data-errors')};
        """
    )
    if got["errors"]:
        raise SystemExit(f"the page reported errors: {got['errors']}")
    return dict(got)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--idle", type=float, default=None, help="seconds per idle measurement")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    idle = args.idle or (10.0 if args.quick else 60.0)
    c.print_header("bench/ui.py: the labelling page on a busy day")

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="taskclf-bench-ui-") as tmp:
        work = Path(tmp)
        windows, spans = busy_day(work / "data")
        (work / "c.toml").write_text(f'data_dir = "{work / "data"}"\ncollect_user_id = "u-busy"\n')
        env = {**os.environ, "TZ": ZONE, "HOME": str(work)}
        proc, url = start_ui(work, env)
        print(f"busy day     {windows} windows, {spans} spans, {DAY} in {ZONE}")
        options = webdriver.ChromeOptions()
        for flag in (
            *CHROME_FLAGS,
            f"--user-data-dir={work / 'profile'}",
            "--window-size=1280,1000",
        ):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            loads = [load_page(driver, url) for _ in range(runs)]
            rows = [
                [
                    i + 1,
                    round(r["response"], 1),
                    round(r["dcl"], 1),
                    round(r["load"], 1),
                    round(r["drawn"], 1),
                    round(r["draw"], 1),
                    round(r["day"], 1),
                    round(r["asks"], 1),
                    r["segments"],
                ]
                for i, r in enumerate(loads)
            ]
            print()
            print("per load, ms from navigation start (run 1 builds the day's report cache):")
            print(
                c.table(
                    ["run", "html", "DOM ready", "load", "timeline drawn", "drawing", "/api/day",
                     "/api/asks", "segments"],
                    rows,
                )
            )  # fmt: skip
            warm = [r["drawn"] for r in loads[1:]] or [loads[0]["drawn"]]
            print(
                f"\ntimeline drawn: median {statistics.median(warm):.0f} ms, "
                f"max {max(warm):.0f} ms over runs 2-{runs}; run 1 {loads[0]['drawn']:.0f} ms"
            )
            # the server with one page open: its event stream looks at the files once a second
            before, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(idle)
            open_cpu = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
        finally:
            driver.quit()
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle)
        closed_cpu = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
        print()
        print(
            c.table(
                ["server idle", "seconds", "CPU %"],
                [
                    ["one page open (event stream)", round(idle), round(100 * open_cpu, 3)],
                    ["no page open", round(idle), round(100 * closed_cpu, 3)],
                ],
            )
        )
        print(f"\nui stopped by SIGTERM: exit {rc}")
        return 0 if rc == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
