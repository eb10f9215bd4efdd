"""Which channel each queued post goes to, and the notice a channel gets first when more cards
are queued for it than Slack lets Baton post there in a minute.

Cards are queued without a channel (intake knows no routing rules); the delivery worker routes
them before leasing, so each channel's posts can be delivered as one ordered lane.
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
class Routed:
    """What a routing round did: how many posts it routed, and when each channel's latest
    burst notice was queued, as far as the round learned it (read, or queued by the round)."""

    count: int
    notices: dict[str, datetime]


@dataclass(frozen=True)
class Route:
    """The channel chosen for a queued post."""

    row_id: int
    kind: str
    channel: str


def plan_routes(session: Session, *, rules: Rules) -> list[Route]:
    """The channel of each queued card and thread reply (up to ROUTE_BATCH, oldest first): a
    lead's card goes where routing sends it, a reply goes where the card is (or will be).
    Read in a transaction of its own, so the write lock is held only to store the plan
    (`route_queued`): reading a burst's thousand posts and their leads under it kept intake
    waiting for a tenth of a second each time."""
    posts = outbox_store.unrouted_posts(session, limit=ROUTE_BATCH, facts=routing.MATCHED_FIELDS)
    return [
        Route(post.id, post.kind, post.lead_channel or routing.channel_for(post.facts, rules))
        for post in posts
    ]


def route_queued(
    session: Session,
    routes: Sequence[Route],
    *,
    burst_after: int,
    seconds_per_card: float,
    now: datetime,
    known_notices: Mapping[str, datetime] | None = None,
) -> Routed:
    """Give the planned posts their channel (those still unrouted). A channel that now has
    more than `burst_after` cards waiting gets a notice queued ahead of them, unless its last
    one still covers this backlog. `known_notices`: when each channel's latest notice was
    queued, as an earlier round's `Routed.notices` told (committed), which spares counting a
    channel its notice covers anyway."""
    outbox_store.set_channels(session, [(route.row_id, route.channel) for route in routes])
    channels = {route.channel for route in routes if route.kind == OutboxKind.POST_CARD}
    notices = (
        _announce_bursts(
            session,
            channels=sorted(channels),
            burst_after=burst_after,
            seconds_per_card=seconds_per_card,
            now=now,
            known=known_notices or {},
        )
        if channels
        else {}
    )
    return Routed(len(routes), notices)


def _announce_bursts(
    session: Session,
    *,
    channels: list[str],
    burst_after: int,
    seconds_per_card: float,
    now: datetime,
    known: Mapping[str, datetime],
) -> dict[str, datetime]:
    """Queue the notices the channels need; returns when each crowded channel's latest notice
    was queued. A channel whose notice `known` says went out less than a minute ago is
    covered whatever its backlog, so it is not counted: during a burst of leads every round
    routes a few cards, and counting their channel and reading its notices took a third of
    the delivery process's CPU."""
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
        return {}
    last = outbox_store.last_burst_notices(session, channels=crowded)
    for channel in crowded:
        if channel not in last or not _still_covered(
            session,
            channel=channel,
            since=last[channel],
            seconds_per_card=seconds_per_card,
            now=now,
        ):
            outbox_store.add(session, kind=OutboxKind.BURST_NOTICE, channel=channel, now=now)
            last[channel] = now
    return last


def _still_covered(
    session: Session, *, channel: str, since: datetime, seconds_per_card: float, now: datetime
) -> bool:
    """A notice covers the backlog it announced for as long as that backlog takes to post (at
    least a minute): cards that keep arriving meanwhile get no second notice. Counting stops
    once the backlog is known to last that long."""
    elapsed = (now - since).total_seconds()
    if elapsed < NOTICE_COVERS_AT_LEAST.total_seconds():
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
