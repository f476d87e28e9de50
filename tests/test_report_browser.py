"""The report page in a real headless Chromium: it draws, its script runs, nothing errors."""

from __future__ import annotations

import html
import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from aw_fixtures import HOSTNAME, aw_day
from helpers import unavailable

from daemon.cli import main
from taskclf_core.activity import (
    RowSpec,
    build_day,
    parse_afk_events,
    parse_timestamp_us,
    parse_window_events,
)
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


def write_days(labels: Path, records: list[dict[str, Any]]) -> None:
    """Records into the label log's day files (one per UTC day of ``bucket_start_ts``)."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_day[r["bucket_start_ts"][:10]].append(json.dumps(r))
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("\n".join(lines) + "\n")


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
    write_days(labels, records)
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
    var r=document.querySelector('.seg'), b=r.getBoundingClientRect();
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


# --- an ActivityWatch morning: away time, a narrow window, the hover's minutes ---------------

APP_LABELS = {
    "zoom.us": "Meet",
    "FaceTime": "Meet",
    "Slack": "Communicate",
    "Firefox": "ReadResearch",
}


def aw_morning_log(day: str) -> list[dict[str, Any]]:
    """The records the daemon would log for an ActivityWatch morning (tests/aw_fixtures.py):
    the collector's rows with their spans, labelled by app as a model would."""
    export = aw_day(day, seed=4)
    buckets = export["buckets"]
    windows = parse_window_events(
        buckets[f"aw-watcher-window_{HOSTNAME}"]["events"], bucket_id="w", salt="s", sketches=False
    ).events
    afk = parse_afk_events(buckets[f"aw-watcher-afk_{HOSTNAME}"]["events"], bucket_id="a").events
    start = parse_timestamp_us(f"{day}T00:00:00Z", "day")
    rows = build_day(start, windows, [], spec=RowSpec("alice", "v2"), afk_events=afk)
    records = []
    for row in rows:
        label = APP_LABELS.get(str(row["app_id"]), "Build")
        label = {"us.zoom.xos": "Meet", "com.apple.FaceTime": "Meet"}.get(str(row["app_id"]), label)
        records.append(
            {
                "user_id": "alice",
                "bucket_start_ts": row["bucket_start_ts"],
                "bucket_end_ts": row["bucket_end_ts"],
                "core_label": label,
                "confidence": 0.8,
                "is_rejected": False,
                "label": label,
                "smoothed_label": label,
                "mapped_label": label,
                "model_bundle_id": "bundle",
                "store_id": None,
                **{k: row[k] for k in ("span_start_ts", "span_end_ts", "span_away")},
            }
        )
    return records


@pytest.fixture
def morning_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "UTC")
    labels = tmp_path / "data" / "labels"
    labels.mkdir(parents=True)
    (labels / "2026-03-04.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in aw_morning_log("2026-03-04"))
    )
    page = tmp_path / "morning.html"
    argv = ["report", "--data-dir", str(tmp_path / "data"), "--date", "2026-03-04"]
    assert main([*argv, "--html", str(page)]) == 0
    return page


_PROBE = """<script>
(function(){
  var out={width:innerWidth, scroll:document.documentElement.scrollWidth, off:[], small:[],
           hover:[], legend:{}, away:document.querySelectorAll('.away').length};
  var seen='.tick,.dname,.dtotal,td,th,dd,dt,.kpi,h2,.user-total,.health li';
  document.querySelectorAll(seen).forEach(function(el){
    var r=el.getBoundingClientRect(), what=el.className+':'+el.textContent;
    if(r.width>0 && (r.left<-0.5 || r.right>innerWidth+0.5)) out.off.push(what);
    // drawn size, not the declared one: a scaled drawing shrinks its text
    var size=parseFloat(getComputedStyle(el).fontSize);
    if(el.textContent.trim() && (size<11 || (r.height>0 && r.height<11))) out.small.push(what);
  });
  // a name broken inside a word: it takes fewer lines where words may not be broken
  out.broken=[];
  document.querySelectorAll('h2').forEach(function(el){
    var tall=el.getBoundingClientRect().height;
    el.style.overflowWrap='normal';
    if(el.getBoundingClientRect().height<tall) out.broken.push(el.textContent);
    el.style.overflowWrap='';
  });
  var tip=document.getElementById('tip');
  document.querySelectorAll('.seg').forEach(function(r){
    var b=r.getBoundingClientRect();
    var o={bubbles:true,clientX:b.left+b.width/2,clientY:b.top+b.height/2};
    r.dispatchEvent(new MouseEvent('mouseenter',o));
    out.hover.push([r.dataset.label, parseFloat(r.dataset.sec), tip.textContent]);
    r.dispatchEvent(new MouseEvent('mouseleave',o));
  });
  document.querySelectorAll('table.legend tr.row').forEach(function(tr){
    out.legend[tr.dataset.label]=[parseFloat(tr.dataset.min), tr.querySelector('.num').textContent];
  });
  out.errors=document.getElementById('report-errors').textContent;
  if(parent!==window) parent.postMessage(JSON.stringify(out),'*');
  var div=document.createElement('div'); div.id='probe'; div.textContent=JSON.stringify(out);
  document.body.appendChild(div);
})();
</script></body>"""


