"""The report as one self-contained page: a timeline lane per user and day, totals per label.

Everything is inline (CSS, SVG, a small script for the hover card); the page loads nothing,
and its Content-Security-Policy forbids it to. The drawing is done here, in SVG, so the page
reads the same with scripts off; the script only adds the hover card and highlighting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Final

from daemon.reporting.drift import format_drift
from daemon.reporting.palette import colour_for
from daemon.reporting.view import RangeTotals, ReportView, UserView, fmt_minutes, local_hm
from taskclf_core.daily import DayReport, Segment, day_bounds
from taskclf_core.labels import REJECT_LABEL
from taskclf_core.words import plural

__all__ = ["render_html"]

# timeline geometry, in SVG user units (the SVG scales to the page width)
_W: Final = 1000.0
_LEFT_RANGE: Final = 92.0  # day names in the week view
_LEFT_DAY: Final = 20.0
_RIGHT_RANGE: Final = 84.0  # the day's total
_RIGHT_DAY: Final = 20.0
_AXIS: Final = 26.0
_LANE: Final = 30.0
_LANE_ONE: Final = 44.0  # a single day gets a taller lane
_LANE_GAP: Final = 12.0
_MIN_SEG: Final = 1.6  # a one-minute segment stays visible on a long axis


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _attr(name: str, value: object) -> str:
    return f' {name}="{_e(value)}"'


# --- the timeline --------------------------------------------------------------------


def _axis_range(
    lanes: Sequence[tuple[float, DayReport | None]], day_lengths: Sequence[float]
) -> tuple[float, float]:
    """Seconds after local midnight the axis spans: the active hours, padded, ≥ 6 h."""
    offsets = [
        (s.start - start, s.end - start)
        for start, report in lanes
        if report is not None
        for s in report.segments
    ]
    longest = max(day_lengths, default=86400.0)
    if not offsets:
        return 0.0, longest
    lo = max(0.0, math.floor(min(a for a, _ in offsets) / 3600) * 3600 - 3600)
    hi = min(longest, math.ceil(max(b for _, b in offsets) / 3600) * 3600 + 3600)
    if hi - lo < 6 * 3600:
        mid = (lo + hi) / 2
        lo = max(0.0, math.floor((mid - 3 * 3600) / 3600) * 3600)
        hi = min(longest, lo + 6 * 3600)
        lo = max(0.0, hi - 6 * 3600)
    return lo, hi


def _hm(epoch: float, view: ReportView) -> str:
    return local_hm(epoch, view.tz)


def _segment_rect(segment: Segment, view: ReportView, lane: _Lane) -> str:
    a = max(segment.start - lane.day_start, lane.lo)
    b = min(segment.end - lane.day_start, lane.hi)
    if b <= a:
        return ""
    x = lane.x0 + (a - lane.lo) * lane.scale
    width = max((b - a) * lane.scale, _MIN_SEG)
    colour = colour_for(segment.label, view.bucket_colours)
    fill = "url(#hatch)" if segment.label == REJECT_LABEL else colour
    confidence = "–" if segment.confidence is None else f"{segment.confidence:.2f}"
    span = f"{_hm(segment.start, view)}–{_hm(segment.end, view)}"
    duration = fmt_minutes(segment.seconds / 60)
    tip = (
        f"{segment.label} · {span} · {duration} · "
        f"{segment.windows} window{'' if segment.windows == 1 else 's'} · confidence {confidence}"
    )
    return (
        f'<rect class="seg" x="{x:.2f}" y="{lane.y:.1f}" width="{width:.2f}"'
        f' height="{lane.height:.0f}" rx="2.5" fill="{fill}"'
        + _attr("data-label", segment.label)
        + _attr("data-span", span)
        + _attr("data-dur", duration)
        + _attr("data-n", segment.windows)
        + _attr("data-conf", confidence)
        + _attr("data-colour", colour)
        + f"><title>{_e(tip)}</title></rect>"
    )


@dataclass(frozen=True, slots=True)
class _Lane:
    """Where one day is drawn: seconds after its local midnight ``lo..hi`` → SVG x."""

    day_start: float
    x0: float
    scale: float
    lo: float
    hi: float
    y: float
    height: float


def _ticks(lo: float, hi: float) -> Iterable[float]:
    span_h = (hi - lo) / 3600
    step = 3600 * (1 if span_h <= 9 else 2 if span_h <= 16 else 3)
    t = math.ceil(lo / step) * step
    while t <= hi + 1e-6:
        yield t
        t += step


def _timeline(user: UserView, view: ReportView) -> str:
    ranged = view.is_range
    left = _LEFT_RANGE if ranged else _LEFT_DAY
    right = _RIGHT_RANGE if ranged else _RIGHT_DAY
    lane_h = _LANE if ranged else _LANE_ONE
    days: list[tuple[date, float, float, DayReport | None]] = []
    for day in view.days:
        start, end = day_bounds(day, view.tz)
        days.append((day, start, end, user.days.get(day)))
    lo, hi = _axis_range([(s, r) for _, s, _, r in days], [e - s for _, s, e, _ in days])
    scale = (_W - left - right) / (hi - lo)
    height = _AXIS + len(days) * (lane_h + _LANE_GAP)
    parts = [
        f'<svg class="timeline" viewBox="0 0 {_W:.0f} {height:.0f}" role="img"'
        f' aria-label="timeline of {_e(user.user_id)}" preserveAspectRatio="xMinYMin meet">'
    ]
    tracks: list[str] = []
    segments: list[str] = []
    for i, (day, start, end, report) in enumerate(days):
        y = _AXIS + i * (lane_h + _LANE_GAP) + _LANE_GAP / 2
        lane = _Lane(start, left, scale, lo, hi, y, lane_h)
        track_w = max(0.0, (min(end - start, hi) - lo) * scale)
        tracks.append(
            f'<rect class="track" x="{left:.2f}" y="{y:.1f}" width="{track_w:.2f}"'
            f' height="{lane_h:.0f}" rx="4"/>'
        )
        if ranged:
            hours = round((end - start) / 3600)
            note = f" · {hours} h" if hours != 24 else ""
            total = fmt_minutes(report.total_minutes) if report is not None else "–"
            mid = y + lane_h / 2 + 4.5
            tracks.append(
                f'<text class="day" x="0" y="{mid:.1f}">{day:%a %d %b}{note}</text>'
                f'<text class="daytotal" x="{_W:.0f}" y="{mid:.1f}">{_e(total)}</text>'
            )
        if report is not None:
            segments.extend(_segment_rect(segment, view, lane) for segment in report.segments)
    parts.extend(tracks)
    # x is time elapsed since local midnight, so a DST day's lane is 23 or 25 h long (its
    # note says so); one day alone is labelled with its own wall clock (02:00 twice, or
    # no 02:00), a range with an ordinary day's
    for t in _ticks(lo, hi):
        x = left + (t - lo) * scale
        own = local_hm(days[0][1] + t, view.tz)
        tick = f"{round(t / 3600) % 24:02d}:00" if ranged else own
        parts.append(
            f'<line class="grid" x1="{x:.2f}" x2="{x:.2f}" y1="{_AXIS - 6:.0f}"'
            f' y2="{height:.0f}"/><text class="tick" x="{x:.2f}" y="{_AXIS - 11:.0f}">'
            f"{tick}</text>"
        )
    parts.extend(segments)
    parts.append("</svg>")
    return "".join(parts)


# --- totals and figures ---------------------------------------------------------------


def _breakdown(title: str, breakdown: Mapping[str, float], total: float, view: ReportView) -> str:
    ordered = sorted(breakdown.items(), key=lambda kv: (-kv[1], kv[0]))
    stack = "".join(
        f'<span class="part" style="flex:{m:.4f};background:{_fill(label, view)}"'
        + _attr("data-label", label)
        + f' title="{_e(label)} {_e(fmt_minutes(m))}"></span>'
        for label, m in ordered
        if m > 0
    )
    rows = []
    top = ordered[0][1] if ordered else 0.0
    for label, minutes in ordered:
        share = minutes / total if total else 0.0
        width = minutes / top * 100 if top else 0.0
        rows.append(
            f'<tr class="row"{_attr("data-label", label)}>'
            f'<td class="name"><i class="sw" style="background:{_fill(label, view)}"></i>'
            f"{_e(label)}</td>"
            f'<td class="barcell"><span class="bar" style="width:{width:.1f}%;'
            f'background:{_fill(label, view)}"></span></td>'
            f'<td class="num">{_e(fmt_minutes(minutes))}</td>'
            f'<td class="num share">{share * 100:.0f}%</td></tr>'
        )
    return (
        f'<div class="breakdown"><h3>{_e(title)}</h3><div class="stack">{stack}</div>'
        f'<table class="legend">{"".join(rows)}</table></div>'
    )


def _fill(label: str, view: ReportView) -> str:
    colour = colour_for(label, view.bucket_colours)
    if label == REJECT_LABEL:
        return (
            f"repeating-linear-gradient(135deg,{colour} 0 3px,"
            f"color-mix(in srgb,{colour} 45%,transparent) 3px 6px)"
        )
    return colour


def _kpi(name: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="kpi-sub">{_e(sub)}</div>' if sub else ""
    return (
        f'<div class="kpi"><div class="kpi-name">{_e(name)}</div>'
        f'<div class="kpi-value">{_e(value)}</div>{sub_html}</div>'
    )


def _kpis(user: UserView, view: ReportView) -> str:
    t: RangeTotals = user.totals
    blocks = (
        [(None, s) for s in user.days[view.days[0]].focus_blocks()]
        if not view.is_range
        else t.focus_blocks
    )
    longest = blocks[0][1] if blocks else None
    on_day = blocks[0][0] if blocks else None
    cards = [
        _kpi("Labelled", fmt_minutes(t.total_minutes), plural(t.windows, "window")),
        _kpi("Rejected", f"{t.reject_rate * 100:.1f}%", f"{t.rejected} Mixed/Unknown"),
        _kpi(
            "Segments",
            str(t.segments_count),
            f"flap rate {t.flap_rate_raw:.2f} raw → {t.flap_rate_smoothed:.2f}",
        ),
        _kpi(
            "Confidence",
            "–" if t.mean_confidence is None else f"{t.mean_confidence:.2f}",
            "mean of windows",
        ),
    ]
    if longest is not None:
        cards.append(
            _kpi(
                "Longest focus",
                fmt_minutes(longest.seconds / 60),
                f"{longest.label} from {'' if on_day is None else f'{on_day:%a %d} '}"
                f"{_hm(longest.start, view)}",
            )
        )
    return f'<div class="kpis">{"".join(cards)}</div>'


def _details(user: UserView, view: ReportView) -> str:
    t = user.totals
    blocks = (
        [(None, s) for s in user.days[view.days[0]].focus_blocks()]
        if not view.is_range
        else t.focus_blocks
    )
    items = []
    for day, s in blocks:
        when = f"{day:%a %d} " if day is not None else ""
        items.append(
            f"<li><i class='sw' style='background:{_fill(s.label, view)}'></i>"
            f"<b>{_e(fmt_minutes(s.seconds / 60))}</b> {_e(s.label)} "
            f"<span class='muted'>{_e(when)}{_hm(s.start, view)}–{_hm(s.end, view)}</span></li>"
        )
    focus = (
        f"<div><h3>Longest focus blocks</h3><ol class='blocks'>{''.join(items)}</ol></div>"
        if items
        else ""
    )
    stores = ", ".join("no store (identity)" if s is None else s for s in t.stores)
    models = (
        "<div><h3>Labelled by</h3><dl class='facts'>"
        f"<dt>models</dt><dd>{_e(', '.join(t.models) or '–')}</dd>"
        f"<dt>calibrator stores</dt><dd>{_e(stores or '–')}</dd></dl></div>"
    )
    drift = ""
    if user.drift is not None:
        alerts = user.drift.get("alerts") or []
        state = "alert" if alerts else "ok"
        lines = format_drift({user.user_id: user.drift})
        text = "<br>".join(_e(line.strip()) for line in lines)
        drift = f"<div class='health {state}'><h3>Model health now</h3><p>{text}</p></div>"
    return f'<div class="details">{focus}{models}{drift}</div>'


def _user_section(user: UserView, view: ReportView) -> str:
    head = (
        f'<div class="user-head"><h2>{_e(user.user_id)}</h2>'
        f'<div class="user-total">{_e(fmt_minutes(user.totals.total_minutes))}</div></div>'
    )
    if not user.days:
        return f'<section class="user">{head}<p class="empty">No windows labelled.</p></section>'
    totals = _breakdown(
        "Time per label", user.totals.core_breakdown, user.totals.total_minutes, view
    )
    mapped = ""
    if user.totals.mapped_breakdown:
        mapped = _breakdown(
            "Time per bucket", user.totals.mapped_breakdown, user.totals.total_minutes, view
        )
    return (
        f'<section class="user"{_attr("data-user", user.user_id)}>{head}{_kpis(user, view)}'
        f'<div class="card timeline-card">{_timeline(user, view)}</div>'
        f'<div class="grid2">{totals}{mapped}</div>{_details(user, view)}</section>'
    )


def _title(view: ReportView) -> str:
    first, last = view.days[0], view.days[-1]
    if not view.is_range:
        return f"{first:%A %d %B %Y}"
    if first.year == last.year:
        return f"{first:%a %d %b} – {last:%a %d %b %Y}"
    return f"{first:%a %d %b %Y} – {last:%a %d %b %Y}"


_CSS: Final = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#6b7280;--line:#e3e6eb;--track:#eceff3;
--grid:#d6dbe2;--accent:#4E79A7;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1c2027;--ink:#e7eaf0;--muted:#9aa3b2;
--line:#2b313b;--track:#262b33;--grid:#2f3540}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{padding:28px 40px 8px;max-width:1240px;margin:0 auto}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
h1{margin:4px 0 2px;font-size:28px;font-weight:650}
.sub{margin:0;color:var(--muted)}
main{max-width:1240px;margin:0 auto;padding:8px 40px 24px}
section.user{background:var(--card);border:1px solid var(--line);border-radius:14px;
padding:22px 24px;margin:18px 0;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.user-head{display:flex;align-items:baseline;justify-content:space-between;gap:12px}
h2{margin:0;font-size:21px;font-weight:650}
.user-total{font-size:21px;font-weight:600;font-variant-numeric:tabular-nums}
h3{margin:0 0 8px;font-size:12px;letter-spacing:.06em;text-transform:uppercase;
color:var(--muted);font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
margin:14px 0 16px}
.kpi{border:1px solid var(--line);border-radius:10px;padding:10px 12px}
.kpi-name{font-size:12px;color:var(--muted)}
.kpi-value{font-size:20px;font-weight:620;font-variant-numeric:tabular-nums}
.kpi-sub{font-size:12px;color:var(--muted)}
.timeline-card{margin:6px 0 18px}
svg.timeline{width:100%;height:auto;display:block}
svg .track{fill:var(--track)}
svg .grid{stroke:var(--grid);stroke-width:1;opacity:.9}
svg .tick{fill:var(--muted);font-size:11px;text-anchor:middle}
svg .day{fill:var(--ink);font-size:12.5px}
svg .daytotal{fill:var(--muted);font-size:12px;text-anchor:end;font-variant-numeric:tabular-nums}
svg .seg{cursor:pointer;transition:opacity .12s}
svg .seg:hover{stroke:var(--ink);stroke-width:1.2}
section.dim .seg:not(.on){opacity:.18}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:24px}
.stack{display:flex;height:14px;border-radius:7px;overflow:hidden;margin:2px 0 10px;
background:var(--track)}
.stack .part{min-width:2px}
table.legend{width:100%;border-collapse:collapse}
table.legend td{padding:4px 6px;border-top:1px solid var(--line);font-variant-numeric:tabular-nums}
table.legend tr:first-child td{border-top:0}
td.name{white-space:nowrap;width:1%}
td.num{text-align:right;white-space:nowrap;width:1%}
td.share{color:var(--muted)}
td.barcell{width:60%}
.bar{display:block;height:8px;border-radius:4px;min-width:2px}
.sw{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:8px;vertical-align:-1px}
tr.row{cursor:default}
tr.row:hover td{background:color-mix(in srgb,var(--track) 70%,transparent)}
.details{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:24px;margin-top:18px}
ol.blocks{margin:0;padding-left:20px}
ol.blocks li{margin:3px 0}
.muted{color:var(--muted)}
dl.facts{margin:0;display:grid;grid-template-columns:auto 1fr;gap:2px 12px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;word-break:break-all}
.health{border-radius:10px;padding:10px 12px;border:1px solid var(--line)}
.health p{margin:0;font-size:13px}
.health.alert{border-color:#E15759;background:color-mix(in srgb,#E15759 8%,transparent)}
.empty{color:var(--muted)}
footer{max-width:1240px;margin:0 auto;padding:0 40px 32px;color:var(--muted);font-size:12px}
#tip{position:fixed;pointer-events:none;z-index:10;background:var(--card);color:var(--ink);
border:1px solid var(--line);border-radius:8px;padding:8px 10px;font-size:13px;
box-shadow:0 6px 24px rgba(0,0,0,.16);max-width:300px}
#tip b{display:flex;align-items:center;gap:6px}
#tip .sw{margin-right:0}
"""

