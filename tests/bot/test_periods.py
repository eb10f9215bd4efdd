"""Report periods on fixed instants: rolling windows, calendar weeks and months, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import InvalidInput
from bot.periods import DEFAULT_PERIOD, Period, parse_period

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York (EST, UTC-5)


def ny(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=NY).astimezone(UTC)


def parse(text: str, now: datetime = NOW, timezone: ZoneInfo = NY) -> Period:
    return parse_period(text, now=now, timezone=timezone)


@pytest.mark.parametrize(
    ("text", "days", "label"),
    [
        ("7d", 7, "last 7 days"),
        ("30d", 30, "last 30 days"),
        ("90d", 90, "last 90 days"),
        ("1d", 1, "last 24 hours"),
        ("1w", 7, "last 7 days"),
        ("4w", 28, "last 4 weeks"),
        (" 14D ", 14, "last 14 days"),
    ],
)
def test_rolling_periods_are_the_exact_days_up_to_now(text: str, days: int, label: str) -> None:
    assert parse(text) == Period(start=NOW - timedelta(days=days), end=NOW, label=label)


def test_the_default_period_is_the_last_week() -> None:
    assert parse(DEFAULT_PERIOD).label == "last 7 days"


def test_calendar_periods_follow_the_teams_midnights() -> None:
    assert parse("today") == Period(ny(2026, 11, 24), ny(2026, 11, 25), "today")
    # Weeks start on Monday: Tuesday the 24th is in the week of Monday the 23rd.
    assert parse("this-week") == Period(ny(2026, 11, 23), ny(2026, 11, 30), "this week")
    assert parse("last-week") == Period(ny(2026, 11, 16), ny(2026, 11, 23), "last week")
    assert parse("this-month") == Period(ny(2026, 11, 1), ny(2026, 12, 1), "this month")
    assert parse("last-month") == Period(ny(2026, 10, 1), ny(2026, 11, 1), "last month")


def test_a_utc_instant_belongs_to_the_local_day() -> None:
    # 02:00 UTC on Tuesday is still Monday evening in New York.
    late_monday = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert parse("today", now=late_monday).start == ny(2026, 11, 23)
    assert parse("today", now=late_monday, timezone=ZoneInfo("UTC")).start == datetime(
        2026, 11, 24, tzinfo=UTC
    )


def test_boundaries_are_local_midnights_across_a_dst_change() -> None:
    # 1 November 2026 ends daylight saving time in New York: October ran on UTC-4.
    period = parse("last-month")
    assert period.start == datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    # The week holding the change (it falls on Sunday) is 7 local days long: 169 hours.
    week = parse("this-week", now=ny(2026, 10, 28, 12))
    assert week.end - week.start == timedelta(hours=169)


def test_year_ends_roll_over() -> None:
    january = ny(2027, 1, 6, 12)  # a Wednesday
    assert parse("last-month", now=january) == Period(ny(2026, 12, 1), ny(2027, 1, 1), "last month")
    assert parse("this-month", now=ny(2026, 12, 15)).end == ny(2027, 1, 1)
    assert parse("last-week", now=january) == Period(ny(2026, 12, 28), ny(2027, 1, 4), "last week")


def test_spellings_people_type_are_accepted() -> None:
    assert parse("This_Week") == parse("this-week")
    assert parse("last month") == parse("last-month")


@pytest.mark.parametrize(
    "text", ["", "week", "7", "d7", "7days", "-7d", "1.5d", "next-week", "٣d", "²d"]
)
def test_anything_else_is_refused_with_the_choices(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert set(refused.value.errors) == {"period"}
    assert "7d, 30d" in refused.value.errors["period"]
    assert "last-month" in refused.value.errors["period"]


@pytest.mark.parametrize(
    ("text", "limit"),
    [("0d", "3660"), ("3661d", "3660"), ("523w", "522"), ("9" * 5000 + "d", "3660")],
)
def test_counts_out_of_range_are_refused_in_a_short_message(text: str, limit: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert f"between 1 and {limit}" in refused.value.errors["period"]
    assert len(refused.value.errors["period"]) < 100


def test_now_may_be_given_in_any_zone() -> None:
    assert parse("7d", now=NOW.astimezone(NY)).end == NOW
    assert parse("7d", now=NOW.astimezone(NY)).end.tzinfo == UTC
