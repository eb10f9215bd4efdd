"""Which channel each queued post goes to, and the notice a channel gets first when more cards
are queued for it than Slack lets Baton post there in a minute.

Cards are queued without a channel (intake knows no routing rules); the delivery worker routes
them before leasing, so each channel's posts can be delivered as one ordered lane.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot import notices, routing
from bot.rules import Rules
from storage import outbox as outbox_store
from storage.models import OutboxKind

ROUTE_BATCH = 1000
NOTICE_COVERS_AT_LEAST = timedelta(minutes=1)


def route_queued(
    session: Session, *, rules: Rules, burst_after: int, seconds_per_card: float, now: datetime
) -> int:
    """Give queued cards and thread replies their channel, oldest first: a lead's card goes
    where routing sends it, a reply goes where the card is (or will be). A channel that now
    has more than `burst_after` cards waiting gets a notice queued ahead of them, unless its
    last one still covers this backlog. Returns how many posts were routed."""
    routed = outbox_store.unrouted_posts(session, limit=ROUTE_BATCH)
    channels: set[str] = set()
    for row, lead in routed:
        row.channel = lead.slack_channel or routing.channel_for(lead, rules)
        if row.kind == OutboxKind.POST_CARD:
            channels.add(row.channel)
    session.flush()
    if channels:
        _announce_bursts(
            session,
            channels=sorted(channels),
            burst_after=burst_after,
            seconds_per_card=seconds_per_card,
            now=now,
        )
    return len(routed)


def _announce_bursts(
    session: Session,
    *,
    channels: list[str],
    burst_after: int,
    seconds_per_card: float,
    now: datetime,
) -> None:
    queued = {
        channel: outbox_store.count_queued_cards(session, channel=channel, at_most=burst_after + 1)
        for channel in channels
    }
    crowded = [channel for channel in channels if queued[channel] > burst_after]
    if not crowded:
        return
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
