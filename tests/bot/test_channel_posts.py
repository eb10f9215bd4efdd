"""Routing queued cards: each goes to the channel of its lead's route, chosen from the lead's
facts at intake, or by the delivery worker for a card queued without one; a card another
process routed meanwhile keeps the channel it was given. A channel with more cards queued
than a minute of posting gets one notice ahead of them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import channel_posts, intake, lifecycle
from bot.rules import parse_rules
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboxKind, SlackOutbox
from tests.conftest import NOW
from tests.factories import create_lead, lead_payload

SALES, EU = "C0SALES0001", "C0SALESEU01"
RULES = parse_rules(
    {
        "channels": {"sales": SALES},
        "routes": [{"match": {"country": ["DE", "FR"], "score_min": 50}, "channel": EU}],
    },
    source="test",
)


BURST_AFTER = 3


def route_all(db: Database, routes: list[channel_posts.Route]) -> None:
    with db.write() as session:
        channel_posts.route_queued(session, routes)


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


def receive(db: Database, *payloads: dict[str, object], minutes: int = 0) -> list[int]:
    """Leads stored as intake stores them, with the team's rules: their ids."""
    now = NOW + timedelta(minutes=minutes)
    fields = [intake.validate_lead(payload).to_fields() for payload in payloads]
    with db.write() as session:
        made = lifecycle.new_leads(fields, now=now, dialect=db.engine.dialect, rules=RULES)
        created = lifecycle.create_many(session, made, now=now)
        return [lead.id for lead, _ in created]


def test_intake_queues_each_card_for_the_channel_its_leads_route_sends_it_to(
    db: Database,
) -> None:
    german, american, french_but_low = receive(
        db,
        lead_payload(external_id="de", country="DE", score=80),
        lead_payload(external_id="us", country="US", score=90),
        lead_payload(external_id="fr", country="FR", score=20),
    )

    assert card_channels(db) == {german: EU, american: SALES, french_but_low: SALES}
    with db.read() as session:  # the delivery worker has nothing left to route
        assert channel_posts.plan_routes(session, rules=RULES) == []


def announce(db: Database, *, minutes: float = 0) -> dict[str, object]:
    """Look for bursts in both channels, as delivery does before posting their next cards."""
    with db.write() as session:
        bursts = channel_posts.announce_bursts(
            session,
            channels=[SALES, EU],
            burst_after=BURST_AFTER,
            seconds_per_card=1.0,
            now=NOW + timedelta(minutes=minutes),
            known={},
        )
        return dict(bursts.latest)


def notices(db: Database) -> list[str | None]:
    with db.read() as session:
        found = select(SlackOutbox.channel).where(SlackOutbox.kind == OutboxKind.BURST_NOTICE)
        return list(session.scalars(found.order_by(SlackOutbox.id)))


def burst(n: int, prefix: str, **overrides: object) -> list[dict[str, object]]:
    return [lead_payload(external_id=f"{prefix}-{i}", **overrides) for i in range(n)]


def test_a_channel_with_more_cards_than_a_burst_gets_one_notice_and_a_quiet_one_none(
    db: Database,
) -> None:
    receive(db, *burst(BURST_AFTER + 1, "us"), *burst(BURST_AFTER, "de", country="DE"))

    assert announce(db) == {SALES: NOW}
    assert announce(db, minutes=0.5) == {SALES: NOW}  # the notice still covers the backlog
    assert notices(db) == [SALES]


def test_a_backlog_nobody_added_to_since_its_notice_gets_no_second_one(db: Database) -> None:
    receive(db, *burst(BURST_AFTER + 1, "us"))
    announce(db)

    announce(db, minutes=60)  # posting is held (a 429, Slack down): the backlog is the same

    assert notices(db) == [SALES]


def test_cards_arriving_after_a_notice_has_run_out_get_a_new_one(db: Database) -> None:
    receive(db, *burst(BURST_AFTER + 1, "first"))
    announce(db)

    receive(db, lead_payload(external_id="later"), minutes=10)
    announce(db, minutes=10)  # 4 + 1 cards do not take the 10 minutes since the notice

    assert notices(db) == [SALES, SALES]
