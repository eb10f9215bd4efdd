"""Tests for the working-time calendar that business-hour SLA windows are counted in."""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.business_hours import WEEKDAYS, WorkingCalendar
from bot.rules import Hours

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_MON_FRI = ["mon", "tue", "wed", "thu", "fri"]
HOUR = dt.timedelta(hours=1)


def us_calendar(extra_holidays: list[dt.date] | None = None) -> WorkingCalendar:
    """The default team: New York, 09:00–17:00 Monday to Friday, US public holidays."""
    return calendar(holidays="US", extra_holidays=extra_holidays or [])


def calendar(**hours: Any) -> WorkingCalendar:
    """A calendar from `[hours]` as the rules file gives them (New York, Monday to Friday,
    09:00–17:00 and no holidays unless told)."""
    settings: dict[str, Any] = {
        "timezone": "America/New_York",
        "days": WEEKDAYS_MON_FRI,
        "start": "09:00",
        "end": "17:00",
    }
    return Hours.model_validate({**settings, **hours}).calendar()


def ny(*args: int) -> dt.datetime:
    """A New York wall-clock instant (zoneinfo resolves the UTC offset for that date)."""
    return dt.datetime(*args, tzinfo=NEW_YORK)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def cal() -> WorkingCalendar:
    return us_calendar()


# --- adding working time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(ny(2026, 6, 9, 10), 4 * HOUR, utc(2026, 6, 9, 18), id="tuesday-10h-plus-4h"),
        pytest.param(ny(2026, 6, 12, 15), 4 * HOUR, utc(2026, 6, 15, 15), id="friday-over-weekend"),
        pytest.param(ny(2026, 6, 9, 3), 4 * HOUR, utc(2026, 6, 9, 17), id="night-arrival"),
        pytest.param(ny(2026, 6, 13, 12), 4 * HOUR, utc(2026, 6, 15, 17), id="saturday-arrival"),
        pytest.param(ny(2026, 6, 14, 23), 4 * HOUR, utc(2026, 6, 15, 17), id="sunday-night"),
        pytest.param(ny(2026, 6, 9, 18), HOUR, utc(2026, 6, 10, 14), id="after-closing"),
        pytest.param(ny(2026, 6, 9, 13), 4 * HOUR, utc(2026, 6, 9, 21), id="lands-on-closing"),
        pytest.param(ny(2026, 6, 9, 9), 8 * HOUR, utc(2026, 6, 9, 21), id="whole-day"),
    ],
)
def test_add_working_time(
    cal: WorkingCalendar, start: dt.datetime, duration: dt.timedelta, expected: dt.datetime
) -> None:
    assert cal.add_working_time(start, duration) == expected


def test_result_is_utc(cal: WorkingCalendar) -> None:
    result = cal.add_working_time(ny(2026, 6, 9, 10), 4 * HOUR)
    assert result.tzinfo is dt.UTC
    assert cal.next_opening(ny(2026, 6, 9, 10)).tzinfo is dt.UTC


def test_night_arrival_starts_the_clock_at_opening(cal: WorkingCalendar) -> None:
    assert cal.next_opening(ny(2026, 6, 9, 3)) == ny(2026, 6, 9, 9)
    assert cal.working_time_between(ny(2026, 6, 9, 3), ny(2026, 6, 9, 9)) == dt.timedelta(0)


def test_deadline_exactly_at_closing_stays_at_closing(cal: WorkingCalendar) -> None:
    deadline = cal.add_working_time(ny(2026, 6, 9, 13), 4 * HOUR)
    assert deadline == ny(2026, 6, 9, 17)
    assert not cal.is_open(deadline)
    assert cal.working_time_between(ny(2026, 6, 9, 13), deadline) == 4 * HOUR
    # One microsecond more spills over into the next morning.
    spilled = cal.add_working_time(ny(2026, 6, 9, 13), 4 * HOUR + dt.timedelta(microseconds=1))
    assert spilled == ny(2026, 6, 10, 9, 0, 0, 1)


def test_zero_duration_is_start_clamped_to_next_opening(cal: WorkingCalendar) -> None:
    assert cal.add_working_time(ny(2026, 6, 9, 3), dt.timedelta(0)) == ny(2026, 6, 9, 9)
    assert cal.add_working_time(ny(2026, 6, 9, 11), dt.timedelta(0)) == ny(2026, 6, 9, 11)
    assert cal.add_working_time(ny(2026, 6, 9, 17), dt.timedelta(0)) == ny(2026, 6, 10, 9)


def test_three_business_days_span_a_weekend(cal: WorkingCalendar) -> None:
    # Thursday 13:00: 4 h Thursday + 8 h Friday + 8 h Monday + 4 h Tuesday.
    deadline = cal.add_working_time(ny(2026, 6, 11, 13), 3 * cal.working_day)
    assert deadline == utc(2026, 6, 16, 17)
    assert deadline == ny(2026, 6, 16, 13)


