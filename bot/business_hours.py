"""Working-time calendar (days, hours, holidays, time zone) that business-hour SLAs count in."""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names accepted in configuration, indexed like `date.weekday()` (0 = Monday)."""

_ZERO = dt.timedelta(0)
# The years whose public holidays a calendar holds. They are looked up once, into a set of dates
# that never changes under the threads that read it (a HolidayBase adds each year as it is first
# asked about) and crosses to the delivery process as it is.
HOLIDAY_YEARS = range(1990, 2101)
# They are looked up in a Python process started for it, as charts are drawn (bot.charts): to
# give one country the `holidays` package imports the modules of all of its 250, which would
# stay in `baton serve`'s process (10 MB of its 100) for a set of dates. The program: country,
# subdivision ("" for none) and the years' range in; the dates out, one a line; exit status
# UNKNOWN_HOLIDAYS for a country or subdivision the package does not know.
UNKNOWN_HOLIDAYS = 3
_LOOKUP = f"""\
import sys
from holidays import country_holidays
country, subdivision, start, stop = sys.argv[1:]
years = range(int(start), int(stop))
try:
    found = country_holidays(country, subdiv=subdivision or None, years=years)
except NotImplementedError:
    sys.exit({UNKNOWN_HOLIDAYS})
print("\\n".join(day.isoformat() for day in found))
"""
LOOKUP_TIMEOUT = 120.0  # seconds: Python's start on a loaded machine, with a margin


def _require_aware(name: str, value: dt.datetime) -> dt.datetime:
    """Reject naive datetimes: guessing their zone would silently shift every deadline."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


def parse_clock(value: object) -> dt.time:
    """Read "HH:MM" (24-hour, two-digit hour) strictly, so "9am" or "25:00" fail at start-up
    rather than at a deadline."""
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", str(value))
    if not match:
        raise ValueError(f"invalid time {value!r} (use HH:MM, 24-hour)")
    return dt.time(int(match.group(1)), int(match.group(2)))


def parse_weekday(value: str) -> str:
    """A weekday as `WEEKDAYS` names it, whatever its case or length ("Monday", " MON ")."""
    short = value.strip().lower()[:3]
    if short not in WEEKDAYS:
        raise ValueError(f"unknown day {value!r} (use mon, tue, ... sun)")
    return short


def closed_days(
    country: str | None, subdivision: str | None, extra: Collection[dt.date] = ()
) -> frozenset[dt.date]:
    """A country's public holidays in HOLIDAY_YEARS (from the `holidays` package, observed days
    included) and the company's own closed days: a team can close on company days on top of
    public ones."""
    own = frozenset(extra)
    if country is None:
        if subdivision is not None:
            raise ValueError(f"holiday subdivision {subdivision!r} given without a country")
        return own
    return _public_holidays(country, subdivision) | own


@functools.cache
def _public_holidays(country: str, subdivision: str | None) -> frozenset[dt.date]:
    """The country's public holidays in HOLIDAY_YEARS, from a process of their own (see
    _LOOKUP), once per process. Raises ValueError for a country or subdivision the `holidays`
    package does not know, or when the lookup fails."""
    where = repr(country) + (f" (subdivision {subdivision!r})" if subdivision else "")
    years = [str(HOLIDAY_YEARS.start), str(HOLIDAY_YEARS.stop)]
    try:
        looked_up = subprocess.run(
            [sys.executable, "-P", "-c", _LOOKUP, country, subdivision or "", *years],
            capture_output=True,
            text=True,
            timeout=LOOKUP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"looking up the public holidays of {where} timed out") from None
    if looked_up.returncode == UNKNOWN_HOLIDAYS:
        raise ValueError(f"unknown holiday country {where}")
    if looked_up.returncode != 0:
        reason = looked_up.stderr.strip().splitlines()[-1:] or ["no message"]
        raise ValueError(f"looking up the public holidays of {where} failed: {reason[0]}")
    return frozenset(dt.date.fromisoformat(day) for day in looked_up.stdout.split())


