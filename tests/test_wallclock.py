"""Times a person types, read in their zone; DST gaps and repeats are named, not guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskclf_core.errors import TimeError
from taskclf_core.wallclock import format_local, parse_day, parse_when, yesterday_form

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 30, 15, 42, 10, tzinfo=UTC)  # 16:42:10 in Berlin (UTC+1)


def when(text: str, tz: timezone | ZoneInfo = BERLIN, now: datetime = NOW) -> datetime:
    return parse_when(text, now=now, tz=tz, field="--from")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("9:05", datetime(2026, 11, 30, 8, 5, tzinfo=UTC)),
        ("today 23:59:30", datetime(2026, 11, 30, 22, 59, 30, tzinfo=UTC)),
        ("yesterday 14:00", datetime(2026, 11, 29, 13, 0, tzinfo=UTC)),
        ("Yesterday  14:00", datetime(2026, 11, 29, 13, 0, tzinfo=UTC)),
        ("2026-11-30 09:00", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("2026-11-30T09:00:15", datetime(2026, 11, 30, 8, 0, 15, tzinfo=UTC)),
        ("2026-07-01 09:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),  # summer: UTC+2
        ("2026-11-30", datetime(2026, 11, 29, 23, 0, tzinfo=UTC)),
        ("2026-11-30T09:00:00Z", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        ("2026-11-30T09:00:00-05:00", datetime(2026, 11, 30, 14, 0, tzinfo=UTC)),
        # every ISO-8601 form without an offset is local, fractions of a second too
        ("2026-11-30T09:00:00.250", datetime(2026, 11, 30, 8, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-30T09:00", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("now", NOW),
        ("  NOW ", NOW),
    ],
)
def test_forms(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_today_is_the_local_day_not_the_utc_one() -> None:
    # 23:30 UTC on the 30th is already the 1st in Berlin
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert when("09:00", now=late) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert when("yesterday 09:00", now=late) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_spring_forward_gap_is_refused() -> None:
    with pytest.raises(
        TimeError, match=r"--from: '2026-03-29 02:30' does not exist in Europe/Berlin"
    ):
        when("2026-03-29 02:30")
    # either side of the gap is fine and one hour of wall clock apart is zero real minutes
    assert when("2026-03-29 03:00") - when("2026-03-29 01:59") == timedelta(minutes=1)


def test_fall_back_repeat_is_refused_with_both_offsets() -> None:
    with pytest.raises(TimeError, match=r"happens twice .* UTC\+02:00 then UTC\+01:00") as info:
        when("2026-10-25 02:30")
    assert "2026-10-25 02:30+02:00" in str(info.value)
    assert when("2026-10-25 02:30+02:00") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert when("2026-10-25 02:30+01:00") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # the local day of the change is 25 hours long
    assert when("2026-10-26") - when("2026-10-25") == timedelta(hours=25)


@pytest.mark.parametrize(
    "text", ["", "tomorrow 09:00", "25:00", "09:60", "2026-13-01 09:00", "9am", "2026-11-30 9"]
)
def test_bad_input_names_the_field_and_the_forms(text: str) -> None:
    with pytest.raises(TimeError, match=r"^--from: "):
        when(text)


def test_fixed_offset_zone() -> None:
    tz = timezone(timedelta(hours=-3))
    assert when("09:00", tz=tz) == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)))
def test_format_local_reads_back(naive: datetime) -> None:
    instant = naive.replace(microsecond=0, tzinfo=UTC)
    text = format_local(instant, BERLIN)
    try:
        back = when(text)
    except TimeError:
        return  # the repeated hour of a fall-back night needs its offset
    assert back == instant


def test_a_naive_time_in_a_dst_gap_is_refused_in_every_form() -> None:
    for text in ("2026-03-29 02:30", "2026-03-29T02:30", "2026-03-29T02:30:00.5"):
        with pytest.raises(TimeError, match="does not exist in Europe/Berlin"):
            when(text)


def test_days() -> None:
    today = date(2026, 11, 30)
    assert parse_day("today", today=today) == today
    assert parse_day(" Yesterday ", today=today) == date(2026, 11, 29)
    assert parse_day("2026-02-28", today=today) == date(2026, 2, 28)
    for bad in ("2026-02-30", "30.11.2026", "", "2026-11-30 09:00", "tomorrow"):
        with pytest.raises(TimeError, match=r"^--date: cannot read .* as a day; expected "):
            parse_day(bad, today=today, field="--date")
    with pytest.raises(TimeError, match="outside the supported days"):
        parse_day("1999-12-31", today=today, field="--date")


def test_yesterday_form_moves_a_time_of_today_only() -> None:
    assert yesterday_form("23:00") == "yesterday 23:00"
    assert yesterday_form(" today 23:00:15 ") == "yesterday 23:00:15"
    assert yesterday_form("Today  7:05") == "yesterday 7:05"
    for other in ("yesterday 23:00", "2026-11-30 23:00", "now", "2026-11-30T23:00Z"):
        assert yesterday_form(other) is None
