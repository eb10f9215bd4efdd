"""The Details modal: what the compact card leaves out (every field, the signals, BANT, notes,
the CRM link) and the lead's history, drawn from stored state for whoever clicks Details, from
the channel card, a DM or App Home alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from bot.cards import detail_blocks, status_text, urgency
from bot.errors import LeadNotFound
from bot.lead_history import history_blocks, sender_blocks
from bot.rules import Rules
from bot.slack_ids import ViewId
from bot.slack_text import HEADER_LIMIT, safe_text
from storage import leads as lead_store
from storage.models import Lead, LeadEvent


def lead_details(
    session: Session, *, lead_id: int, rules: Rules, now: datetime
) -> tuple[Lead, dict[str, Any]]:
    """The lead and its Details modal; LeadNotFound for a lead that is not stored."""
    lead = lead_store.get_lead(session, lead_id)
    if lead is None:
        raise LeadNotFound(lead_id)
    view = details_modal(
        lead,
        lead_store.list_events(session, lead_id),
        reasons=rules.reasons,
        emojis=rules.policy_emojis,
        timezone=ZoneInfo(rules.hours.timezone),
        now=now,
    )
    return lead, view


def details_modal(
    lead: Lead,
    events: Sequence[LeadEvent],
    *,
    reasons: Mapping[str, str],
    emojis: Mapping[str, str],
    timezone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """The name, the urgency and the whole state line (the reject note uncut), every stored
    field, then the history; it only shows, so it has no submit button."""
    name = lead.name or "Unnamed lead"
    state = status_text(lead, reasons, now)
    view = View(
        type="modal",
        callback_id=ViewId.DETAILS.value,
        private_metadata=str(lead.id),
        title=PlainTextObject(text=f"Lead #{lead.id}"),
        close=PlainTextObject(text="Close"),
        blocks=[
            # Escaped like the card's text, which Slack shows the same (it decodes the entities).
            HeaderBlock(text=PlainTextObject(text=safe_text(name, HEADER_LIMIT))),
            SectionBlock(text=MarkdownTextObject(text=f"Urgency: {urgency(lead, emojis)}")),
            SectionBlock(text=MarkdownTextObject(text=state)),
            *detail_blocks(lead),
            *sender_blocks(lead),
            DividerBlock(),
            *history_blocks(events, reasons=reasons, timezone=timezone, now=now),
        ],
    )
    return view.to_dict()
