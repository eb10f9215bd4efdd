"""The SLA sweep: fires the due timers, each exactly once, by reminding (a thread reply, a DM)
or by escalating the lead through the lifecycle and calling the managers in; an offer's timeout
passes the lead on (bot.offers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import notices, offers, outbox, pauses, webhooks
from bot.lifecycle import Lifecycle
from bot.outbox import DmKind
from storage import leads as lead_store
from storage import timers as timer_store
from storage.models import Lead, LeadStatus, TimerKind

SWEEP_BATCH = 200
# Which status a reminder finds a lead in when it is still due, and the window it is about.
REMINDERS = {
    TimerKind.CLAIM_REMINDER: (LeadStatus.OPEN, "claim"),
    TimerKind.FOLLOW_UP_REMINDER: (LeadStatus.ACCEPTED, "follow_up"),
}
# Which status a breach timer finds a lead in when its window really ran out, and the window.
BREACHES = {
    TimerKind.CLAIM_BREACH: (LeadStatus.OPEN, "claim"),
    TimerKind.FOLLOW_UP_BREACH: (LeadStatus.ACCEPTED, "follow_up"),
}


@dataclass(frozen=True)
class Fired:
    """What one due moment did, for logs and metrics."""

    lead_id: int
    kind: TimerKind
    acted: bool  # False when the lead had moved on and there was nothing left to do


class SlaSweep:
    """Fires due SLA moments through the lifecycle it is given (and its policies)."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.policies = lifecycle.policies

    def sweep(self, session: Session, *, now: datetime) -> list[Fired]:
        """Fire every due moment in one batch. The caller commits: a timer counts as fired
        only together with what it did, so a crash mid-sweep fires it again, never twice."""
        fired = []
        for timer in timer_store.take_due(session, now=now, limit=SWEEP_BATCH):
            lead = lead_store.get_lead(session, timer.lead_id)
            assert lead is not None
            kind = TimerKind(timer.kind)
            if kind == TimerKind.OFFER_TIMEOUT:
                rules = self.policies.rules
                timed_out = offers.time_out(
                    session,
                    rules=rules,
                    directory=self.lifecycle.directory,
                    timer=timer,
                    now=now,
                )
                if timed_out is None:
                    continue  # put back: the lead is being moved; a later sweep takes it
                acted = timed_out
            else:
                acted = self._fire(session, lead, kind, now)
            fired.append(Fired(lead.id, kind, acted))
        return fired

    def _fire(self, session: Session, lead: Lead, kind: TimerKind, now: datetime) -> bool:
        if kind == TimerKind.UNDO_CLOSES:
            outbox.messages_changed(session, lead_id=lead.id, now=now)
            return True
        status = lead.status
        policy = self.policies.policy_named(lead.sla_policy)
        if kind in REMINDERS and status == REMINDERS[kind][0]:
            webhooks.sla_event(
                session,
                kind="sla.reminded",
                lead=lead,
                data={"window": REMINDERS[kind][1], "policy": policy.name},
                now=now,
            )
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
            outbox.thread_reply(session, lead=lead, text=notices.follow_up_reminded(lead), now=now)
            return True
        breached = BREACHES.get(kind)
        if breached is None or status != breached[0]:
            return False
        owner = lead.owner_id
        webhooks.sla_event(
            session,
            kind="sla.breached",
            lead=lead,
            data={
                "window": breached[1],
                "policy": policy.name,
                "reopened": policy.reopen_on_breach,
            },
            now=now,
        )
        due = lead.claim_due_at if breached[1] == "claim" else lead.follow_up_due_at
        self.lifecycle.escalate(
            session,
            lead_id=lead.id,
            breach=breached[1],
            reopen=policy.reopen_on_breach,
            now=now,
        )
        roles = self.policies.rules.roles
        managers = policy.escalate_to or roles.managers
        breach = notices.Breach(
            lead=lead,
            policy=policy.name,
            window=breached[1],
            owner_id=owner,
            managers=managers,
            manager_groups=roles.manager_groups,
            reopened=policy.reopen_on_breach,
        )
        details = {
            "breach": breached[1],
            "owner": owner,
            "due": due.isoformat() if due is not None else None,
            "escalated_at": now.isoformat(),  # which escalation: the lead may escalate again
        }
        outbox.thread_reply(
            session,
            lead=lead,
            text=breach.in_thread(),
            now=now,
            drawn_as=DmKind.ESCALATION,
            details={**details, "headline": breach.in_thread()},
        )
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
                session,
                lead=lead,
                user_id=manager,
                kind=DmKind.ESCALATION,
                now=now,
                details=details,
            )
        told = [*managers, *([policy.escalation_channel] if policy.escalation_channel else [])]
        pauses.missed_sla(
            session, rules=self.policies.rules, lead=lead, owner=owner, tell=told, now=now
        )
        return True