def test_window_of_several_weeks_skips_weekends_and_holidays(cal: WorkingCalendar) -> None:
    # 30 working days from Monday 2 February 2026; Presidents' Day (16 February) is closed,
    # and the window crosses the spring DST change.
    deadline = cal.add_working_time(ny(2026, 2, 2, 9), 30 * cal.working_day)
    assert deadline == ny(2026, 3, 16, 17)
    assert deadline == utc(2026, 3, 16, 21)


def test_very_long_window_round_trips(cal: WorkingCalendar) -> None:
    start = ny(2026, 1, 5, 9)
    duration = 5 * 250 * cal.working_day  # about five years
    deadline = cal.add_working_time(start, duration)
    assert dt.date(2030, 12, 1) < deadline.date() < dt.date(2031, 3, 1)
    assert cal.working_time_between(start, deadline) == duration


# --- holidays ------------------------------------------------------------------------------------


def test_thanksgiving_is_skipped(cal: WorkingCalendar) -> None:
    assert not cal.is_open(ny(2026, 11, 26, 12))
    # Wednesday 15:00 + 4 h: 2 h Wednesday, Thursday closed, 2 h Friday.
    assert cal.add_working_time(ny(2026, 11, 25, 15), 4 * HOUR) == utc(2026, 11, 27, 16)


def test_observed_independence_day_is_skipped(cal: WorkingCalendar) -> None:
    # 4 July 2026 is a Saturday, so Friday 3 July is the observed holiday.
    assert not cal.is_open(ny(2026, 7, 3, 12))
    assert cal.add_working_time(ny(2026, 7, 2, 15), 4 * HOUR) == utc(2026, 7, 6, 15)


def test_extra_holidays_combine_with_country_holidays() -> None:
    offsite = dt.date(2026, 6, 12)
    cal = us_calendar(extra_holidays=[offsite])
    assert not cal.is_open(ny(2026, 6, 12, 12))
    assert not cal.is_open(ny(2026, 11, 26, 12))
    assert cal.add_working_time(ny(2026, 6, 11, 15), 4 * HOUR) == ny(2026, 6, 15, 11)


def test_hours_handed_to_another_process_keep_their_holidays() -> None:
    """The delivery process gets the rules pickled: its calendar skips the same days, without
    looking them up again (the `holidays` package, some 12 MB, stays out of that process)."""
    hours = Hours.model_validate({"holidays": "US", "extra_holidays": ["2026-06-12"]})
    check = (
        "import pickle, sys, datetime as dt; "
        "cal = pickle.loads(sys.stdin.buffer.read()).calendar(); "
        "closed = [day for day in (dt.date(2026, 11, 26), dt.date(2026, 6, 12), "
        "dt.date(2030, 12, 25)) if day in cal.holidays]; "
        "sys.exit(len(closed) != 3 or any(m.startswith('holidays') for m in sys.modules))"
    )
    ran = subprocess.run([sys.executable, "-c", check], input=pickle.dumps(hours), check=False)
    assert ran.returncode == 0


def test_extra_holidays_without_a_country() -> None:
    cal = calendar(extra_holidays=[dt.date(2026, 6, 12)])
    assert not cal.is_open(ny(2026, 6, 12, 12))
    assert cal.is_open(ny(2026, 11, 26, 12))  # no country calendar, so Thanksgiving is open
    assert cal.add_working_time(ny(2026, 6, 11, 15), 4 * HOUR) == ny(2026, 6, 15, 11)


def test_long_holiday_run_is_skipped() -> None:
    winter_break = [dt.date(2026, 12, 21) + dt.timedelta(days=n) for n in range(11)]
    cal = us_calendar(extra_holidays=winter_break)
    # Friday 18 December 16:00 + 2 h: 1 h that day, closed until Monday 4 January 2027.
    assert cal.add_working_time(ny(2026, 12, 18, 16), 2 * HOUR) == utc(2027, 1, 4, 15)
    assert cal.next_opening(ny(2026, 12, 19, 0)) == ny(2027, 1, 4, 9)


# --- daylight saving time ------------------------------------------------------------------------


def test_window_spanning_spring_forward(cal: WorkingCalendar) -> None:
    # Friday 6 March 15:00 EST (20:00 UTC); clocks go forward Sunday 8 March.
    start = ny(2026, 3, 6, 15)
    assert start == utc(2026, 3, 6, 20)
    deadline = cal.add_working_time(start, 4 * HOUR)
    assert deadline == utc(2026, 3, 9, 15)  # Monday 11:00 EDT
    assert cal.working_time_between(start, deadline) == 4 * HOUR


