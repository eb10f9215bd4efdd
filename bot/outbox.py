"""What Slack must be told after a change: the domain records the intent in the same
transaction as the change; the delivery worker (an adapter) renders and sends it later."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from storage import outbox as outbox_store
from storage.models import Lead, OutboxKind


class DmKind(StrEnum):
    """Why Baton writes to someone directly about a lead; the DM's words come from bot.notices."""

    OWNER = "owner"  # you claimed it (or a manager assigned it to you)
    FOLLOW_UP_REMINDER = "follow_up_reminder"  # reach it before the follow-up SLA ends
    ESCALATION = "escalation"  # to a manager: an SLA was breached


def cards_created(session: Session, *, leads: Sequence[Lead], now: datetime) -> None:
    """Queue each new lead's card; the outbox keeps their order, so each channel's cards post
    as sent. The channel is chosen when the delivery worker routes them (bot.channel_posts)."""
    outbox_store.add_for_leads(
        session, kind=OutboxKind.POST_CARD, lead_ids=[lead.id for lead in leads], now=now
    )


def card_changed(session: Session, *, lead: Lead, now: datetime) -> None:
    """Ask for a redraw; one waiting redraw is enough, since it renders the state at send time."""
    if not outbox_store.has_pending_redraw(session, lead_id=lead.id):
        outbox_store.queue(session, kind=OutboxKind.UPDATE_CARD, lead_id=lead.id, now=now)


def card_clicked(
    session: Session,
    *,
    lead: Lead,
    clicked: tuple[str | None, str | None],
    response_url: str | None,
    now: datetime,
) -> None:
    """After a click changed the lead: if the clicked message (channel, ts) is the card itself,
    its waiting redraw goes through the click's response_url, which Slack does not count
    against chat.update's tier (about 50 a minute): the rep sees the click at once, however
    busy the workspace. A click elsewhere (App Home, a DM, an escalation's copy) would replace
    that message instead, so the card is left to chat.update."""
    on_card = lead.slack_ts is not None and clicked == (lead.slack_channel, lead.slack_ts)
    if response_url and on_card:
        outbox_store.redraw_through_response_url(
            session, lead_id=lead.id, response_url=response_url, now=now
        )


def direct_message(
    session: Session, *, lead: Lead, user_id: str, kind: DmKind, now: datetime
) -> None:
    """A DM about the lead, drawn from its state when sent. The payload key stays "template",
    its name when rows queued by earlier versions were written."""
    outbox_store.queue(
        session,
        kind=OutboxKind.DM,
        lead_id=lead.id,
        user_id=user_id,
        payload={"template": kind.value},
        now=now,
    )


def dm_kind(payload: dict[str, Any]) -> DmKind:
    """The kind of DM a queued row asks for (see `direct_message`)."""
    return DmKind(payload["template"])


def tell_user(
    session: Session,
    *,
    user_id: str,
    channel: str,
    text: str,
    now: datetime,
    lead_id: int | None = None,
) -> None:
    """A message only `user_id` sees, e.g. "already claimed by @x" after a lost race."""
    outbox_store.add(
        session,
        kind=OutboxKind.EPHEMERAL,
        lead_id=lead_id,
        user_id=user_id,
        channel=channel,
        payload={"text": text},
        now=now,
    )


def thread_reply(
    session: Session, *, lead: Lead, text: str, now: datetime, broadcast: bool = False
) -> None:
    """A reply in the card's thread; with `broadcast`, Slack shows it in the channel too. It
    joins the card's channel lane: where the card is, or (routed before delivery) will be."""
    outbox_store.add(
        session,
        kind=OutboxKind.THREAD_REPLY,
        lead_id=lead.id,
        channel=lead.slack_channel,
        payload={"text": text, "broadcast": broadcast},
        now=now,
    )


def history_reply(session: Session, *, lead: Lead, event_id: int, now: datetime) -> None:
    """The line a move adds to the card's thread (claimed by, released, assigned to…), drawn
    from its stored event when sent (bot.lead_history.event_reply), so the channel tells the
    lead's story. Like every thread reply it waits for its card."""
    outbox_store.queue(
        session,
        kind=OutboxKind.THREAD_REPLY,
        lead_id=lead.id,
        channel=lead.slack_channel,
        payload={"event_id": event_id},
        now=now,
    )


def channel_message(
    session: Session,
    *,
    channel: str,
    text: str,
    now: datetime,
    blocks: list[dict[str, Any]] | None = None,
    lead_id: int | None = None,
) -> None:
    outbox_store.add(
        session,
        kind=OutboxKind.CHANNEL_MESSAGE,
        lead_id=lead_id,
        channel=channel,
        payload={"text": text, "blocks": blocks},
        now=now,
    )


def publish_home(
    session: Session, *, user_id: str, manager: bool, marketer: bool, now: datetime
) -> None:
    """Redraw someone's App Home; the roles travel along, since the view depends on them."""
    outbox_store.add(
        session,
        kind=OutboxKind.PUBLISH_HOME,
        user_id=user_id,
        payload={"manager": manager, "marketer": marketer},
        now=now,
    )


def feedback_file(
    session: Session,
    *,
    user_id: str,
    start: datetime,
    end: datetime,
    label: str,
    source: str | None,
    now: datetime,
) -> None:
    """Send someone the feedback export as a file; the period is fixed now, the rows are read
    when it is sent."""
    outbox_store.add(
        session,
        kind=OutboxKind.FEEDBACK_FILE,
        user_id=user_id,
        payload={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "label": label,
            "source": source,
        },
        now=now,
    )
