"""Which channel each queued post goes to, and the notice a channel gets first when more cards
are queued for it than Slack lets Baton post there in a minute.

Intake queues a new lead's card for its route's channel (bot.outbox.cards_created). A card
queued otherwise (a promoted MQL) and a thread reply are queued without one; the delivery
worker routes them before leasing, so each channel's posts can be delivered as one ordered
lane. A burst is looked for in a channel when its next card is about to be posted, however the
cards were routed.
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


@dataclass(frozen=True)
class Bursts:
    """What `announce_bursts` learned: when each crowded channel's latest notice was queued,
    and the channels whose notice it queued now."""

    latest: dict[str, datetime]
    announced: frozenset[str]


def announce_bursts(
    session: Session,
    *,
    channels: Sequence[str],
    burst_after: int,
    seconds_per_card: float,
    now: datetime,
    known: Mapping[str, datetime],
) -> Bursts:
    """Queue a notice for each of the `channels` that has more than `burst_after` cards
    waiting, unless its last one still covers this backlog. Run for the channels whose next
    card is about to be leased, in the transaction that leases it: the caller hands back the
    card of a channel announced now, and the notice goes first (a channel's waiting notice
    is its head). Looking only then keeps the check off the rounds that lease no card (a
    click's redraws and DMs).

    `known`: when each channel's latest notice was queued, as an earlier call told
    (committed). A channel whose notice went out less than a minute ago is covered whatever
    its backlog, so it is not counted: counting a crowded channel and reading its notices at
    every card took a third of the delivery process's CPU."""
    uncovered = [
        channel
        for channel in channels
        if channel not in known or now - known[channel] >= NOTICE_COVERS_AT_LEAST
    ]
    queued = {
        channel: outbox_store.count_queued_cards(session, channel=channel, at_most=burst_after + 1)
        for channel in uncovered
    }
    crowded = [channel for channel in uncovered if queued[channel] > burst_after]
    if not crowded:
        return Bursts({}, frozenset())
    last = outbox_store.last_burst_notices(session, channels=crowded)
    latest = {channel: notice.queued_at for channel, notice in last.items()}
    announced = set()
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
            announced.add(channel)
    return Bursts(latest, frozenset(announced))


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
