"""Report periods: what `7d`, `this-week` or `last-month` mean, as half-open UTC intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.slack_text import clip

DEFAULT_PERIOD = "7d"
# Far enough back for any report, near enough that `now - N` never leaves datetime's range.
MAX_DAYS = 3660
MAX_WEEKS = MAX_DAYS // 7
_ROLLING = re.compile(r"([0-9]+)([dw])")
_CALENDAR = ("today", "this-week", "last-week", "this-month", "last-month")
EXAMPLES = ("7d", "30d", "2w", *_CALENDAR)
USAGE = f"use e.g. {', '.join(EXAMPLES[:-1])} or {EXAMPLES[-1]}"
PERIODS_SHOWN = ", ".join(f"`{example}`" for example in EXAMPLES)  # for mrkdwn help texts
_SHOWN = 20  # characters of a refused period quoted back: enough to recognise, never a wall


@dataclass(frozen=True)
class Period:
    """A span of time a report covers: `start` inclusive, `end` exclusive, both aware UTC."""

    start: datetime
    end: datetime
    label: str  # e.g. "last 7 days", "this week", "last month"


def is_period(text: str) -> bool:
    """Shaped like a period (`7d`, `this-week`…), whether or not its count is in range: lets a
    command tell a period from another word before checking it."""
    key = _key(text)
    return key in _CALENDAR or _ROLLING.fullmatch(key) is not None


def check_period(text: str) -> None:
    """Raise InvalidInput naming `period` unless `text` is a period `parse_period` accepts."""
    key = _key(text)
    if key in _CALENDAR:
        return
    rolling = _ROLLING.fullmatch(key)
    if rolling is None:
        raise InvalidInput({"period": f"unknown period {_shown(text)}: {USAGE}"})
    digits, unit = rolling.groups()
    limit = MAX_DAYS if unit == "d" else MAX_WEEKS
    # Compare the length first: int() of thousands of digits is slow, then refused outright.
    if len(digits.lstrip("0")) > len(str(limit)) or not 1 <= int(digits) <= limit:
        word = "days" if unit == "d" else "weeks"
        raise InvalidInput(
            {"period": f"{_shown(text)}: the number of {word} must be between 1 and {limit}"}
        )


def parse_period(text: str, *, now: datetime, timezone: ZoneInfo) -> Period:
    """Read a period as people type it in Slack or on the command line.

    Rolling periods (`Nd`, `Nw`) are the exact N×24 hours up to `now`. Calendar periods start at
    local midnight in the team's time zone (weeks on Monday) and end at the next boundary, so
    "this week" and "last week" are the same weeks a manager's calendar shows, DST included.
    Raises InvalidInput naming `period` for anything else, so callers can show the message as is.
    """
    check_period(text)
    key = _key(text)
    now = now.astimezone(UTC)
    rolling = _ROLLING.fullmatch(key)
    if rolling:
        return _rolling(int(rolling.group(1)), rolling.group(2), now=now)
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
    previous = (first - timedelta(days=1)).replace(day=1)
    return _calendar(previous, first, "last month", timezone)


def _key(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def _shown(text: str) -> str:
    """The refused text quoted back, cut short (a period can be thousands of digits long)."""
    return repr(clip(text.strip(), _SHOWN))


def _rolling(amount: int, unit: str, *, now: datetime) -> Period:
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
