"""The messages Baton sends about one lead outside its card (a DM, the escalation in the card's
thread), drawn from the lead's current state and for the person who reads them, so a message
redrawn after the lead moved on tells the truth and offers only the buttons its reader can use.

Each is drawn from its kind, its payload (what was known when it was queued: who assigned the
lead, which deadline was missed) and the lead's newest event (who moved it last; whether an
Undo is still possible)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import block_kit, cards, reply_blocks
from bot.block_kit import Json
from bot.cards import Message
from bot.outbox import DmKind
from bot.slack_ids import ASSIGN_BLOCK_PREFIX, ActionId
from bot.slack_text import (
    SECTION_LIMIT,
    as_utc,
    clip,
    lead_label,
    lead_title,
    mention,
    slack_date,
)
from storage.models import Lead, LeadEvent, LeadStatus

S = LeadStatus
UNDOABLE = frozenset({"accept", "reject"})
# Kinds redrawn when the lead moves on: they offer buttons, or say where the lead stands.
REMEMBERED = frozenset(
    {DmKind.OWNER, DmKind.FOLLOW_UP_REMINDER, DmKind.ESCALATION, DmKind.REJECTED, DmKind.OFFER}
)
MISSED = {"claim": "claim", "follow_up": "follow-up"}


@dataclass(frozen=True)
class Drawing:
    """What a lead message is drawn from besides the lead: its kind and payload, who reads it
    (None in a channel, where everyone does), the lead's newest event, the time, how long an
    accept or reject can be undone, the policies' emojis, and the card's link."""

    kind: DmKind
    payload: Mapping[str, Any]
    viewer: str | None
    last_event: LeadEvent | None
    now: datetime
    undo_window: timedelta
    reasons: Mapping[str, str]
    emojis: Mapping[str, str] | None = None  # the SLA policies' emojis, as the card shows them
    card_link: str | None = None  # the card's permalink, for a message read away from it


def draw(lead: Lead, drawing: Drawing) -> Message:
    """The message of `drawing.kind` about `lead` as it stands now."""
    if drawing.kind == DmKind.ESCALATION:
        return _escalation(lead, drawing)
    if drawing.kind == DmKind.TAKEN:
        return _plain(_taken(lead, drawing.payload))
    if drawing.kind == DmKind.REJECTED:
        return _rejected(lead, drawing)
    if drawing.kind == DmKind.OFFER:
        return _offer(lead, drawing)
    return cards.lead_dm(
        lead,
        kind=drawing.kind,
        reasons=drawing.reasons,
        emojis=drawing.emojis,
        intro=_owner_intro(lead, drawing.payload) if drawing.kind == DmKind.OWNER else None,
        viewer=drawing.viewer,
        extra=_undo(lead, drawing),
    )


def undo_until(event: LeadEvent, window: timedelta) -> datetime:
    return as_utc(event.at) + window


def can_undo(event: LeadEvent | None, viewer: str | None, window: timedelta, now: datetime) -> bool:
    """Whether `viewer` may still undo `event`: theirs, an accept or reject, within the window."""
    return (
        event is not None
        and viewer is not None
        and event.action in UNDOABLE
        and event.actor == viewer
        and as_utc(now) < undo_until(event, window)
    )


def _undo(lead: Lead, drawing: Drawing) -> list[Json]:
    event = drawing.last_event
    if not can_undo(event, drawing.viewer, drawing.undo_window, drawing.now):
        return []
    assert event is not None
    return [reply_blocks.button("Undo", ActionId.UNDO, str(event.id))]


def _owner_intro(lead: Lead, payload: Mapping[str, Any]) -> str | None:
    """A lead a manager assigned says so; one the rep claimed keeps the kind's own intro."""
    by = payload.get("by")
    return f"*{lead_title(lead)}* was assigned to you by {mention(by)}." if by else None


def _taken(lead: Lead, payload: Mapping[str, Any]) -> str:
    by = mention(payload.get("by"))
    to = payload.get("to")
    if to:
        return (
            f"*{lead_label(lead)}* was reassigned to {mention(to)} by {by}; it is no longer yours."
        )
    return f"*{lead_label(lead)}* was reopened by {by} for every rep; it is no longer yours."


def _rejected(lead: Lead, drawing: Drawing) -> Message:
    code = lead.reject_reason or ""
    text = f"You rejected *{lead_label(lead)}*"
    if lead.status == S.REJECTED and code:
        text += f" ({drawing.reasons.get(code, code)})"
    text += "."
    if lead.status != S.REJECTED:
        text += f" {_where_now(lead, drawing.last_event, drawing.reasons)}"
    blocks = [reply_blocks.section(text)]
    undo = _undo(lead, drawing)
    if undo:
        until = undo_until(drawing.last_event, drawing.undo_window)  # type: ignore[arg-type]
        blocks.append(reply_blocks.context(f"You can undo it until {slack_date(until)}."))
        blocks.append(block_kit.actions(undo))
    return Message(text=clip(text.replace("*", ""), SECTION_LIMIT), blocks=blocks)


