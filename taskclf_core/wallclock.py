"""Wall-clock times a person types ("09:00", "yesterday 14:00") → aware UTC instants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from taskclf_core.errors import SpanError
from taskclf_core.timerange import in_range, out_of_range

__all__ = ["FORMS", "format_local", "parse_when", "zone_name"]

FORMS = (
    '"now", "09:00", "today 09:00", "yesterday 14:00", "2026-11-30 09:00", "2026-11-30", '
    'or ISO-8601 with an offset ("2026-11-30T09:00:00+01:00", "...Z")'
)
_TIME = r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
_RELATIVE = re.compile(rf"(?:(?P<day>today|yesterday)\s+)?{_TIME}", re.IGNORECASE)
_DATED = re.compile(rf"(?P<date>\d{{4}}-\d{{2}}-\d{{2}})(?:[ T]+{_TIME})?", re.IGNORECASE)


def zone_name(tz: tzinfo) -> str:
    """How a message names a zone: its key ("Europe/Berlin") or its offset name."""
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else str(tz)


def _wall(day: date, match: re.Match[str], text: str, field: str) -> datetime:
    h, m, s = (int(match.group(g) or 0) for g in ("h", "m", "s"))
    if h > 23 or m > 59 or s > 59:
        raise SpanError(f"{field}: {text!r} is not a time of day (expected HH:MM, 00:00–23:59)")
    return datetime.combine(day, time(h, m, s))


def _localize(wall: datetime, tz: tzinfo, text: str, field: str) -> datetime:
    """The instant ``wall`` names in ``tz``; a time skipped or repeated by a DST change is refused.

    zoneinfo answers both ``fold`` values for every wall time: they agree on ordinary times,
    differ on a repeated hour (both round-trip), and differ on a skipped one (neither does).
    """
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after:
        return first.astimezone(UTC)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        raise SpanError(
            f"{field}: {text!r} does not exist in {zone_name(tz)}: the clocks skip it on "
            f"{wall.date()} (daylight-saving change); give a time before or after the gap"
        )
    raise SpanError(
        f"{field}: {text!r} happens twice in {zone_name(tz)} on {wall.date()} (daylight-saving "
        f"change, UTC{_offset(before)} then UTC{_offset(after)}); add the offset you mean, e.g. "
        f"'{wall:%Y-%m-%d %H:%M}{_offset(before)}'"
    )


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_when(text: str, *, now: datetime, tz: tzinfo, field: str = "time") -> datetime:
    """``text`` as an aware UTC instant; wall-clock forms are read in ``tz`` (see :data:`FORMS`).

    ``now`` (aware) anchors "now", "today" and a bare time; a bare time is today's. A local
    time that a daylight-saving change skips or repeats is refused with the reason, and so
    is one outside the supported times (:mod:`taskclf_core.timerange`).
    """
    if now.tzinfo is None:
        raise ValueError("now: expected an aware datetime")
    try:
        when = _instant(text.strip(), now, tz, field)
    except OverflowError:  # 9999-12-31 23:59 west of UTC: past the last datetime
        when = None
    if when is None or not in_range(when):
        raise SpanError(out_of_range(field, repr(text.strip()[:40])))
    return when


def _instant(raw: str, now: datetime, tz: tzinfo, field: str) -> datetime:
    if raw.lower() == "now":
        return now.astimezone(UTC)
    today = now.astimezone(tz).date()
    if match := _RELATIVE.fullmatch(raw):
        day = (
            today - timedelta(days=1)
            if (match.group("day") or "").lower() == "yesterday"
            else today
        )
        return _localize(_wall(day, match, raw, field), tz, raw, field)
    if match := _DATED.fullmatch(raw):
        try:
            day = date.fromisoformat(match.group("date"))
        except ValueError:
            raise SpanError(
                f"{field}: {raw!r} is not a calendar date (expected YYYY-MM-DD)"
            ) from None
        wall = _wall(day, match, raw, field) if match.group("h") else datetime.combine(day, time())
        return _localize(wall, tz, raw, field)
    try:
        absolute = datetime.fromisoformat(raw)
    except ValueError:
        absolute = None
    if absolute is not None and absolute.tzinfo is not None:
        return absolute.astimezone(UTC)
    raise SpanError(f"{field}: cannot read {raw!r} as a time; expected {FORMS}")


def format_local(ts: datetime, tz: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (seconds only when present), for tables a person reads."""
    local = ts.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
