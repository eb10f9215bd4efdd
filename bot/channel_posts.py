"""Which channel each queued post goes to, and the notice a channel gets first when more cards
are queued for it than Slack lets Baton post there in a minute.

Intake queues a new lead's card for its route's channel (bot.outbox.cards_created). A card
queued otherwise (a promoted MQL) and a thread reply are queued without one; the delivery
worker routes them before leasing, so each channel's posts can be delivered as one ordered
lane. Bursts are looked for in every channel with queued posts, however they were routed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot import notices, routing
from bot.rules import Rules
from storage import outbox as outbox_store
from storage.models import OutboxKind

ROUTE_BATCH = 1000
NOTICE_COVERS_AT_LEAST = timedelta(minutes=1)


@dataclass(frozen=True)
class Route:
    """The channel chosen for a queued post."""

    row_id: int
    kind: str
    channel: str


def plan_routes(session: Session, *, rules: Rules) -> list[Route]:
    """The channel of each unrouted card and thread reply (up to ROUTE_BATCH, oldest first): a
    lead's card goes where routing sends it, a reply goes where the card is (or will be).
    Read in a transaction of its own, so the write lock is held only to store the plan
    (`route_queued`)."""
    posts = outbox_store.unrouted_posts(session, limit=ROUTE_BATCH, facts=routing.MATCHED_FIELDS)
    return [
        Route(post.id, post.kind, post.lead_channel or routing.channel_for(post.facts, rules))
        for post in posts
    ]


def route_queued(session: Session, routes: Sequence[Route]) -> None:
    """Give the planned posts their channel (those still unrouted)."""
    outbox_store.set_channels(session, [(route.row_id, route.channel) for route in routes])


def announce_bursts(
    session: Session,
    *,
    burst_after: int,
    seconds_per_card: float,
    now: datetime,
    known: Mapping[str, datetime],
) -> dict[str, datetime]:
    """Queue a notice ahead of the cards of each channel that has more than `burst_after`
    waiting, unless its last one still covers this backlog; returns when each crowded
    channel's latest notice was queued. Run in the transaction that leases channel heads,
    before it leases them, so the notice is the head of its burst.

    `known`: when each channel's latest notice was queued, as an earlier call told
    (committed). A channel whose notice went out less than a minute ago is covered whatever
    its backlog, so it is not counted: during a burst every delivery round looks, and
    counting the channel and reading its notices each time took a third of the delivery
    process's CPU."""
    uncovered = [
        channel
        for channel in outbox_store.queued_channels(session)
        if channel not in known or now - known[channel] >= NOTICE_COVERS_AT_LEAST
    ]
    queued = {
        channel: outbox_store.count_queued_cards(session, channel=channel, at_most=burst_after + 1)
        for channel in uncovered
    }
    crowded = [channel for channel in uncovered if queued[channel] > burst_after]
    if not crowded:
        return {}
    last = outbox_store.last_burst_notices(session, channels=crowded)
    latest = {channel: notice.queued_at for channel, notice in last.items()}
    for channel in crowded:
        if channel not in last or not _still_covered(
            session,
            channel=channel,
            notice=last[channel],
            seconds_per_card=seconds_per_card,
            now=now,
        ):
            outbox_store.add(session, kind=OutboxKind.BURST_NOTICE, channel=channel, now=now)
            latest[channel] = now
    return latest


def _still_covered(
    session: Session,
    *,
    channel: str,
    notice: outbox_store.Notice,
    seconds_per_card: float,
    now: datetime,
) -> bool:
    """A notice covers the backlog it announced for as long as that backlog takes to post (at
    least a minute): cards that keep arriving meanwhile get no second notice. A backlog with
    no card queued after the notice is the one it announced, however long it takes. Counting
    stops once the backlog is known to last that long."""
    elapsed = (now - notice.queued_at).total_seconds()
    if elapsed < NOTICE_COVERS_AT_LEAST.total_seconds():
        return True
    if not outbox_store.count_queued_cards(session, channel=channel, at_most=1, after=notice.id):
        return True
    if seconds_per_card <= 0:
        return False
    needed = math.ceil(elapsed / seconds_per_card)
    return outbox_store.count_queued_cards(session, channel=channel, at_most=needed) >= needed


def burst_notice(session: Session, *, channel: str, seconds_per_card: float) -> str | None:
    """The notice, counted when it is sent: the cards still waiting for the channel then
    (None when another process has posted them all meanwhile)."""
    queued = outbox_store.count_queued_cards(session, channel=channel)
    return notices.burst_notice(queued, seconds_per_card) if queued else None
