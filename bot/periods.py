"""Report periods: what `7d`, `this-week` or `last-month` mean, as half-open UTC intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput

DEFAULT_PERIOD = "7d"
# Far enough back for any report, near enough that `now - N` never leaves datetime's range.
MAX_DAYS = 3660
MAX_WEEKS = MAX_DAYS // 7
USAGE = "use e.g. 7d, 30d, 4w, today, this-week, last-week, this-month or last-month"

_ROLLING = re.compile(r"^(\d+)([dw])$")


@dataclass(frozen=True)
class Period:
    """A span of time a report covers: `start` inclusive, `end` exclusive, both aware UTC."""

    start: datetime
    end: datetime
    label: str  # e.g. "last 7 days", "this week", "last month"


def parse_period(text: str, *, now: datetime, timezone: ZoneInfo) -> Period:
    """Read a period as people type it in Slack or on the command line.

    Rolling periods (`Nd`, `Nw`) are the exact N×24 hours up to `now`. Calendar periods start at
    local midnight in the team's time zone (weeks on Monday) and end at the next boundary, so
    "this week" and "last week" are the same weeks a manager's calendar shows, DST included.
    Raises InvalidInput naming `period` for anything else, so callers can show the message as is.
    """
    key = re.sub(r"[\s_]+", "-", text.strip().lower())
    now = now.astimezone(UTC)
    rolling = _ROLLING.match(key)
    if rolling:
        return _rolling(int(rolling.group(1)), rolling.group(2), now=now, text=text)
    today = now.astimezone(timezone).date()
    if key == "today":
        return _calendar(today, today + timedelta(days=1), "today", timezone)
    monday = today - timedelta(days=today.weekday())
    if key == "this-week":
        return _calendar(monday, monday + timedelta(weeks=1), "this week", timezone)
    if key == "last-week":
        return _calendar(monday - timedelta(weeks=1), monday, "last week", timezone)
    first = today.replace(day=1)
    if key == "this-month":
        return _calendar(first, _next_month(first), "this month", timezone)
    if key == "last-month":
        previous = (first - timedelta(days=1)).replace(day=1)
        return _calendar(previous, first, "last month", timezone)
    raise InvalidInput({"period": f"unknown period {text.strip()!r}: {USAGE}"})


def _rolling(amount: int, unit: str, *, now: datetime, text: str) -> Period:
    limit = MAX_DAYS if unit == "d" else MAX_WEEKS
    if not 1 <= amount <= limit:
        word = "days" if unit == "d" else "weeks"
        raise InvalidInput(
            {"period": f"{text.strip()!r}: the number of {word} must be between 1 and {limit}"}
        )
    days = amount if unit == "d" else amount * 7
    if days == 1:
        label = "last 24 hours"
    elif unit == "w" and amount > 1:
        label = f"last {amount} weeks"
    else:
        label = f"last {days} days"
    return Period(start=now - timedelta(days=days), end=now, label=label)


def _calendar(first: date, after: date, label: str, timezone: ZoneInfo) -> Period:
    return Period(start=_midnight(first, timezone), end=_midnight(after, timezone), label=label)


def _midnight(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)
