"""The report page in a real headless Chromium: it draws, its script runs, nothing errors."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from helpers import unavailable

from daemon.cli import main
from taskclf_core.synthetic import generate_label_log

pytestmark = pytest.mark.slow
BERLIN = ZoneInfo("Europe/Berlin")

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if CHROMIUM is None:
        unavailable("Chromium", "`apt-get install chromium` (Debian) to run the page checks")


FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)
SHOTS = (
    Path(os.environ.get("REPORT_SCREENSHOTS", "")) if os.environ.get("REPORT_SCREENSHOTS") else None
)


def chromium(page: Path, tmp: Path, *action: str, size: str = "1280,1600") -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp / 'profile'}",
            f"--window-size={size}",
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_rgb(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Decode an 8-bit RGB/RGBA PNG with zlib (all five scanline filters) → (h, w, 3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, bytearray()
    width = height = colour_type = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8, body
            assert colour_type in (2, 6), body
            assert interlace == 0, body
        elif kind == b"IDAT":
            idat += body
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum along the pixels, per channel, mod 256
            cur = (
                (np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint64) % 256)
                .astype(np.uint8)
                .reshape(stride)
            )
        elif kind == 2:
            cur = line + prev
        else:
            done = bytearray(stride)
            up = prev.tolist()
            filt = line.tolist()
            for x in range(stride):
                left = done[x - bpp] if x >= bpp else 0
                if kind == 3:
                    done[x] = (filt[x] + ((left + up[x]) >> 1)) & 0xFF
                else:
                    upleft = up[x - bpp] if x >= bpp else 0
                    p = left + up[x] - upleft
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - upleft)
                    pred = left if pa <= pb and pa <= pc else up[x] if pb <= pc else upleft
                    done[x] = (filt[x] + pred) & 0xFF
            cur = np.frombuffer(bytes(done), dtype=np.uint8)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def check_drawn(png: Path) -> dict[str, float]:
    """Fail if the screenshot is one colour (a blank page); return what it shows."""
    pixels = png_rgb(png.read_bytes())
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    assert len(colours) > 1, f"{png} is a single colour: the page is blank"
    background = counts.max() / len(flat)
    saturated = float(np.mean(flat.max(axis=1).astype(int) - flat.min(axis=1) > 60))
    return {"colours": len(colours), "background": background, "saturated": saturated}


def page_status(dom: str) -> tuple[str, str]:
    """The marker the page's script writes, and any script error it caught."""
    marker = dom.split('id="report-status"', 1)[1].split("</div>", 1)[0]
    errors = dom.split('id="report-errors"', 1)[1].split("</div>", 1)[0]
    return marker, errors.split(">", 1)[1] if ">" in errors else errors


@pytest.fixture
def week_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    labels = tmp_path / "data" / "labels"
    labels.mkdir(parents=True)
    records = generate_label_log(
        user_id="alice",
        start=date(2026, 3, 23),
        days=7,
        tz=BERLIN,
        seed=5,
        buckets={"Build": "Deep work", "Debug": "Deep work", "Write": "Deep work", "Meet": "Talk"},
        model_bundle_ids=("bundle_feb", "bundle_mar"),
    )
    records += generate_label_log(
        user_id="bob",
        start=date(2026, 3, 23),
        days=7,
        tz=BERLIN,
        seed=6,
    )
    by_day: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_day[r["bucket_start_ts"][:10]].append(json.dumps(r))
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
    page = tmp_path / "week.html"
    argv = [
        "report",
        "--data-dir",
        str(tmp_path / "data"),
        "--from",
        "2026-03-23",
        "--to",
        "2026-03-29",
    ]
    assert main([*argv, "--html", str(page)]) == 0
    return page


def _keep(png: Path, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, SHOTS / name)


def test_the_week_page_draws_and_its_script_runs(week_page: Path, tmp_path: Path) -> None:
    marker, errors = page_status(chromium(week_page, tmp_path, "--dump-dom"))
    assert ">ok" in marker, marker
    assert 'data-segments="' in marker
    segments = int(marker.split('data-segments="', 1)[1].split('"', 1)[0])
    assert segments == week_page.read_text().count('class="seg"') > 100
    assert errors == "", errors
    shot = tmp_path / "week.png"
    chromium(week_page, tmp_path, f"--screenshot={shot}")
    _keep(shot, "week.png")
    seen = check_drawn(shot)
    assert seen["colours"] > 50  # text, cards and eight label colours, antialiased
    assert 0.02 < seen["saturated"] < 0.6  # the timeline and bars, not a wall of colour
    assert seen["background"] < 0.9


def test_hover_shows_label_time_and_confidence(week_page: Path, tmp_path: Path) -> None:
    # the same page plus a script that hovers the first segment, as a mouse would
    probe = """<script>
    var r=document.querySelector('rect.seg'), b=r.getBoundingClientRect();
    var opts={bubbles:true,clientX:b.left+b.width/2,clientY:b.top+b.height/2};
    r.dispatchEvent(new MouseEvent('mouseenter',opts));
    r.dispatchEvent(new MouseEvent('mousemove',opts));
    var out=document.createElement('div'); out.id='probe';
    out.textContent=(document.getElementById('tip').hidden?'hidden':'shown')+'|'+
      document.getElementById('tip').textContent;
    document.body.appendChild(out);
    </script></body>"""
    hovered = tmp_path / "hover.html"
    hovered.write_text(week_page.read_text().replace("</body>", probe))
    dom = chromium(hovered, tmp_path, "--dump-dom")
    _, errors = page_status(dom)
    assert errors == ""
    probe_text = dom.split('id="probe">', 1)[1].split("</div>", 1)[0]
    state, text = probe_text.split("|", 1)
    assert state == "shown"
    first = week_page.read_text().split('class="seg"', 1)[1]
    label = first.split('data-label="', 1)[1].split('"', 1)[0]
    span = first.split('data-span="', 1)[1].split('"', 1)[0]
    assert label in text
    assert span in text
    assert "confidence 0." in text
    shot = tmp_path / "hover.png"
    chromium(hovered, tmp_path, f"--screenshot={shot}", size="1280,700")
    _keep(shot, "hover.png")


def test_the_checks_catch_a_blank_page_and_a_script_error(week_page: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body style='background:#fff'></body></html>")
    shot = tmp_path / "blank.png"
    chromium(blank, tmp_path, f"--screenshot={shot}", size="400,300")
    with pytest.raises(AssertionError, match="blank"):
        check_drawn(shot)

    broken = tmp_path / "broken.html"
    broken.write_text(week_page.read_text().replace("var tip=", "var tip=notDefined()||"))
    marker, errors = page_status(chromium(broken, tmp_path, "--dump-dom"))
    assert ">ok" not in marker
    assert "notDefined" in errors
