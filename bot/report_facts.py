"""The facts the handoff reports count, kept on the lead by the transitions that settle them.

A report over a year of leads cannot replay every lead's events inside Slack's acknowledgement, so
each transition sets, in the same UPDATE as its status, what a report will ask later: the first
decision and whose it was, the first claim, who the first contact is credited to, and the times
to claim and to first contact, counted as the lead's SLA policy counts time (business hours or
the clock) when the time ends; then moves the lead's part in its posting day's counts
(HandoffDay); and each reject is kept with the lead's source and campaign. The definitions are
bot.reports'; migration 0008 derived the same from the event log for the past.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from bot.sla_policy import SlaPolicies
from storage import reports as report_store
from storage.models import Lead, LeadStatus

POST = "post"
REJECT = "reject"
CLAIMS = frozenset({"accept", "assign"})
DECISIONS = CLAIMS | {REJECT}
CONTACT = "mark_contacted"
_ZERO = timedelta(0)
_MICROSECOND = timedelta(microseconds=1)


def on_transition(
    seen: Lead,
    action: str,
    values: Mapping[str, Any],
    *,
    actor_id: str,
    now: datetime,
    policies: SlaPolicies,
) -> dict[str, Any]:
    """The report columns `action` settles, for the lead as it was before the change and the
    values the change writes; only the first decision, claim and contact are ever recorded."""
    facts: dict[str, Any] = {}
    if action == POST:
        if seen.first_decision is not None:
            facts["time_to_claim_us"] = 0  # decided before its card reached Slack
        return facts
    if action in DECISIONS and seen.first_decision is None:
        claim = action in CLAIMS
        facts["first_decision"] = action
        facts["first_decided_by"] = values["owner_id"] if claim else actor_id
        if action == REJECT:
            facts["first_reject_reason"] = values.get("reject_reason")
        if seen.posted_at is not None:
            span = elapsed(policies, seen.sla_policy, seen.posted_at, now)
            facts["time_to_claim_us"] = microseconds(span)
    if action in CLAIMS and seen.first_claimed_at is None:
        facts["first_claimed_at"] = now
    if action == CONTACT and seen.contact_credit is None:
        # Credited to the owner (who never changes again), or to whoever marked it unowned.
        facts["contact_credit"] = seen.owner_id or actor_id
        if seen.first_claimed_at is not None:
            span = elapsed(policies, seen.sla_policy, seen.first_claimed_at, now)
            facts["time_to_contact_us"] = microseconds(span)
    return facts


def undone(seen: Lead, action: str, earlier_actions: Collection[str]) -> dict[str, Any]:
    """The report columns to clear when `action` (an accept or reject) is undone: those it set
    as the lead's first decision or first claim, when no earlier move had set them."""
    facts: dict[str, Any] = {}
    if seen.first_decision == action and not DECISIONS & set(earlier_actions):
        facts.update(
            first_decision=None,
            first_decided_by=None,
            time_to_claim_us=None,
            first_reject_reason=None,
        )
    if action in CLAIMS and not CLAIMS & set(earlier_actions):
        facts["first_claimed_at"] = None
    return facts


@dataclass(frozen=True)
class Counted:
    """How one posted lead counts in its day's handoff numbers (HandoffDay)."""

    day: date
    decided_by: str
    contact_credit: str
    claims: int
    rejects: int
    breached: int
    claim_times: int
    contact_times: int
    opportunities: int
    won: int
    lost: int


def counted(lead: Lead) -> Counted | None:
    """The lead's part in its posting day's numbers; None before its card is posted."""
    if lead.posted_at is None:
        return None
    return Counted(
        day=lead.posted_at.astimezone(UTC).date(),
        decided_by=lead.first_decided_by or "",
        contact_credit=lead.contact_credit or "",
        claims=int(lead.first_decision in CLAIMS),
        rejects=int(lead.first_decision == REJECT),
        breached=int(lead.escalated_at is not None),
        claim_times=int(lead.time_to_claim_us is not None),
        contact_times=int(lead.time_to_contact_us is not None),
        # A won deal was an opportunity, whether or not the CRM said so first.
        opportunities=int(lead.opportunity_at is not None or lead.status == LeadStatus.WON),
        won=int(lead.status == LeadStatus.WON),
        lost=int(lead.status == LeadStatus.LOST),
    )


def recount(session: Session, before: Counted | None, lead: Lead) -> None:
    """Move the lead's part in the day counts from `before` to what it is now, in one order of
    day and reps whatever the move, so concurrent moves never wait on each other in a circle."""
    after = counted(lead)
    if after == before:
        return
    shifts = [(part, sign) for part, sign in ((before, -1), (after, 1)) if part is not None]
    report_store.add_to_days(
        session,
        [
            {
                "day": part.day,
                "decided_by": part.decided_by,
                "contact_credit": part.contact_credit,
                "leads": sign,
                "claims": sign * part.claims,
                "rejects": sign * part.rejects,
                "breached": sign * part.breached,
                "claim_times": sign * part.claim_times,
                "contact_times": sign * part.contact_times,
                "opportunities": sign * part.opportunities,
                "won": sign * part.won,
                "lost": sign * part.lost,
            }
            for part, sign in sorted(shifts, key=lambda shift: _day_key(shift[0]))
        ],
    )


def _day_key(part: Counted) -> tuple[date, str, str]:
    return part.day, part.decided_by, part.contact_credit


def record_rejection(
    session: Session, *, lead: Lead, reason: str, note: str | None, now: datetime
) -> None:
    """Keep the reject as the feedback reports count it, with the reject event."""
    report_store.add_rejection(
        session,
        lead_id=lead.id,
        at=now,
        source=lead.source,
        campaign=lead.campaign,
        reason=reason,
        note=note,
    )


def forget_rejection(session: Session, *, lead_id: int, at: datetime) -> None:
    """An undone reject is no longer feedback."""
    report_store.delete_rejection(session, lead_id=lead_id, at=at)


def elapsed(policies: SlaPolicies, policy: str | None, start: datetime, end: datetime) -> timedelta:
    """Time between two moments as the lead's SLA policy counts it, never negative."""
    if policies.policy_named(policy).business_hours:
        span = policies.calendar.working_time_between(start, end)
    else:
        span = end - start
    return max(span, _ZERO)


def elapsed_by(policies: SlaPolicies) -> Callable[[str | None, datetime, datetime], timedelta]:
    """`elapsed` bound to the team's policies, as migrations that time past leads take it."""
    return partial(elapsed, policies)


def microseconds(span: timedelta) -> int:
    return span // _MICROSECOND


def duration(value: int | None) -> timedelta | None:
    """A stored duration back as a timedelta (None stays None)."""
    return None if value is None else timedelta(microseconds=value)
