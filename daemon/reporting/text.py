"""The terminal form of a report: per user and day, a small bar chart and the figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from daemon.reporting.drift import format_drift
from daemon.reporting.palette import colour_for, rgb
from daemon.reporting.view import RangeTotals, ReportView, UserView, fmt_minutes, local_hm
from taskclf_core.daily import DayReport, Segment
from taskclf_core.words import plural

__all__ = ["render_text"]

BAR_WIDTH: Final = 28
_EIGHTHS: Final = " ▏▎▍▌▋▊▉"
_NAME: Final = 15  # label column


class _Style:
    def __init__(self, colour: bool, unicode: bool, extra: Mapping[str, str]) -> None:
        self.colour = colour
        self.unicode = unicode
        self.extra = extra

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.colour else text

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

    def paint(self, text: str, label: str) -> str:
        if not self.colour or not text:
            return text
        r, g, b = rgb(colour_for(label, self.extra))
        return f"\x1b[38;2;{r};{g};{b}m{text}\x1b[0m"

    def bar(self, fraction: float, width: int = BAR_WIDTH) -> str:
        """A left-aligned bar ``fraction`` of ``width`` cells long, padded to ``width``."""
        fraction = min(max(fraction, 0.0), 1.0)
        if not self.unicode:
            n = round(fraction * width)
            return "#" * n + " " * (width - n)
        eighths = round(fraction * width * 8)
        full, part = divmod(eighths, 8)
        text = "█" * full + (_EIGHTHS[part] if part else "")
        if not text and fraction > 0:
            text = "▏"  # something shows for every label that has time
        return text + " " * (width - len(text))

    def stacked(self, parts: Mapping[str, float], scale: float, width: int = BAR_WIDTH) -> str:
        """One bar of ``width`` cells: each label's share in its colour (colour mode only)."""
        total = sum(parts.values())
        if not self.colour or total <= 0:
            return self.bar(total / scale if scale else 0.0, width)
        cells = round(total / scale * width) if scale else 0
        out, used, acc = [], 0, 0.0
        for label, minutes in parts.items():
            acc += minutes
            upto = round(acc / total * cells)
            if upto > used:
                out.append(self.paint("█" * (upto - used), label))
                used = upto
        return "".join(out) + " " * (width - used)


def _hm(epoch: float, view: ReportView) -> str:
    return local_hm(epoch, view.tz)


def _block(day: date | None, segment: Segment, view: ReportView) -> str:
    when = f"{day:%a %d} " if day is not None and view.is_range else ""
    span = f"{_hm(segment.start, view)}–{_hm(segment.end, view)}"
    return f"{when}{span} {segment.label} ({fmt_minutes(segment.seconds / 60)})"


