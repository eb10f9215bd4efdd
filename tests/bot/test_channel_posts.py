"""Routing queued cards: each goes to the channel of its lead's route, chosen from the lead's
stored facts; a card another process routed meanwhile keeps the channel it was given."""

from __future__ import annotations

from sqlalchemy import select

from bot import channel_posts
from bot.rules import parse_rules
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboxKind, SlackOutbox
from tests.conftest import NOW
from tests.factories import create_lead

SALES, EU = "C0SALES0001", "C0SALESEU01"
RULES = parse_rules(
    {
        "channels": {"sales": SALES},
        "routes": [{"match": {"country": ["DE", "FR"], "score_min": 50}, "channel": EU}],
    },
    source="test",
)


def route_all(db: Database, routes: list[channel_posts.Route]) -> None:
    with db.write() as session:
        channel_posts.route_queued(session, routes, burst_after=100, seconds_per_card=1.0, now=NOW)


def card_channels(db: Database) -> dict[int | None, str | None]:
    with db.read() as session:
        cards = select(SlackOutbox.lead_id, SlackOutbox.channel).where(
            SlackOutbox.kind == OutboxKind.POST_CARD
        )
        return {lead_id: channel for lead_id, channel in session.execute(cards)}


def test_each_queued_card_goes_to_the_channel_its_leads_facts_route_it_to(db: Database) -> None:
    with db.write() as session:
        german = create_lead(session, external_id="de", country="DE", score=80).id
        french_but_low = create_lead(session, external_id="fr", country="FR", score=20).id
        american = create_lead(session, external_id="us", country="US", score=90).id
    with db.read() as session:
        routes = channel_posts.plan_routes(session, rules=RULES)
    route_all(db, routes)

    assert card_channels(db) == {german: EU, french_but_low: SALES, american: SALES}
    with db.read() as session:  # nothing is left to route
        assert channel_posts.plan_routes(session, rules=RULES) == []


def test_a_card_another_process_routed_meanwhile_keeps_the_channel_it_was_given(
    db: Database,
) -> None:
    with db.write() as session:
        german = create_lead(session, external_id="de", country="DE", score=80).id
        american = create_lead(session, external_id="us", country="US", score=90).id
    with db.read() as session:
        routes = channel_posts.plan_routes(session, rules=RULES)
    german_card = next(route.row_id for route in routes if route.channel == EU)
    with db.write() as session:  # another delivery process, with the rules before an edit
        outbox_store.set_channels(session, [(german_card, SALES)])
    route_all(db, routes)

    assert card_channels(db) == {german: SALES, american: SALES}
