"""The SLA timers a state change starts or stops, so the windows always follow the lead's status.

The lifecycle asks `windows` for the columns a status's window sets before its compare-and-set
UPDATE, and writes them in that UPDATE; once the move has won, `enter_status` cancels what was
pending and adds the new cycle's timers, in the move's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.sla_policy import SlaPolicies
from storage import leads as lead_store
from storage import timers as timer_store
from storage.models import Lead, LeadStatus, TimerKind

# The window each status runs, as its (reminder, breach) timers; every other status runs none.
WINDOWS: dict[LeadStatus, tuple[TimerKind, TimerKind]] = {
    LeadStatus.OPEN: (TimerKind.CLAIM_REMINDER, TimerKind.CLAIM_BREACH),
    LeadStatus.ACCEPTED: (TimerKind.FOLLOW_UP_REMINDER, TimerKind.FOLLOW_UP_BREACH),
}


@dataclass(frozen=True)
class Windows:
    """What reaching a status does to the lead's SLA windows: the lead's columns to write with
    the status (the cycle counted up in the database, so racing moves never share one), and
    the timers of the new cycle."""

    columns: dict[str, Any]
    timers: list[tuple[TimerKind, datetime]] = field(default_factory=list)


def windows(lead: Lead, status: LeadStatus, *, policies: SlaPolicies, now: datetime) -> Windows:
    """The windows `lead` (as read before the move) runs once it reaches `status`.

    Open runs the claim window, accepted the follow-up window; every other status stops what
    was pending, so a lead accepted or rejected in time is never reminded.
    """
    kinds = WINDOWS.get(status)
    if kinds is None:
        return Windows({"claim_due_at": None, "follow_up_due_at": None})
    reminder, breach = kinds
    policy = policies.policy_for(lead)
    claim = breach == TimerKind.CLAIM_BREACH
    due = policies.window_end(now, policy.claim if claim else policy.follow_up, policy)
    remind_at = policies.reminder_moment(now, due, policy)
    columns = {
        "sla_policy": policy.name,
        "sla_cycle": lead_store.COUNT_UP,
        "claim_due_at": due if claim else None,
        "follow_up_due_at": None if claim else due,
    }
    timers = [(reminder, remind_at)] if remind_at < due else []
    return Windows(columns, [*timers, (breach, due)])


def undo_closes(*, lead_id: int, event_id: int, at: datetime) -> dict[str, Any]:
    """The timer by which the Undo offered for a move (event `event_id`) lapses `at`: the sweep
    then redraws the messages offering it, so nobody is shown a button that could only refuse.
    A later move cancels it with the lead's other pending timers, and redraws those messages
    itself. Written by `enter_status`, with the move's other timers."""
    return {"lead_id": lead_id, "kind": TimerKind.UNDO_CLOSES, "cycle": event_id, "due_at": at}


def enter_status(
    session: Session,
    *,
    lead: Lead,
    windows: Windows | None,
    now: datetime,
    also: Sequence[dict[str, Any]] = (),
) -> None:
    """The lead (as the move wrote it) just reached its status: with its `windows`, cancel the
    timers pending (but the timeout of an offer the move left running: bot.offers) and add the
    new cycle's (None: the move keeps them). The move's other timers (`also`) are added in the
    same statement."""
    if windows is not None:
        offered = TimerKind.OFFER_TIMEOUT if lead.offered_to is not None else None
        timer_store.cancel_pending(session, lead_id=lead.id, now=now, sparing=offered)
    cycle = [
        {"lead_id": lead.id, "kind": kind, "cycle": lead.sla_cycle, "due_at": due_at}
        for kind, due_at in (windows.timers if windows is not None else ())
    ]
    timer_store.add_many(session, [*cycle, *also])