def _label_lines(breakdown: Mapping[str, float], total: float, style: _Style) -> list[str]:
    lines = []
    ordered = sorted(breakdown.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ordered[0][1] if ordered else 0.0
    for label, minutes in ordered:
        share = minutes / total if total else 0.0
        name = style.paint(f"{label:<{_NAME}}", label)
        # bars compare labels (the longest is full width); the column gives the share
        bar = style.paint(style.bar(minutes / top if top else 0.0), label)
        lines.append(f"  {name}{bar} {fmt_minutes(minutes):>12} {share * 100:4.0f}%")
    return lines


def _figure(name: str, value: str, style: _Style) -> str:
    return f"  {style.dim(f'{name:<{_NAME}}')}{value}"


def _figures(
    totals: RangeTotals, view: ReportView, style: _Style, *, one_day: DayReport | None
) -> list[str]:
    lines = []
    if totals.mapped_breakdown:
        parts = [
            f"{style.paint(name, name)} {fmt_minutes(m)} {m / totals.total_minutes * 100:.0f}%"
            for name, m in totals.mapped_breakdown.items()
        ]
        lines.append(_figure("buckets", " · ".join(parts), style))
    if totals.away_minutes >= 0.5:
        lines.append(
            _figure("away", f"{fmt_minutes(totals.away_minutes)} (afk, not counted)", style)
        )
    lines.append(
        _figure(
            "rejected",
            f"{totals.reject_rate * 100:.1f}% of windows ({totals.rejected} Mixed/Unknown)",
            style,
        )
    )
    lines.append(
        _figure(
            "segments",
            f"{totals.segments_count} · flap rate {totals.flap_rate_raw:.3f} raw, "
            f"{totals.flap_rate_smoothed:.3f} smoothed",
            style,
        )
    )
    blocks = (
        [(None, s) for s in one_day.focus_blocks()] if one_day is not None else totals.focus_blocks
    )
    if blocks:
        text = " · ".join(_block(d, s, view) for d, s in blocks)
        lines.append(_figure("longest focus", text, style))
    if totals.mean_confidence is not None:
        lines.append(_figure("confidence", f"{totals.mean_confidence:.2f} mean", style))
    stores = ", ".join("none" if s is None else s for s in totals.stores)
    models = ", ".join(totals.models) or "-"
    lines.append(_figure("models", f"{models} (calibrator stores: {stores or '-'})", style))
    return lines


def _user(user: UserView, view: ReportView, style: _Style) -> list[str]:
    totals = user.totals
    if view.is_range:
        first, last = view.days[0], view.days[-1]
        when = f"{first:%a %d %b} – {last:%a %d %b %Y}"
    else:
        when = f"{view.days[0]:%A %d %B %Y}"
    lines = [style.bold(f"{user.user_id} · {when} · {view.zone_name}")]
    if not user.days:
        return [*lines, "  no windows labelled", ""]
    spread = ""
    if not view.is_range and user.days[view.days[0]].segments:
        only = user.days[view.days[0]]
        spread = f", {_hm(only.segments[0].start, view)}–{_hm(only.segments[-1].end, view)}"
    over = f" over {plural(totals.days_with_windows, 'day')}" if view.is_range else ""
    windows = plural(totals.windows, "window")
    lines.append(f"  {fmt_minutes(totals.total_minutes)} labelled{over} ({windows}{spread})")
    lines.append("")
    if view.is_range:
        longest = max(r.total_minutes for r in user.days.values())
        for day in view.days:
            report = user.days.get(day)
            name = f"{day:%a %d %b}"
            if report is None:
                dash = style.dim(f"{'–':<{BAR_WIDTH}}")
                lines.append(f"  {name:<{_NAME}}{dash} {'no windows':>12}")
                continue
            parts = dict(sorted(report.core_breakdown.items(), key=lambda kv: (-kv[1], kv[0])))
            bar = style.stacked(parts, longest)
            lines.append(f"  {name:<{_NAME}}{bar} {fmt_minutes(report.total_minutes):>12}")
        lines.append("")
    lines += _label_lines(totals.core_breakdown, totals.total_minutes, style)
    lines.append("")
    one_day = None if view.is_range else user.days[view.days[0]]
    lines += _figures(totals, view, style, one_day=one_day)
    lines.append("")
    return lines


def render_text(view: ReportView, *, colour: bool = False, unicode: bool = True) -> str:
    """The report as terminal text (ANSI colour only when ``colour``)."""
    style = _Style(colour, unicode, view.bucket_colours)
    lines: list[str] = []
    for user in view.users:
        lines += _user(user, view, style)
    drift = {u.user_id: u.drift for u in view.users if u.drift is not None}
    if drift:
        lines.append(style.bold("model health now (last 24 h against the 7 days before)"))
        lines += format_drift(drift)
        lines.append("")
    if view.skipped:
        lines.append(
            f"note: {plural(view.skipped, 'damaged line')} in the label log "
            f"{'was' if view.skipped == 1 else 'were'} skipped ({view.label_log})"
        )
    return "\n".join(lines).rstrip("\n") + "\n"
