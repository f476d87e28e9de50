"""The report as one self-contained page: a timeline lane per user and day, totals per label.

Everything is inline (CSS, SVG, a small script for the hover card); the page loads nothing,
and its Content-Security-Policy forbids it to. The drawing is done here, in SVG, so the page
reads the same with scripts off; the script only adds the hover card and highlighting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, Final

from daemon.reporting.drift import alert_text, labeller_note
from daemon.reporting.palette import colour_for
from daemon.reporting.view import RangeTotals, ReportView, UserView, fmt_minutes, local_hm
from taskclf_core.daily import DayReport, Segment, day_bounds
from taskclf_core.labels import REJECT_LABEL
from taskclf_core.words import plural

__all__ = ["render_html"]

_MIN_AXIS: Final = 3600.0  # the narrowest axis, in seconds (a quarter-hour of work is not a page)
_SNAP: Final = 300  # the axis starts and ends on the five minutes
# tick steps (seconds) and the widest axis each is used for
_STEPS: Final = ((900, 2 * 3600), (1800, 4 * 3600), (3600, 9 * 3600), (7200, 16 * 3600))


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _attr(name: str, value: object) -> str:
    return f' {name}="{_e(value)}"'


# --- the timeline --------------------------------------------------------------------


def _step(span: float) -> int:
    return next((step for step, widest in _STEPS if span <= widest), 3 * 3600)


def _axis_range(
    lanes: Sequence[tuple[float, DayReport | None]], day_lengths: Sequence[float]
) -> tuple[float, float, int]:
    """Seconds after local midnight the axis spans, and its tick step: the time with windows
    on any of the days, padded a little, to the five minutes (at least an hour)."""
    offsets = [
        (a - start, b - start)
        for start, report in lanes
        if report is not None
        for a, b in [*((s.start, s.end) for s in report.segments), *report.away]
    ]
    longest = max(day_lengths, default=86400.0)
    if not offsets:
        return 0.0, longest, _step(longest)
    first, last = min(a for a, _ in offsets), max(b for _, b in offsets)
    if last - first < _MIN_AXIS:
        middle = (first + last) / 2
        first, last = middle - _MIN_AXIS / 2, middle + _MIN_AXIS / 2
    pad = max(60.0, (last - first) * 0.02)
    lo = max(0.0, math.floor((first - pad) / _SNAP) * _SNAP)
    hi = min(longest, math.ceil((last + pad) / _SNAP) * _SNAP)
    return lo, hi, _step(hi - lo)


def _hm(epoch: float, view: ReportView) -> str:
    return local_hm(epoch, view.tz)


@dataclass(frozen=True, slots=True)
class _Lane:
    """Where one day is drawn: seconds after its local midnight ``lo..hi`` → percent."""

    day_start: float
    lo: float
    hi: float

    def pct(self, epoch: float) -> float:
        offset = min(max(epoch - self.day_start, self.lo), self.hi)
        return (offset - self.lo) / (self.hi - self.lo) * 100

    def box(self, start: float, end: float) -> str | None:
        """``left`` and ``width`` of ``[start, end)`` as a style, or None when off the axis."""
        a, b = self.pct(start), self.pct(end)
        if b <= a:
            return None
        return f"left:{a:.3f}%;width:{b - a:.3f}%"


def _segment_div(segment: Segment, view: ReportView, lane: _Lane) -> str:
    box = lane.box(segment.start, segment.end)
    if box is None:
        return ""
    colour = colour_for(segment.label, view.bucket_colours)
    fill = _fill(segment.label, view)
    confidence = "–" if segment.confidence is None else f"{segment.confidence:.2f}"
    span = f"{_hm(segment.start, view)}–{_hm(segment.end, view)}"
    duration = fmt_minutes(segment.minutes)
    tip = (
        f"{segment.label} · {span} · {duration} · "
        f"{segment.windows} window{'' if segment.windows == 1 else 's'} · confidence {confidence}"
    )
    # the stretches it counts: a moment no window stands for inside it shows as a gap
    pieces = ""
    style = f"{box};background:{fill}"
    if len(segment.parts) > 1:
        length = segment.end - segment.start
        style = box
        pieces = "".join(
            f'<i style="left:{(a - segment.start) / length * 100:.3f}%;'
            f'width:{(b - a) / length * 100:.3f}%;background:{fill}"></i>'
            for a, b in segment.parts
        )
    return (
        f'<div class="seg" style="{style}"'
        + _attr("data-label", segment.label)
        + _attr("data-span", span)
        + _attr("data-dur", duration)
        + _attr("data-sec", f"{segment.seconds:.3f}")
        + _attr("data-n", segment.windows)
        + _attr("data-conf", confidence)
        + _attr("data-colour", colour)
        + _attr("title", tip)
        + f">{pieces}</div>"
    )


def _away_div(start: float, end: float, view: ReportView, lane: _Lane) -> str:
    box = lane.box(start, end)
    if box is None:
        return ""
    tip = f"away · {_hm(start, view)}–{_hm(end, view)} · {fmt_minutes((end - start) / 60)}"
    return f'<div class="away" style="{box}"{_attr("title", tip)}></div>'


def _ticks(lo: float, hi: float, step: int) -> list[float]:
    first = math.ceil(lo / step) * step
    return [float(t) for t in range(int(first), int(hi) + 1, step)]


def _tick_label(t: float, ranged: bool, day_start: float, view: ReportView) -> str:
    # x is time elapsed since local midnight, so a DST day's lane is 23 or 25 h long (its
    # name says so); one day alone is labelled with its own wall clock (02:00 twice, or
    # no 02:00), a range with an ordinary day's
    if not ranged:
        return local_hm(day_start + t, view.tz)
    hours, rest = divmod(round(t) // 60, 60)
    return f"{hours % 24:02d}:{rest:02d}"


def _timeline(user: UserView, view: ReportView) -> str:
    ranged = view.is_range
    days: list[tuple[date, float, float, DayReport | None]] = []
    for day in view.days:
        start, end = day_bounds(day, view.tz)
        days.append((day, start, end, user.days.get(day)))
    lo, hi, step = _axis_range([(s, r) for _, s, _, r in days], [e - s for _, s, e, _ in days])
    ticks = _ticks(lo, hi, step)
    crowded = len(ticks) > 7

    def grid(lane: _Lane) -> str:
        return "".join(
            f'<i class="gl" style="left:{lane.pct(lane.day_start + t):.3f}%"></i>' for t in ticks
        )

    axis_lane = _Lane(days[0][1], lo, hi)
    labels = []
    for i, t in enumerate(ticks):
        at = axis_lane.pct(axis_lane.day_start + t)
        # a label at the very edge sits inside the lane instead of centred on its line
        edge = " first" if at < 4 else " last" if at > 96 else ""
        minor = " minor" if crowded and i % 2 else ""
        labels.append(
            f'<span class="tick{edge}{minor}" style="left:{at:.3f}%">'
            f"{_e(_tick_label(t, ranged, days[0][1], view))}</span>"
        )
    rows = [
        '<div class="tlrow axis"><div class="dname"></div>'
        f'<div class="ticks">{"".join(labels)}</div><div class="dtotal"></div></div>'
    ]
    for day, start, end, report in days:
        lane = _Lane(start, lo, hi)
        inside = lane.box(start, end) or "left:0;width:0"
        body = [f'<div class="track" style="{inside}"></div>', grid(lane)]
        if report is not None:
            body.extend(_segment_div(segment, view, lane) for segment in report.segments)
            body.extend(_away_div(a, b, view, lane) for a, b in report.away)
        name = total = ""
        if ranged:
            hours = round((end - start) / 3600)
            note = f" · {hours} h" if hours != 24 else ""
            name = f"{day:%a %d %b}{note}"
            total = fmt_minutes(report.total_minutes) if report is not None else "–"
        rows.append(
            f'<div class="tlrow"><div class="dname">{_e(name)}</div>'
            f'<div class="lane">{"".join(body)}</div>'
            f'<div class="dtotal">{_e(total)}</div></div>'
        )
    away = any(r is not None and r.away for *_, r in days)
    key = (
        '<div class="key"><span class="awaykey"></span> away (ActivityWatch: afk), not counted'
        "</div>"
        if away
        else ""
    )
    return (
        f'<div class="tl{" range" if ranged else ""}" role="img"'
        f' aria-label="timeline of {_e(user.user_id)}">{"".join(rows)}</div>{key}'
    )


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
            f'<tr class="row"{_attr("data-label", label)}{_attr("data-min", f"{minutes:.4f}")}>'
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
        _kpi("Counted", fmt_minutes(t.total_minutes), plural(t.windows, "window")),
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
    if t.away_minutes >= 0.5:
        cards.insert(1, _kpi("Away", fmt_minutes(t.away_minutes), "afk: not counted"))
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
    drift = "" if user.drift is None else _health(user.drift)
    return f'<div class="details">{focus}{models}{drift}</div>'


def _pct(value: object) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, int | float) else "–"


def _number(value: object, fmt: str = ",") -> str:
    return format(value, fmt) if isinstance(value, int | float) else "–"


def _health(doc: Mapping[str, Any]) -> str:
    """The model's live drift as figures: the last 24 h beside the 7 days before, the
    largest class shift, the model's age, and each alert (taskclf_core/drift.py)."""
    cur = doc.get("current") or {}
    ref = doc.get("reference") or {}
    alerts = doc.get("alerts") or []
    rows = [
        ("windows", _number(cur.get("windows")), _number(ref.get("windows"))),
        ("rejected", _pct(cur.get("reject_rate")), _pct(ref.get("reject_rate"))),
        (
            "mean entropy",
            _number(cur.get("mean_entropy"), ".2f"),
            _number(ref.get("mean_entropy"), ".2f"),
        ),
    ]
    table = "".join(
        f"<tr><th scope='row'>{name}</th><td>{_e(a)}</td><td>{_e(b)}</td></tr>"
        for name, a, b in rows
    )
    facts = []
    note = labeller_note(doc)
    if note is not None:
        facts.append(("compared", note))
    shift = doc.get("max_class_shift")
    if shift is not None:
        moved = ", ".join(doc.get("shifted_classes") or []) or "none past 15 pts"
        facts.append(("largest class shift", f"{_pct(shift)} ({moved})"))
    ratio = doc.get("entropy_ratio")
    if ratio is not None:
        facts.append(("entropy", f"×{ratio:.2f} the week before"))
    model = doc.get("model") or {}
    if model.get("bundle_id"):
        age = model.get("age_days")
        told = [str(model["bundle_id"])]
        if isinstance(age, int | float):
            told.append(f"{age:.0f} days old")
        if model.get("retrain_due"):
            told.append("retrain due")
        facts.append(("model", " · ".join(told)))
    state = "alert" if alerts else "ok"
    verdict = (
        f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
        if alerts
        else "ok"
        if doc.get("enough_data")
        else "not enough data yet"
        if note is None
        else "reference building up"
    )
    items = "".join(
        f"<li class='{_e(a.get('severity', ''))}'>{_e(alert_text(a))}</li>" for a in alerts
    )
    return (
        f"<div class='health {state}'><h3>Model health now <span class='verdict'>"
        f"{_e(verdict)}</span></h3><table class='figs'><tr><th></th><th>last 24 h</th>"
        f"<th>7 days before</th></tr>{table}</table>"
        + (
            "<dl class='facts'>"
            + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
            + "</dl>"
            if facts
            else ""
        )
        + (f"<ul class='alerts'>{items}</ul>" if items else "")
        + "</div>"
    )


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
--grid:#d6dbe2;--away:#9aa3b2;--accent:#4E79A7;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1c2027;--ink:#e7eaf0;--muted:#9aa3b2;
--line:#2b313b;--track:#262b33;--grid:#343b47;--away:#5d6675}}
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
.user-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px}
h2{margin:0;font-size:21px;font-weight:650;overflow-wrap:anywhere}
.user-total{margin-left:auto;font-size:21px;font-weight:600;font-variant-numeric:tabular-nums;
white-space:nowrap}
h3{margin:0 0 8px;font-size:12px;letter-spacing:.06em;text-transform:uppercase;
color:var(--muted);font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;
margin:14px 0 16px}
.kpi{border:1px solid var(--line);border-radius:10px;padding:10px 12px;min-width:0}
.kpi-name{font-size:12px;color:var(--muted)}
.kpi-value{font-size:20px;font-weight:620;font-variant-numeric:tabular-nums}
.kpi-sub{font-size:12px;color:var(--muted)}
.timeline-card{margin:6px 0 18px}
.tl{display:grid;gap:6px}
.tlrow{display:grid;grid-template-columns:0 1fr 0;align-items:center}
.tl.range .tlrow{grid-template-columns:8.5em 1fr 5.5em;column-gap:10px}
.dname{font-size:12.5px;white-space:nowrap;overflow:hidden}
.dtotal{font-size:12px;color:var(--muted);text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
.ticks{position:relative;height:18px}
.tick{position:absolute;top:0;transform:translateX(-50%);font-size:11px;color:var(--muted);
white-space:nowrap;font-variant-numeric:tabular-nums}
.tick.first{transform:none}
.tick.last{transform:translateX(-100%)}
.lane{position:relative;height:30px}
.tl:not(.range) .lane{height:44px}
.track{position:absolute;top:0;bottom:0;background:var(--track);border-radius:4px}
.gl{position:absolute;top:-4px;bottom:-4px;width:1px;background:var(--grid);opacity:.9}
.seg{position:absolute;top:0;bottom:0;min-width:2px;border-radius:2.5px;cursor:pointer;
transition:opacity .12s}
.seg:hover{outline:1.5px solid var(--ink);z-index:2}
.seg i{position:absolute;top:0;bottom:0;min-width:1px;border-radius:2px}
.away{position:absolute;top:18%;bottom:18%;min-width:1px;z-index:1;border-radius:2px;
background:repeating-linear-gradient(135deg,var(--away) 0 2px,var(--card) 2px 5px)}
section.dim .seg:not(.on){opacity:.18}
.key{font-size:12px;color:var(--muted);margin-top:6px}
.awaykey{display:inline-block;width:18px;height:10px;vertical-align:-1px;border-radius:2px;
background:repeating-linear-gradient(135deg,var(--away) 0 2px,var(--card) 2px 5px)}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:24px}
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
dl.facts dd{margin:0;overflow-wrap:anywhere}
.health{border-radius:10px;padding:10px 12px;border:1px solid var(--line);font-size:13px}
.health .verdict{text-transform:none;letter-spacing:0;font-weight:600;color:var(--ink);
margin-left:6px}
.health.alert{border-color:#E15759;background:color-mix(in srgb,#E15759 8%,transparent)}
table.figs{border-collapse:collapse;margin:0 0 8px;font-variant-numeric:tabular-nums}
table.figs th,table.figs td{padding:2px 12px 2px 0;text-align:right;font-weight:400}
table.figs th[scope=row]{text-align:left;color:var(--muted)}
table.figs tr:first-child th{color:var(--muted);font-size:12px}
ul.alerts{margin:8px 0 0;padding-left:18px}
ul.alerts li.critical{color:#E15759;font-weight:600}
.empty{color:var(--muted)}
footer{max-width:1240px;margin:0 auto;padding:0 40px 32px;color:var(--muted);font-size:12px}
#tip{position:fixed;pointer-events:none;z-index:10;background:var(--card);color:var(--ink);
border:1px solid var(--line);border-radius:8px;padding:8px 10px;font-size:13px;
box-shadow:0 6px 24px rgba(0,0,0,.16);max-width:300px}
#tip b{display:flex;align-items:center;gap:6px}
#tip .sw{margin-right:0}
@media (max-width:620px){
header.top{padding:18px 14px 4px}
h1{font-size:22px}
main{padding:4px 10px 16px}
footer{padding:0 14px 24px}
section.user{padding:14px 12px;border-radius:12px}
.kpis{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
.kpi-value{font-size:17px}
.grid2{grid-template-columns:minmax(0,1fr)}
.details{grid-template-columns:minmax(0,1fr)}
td.barcell{width:35%}
table.legend td{padding:4px 3px}
.tl.range .tlrow{grid-template-columns:1fr auto;column-gap:8px}
.tl.range .tlrow .lane,.tl.range .tlrow .ticks{grid-column:1 / -1;grid-row:2}
.tl.range .tlrow.axis .dname,.tl.range .tlrow.axis .dtotal{display:none}
.tl.range .tlrow.axis .ticks{grid-row:1}
.tick.minor{display:none}
}
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
    if(x+w>innerWidth-8) x=Math.max(4,e.clientX-w-14);
    if(y+h>innerHeight-8) y=Math.max(4,e.clientY-h-14);
    tip.style.left=x+'px'; tip.style.top=y+'px';
  }
  function hide(){ tip.hidden=true; }
  var segs=document.querySelectorAll('.seg');
  segs.forEach(function(r){
    r.addEventListener('mouseenter',show); r.addEventListener('mousemove',move);
    r.addEventListener('mouseleave',hide);
    r.removeAttribute('title');  // the card says it, without the browser's own tooltip
  });
  // hovering a label in the totals lights up its segments in that user's timeline
  document.querySelectorAll('section.user').forEach(function(sec){
    sec.querySelectorAll('[data-label]').forEach(function(el){
      if(el.classList.contains('seg')) return;
      el.addEventListener('mouseenter',function(){
        sec.classList.add('dim');
        sec.querySelectorAll('.seg').forEach(function(r){
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
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="generator" content="taskclf-daemon report">'
        f"<title>taskclf report · {_e(title)}</title><style>{_CSS}</style>"
        f'<script>{_ERRORS}</script></head><body><div id="report-errors" hidden></div>'
        f'<header class="top"><div class="brand">taskclf-daemon · where the time went</div>'
        f'<h1>{_e(title)}</h1><p class="sub">{_e(sub)}</p></header>'
        f"<main>{users}</main>"
        f"<footer>From the label log {_e(view.label_log)}{_e(skipped)}. Minutes count the time "
        "each window stands for (its ActivityWatch events, without away time), by the day's "
        "smoothed label; gaps are time with no windows. "
        "This page loads nothing from the network.</footer>"
        '<div id="tip" role="tooltip" hidden></div>'
        '<div id="report-status" hidden></div>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