_SCRIPT: Final = """
(function(){
  var tip=document.getElementById('tip');
  function show(e){
    var r=e.target, d=r.dataset;
    tip.innerHTML='';
    var b=document.createElement('b'), sw=document.createElement('i');
    sw.className='sw'; sw.style.background=d.colour; b.appendChild(sw);
    b.appendChild(document.createTextNode(d.label)); tip.appendChild(b);
    var n=d.n+(d.n==='1'?' window':' windows');
    [d.span+'  ·  '+d.dur, n+'  ·  confidence '+d.conf].forEach(function(t){
      var div=document.createElement('div'); div.textContent=t; tip.appendChild(div);
    });
    tip.hidden=false; move(e);
  }
  function move(e){
    var x=e.clientX+14, y=e.clientY+14, w=tip.offsetWidth, h=tip.offsetHeight;
    if(x+w>innerWidth-8) x=e.clientX-w-14;
    if(y+h>innerHeight-8) y=e.clientY-h-14;
    tip.style.left=x+'px'; tip.style.top=y+'px';
  }
  function hide(){ tip.hidden=true; }
  var segs=document.querySelectorAll('rect.seg');
  segs.forEach(function(r){
    r.addEventListener('mouseenter',show); r.addEventListener('mousemove',move);
    r.addEventListener('mouseleave',hide);
  });
  // hovering a label in the totals lights up its segments in that user's timeline
  document.querySelectorAll('section.user').forEach(function(sec){
    sec.querySelectorAll('[data-label]').forEach(function(el){
      if(el.tagName==='rect') return;
      el.addEventListener('mouseenter',function(){
        sec.classList.add('dim');
        sec.querySelectorAll('rect.seg').forEach(function(r){
          r.classList.toggle('on', r.dataset.label===el.dataset.label);
        });
      });
      el.addEventListener('mouseleave',function(){ sec.classList.remove('dim'); });
    });
  });
  var status=document.getElementById('report-status');
  status.setAttribute('data-segments', String(segs.length));
  status.textContent='ok';
})();
"""

