"""Tests for forms.dates: ISO parsing, date bounds and (work)day/hour durations of date ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.dates import (
    is_workday,
    moment_text,
    parse_date,
    parse_datetime,
    range_duration,
    resolve_date_bound,
)

CST = timezone(timedelta(hours=8))

# China 2026 National Day: holidays Oct 1-7 (Thu-Wed) and 8 (Thu); Sunday Sep 27 and Saturday Oct 10 are
# adjusted working weekends (illustrative calendar for the tests).
NATIONAL_DAY = [f"2026-10-0{d}" for d in range(1, 9)]
ADJUSTED = ["2026-09-27", "2026-10-10"]


# --- parse_date / parse_datetime -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25", date(2026, 11, 25)),
        (" 2026-11-25 ", date(2026, 11, 25)),
        ("2026-11-25T09:30", date(2026, 11, 25)),
        ("2026-11-25 09:30:00", date(2026, 11, 25)),
        (date(2026, 1, 5), date(2026, 1, 5)),
        (datetime(2026, 1, 5, 23, 59), date(2026, 1, 5)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_parse_date(value, expected):
    result = parse_date(value)
    assert result == expected
    assert type(result) is date


@pytest.mark.parametrize(
    "value",
    ["", "2026-13-01", "2026-02-30", "2025-02-29", "20261125", "2026/11/25", "25-11-2026", "2026-W48-3",
     "2026-11-25T25:00", "2026-1-5", "today", None, 20261125, 1.5, ["2026-11-25"]],
)
def test_parse_date_refuses(value):
    with pytest.raises(ValueError):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25T09:30", datetime(2026, 11, 25, 9, 30)),
        ("2026-11-25 09:30:00", datetime(2026, 11, 25, 9, 30)),
        ("2026-11-25T09:30:15.250", datetime(2026, 11, 25, 9, 30, 15, 250000)),
        ("2026-11-25", datetime(2026, 11, 25)),
        (date(2026, 11, 25), datetime(2026, 11, 25)),
        (datetime(2026, 11, 25, 8), datetime(2026, 11, 25, 8)),
        ("2026-11-25T09:30+08:00", datetime(2026, 11, 25, 9, 30, tzinfo=CST)),
        ("2026-11-25T01:30Z", datetime(2026, 11, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_parse_datetime(value, expected):
    result = parse_datetime(value)
    assert result == expected
    assert (result.tzinfo is None) == (expected.tzinfo is None)


def test_parse_datetime_with_tz():
    naive = parse_datetime("2026-11-25T09:30", tz=CST)
    assert naive == datetime(2026, 11, 25, 9, 30, tzinfo=CST)
    assert naive.utcoffset() == timedelta(hours=8)
    converted = parse_datetime("2026-11-25T01:30Z", tz=CST)
    assert (converted.hour, converted.tzinfo) == (9, CST)
    assert parse_datetime(date(2026, 1, 1), tz=CST).tzinfo is CST


@pytest.mark.parametrize(
    "value",
    ["", "2026-11-25T9:30", "2026-11-25T09", "2026-11-25T09:30:61", "2026-11-25T09:30+8", "2026-11-25X09:30",
     "tomorrow", None, 0, True],
)
def test_parse_datetime_refuses(value):
    with pytest.raises(ValueError):
        parse_datetime(value)


def test_parse_error_message_names_the_value():
    with pytest.raises(ValueError, match="2026-02-30"):
        parse_date("2026-02-30")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("25/11/2026")


# --- resolve_date_bound --------------------------------------------------------------------------------------


def test_resolve_date_bound():
    today = date(2026, 11, 25)
    assert resolve_date_bound("today", today=today) == today
    assert resolve_date_bound(" Today ", today=today) == today
    assert resolve_date_bound("2026-01-01", today=today) == date(2026, 1, 1)
    assert resolve_date_bound(date(2026, 3, 1)) == date(2026, 3, 1)
    assert resolve_date_bound("today") == date.today()
    with pytest.raises(ValueError):
        resolve_date_bound("yesterday", today=today)


# --- day counts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-01-05", "2026-01-05", 1),
        ("2026-01-05", "2026-01-06", 2),
        ("2026-01-01", "2026-12-31", 365),
        ("2024-02-28", "2024-03-01", 3),
        (date(2026, 1, 5), datetime(2026, 1, 9, 8), 5),
        ("2026-01-05T18:00", "2026-01-06T09:00", 2),
    ],
)
def test_days_are_inclusive(start, end, expected):
    result = range_duration(start, end)
    assert result == expected
    assert isinstance(result, int)


def test_workdays_skip_weekends():
    # 2026-01-05 is a Monday
    assert range_duration("2026-01-05", "2026-01-11", workdays=True) == 5
    assert range_duration("2026-01-10", "2026-01-11", workdays=True) == 0
    assert range_duration("2026-01-09", "2026-01-12", workdays=True) == 2
    assert range_duration("2026-01-01", "2026-01-31", workdays=True) == 22


def test_workdays_with_holidays_and_adjusted_weekends():
    # Sep 26 (Sat) .. Oct 11 (Sun): 10 weekdays, 6 of them holidays, plus 2 adjusted working weekends
    result = range_duration("2026-09-26", "2026-10-11", workdays=True, holidays=NATIONAL_DAY,
                            extra_workdays=ADJUSTED)
    assert result == 10 - 6 + 2
    only_holidays = range_duration("2026-10-01", "2026-10-08", workdays=True, holidays=NATIONAL_DAY)
    assert only_holidays == 0
    # holidays outside the range and holidays on weekends change nothing
    assert range_duration("2026-01-05", "2026-01-09", workdays=True,
                          holidays=[date(2026, 1, 10), "2025-01-06"]) == 5
    # without workdays=True the calendar is ignored
    assert range_duration("2026-10-01", "2026-10-08", holidays=NATIONAL_DAY) == 8


def test_holiday_and_extra_workday_must_not_overlap():
    with pytest.raises(ValueError, match="both a holiday and an extra workday"):
        range_duration("2026-01-01", "2026-01-31", workdays=True, holidays=["2026-01-10"],
                       extra_workdays=["2026-01-10"])


def test_calendar_must_be_a_list():
    with pytest.raises(ValueError, match="list of dates"):
        range_duration("2026-01-01", "2026-01-31", workdays=True, holidays="2026-01-01")
    with pytest.raises(ValueError):
        range_duration("2026-01-01", "2026-01-31", workdays=True, holidays=["not a date"])


def test_is_workday():
    assert is_workday("2026-01-05")
    assert not is_workday("2026-01-10")
    assert not is_workday("2026-10-01", holidays=NATIONAL_DAY)
    assert is_workday("2026-10-10", holidays=NATIONAL_DAY, extra_workdays=ADJUSTED)
    assert is_workday(datetime(2026, 9, 27, 10), extra_workdays=ADJUSTED)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(min_value=0, max_value=800),
    st.sets(st.dates(min_value=date(2000, 1, 1), max_value=date(2043, 12, 31)), max_size=20),
    st.sets(st.dates(min_value=date(2000, 1, 1), max_value=date(2043, 12, 31)), max_size=20),
)
def test_workday_count_matches_day_by_day(start, length, holidays, extra):
    extra = extra - holidays
    end = start + timedelta(days=length)
    expected = sum(
        1 for i in range(length + 1)
        if is_workday(start + timedelta(days=i), holidays=holidays, extra_workdays=extra)
    )
    assert range_duration(start, end, workdays=True, holidays=holidays, extra_workdays=extra) == expected
    assert range_duration(start, end) == length + 1


# --- hour counts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-01-05T09:00", "2026-01-05T18:30", "9.50"),
        ("2026-01-05T09:00", "2026-01-05T09:00", "0.00"),
        ("2026-01-05T09:00", "2026-01-06T09:00", "24.00"),
        ("2026-01-05T09:00", "2026-01-05T09:20", "0.33"),
        ("2026-01-05T09:00", "2026-01-05T09:10", "0.17"),
        ("2026-01-05T09:00:00", "2026-01-05T09:00:18", "0.01"),
        ("2026-01-05", "2026-01-05", "24.00"),
        ("2026-01-05", "2026-01-06", "48.00"),
        ("2026-01-05", "2026-01-05T08:00", "8.00"),
        ("2026-01-05T10:00", "2026-01-05", "14.00"),
    ],
)
def test_hours(start, end, expected):
    result = range_duration(start, end, unit="hours")
    assert isinstance(result, Decimal)
    assert str(result) == expected


def test_hours_on_workdays_only():
    # Fri 12:00 .. Mon 12:00: 12 hours on Friday, 12 hours on Monday
    assert range_duration("2026-01-09T12:00", "2026-01-12T12:00", unit="hours", workdays=True) == Decimal(24)
    # a whole week from Monday 00:00 to next Monday 00:00: five 24-hour days
    assert range_duration("2026-01-05T00:00", "2026-01-12T00:00", unit="hours", workdays=True) == Decimal(120)
    # entirely on a weekend
    assert range_duration("2026-01-10T08:00", "2026-01-11T20:00", unit="hours", workdays=True) == 0
    # same day on a workday
    assert range_duration("2026-01-05T09:00", "2026-01-05T17:45", unit="hours", workdays=True) == Decimal("8.75")
    # holiday on the first day, adjusted working Saturday at the end
    result = range_duration("2026-10-08T09:00", "2026-10-10T12:00", unit="hours", workdays=True,
                            holidays=NATIONAL_DAY, extra_workdays=ADJUSTED)
    assert result == Decimal(24 + 12)  # Fri Oct 9 whole day + Sat Oct 10 until noon


def test_hours_with_time_zones():
    start = datetime(2026, 1, 5, 9, 0, tzinfo=CST)
    end = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # 11:00 in Beijing
    assert range_duration(start, end, unit="hours") == Decimal("2.00")
    assert range_duration("2026-01-05T09:00+08:00", "2026-01-05T01:00Z", unit="hours") == 0
    # the end's day is taken in the start's zone: 2026-01-05T17:00Z is Tuesday 01:00 in Beijing
    assert range_duration("2026-01-05T09:00+08:00", "2026-01-05T17:00Z") == 2


def test_hours_across_a_dst_change_are_exact():
    zone = ZoneInfo("America/New_York")  # DST starts on Sunday 2026-03-08
    start = datetime(2026, 3, 7, 12, 0, tzinfo=zone)
    end = datetime(2026, 3, 8, 12, 0, tzinfo=zone)
    assert range_duration(start, end, unit="hours") == Decimal(23)
    assert range_duration(start, end, unit="hours", workdays=True) == 0


def test_end_before_start():
    for start, end in [
        ("2026-01-06", "2026-01-05"),
        ("2026-01-05T10:00", "2026-01-05T09:59"),
        (datetime(2026, 1, 5, 10), date(2026, 1, 4)),
    ]:
        with pytest.raises(ValueError, match="end is before start"):
            range_duration(start, end)
        with pytest.raises(ValueError, match="end is before start"):
            range_duration(start, end, unit="hours", workdays=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unit"):
        range_duration("2026-01-05", "2026-01-06", unit="weeks")
    with pytest.raises(ValueError, match="naive"):
        range_duration(datetime(2026, 1, 5), datetime(2026, 1, 6, tzinfo=CST), unit="hours")
    with pytest.raises(ValueError):
        range_duration("2026-01-05", None)
    with pytest.raises(ValueError):
        range_duration(20260105, "2026-01-06")
    with pytest.raises(ValueError, match="out of the supported range"):
        range_duration("9999-12-30", "9999-12-31", unit="hours")


# -- moment_text: one way to write a moment on a page ---------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_stored_moment_reads_in_the_readers_zone_the_same_way_in_both_languages(lang):
    stored = datetime(2026, 12, 4, 20, 32, tzinfo=UTC)
    assert moment_text(stored, lang, SHANGHAI) == "2026-12-05 04:32"
    assert moment_text(stored.replace(tzinfo=None), lang, SHANGHAI) == "2026-12-05 04:32"  # naive = UTC
    assert moment_text("2026-12-04T20:32:00+00:00", lang, SHANGHAI) == "2026-12-05 04:32"
    assert moment_text(stored, lang, SHANGHAI, part="date") == "2026-12-05"
    assert moment_text(stored, lang, SHANGHAI, part="time") == "04:32"


def test_a_typed_wall_clock_time_and_a_date_are_not_moved():
    assert moment_text("2026-12-07T10:00", "zh", SHANGHAI, naive_utc=False) == "2026-12-07 10:00"
    assert moment_text("2026-12-07T10:00", "en", naive_utc=False) == "2026-12-07 10:00"
    assert moment_text(date(2026, 12, 5), "zh", SHANGHAI) == "2026-12-05"
    assert moment_text("2026-12-05", "en", SHANGHAI) == "2026-12-05"


def test_nothing_and_text_that_is_no_date():
    assert moment_text(None, "zh") == "" and moment_text("", "en") == ""
    assert moment_text("next week", "zh") == "next week"
