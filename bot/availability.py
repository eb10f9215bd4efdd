"""Whether a rep can take a lead now, and if not, why in a few words (pure: the caller reads the
rep's away mark and open leads from storage).

Three things make a rep unavailable: being away (until a date, or until they say they are
back), being off shift (the route's working hours, in the rep's own time zone), and being at
capacity (as many claimed-and-not-contacted leads as the route allows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.business_hours import WorkingCalendar
from bot.slack_text import as_utc


@dataclass(frozen=True)
class Away:
    """A rep marked away (by themselves or a lead/manager); `until` None: until they are back."""

    until: datetime | None
    set_by: str

    def covers(self, now: datetime) -> bool:
        return self.until is None or as_utc(now) < as_utc(self.until)

    def describe(self, timezone: ZoneInfo) -> str:
        if self.until is None:
            return "away until `/leads back`"
        local = as_utc(self.until).astimezone(timezone)
        clock = "" if local.time() == time(0) else f" {local:%H:%M}"
        return f"away until {local:%a %d %b}{clock}"


@dataclass(frozen=True)
class Shift:
    """Working days (0 is Monday) and hours, read in each rep's own time zone."""

    days: frozenset[int]
    start: time
    end: time

    def calendar(self, timezone: ZoneInfo) -> WorkingCalendar:
        return WorkingCalendar(timezone=timezone, days=self.days, start=self.start, end=self.end)


@dataclass(frozen=True)
class RepRules:
    """What a route asks of its reps: their shift (None: any time) in each rep's time zone, and
    how many claimed-and-not-contacted leads each may hold (None: no cap)."""

    shift: Shift | None
    timezones: dict[str, ZoneInfo]
    capacity: int | None
    team_timezone: ZoneInfo

    def timezone_of(self, rep: str) -> ZoneInfo:
        return self.timezones.get(rep, self.team_timezone)


def unavailable_reason(
    rep: str, *, away: Away | None, open_leads: int, rules: RepRules, now: datetime
) -> str | None:
    """Why `rep` cannot take a lead at `now`, or None when they can."""
    timezone = rules.timezone_of(rep)
    if away is not None and away.covers(now):
        return away.describe(timezone)
    if rules.shift is not None:
        shift = rules.shift.calendar(timezone)
        if not shift.is_open(now):
            return (
                f"off shift (works {shift.start:%H:%M}-{shift.end:%H:%M} {timezone.key}, "
                f"{as_utc(now).astimezone(timezone):%a %H:%M} there now)"
            )
    if rules.capacity is not None and open_leads >= rules.capacity:
        return f"at capacity ({open_leads} claimed leads not yet contacted, of {rules.capacity})"
    return None