@dataclass(frozen=True)
class WorkingCalendar:
    """The hours a team works, in its own time zone.

    Every instant handed in must be timezone-aware and every instant handed out is UTC, so callers
    can store and compare results directly. Opening hours are local wall-clock times resolved with
    zoneinfo per date: on a DST-change day a 09:00–17:00 team still opens at 09:00 and closes at
    17:00 local time. Working time is measured as elapsed time inside the open intervals, which is
    the nominal length of the day except when a DST change falls inside opening hours.
    """

    timezone: ZoneInfo
    days: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: Collection[dt.date] = frozenset()

    def __post_init__(self) -> None:
        """No calendar can exist that would loop forever looking for an opening."""
        if not isinstance(self.timezone, ZoneInfo):
            raise ValueError(f"timezone must be a ZoneInfo, got {self.timezone!r}")
        if not self.days:
            raise ValueError("a working calendar needs at least one working day")
        bad_days = sorted(day for day in self.days if day not in range(7))
        if bad_days:
            raise ValueError(f"weekday numbers run from 0 (Monday) to 6, got {bad_days}")
        for name, clock in (("start", self.start), ("end", self.end)):
            if clock.tzinfo is not None:
                raise ValueError(f"{name} must be a local time without tzinfo, got {clock}")
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end:%H:%M} must be after start {self.start:%H:%M} (overnight hours "
                "are not supported)"
            )

    @property
    def working_day(self) -> dt.timedelta:
        """Length of one full working day, so a "1d" business-time window means one working day."""
        return dt.datetime.combine(dt.date.min, self.end) - dt.datetime.combine(
            dt.date.min, self.start
        )

    def is_open(self, at: dt.datetime) -> bool:
        """Whether `at` falls inside opening hours (opening inclusive, closing exclusive)."""
        instant = _require_aware("at", at)
        local_date = instant.astimezone(self.timezone).date()
        if not self._is_working_date(local_date):
            return False
        opening, closing = self._interval(local_date)
        return opening <= instant < closing

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """The first open instant at or after `at`: `at` itself (in UTC) when already open."""
        return self.add_working_time(at, _ZERO)

    def add_working_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant at which `duration` of working time has elapsed since `start`.

        Counting begins at `next_opening(start)`, so a zero duration returns the start clamped to
        the next opening (a lead that arrives at night is due "now" only once the team is in). A
        deadline that uses up a day exactly lands on that day's closing time, not on the next
        opening, so "4h from 13:00" is 17:00 the same day. Closed days are skipped a day at a
        time, which keeps multi-week windows and long holiday runs cheap.
        """
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        instant = _require_aware("start", start)
        remaining = duration
        intervals = self._intervals_from(instant)
        while True:
            opening, closing = next(intervals)
            if closing <= instant:
                continue
            counted_from = max(instant, opening)
            available = closing - counted_from
            if remaining <= available:
                return counted_from + remaining
            remaining -= available

    def working_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time in `[start, end)`: how much of a window is used or left (75 % reminders).

        It inverts `add_working_time`: `working_time_between(s, add_working_time(s, d)) == d`.
        When `end` is before `start` the result is negative, so an overdue lead reads as a negative
        time left instead of silently clamping to zero.
        """
        first = _require_aware("start", start)
        last = _require_aware("end", end)
        if last < first:
            return -self.working_time_between(last, first)
        total = _ZERO
        for opening, closing in self._intervals_from(first):
            if opening >= last:
                break
            overlap = min(closing, last) - max(opening, first)
            if overlap > _ZERO:
                total += overlap
        return total

    def _is_working_date(self, local_date: dt.date) -> bool:
        return local_date.weekday() in self.days and local_date not in self.holidays

    def _interval(self, local_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """Opening and closing of `local_date` in UTC, resolved per date so DST shifts are right."""
        opening = dt.datetime.combine(local_date, self.start, tzinfo=self.timezone)
        closing = dt.datetime.combine(local_date, self.end, tzinfo=self.timezone)
        return opening.astimezone(dt.UTC), closing.astimezone(dt.UTC)

    def _intervals_from(self, instant: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open intervals from the local date of `instant` onwards, in order, without end.

        It terminates for callers because `days` is never empty and a finite set of holidays
        cannot close every remaining working day.
        """
        local_date = instant.astimezone(self.timezone).date()
        one_day = dt.timedelta(days=1)
        while True:
            if self._is_working_date(local_date):
                yield self._interval(local_date)
            local_date += one_day