def _offer(lead: Lead, drawing: Drawing) -> Message:
    """The lead offered to its reader: Accept or Pass until the offer's timeout. Once the offer
    is no longer theirs (passed, timed out, taken, reassigned), where the lead is now, and no
    button that could only be refused."""
    payload = drawing.payload
    current = lead.offered_to == drawing.viewer and payload.get("offer") == lead.offer_tries
    if current and drawing.viewer is not None:
        until = payload.get("until")
        by = f" by {slack_date(datetime.fromisoformat(until))}" if until else ""
        intro = (
            f"🎯 *{lead_title(lead)}* is offered to you: *Accept* it, or *Pass* it on{by} "
            "(it passes on by itself then)."
        )
        return cards.offer_dm(lead, intro=intro, reasons=drawing.reasons, emojis=drawing.emojis)
    where = _where_now(lead, drawing.last_event, drawing.reasons)
    return _plain(f"The offer of *{lead_label(lead)}* to you has ended. Now: {where}")


def _escalation(lead: Lead, drawing: Drawing) -> Message:
    """Which lead, why it escalated and since when; while it still waits for a manager, Assign
    to… (a user picker) and Reopen; afterwards, who moved it on."""
    payload = drawing.payload
    headline = payload.get("headline") or f"🚨 *{lead_label(lead)}* needs a manager."
    blocks = [reply_blocks.section(headline), reply_blocks.context(_why(lead, payload))]
    if _awaits_manager(lead, payload):
        if drawing.card_link and drawing.viewer is not None:
            blocks.append(reply_blocks.context(f"<{drawing.card_link}|Open the card>"))
        blocks.append(_manager_actions(lead))
    else:
        blocks.append(reply_blocks.section(_where_now(lead, drawing.last_event, drawing.reasons)))
    text = clip(headline.replace("*", ""), SECTION_LIMIT)
    return Message(text=text, blocks=blocks)


def _awaits_manager(lead: Lead, payload: Mapping[str, Any]) -> bool:
    """The lead still waits on the escalation this message reports. Once a manager moved it on
    and it escalated again, the new escalation's message offers the actions: the old one (whose
    reason may be stale, e.g. the owner it names) no longer does."""
    if lead.status != S.ESCALATED:
        return False
    reported = payload.get("escalated_at")
    if reported is None or lead.escalated_at is None:  # queued before escalations were dated
        return True
    return as_utc(datetime.fromisoformat(reported)) == as_utc(lead.escalated_at)


def _why(lead: Lead, payload: Mapping[str, Any]) -> str:
    breach = payload.get("breach", "claim")
    due = payload.get("due")
    since = f" since {slack_date(datetime.fromisoformat(due))}" if due else ""
    missed = f"{MISSED.get(breach, 'SLA')} deadline missed{since}"
    if breach == "follow_up":
        return f"{mention(payload.get('owner'))} has not reached {lead_label(lead)}: {missed}."
    return f"Nobody claimed {lead_label(lead)}: {missed}."


def _manager_actions(lead: Lead) -> Json:
    picker = block_kit.users_select(action_id=ActionId.ASSIGN_TO.value, placeholder="Assign to…")
    reopen = reply_blocks.button("Reopen", ActionId.REOPEN, str(lead.id))
    return block_kit.actions([picker, reopen], block_id=f"{ASSIGN_BLOCK_PREFIX}{lead.id}")


def _where_now(lead: Lead, event: LeadEvent | None, reasons: Mapping[str, str]) -> str:
    """Where the lead stands now, naming who moved it there when the newest event says so."""
    by = mention(event.actor) if event is not None else "someone"
    action = event.action if event is not None else None
    if lead.status == S.ACCEPTED and action == "assign":
        return f"✅ Assigned to {mention(lead.owner_id)} by {by}."
    if lead.status == S.OPEN and action in ("reopen", "release"):
        return f"🔓 {'Reopened' if action == 'reopen' else 'Released'} by {by}: open for every rep."
    now = cards.status_text(lead, reasons, None).split("\n")[0]
    return f"↩️ Undone by {by}. Now: {now}" if action == "undo" else now


def _plain(text: str) -> Message:
    return Message(
        text=clip(text.replace("*", ""), SECTION_LIMIT), blocks=[reply_blocks.section(text)]
    )
