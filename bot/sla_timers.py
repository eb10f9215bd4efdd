"""The SLA timers a state change starts or stops: the lifecycle calls `enter_status` after each
move, in the move's transaction, so the windows always follow the lead's status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.sla_policy import SlaPolicies
from storage import timers as timer_store
from storage.models import Lead, LeadStatus, TimerKind


def enter_status(session: Session, *, lead: Lead, policies: SlaPolicies, now: datetime) -> None:
    """The lead just reached its status: start the window that status runs, or none.

    Open runs the claim window, accepted the follow-up window; every other status stops
    what was pending, so a lead accepted or rejected in time is never reminded.
    """
    status = lead.status
    if status == LeadStatus.OPEN:
        _start(session, lead, policies, now, TimerKind.CLAIM_REMINDER, TimerKind.CLAIM_BREACH)
    elif status == LeadStatus.ACCEPTED:
        _start(
            session,
            lead,
            policies,
            now,
            TimerKind.FOLLOW_UP_REMINDER,
            TimerKind.FOLLOW_UP_BREACH,
        )
    else:
        timer_store.cancel_pending(session, lead_id=lead.id, now=now)
        lead.claim_due_at = None
        lead.follow_up_due_at = None
        session.flush()


def _start(
    session: Session,
    lead: Lead,
    policies: SlaPolicies,
    now: datetime,
    reminder: TimerKind,
    breach: TimerKind,
) -> None:
    """A new cycle of the window: what was pending is cancelled, a reminder and a breach added."""
    timer_store.cancel_pending(session, lead_id=lead.id, now=now)
    policy = policies.policy_for(lead)
    claim = breach == TimerKind.CLAIM_BREACH
    due = policies.window_end(now, policy.claim if claim else policy.follow_up, policy)
    remind_at = policies.reminder_moment(now, due, policy)
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
