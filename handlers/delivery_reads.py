"""What the sender of an outbox row draws from, read in the transaction that leased the row (or
renewed its lease) rather than in a transaction of its own just before sending: a transaction
saved per row.

It is as fresh as drawing needs: a change after it is drawn by the redraw that change queues,
which waits for this row (a card's redraws go one at a time), by the redraw `card_posted` asks
when the card posted no longer shows the lead, or, for a message Baton remembers, by the redraw
queued when the lead moved on while it was being posted. An event, once stored, never changes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import outbox
from storage import leads as lead_store
from storage.models import Lead, LeadEvent, OutboxKind, SlackOutbox


@dataclass(frozen=True)
class Read:
    """A row's lead; for a message drawn from the lead (a DM, an escalation in the thread) its
    newest event; for a move's line in the thread, the move's event (None if not stored)."""

    lead: Lead
    newest_event: LeadEvent | None = None
    told_event: LeadEvent | None = None


def read_for(session: Session, row: SlackOutbox) -> Read | None:
    """What `row`'s sender needs, as stored now; None when the row's lead is not stored."""
    if row.lead_id is None:
        return None
    reply = row.kind == OutboxKind.THREAD_REPLY
    if row.kind == OutboxKind.DM or (reply and outbox.drawn_kind(row.payload) is not None):
        return drawn_from(session, row.lead_id)
    lead = lead_store.get_lead(session, row.lead_id)
    if lead is None:
        return None
    if reply and row.payload.get("text") is None:  # a move's line (outbox.history_reply)
        return Read(lead, told_event=lead_store.get_event(session, row.payload["event_id"]))
    return Read(lead)


def drawn_from(session: Session, lead_id: int) -> Read | None:
    """What a message drawn from a lead (bot.lead_messages) needs: the lead and its newest
    event."""
    lead = lead_store.get_lead(session, lead_id)
    if lead is None:
        return None
    return Read(lead, newest_event=lead_store.latest_event(session, lead_id))