@pytest.fixture
def this_week_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The last seven days up to today, two users and a taxonomy: the model's live health is
    on the page (its card of figures) and both totals tables."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    labels = tmp_path / "data" / "labels"
    labels.mkdir(parents=True)
    today = datetime.now(BERLIN).date()
    records = generate_label_log(
        user_id="alice-with-a-rather-long-user-name@example.org",
        start=today - timedelta(days=9),
        days=10,
        tz=BERLIN,
        seed=5,
        weekends=True,
        buckets={"Build": "Deep work", "Debug": "Deep work", "Meet": "Talk"},
    )
    records += generate_label_log(
        user_id="bob", start=today - timedelta(days=9), days=10, tz=BERLIN, seed=6, weekends=True
    )
    write_days(labels, records)
    page = tmp_path / "this-week.html"
    first = (today - timedelta(days=6)).isoformat()
    argv = ["report", "--data-dir", str(tmp_path / "data"), "--from", first, "--to", "today"]
    assert main([*argv, "--html", str(page)]) == 0
    assert "Model health now" in page.read_text()
    return page


def narrow(page: Path, tmp: Path, width: int) -> Path:
    """A page that shows ``page`` in a frame ``width`` px wide, and writes what the frame posts
    into its own body: headless Chromium makes no window narrower than 500 px."""
    host = tmp / f"narrow-{width}-{page.name}"
    host.write_text(
        '<!doctype html><html><body style="margin:0;background:#888">'
        f'<iframe src="{page.name}" style="width:{width}px;height:2400px;border:0;'
        'background:#fff"></iframe><div id="posted"></div><script>'
        "addEventListener('message',function(e){"
        "document.getElementById('posted').textContent=e.data;});</script></body></html>"
    )
    return host


def probe(page: Path, tmp: Path, size: str) -> dict[str, Any]:
    """What ``_PROBE`` finds in ``page`` in a window of ``size`` (a frame under 500 px)."""
    width, height = (int(x) for x in size.split(","))
    probed = tmp / f"probe-{width}x{height}.html"
    probed.write_text(page.read_text().replace("</body>", _PROBE))
    if width >= 500:
        dom = chromium(probed, tmp, "--dump-dom", size=size)
        _, errors = page_status(dom)
        assert errors == ""
        text = dom.split('id="probe">', 1)[1].split("</div>", 1)[0]
    else:
        host = narrow(probed, tmp, width)
        dom = chromium(host, tmp, "--virtual-time-budget=5000", "--dump-dom", size=f"800,{height}")
        text = dom.split('id="posted">', 1)[1].split("</div>", 1)[0]
    found: dict[str, Any] = json.loads(html.unescape(text))
    assert found["errors"] == ""
    assert found["width"] == width
    return found


def screenshot(page: Path, tmp: Path, name: str, size: str, *flags: str) -> Path:
    """A screenshot of ``page`` at ``size`` (a frame that wide, under 500 px), kept."""
    width, height = (int(x) for x in size.split(","))
    shot = tmp / name
    if width >= 500:
        chromium(page, tmp, *flags, f"--screenshot={shot}", size=size)
    else:
        host = narrow(page, tmp, width)
        chromium(host, tmp, *flags, f"--screenshot={shot}", size=f"500,{height}")
    _keep(shot, name)
    return shot


def fmt(minutes: float) -> str:
    total = round(minutes)
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


@pytest.mark.parametrize("size", ["1280,1000", "420,1000"], ids=["wide", "narrow-420px"])
def test_the_page_fits_its_window_and_the_hover_minutes_are_the_totals(
    morning_page: Path, tmp_path: Path, size: str
) -> None:
    """No horizontal overflow (not even at 420 px), no text under 11 px, every label, tick and
    figure inside the window; each segment's hover shows its minutes, the minutes of a
    label's segments add up to its total, and a label with one segment shows the same
    minutes in the hover as in the totals."""
    found = probe(morning_page, tmp_path, size)
    assert found["scroll"] <= found["width"], found
    assert found["off"] == [], found["off"]
    assert found["small"] == [], found["small"]
    assert found["away"] >= 2  # the two coffee breaks
    legend = found["legend"]
    by_label: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for label, seconds, text in found["hover"]:
        assert fmt(seconds / 60) in text, (label, seconds, text)
        by_label[label].append((seconds, text))
    assert set(by_label) == set(legend)
    for label, segs in by_label.items():
        minutes, shown = legend[label]
        assert sum(s for s, _ in segs) / 60 == pytest.approx(minutes, abs=1e-3)
        if len(segs) == 1:
            assert shown in segs[0][1]
    assert "Meet" in legend


def test_the_week_with_its_health_card_fits_a_narrow_window(
    this_week_page: Path, tmp_path: Path
) -> None:
    found = probe(this_week_page, tmp_path, "420,1000")
    assert found["scroll"] <= found["width"], found
    assert found["off"] == [], found["off"]
    assert found["small"] == [], found["small"]
    assert found["broken"] == [], found["broken"]  # the long user name wraps at its hyphens
    dom = this_week_page.read_text()
    assert "<table class='figs'>" in dom  # figures, not the terminal's lines
    assert "last 24 h" in dom
    screenshot(this_week_page, tmp_path, "this-week-420px.png", "420,2600")
    screenshot(this_week_page, tmp_path, "this-week.png", "1280,1800")


def test_screenshots_light_dark_and_narrow(morning_page: Path, tmp_path: Path) -> None:
    """The page drawn in the three ways people see it; REPORT_SCREENSHOTS=DIR keeps them."""
    for name, flags, size in (
        ("morning-light.png", (), "1280,1100"),
        ("morning-dark.png", ("--force-dark-mode",), "1280,1100"),
        ("morning-420px.png", (), "420,1600"),
    ):
        shot = screenshot(morning_page, tmp_path, name, size, *flags)
        seen = check_drawn(shot)
        assert seen["colours"] > 30
        if "dark" in name:
            pixels = png_rgb(shot.read_bytes())
            assert pixels.mean() < 100  # the dark theme, not the light one
