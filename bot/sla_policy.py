"""SLA arithmetic: which policy a lead gets, when its windows end and when to remind.

Pure: it reads the rules and the working calendar, never the database or the clock, so the
timers (bot.sla_timers), the sweep (bot.sla_sweep) and the reports count time the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.routing import lead_facts
from bot.rules import ReminderPoint, Rules, SlaPolicy, Window
from storage.models import Lead


class SlaPolicies:
    """The team's SLA policies and working calendar, built once from the rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.calendar = rules.hours.calendar()

    def policy_for(self, lead: Lead) -> SlaPolicy:
        """The first policy whose `match` fits the lead; the last one is the default."""
        facts = lead_facts(lead)
        for policy in self.rules.sla:
            if policy.match is None or policy.match.matches(facts):
                return policy
        raise AssertionError("configuration guarantees a default policy")

    def policy_named(self, name: str | None) -> SlaPolicy:
        for policy in self.rules.sla:
            if policy.name == name:
                return policy
        return self.rules.sla[-1]  # a policy renamed since: fall back to the default

    def window_end(self, start: datetime, window: Window, policy: SlaPolicy) -> datetime:
        if policy.business_hours:
            return self.calendar.add_working_time(
                start, window.as_timedelta(self.calendar.working_day)
            )
        return start + window.as_timedelta(timedelta(days=1))

    def reminder_moment(self, start: datetime, due: datetime, policy: SlaPolicy) -> datetime:
        """When to remind: a share of the window, or a fixed time, before its end."""
        point = policy.remind_before
        if policy.business_hours:
            length = self.calendar.working_time_between(start, due)
            return self.calendar.add_working_time(start, length - self._lead_time(point, length))
        length = due - start
        return due - self._lead_time(point, length)

    def _lead_time(self, point: ReminderPoint, length: timedelta) -> timedelta:
        if point.share is not None:
            return length * point.share
        assert point.before is not None
        return min(point.before.as_timedelta(self.calendar.working_day), length)
