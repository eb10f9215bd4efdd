"""Whether a rep can take a lead now, and if not, why in a few words (pure: the caller reads the
rep's away mark and open leads from storage).

Four things make a rep unavailable: being away (until a date, or until they say they are
back), a Slack status the route counts as away (until it expires), being off shift (the
route's working hours, in the rep's own time zone: the route's for them, else their Slack
one, else the team's), and being at capacity (as many claimed-and-not-contacted leads as the
route allows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.business_hours import WorkingCalendar
from bot.rep_directory import SlackProfile
from bot.slack_text import as_utc


@dataclass(frozen=True)
class Away:
    """A rep marked away (by themselves or a lead/manager), or paused by Baton (`reason` says
    why); `until` None: until they are back."""

    until: datetime | None
    set_by: str
    reason: str | None = None

    def covers(self, now: datetime) -> bool:
        return self.until is None or as_utc(now) < as_utc(self.until)

    def describe(self, timezone: ZoneInfo) -> str:
        if self.reason is not None:
            return f"{self.reason}, until `/leads back`"
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
    how many claimed-and-not-contacted leads each may hold (None: no cap), and which Slack
    statuses count as away."""

    shift: Shift | None
    timezones: dict[str, ZoneInfo]
    capacity: int | None
    team_timezone: ZoneInfo
    away_statuses: tuple[str, ...] = ()

    def timezone_of(self, rep: str, profile: SlackProfile | None = None) -> ZoneInfo:
        """The route's zone for the rep, else their own Slack one, else the team's."""
        if rep in self.timezones:
            return self.timezones[rep]
        own = profile.zone() if profile is not None else None
        return own or self.team_timezone


def unavailable_reason(
    rep: str,
    *,
    away: Away | None,
    open_leads: int,
    rules: RepRules,
    now: datetime,
    profile: SlackProfile | None = None,
) -> str | None:
    """Why `rep` cannot take a lead at `now`, or None when they can; `profile` is what Slack
    says of them (None: nothing yet)."""
    timezone = rules.timezone_of(rep, profile)
    if away is not None and away.covers(now):
        return away.describe(timezone)
    status = profile.away_status(rules.away_statuses, now) if profile is not None else None
    if status is not None:
        assert profile is not None
        return f"Slack status {status}{_until(profile.status_expires, timezone)}"
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


def _until(moment: datetime | None, timezone: ZoneInfo) -> str:
    return "" if moment is None else f" until {as_utc(moment).astimezone(timezone):%a %d %b %H:%M}"