# the first script in the page: any later script error is written into the page
_ERRORS: Final = """
window.addEventListener('error',function(e){
  var box=document.getElementById('report-errors');
  if(box){box.textContent+=(e.message||'error')+' @'+(e.lineno||0)+'\\n';}
});
"""


def render_html(view: ReportView) -> str:
    """The whole page as one string (UTF-8)."""
    title = _title(view)
    users = "".join(_user_section(u, view) for u in view.users) or (
        '<section class="user"><p class="empty">No windows labelled on these days.</p></section>'
    )
    generated = view.generated_at.astimezone(view.tz).strftime("%Y-%m-%d %H:%M")
    n = len(view.users)
    sub = f"{view.zone_name} · {plural(n, 'user')} · generated {generated}"
    skipped = f" · {plural(view.skipped, 'damaged line')} skipped" if view.skipped else ""
    defs = (
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
        '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#a3a3a3"/>'
        '<rect width="3" height="6" fill="#7f7f7f"/></pattern></defs></svg>'
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="generator" content="taskclf-daemon report">'
        f"<title>taskclf report · {_e(title)}</title><style>{_CSS}</style>"
        f'<script>{_ERRORS}</script></head><body><div id="report-errors" hidden></div>{defs}'
        f'<header class="top"><div class="brand">taskclf-daemon · where the time went</div>'
        f'<h1>{_e(title)}</h1><p class="sub">{_e(sub)}</p></header>'
        f"<main>{users}</main>"
        f"<footer>From the label log {_e(view.label_log)}{_e(skipped)}. Minutes count labelled "
        "one-minute windows by their smoothed label; gaps are time with no windows. "
        "This page loads nothing from the network.</footer>"
        '<div id="tip" role="tooltip" hidden></div>'
        '<div id="report-status" hidden></div>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
