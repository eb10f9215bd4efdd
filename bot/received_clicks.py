"""Clicks on a lead card's buttons, recorded in one short write and acknowledged at once, then
applied in the order they were recorded (storage.received_clicks keeps each lead's clicks in
that order, however many appliers run).

Slack waits for the acknowledgement, and the person for the card's redraw: the move itself
(locking the lead, its event, SLA windows, outbox rows, webhooks) costs several times what the
acknowledgement does, so the acknowledgement no longer waits for it. A click is applied exactly
once: its move and the deletion of its row commit together. A move refused (the lead was
claimed first, only its owner may release it) or failing tells the clicker beside the message
they clicked, as the acknowledgement used to; in the same transaction as the deletion, so once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import notices, outbox
from bot.errors import BatonError
from bot.home import request_home
from bot.lifecycle import Action, Actor, Lifecycle
from storage import received_clicks as click_store
from storage.models import Lead, ReceivedClick

# The buttons whose clicks are recorded first and applied after the acknowledgement.
APPLIED_LATER = (Action.ACCEPT, Action.RELEASE, Action.MARK_CONTACTED, Action.REOPEN)
Move = Callable[..., Lead]


@dataclass(frozen=True)
class Received:
    """A click as Slack sent it: the button's move, its lead, who clicked, and where: the
    message (channel, ts, response_url) or App Home (`in_home`)."""

    action: Action
    lead_id: int
    user_id: str
    in_home: bool
    channel: str | None
    message_ts: str | None
    response_url: str | None


def record(session: Session, *, clicks: Sequence[Received], now: datetime) -> None:
    """Record the clicks, in this order: all the acknowledgement waits for."""
    click_store.record(
        session,
        [
            {
                "action": click.action.value,
                "lead_id": click.lead_id,
                "user_id": click.user_id,
                "in_home": click.in_home,
                "channel": click.channel,
                "message_ts": click.message_ts,
                "response_url": click.response_url,
                "received_at": now,
            }
            for click in clicks
        ],
    )


def take_next(session: Session) -> ReceivedClick | None:
    """The next click to apply in this transaction (see storage.received_clicks.take_next)."""
    return click_store.take_next(session)


def apply(
    session: Session, *, lifecycle: Lifecycle, click: ReceivedClick, actor: Actor, now: datetime
) -> None:
    """Make the click's move as `actor` (who clicked, with their roles) and forget the click.
    A refusal raises BatonError, like the move: the caller rolls back and calls `refused`."""
    move = _moves(lifecycle)[Action(click.action)]
    clicked = (
        None if click.in_home else outbox.Click(click.channel, click.message_ts, click.response_url)
    )
    move(session, lead_id=click.lead_id, actor=actor, now=now, clicked=clicked)
    if click.in_home:
        request_home(session, actor=actor, now=now)  # clicked in App Home: redraw it
    click_store.forget(session, click.id)


def refused(session: Session, *, click_id: int, error: BatonError | None, now: datetime) -> None:
    """The click's move was refused (`error`) or failed (None): tell the clicker beside the
    message they clicked (a click in App Home has nowhere to be told) and forget the click;
    nothing when another applier got to it first."""
    click = click_store.take(session, click_id)
    if click is None:
        return
    if click.channel is not None:
        text = notices.FAILURE if error is None else notices.refusal(error, viewer=click.user_id)
        outbox.tell_user(session, user_id=click.user_id, channel=click.channel, text=text, now=now)
    click_store.forget(session, click.id)


def any_waiting(session: Session) -> bool:
    return click_store.any_waiting(session)


def count_waiting(session: Session) -> int:
    return click_store.count_waiting(session)


def _moves(lifecycle: Lifecycle) -> dict[Action, Move]:
    return {
        Action.ACCEPT: lifecycle.accept,
        Action.RELEASE: lifecycle.release,
        Action.MARK_CONTACTED: lifecycle.mark_contacted,
        Action.REOPEN: lifecycle.reopen,
    }
