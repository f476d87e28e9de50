"""Times and days a person types ("09:00", "yesterday 14:00") → aware UTC instants, dates.

The one reading of a typed time for every command that takes one (`label`, `report`,
`collect`): local by default, docs/times.md.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from taskclf_core.errors import TimeError
from taskclf_core.timerange import day_in_range, day_out_of_range, in_range, out_of_range

__all__ = [
    "DAY_FORMS",
    "FORMS",
    "format_local",
    "parse_day",
    "parse_when",
    "yesterday_form",
    "zone_name",
]

FORMS = (
    '"now", "09:00", "today 09:00", "yesterday 14:00", "2026-11-30 09:00", "2026-11-30", '
    '"2026-11-30T09:00" (all local time), or ISO-8601 with an offset '
    '("2026-11-30T09:00:00+01:00", "...Z")'
)
DAY_FORMS = '"today", "yesterday" or a local calendar day YYYY-MM-DD ("2026-11-30")'
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
        raise TimeError(f"{field}: {text!r} is not a time of day (expected HH:MM, 00:00–23:59)")
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
        raise TimeError(
            f"{field}: {text!r} does not exist in {zone_name(tz)}: the clocks skip it on "
            f"{wall.date()} (daylight-saving change); give a time before or after the gap"
        )
    raise TimeError(
        f"{field}: {text!r} happens twice in {zone_name(tz)} on {wall.date()} (daylight-saving "
        f"change, UTC{_offset(before)} then UTC{_offset(after)}); add the offset you mean, e.g. "
        f"'{wall:%Y-%m-%d %H:%M}{_offset(before)}'"
    )


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_when(text: str, *, now: datetime, tz: tzinfo, field: str = "time") -> datetime:
    """``text`` as an aware UTC instant; every form without an offset is read in ``tz`` (see
    :data:`FORMS`).

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
        raise TimeError(out_of_range(field, repr(text.strip()[:40])))
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
            raise TimeError(
                f"{field}: {raw!r} is not a calendar date (expected YYYY-MM-DD)"
            ) from None
        wall = _wall(day, match, raw, field) if match.group("h") else datetime.combine(day, time())
        return _localize(wall, tz, raw, field)
    try:
        absolute = datetime.fromisoformat(raw)
    except ValueError:
        raise TimeError(f"{field}: cannot read {raw!r} as a time; expected {FORMS}") from None
    if absolute.tzinfo is None:  # ISO-8601 forms the patterns leave out (fractions of a second)
        return _localize(absolute, tz, raw, field)
    return absolute.astimezone(UTC)


def parse_day(text: str, *, today: date, field: str = "day") -> date:
    """``text`` as a calendar day (see :data:`DAY_FORMS`): ``today`` is the local day."""
    raw = text.strip()
    word = raw.lower()
    day: date | None = None
    if word == "today":
        day = today
    elif word == "yesterday":
        day = today - timedelta(days=1)
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:  # 2026-02-30
            day = None
    if day is None:
        raise TimeError(f"{field}: cannot read {raw[:40]!r} as a day; expected {DAY_FORMS}")
    if not day_in_range(day):
        raise TimeError(day_out_of_range(field, str(day)))
    return day


def yesterday_form(text: str) -> str | None:
    """``text`` said of yesterday ("23:00" → "yesterday 23:00"), when it names a time of
    today by the clock alone; None for any other form."""
    match = _RELATIVE.fullmatch(text.strip())
    if match is None or (match.group("day") or "").lower() == "yesterday":
        return None
    return f"yesterday {text.strip()[match.start('h') :]}"


def format_local(ts: datetime, tz: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (seconds only when present), for tables a person reads."""
    local = ts.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