def test_window_spanning_fall_back(cal: WorkingCalendar) -> None:
    # Friday 30 October 15:00 EDT (19:00 UTC); clocks go back Sunday 1 November.
    start = ny(2026, 10, 30, 15)
    assert start == utc(2026, 10, 30, 19)
    deadline = cal.add_working_time(start, 4 * HOUR)
    assert deadline == utc(2026, 11, 2, 16)  # Monday 11:00 EST
    assert cal.working_time_between(start, deadline) == 4 * HOUR


@pytest.mark.parametrize(
    ("day", "opening_utc", "closing_utc"),
    [
        pytest.param(dt.date(2026, 3, 8), utc(2026, 3, 8, 13), utc(2026, 3, 8, 21), id="spring"),
        pytest.param(dt.date(2026, 11, 1), utc(2026, 11, 1, 14), utc(2026, 11, 1, 22), id="fall"),
    ],
)
def test_dst_day_keeps_local_opening_hours(
    day: dt.date, opening_utc: dt.datetime, closing_utc: dt.datetime
) -> None:
    cal = calendar(days=list(WEEKDAYS))
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK)
    assert cal.next_opening(midnight) == opening_utc
    assert cal.add_working_time(midnight, cal.working_day) == closing_utc
    assert cal.working_time_between(midnight, midnight + dt.timedelta(days=1)) == 8 * HOUR
    assert not cal.is_open(opening_utc - dt.timedelta(microseconds=1))
    assert cal.is_open(opening_utc)


def test_dst_change_inside_opening_hours_counts_elapsed_time() -> None:
    # A 00:00–06:00 shift on the fall-back night lasts seven real hours; SLA time is real time.
    cal = calendar(days=list(WEEKDAYS), start="00:00", end="06:00")
    assert cal.working_time_between(utc(2026, 11, 1, 0), utc(2026, 11, 1, 12)) == 7 * HOUR
    assert cal.working_time_between(utc(2026, 3, 8, 0), utc(2026, 3, 8, 12)) == 5 * HOUR


# --- other zones and weeks -----------------------------------------------------------------------


def test_berlin_calendar_with_regional_holidays() -> None:
    cal = calendar(
        timezone="Europe/Berlin",
        holidays="DE",
        holiday_subdivision="BY",
        extra_holidays=[dt.date(2026, 12, 24)],
    )
    berlin = ZoneInfo("Europe/Berlin")
    # Thursday 2 April 16:00 CEST + 2 h: Good Friday and Easter Monday are closed.
    start = dt.datetime(2026, 4, 2, 16, tzinfo=berlin)
    assert cal.add_working_time(start, 2 * HOUR) == utc(2026, 4, 7, 8)
    # Berlin changes clocks on 29 March, three weeks after New York.
    friday = dt.datetime(2026, 3, 27, 16, tzinfo=berlin)
    assert friday == utc(2026, 3, 27, 15)
    assert cal.add_working_time(friday, 2 * HOUR) == utc(2026, 3, 30, 8)
    assert not cal.is_open(dt.datetime(2026, 12, 24, 12, tzinfo=berlin))


def test_kolkata_half_hour_offset_accepts_instants_in_any_zone() -> None:
    cal = calendar(timezone="Asia/Kolkata", start="10:00", end="18:00")
    # Monday 1 June 17:00 IST is 11:30 UTC and 07:30 in New York.
    start = ny(2026, 6, 1, 7, 30)
    assert cal.is_open(start)
    assert cal.add_working_time(start, 2 * HOUR) == utc(2026, 6, 2, 5, 30)  # Tuesday 11:00 IST
    assert cal.next_opening(utc(2026, 6, 1, 12, 30)) == utc(2026, 6, 2, 4, 30)


def test_sunday_to_thursday_week() -> None:
    cal = calendar(
        timezone="Asia/Dubai", days=["sun", "mon", "tue", "wed", "thu"], start="08:00", end="16:30"
    )
    dubai = ZoneInfo("Asia/Dubai")
    assert cal.working_day == dt.timedelta(hours=8, minutes=30)
    friday = dt.datetime(2026, 6, 5, 10, tzinfo=dubai)
    assert cal.next_opening(friday) == dt.datetime(2026, 6, 7, 8, tzinfo=dubai)


# --- is_open, working_time_between ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ny(2026, 6, 9, 8, 59, 59), False),
        (ny(2026, 6, 9, 9), True),
        (ny(2026, 6, 9, 16, 59, 59), True),
        (ny(2026, 6, 9, 17), False),
        (ny(2026, 6, 13, 12), False),
        (ny(2026, 11, 26, 12), False),
    ],
)
def test_is_open(cal: WorkingCalendar, at: dt.datetime, expected: bool) -> None:
    assert cal.is_open(at) is expected


