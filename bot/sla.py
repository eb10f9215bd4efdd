"""SLA windows: which policy a lead gets, when its windows end and when to remind, and what
happens when a due moment arrives (reminders, escalation), each exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot import lifecycle, notices, outbox
from bot.business_hours import WorkingCalendar
from bot.config import ReminderPoint, Rules, SlaPolicy, Window
from bot.outbox import DmKind
from bot.routing import lead_facts
from storage import leads as lead_store
from storage import timers as timer_store
from storage.models import Lead, LeadStatus, TimerKind

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


@dataclass(frozen=True)
class Fired:
    """What one due moment did, for logs and metrics."""

    lead_id: int
    kind: TimerKind
    acted: bool  # False when the lead had moved on and there was nothing left to do


class SlaEngine:
    """The team's SLA rules and calendar, applied to leads as they move."""

    def __init__(self, rules: Rules) -> None:
        hours = rules.hours
        self.rules = rules
        self.calendar = WorkingCalendar.build(
            timezone=hours.timezone,
            days=hours.days,
            start=hours.start.strftime("%H:%M"),
            end=hours.end.strftime("%H:%M"),
            holiday_country=hours.holidays,
            holiday_subdivision=hours.holiday_subdivision,
            extra_holidays=hours.extra_holidays,
        )

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

    # -------------------------------------------------------------- windows follow the lead

    def enter(self, session: Session, lead: Lead, now: datetime) -> None:
        """The lead just reached its status: start the window that status runs, or none.

        Open runs the claim window, accepted the follow-up window; every other status stops
        what was pending, so a lead accepted or rejected in time is never reminded.
        """
        status = lead.status
        if status == LeadStatus.OPEN:
            self._start(session, lead, now, TimerKind.CLAIM_REMINDER, TimerKind.CLAIM_BREACH)
        elif status == LeadStatus.ACCEPTED:
            self._start(
                session, lead, now, TimerKind.FOLLOW_UP_REMINDER, TimerKind.FOLLOW_UP_BREACH
            )
        else:
            timer_store.cancel_pending(session, lead_id=lead.id, now=now)
            lead.claim_due_at = None
            lead.follow_up_due_at = None
            session.flush()

    def _start(
        self,
        session: Session,
        lead: Lead,
        now: datetime,
        reminder: TimerKind,
        breach: TimerKind,
    ) -> None:
        timer_store.cancel_pending(session, lead_id=lead.id, now=now)
        policy = self.policy_for(lead)
        claim = breach == TimerKind.CLAIM_BREACH
        due = self.window_end(now, policy.claim if claim else policy.follow_up, policy)
        remind_at = self.reminder_moment(now, due, policy)
        lead.sla_policy = policy.name
        lead.sla_cycle += 1
        lead.claim_due_at = due if claim else None
        lead.follow_up_due_at = None if claim else due
        if remind_at < due:
            timer_store.add(
                session, lead_id=lead.id, kind=reminder, cycle=lead.sla_cycle, due_at=remind_at
            )
        timer_store.add(session, lead_id=lead.id, kind=breach, cycle=lead.sla_cycle, due_at=due)
        session.flush()

    # --------------------------------------------------------------------- the sweep

    def sweep(self, session: Session, *, now: datetime) -> list[Fired]:
        """Fire every due moment in one batch. The caller commits: a timer counts as fired
        only together with what it did, so a crash mid-sweep fires it again, never twice."""
        fired = []
        for timer in timer_store.take_due(session, now=now, limit=SWEEP_BATCH):
            lead = lead_store.get_lead(session, timer.lead_id)
            assert lead is not None
            kind = TimerKind(timer.kind)
            acted = self._fire(session, lead, kind, now)
            fired.append(Fired(lead.id, kind, acted))
        return fired

    def _fire(self, session: Session, lead: Lead, kind: TimerKind, now: datetime) -> bool:
        status = lead.status
        policy = self.policy_named(lead.sla_policy)
        if kind == TimerKind.CLAIM_REMINDER and status == LeadStatus.OPEN:
            outbox.thread_reply(
                session,
                lead=lead,
                text=notices.claim_reminder(lead),
                now=now,
                broadcast=policy.remind_in_channel,
            )
            return True
        if kind == TimerKind.FOLLOW_UP_REMINDER and status == LeadStatus.ACCEPTED:
            assert lead.owner_id is not None
            outbox.direct_message(
                session,
                lead=lead,
                user_id=lead.owner_id,
                kind=DmKind.FOLLOW_UP_REMINDER,
                now=now,
            )
            return True
        breached = {
            TimerKind.CLAIM_BREACH: (LeadStatus.OPEN, "claim"),
            TimerKind.FOLLOW_UP_BREACH: (LeadStatus.ACCEPTED, "follow_up"),
        }.get(kind)
        if breached is None or status != breached[0]:
            return False
        owner = lead.owner_id
        lifecycle.escalate(
            session,
            lead_id=lead.id,
            breach=breached[1],
            reopen=policy.reopen_on_breach,
            sla=self,
            now=now,
        )
        managers = policy.escalate_to or self.rules.roles.managers
        breach = notices.Breach(
            lead=lead,
            policy=policy.name,
            window=breached[1],
            owner_id=owner,
            managers=managers,
            manager_groups=self.rules.roles.manager_groups,
            reopened=policy.reopen_on_breach,
        )
        outbox.thread_reply(session, lead=lead, text=breach.in_thread(), now=now)
        if policy.escalation_channel:
            outbox.channel_message(
                session,
                channel=policy.escalation_channel,
                text=breach.in_channel(),
                lead_id=lead.id,
                now=now,
            )
        for manager in managers:
            outbox.direct_message(
                session, lead=lead, user_id=manager, kind=DmKind.ESCALATION, now=now
            )
        return True