def test_working_time_between_is_negative_when_reversed(cal: WorkingCalendar) -> None:
    start, end = ny(2026, 6, 12, 15), ny(2026, 6, 15, 11)
    assert cal.working_time_between(start, end) == 4 * HOUR
    assert cal.working_time_between(end, start) == -4 * HOUR
    assert cal.working_time_between(start, start) == dt.timedelta(0)


def test_working_day_is_end_minus_start() -> None:
    cal = calendar(start="09:30")
    assert cal.working_day == dt.timedelta(hours=7, minutes=30)


def _reference_working_time(
    cal: WorkingCalendar, start: dt.datetime, end: dt.datetime
) -> dt.timedelta:
    """Brute force: look at every quarter hour on the local wall clock."""
    step = dt.timedelta(minutes=15)
    total = dt.timedelta(0)
    instant = start
    while instant < end:
        local = instant.astimezone(cal.timezone)
        if (
            local.weekday() in cal.days
            and local.date() not in cal.holidays
            and cal.start <= local.time() < cal.end
        ):
            total += step
        instant += step
    return total


def _spread_of_starts() -> list[dt.datetime]:
    """Instants every 5 h 15 min across DST changes, Thanksgiving and ordinary weeks."""
    starts = []
    for first in (utc(2026, 3, 2), utc(2026, 6, 29), utc(2026, 10, 26), utc(2026, 11, 20)):
        starts += [first + n * dt.timedelta(hours=5, minutes=15) for n in range(40)]
    return starts


def test_working_time_between_matches_brute_force(cal: WorkingCalendar) -> None:
    for start in _spread_of_starts()[::3]:
        end = start + dt.timedelta(days=6, hours=7, minutes=45)
        assert cal.working_time_between(start, end) == _reference_working_time(cal, start, end)


@pytest.mark.parametrize(
    "duration",
    [
        dt.timedelta(0),
        dt.timedelta(microseconds=1),
        dt.timedelta(minutes=15),
        4 * HOUR,
        8 * HOUR,
        8 * HOUR + dt.timedelta(minutes=1),
        24 * HOUR,
        dt.timedelta(hours=37, minutes=20, seconds=7),
        30 * 8 * HOUR,
    ],
)
def test_working_time_between_inverts_add_working_time(
    cal: WorkingCalendar, duration: dt.timedelta
) -> None:
    for start in _spread_of_starts():
        deadline = cal.add_working_time(start, duration)
        assert deadline >= start
        assert cal.working_time_between(start, deadline) == duration


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"days": []}, "at least one working day"),
        ({"days": ["mon", "funday"]}, "'funday'"),
        ({"start": "17:00", "end": "09:00"}, "end 09:00 must be after start 17:00"),
        ({"start": "09:00", "end": "09:00"}, "end 09:00 must be after start 09:00"),
        ({"start": "9am"}, "'9am'"),
        ({"end": "25:00"}, "'25:00'"),
        ({"timezone": "Mars/Olympus_Mons"}, "'Mars/Olympus_Mons'"),
        ({"timezone": ""}, "unknown time zone ''"),
        ({"holidays": "XX"}, "'XX'"),
        ({"holiday_subdivision": "ZZ"}, "'ZZ'"),
        ({"holidays": None, "holiday_subdivision": "NY"}, "'NY'"),
    ],
)
def test_invalid_hours_name_the_bad_value(overrides: dict[str, Any], message: str) -> None:
    """Hours are checked whole as the rules are read, so no calendar is built from bad ones."""
    with pytest.raises(ValueError, match=message):
        calendar(**{"holidays": "US", **overrides})


def test_weekday_names_are_case_insensitive() -> None:
    cal = calendar(timezone="UTC", days=["Mon", " TUE ", "Wednesday"])
    assert cal.days == frozenset({0, 1, 2})


@pytest.mark.parametrize(
    ("days", "message"), [(frozenset(), "at least one"), (frozenset({0, 7}), r"\[7\]")]
)
def test_constructor_validates_too(days: frozenset[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(NEW_YORK, days, dt.time(9), dt.time(17))


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = dt.datetime(2026, 6, 9, 10)
    aware = ny(2026, 6, 9, 10)
    with pytest.raises(ValueError, match="naive 2026-06-09T10:00:00"):
        cal.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.next_opening(naive)
    with pytest.raises(ValueError, match="start must be a timezone-aware"):
        cal.add_working_time(naive, HOUR)
    with pytest.raises(ValueError, match="end must be a timezone-aware"):
        cal.working_time_between(aware, naive)


def test_negative_duration_is_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        cal.add_working_time(ny(2026, 6, 9, 10), -HOUR)
