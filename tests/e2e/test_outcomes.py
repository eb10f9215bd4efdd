"""Outcomes come back: the CRM posts what became of a lead (`/api/leads/…/outcome`), or its owner
says it with `/leads outcome`; the card, `/leads show` and `/leads stats` tell it, a repeat
changes nothing, and what cannot be recorded is refused with nothing changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from handlers.serve import BatonServer
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import INTAKE_AUTH, card_text, send_lead, settled, wait_for_card
from tests.e2e.test_leads_command import As, ask


def post_outcome(bot: BatonServer, path: str, body: Any, **options: Any) -> httpx.Response:
    headers = options.pop("headers", INTAKE_AUTH)
    return httpx.post(f"{bot.url}/api/leads/{path}", json=body, headers=headers, timeout=10)


@pytest.fixture
def claimed(bot: BatonServer, slack: SlackEmulator, user: As) -> dict[str, Any]:
    """A lead from HubSpot (external_id `hubspot:5501`) that alice accepted."""
    lead = send_lead(bot, external_id="hubspot:5501", name="Ada Lovelace", company="Analytical")
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, lead["id"], lambda c: "Claimed by" in card_text(c))
    return lead


def events(bot: BatonServer, lead_id: int) -> list[str]:
    with bot.services.db.read() as session:
        return [event.action for event in lead_store.list_events(session, lead_id)]


def test_the_crm_moves_a_claimed_lead_to_opportunity_then_won(
    bot: BatonServer, slack: SlackEmulator, user: As, claimed: dict[str, Any]
) -> None:
    opportunity = post_outcome(
        bot,
        "external/hubspot:5501/outcome",
        {"stage": "opportunity", "amount": 12000, "currency": "eur"},
    )
    assert opportunity.status_code == 200, opportunity.text
    assert opportunity.json()["status"] == "opportunity"
    assert opportunity.json()["outcome_amount"] == "12000.00"
    assert opportunity.json()["outcome_currency"] == "EUR"
    card = wait_for_card(slack, claimed["id"], lambda c: "Opportunity" in card_text(c))
    assert f"Opportunity for <@{REP_1}>" in card_text(card) and "12,000 EUR" in card_text(card)

    won = post_outcome(
        bot,
        f"{claimed['id']}/outcome",
        {"stage": "won", "amount": "15000.50", "currency": "EUR", "reason": "two-year deal"},
    )
    assert won.status_code == 200, won.text
    card = wait_for_card(slack, claimed["id"], lambda c: "Won by" in card_text(c))
    assert "15,000.50 EUR: two-year deal" in card_text(card)
    assert "lead.accept" not in str(card["blocks"])

    read = httpx.get(f"{bot.url}/api/leads/external/hubspot:5501", headers=INTAKE_AUTH)
    assert read.status_code == 200 and read.json()["status"] == "won"
    assert read.json()["opportunity_at"] is not None and read.json()["closed_at"] is not None
    settled(bot)
    stats = ask(user, slack, MANAGER, "stats")
    assert "1 opportunities · 1 won · 0 lost" in stats
    shown = ask(user, slack, MANAGER, f"show {claimed['id']}")
    assert "became an opportunity, recorded by the CRM · 12,000 EUR" in shown
    assert "won, recorded by the CRM · 15,000.50 EUR: two-year deal" in shown


def test_the_same_outcome_sent_again_changes_nothing(
    bot: BatonServer, claimed: dict[str, Any]
) -> None:
    body = {"stage": "won", "amount": 900, "currency": "USD", "at": "2026-11-20T10:00:00Z"}
    first = post_outcome(bot, "external/hubspot:5501/outcome", body)
    again = post_outcome(bot, "external/hubspot:5501/outcome", body)

    assert first.json()["changed"] is True and again.json()["changed"] is False
    assert again.json()["closed_at"] == "2026-11-20T10:00:00+00:00"
    assert events(bot, claimed["id"]).count("outcome") == 1


def test_a_corrected_amount_is_recorded_without_moving_the_close_date(
    bot: BatonServer, claimed: dict[str, Any]
) -> None:
    post_outcome(bot, "external/hubspot:5501/outcome", {"stage": "won", "amount": 900})
    closed_at = post_outcome(bot, "external/hubspot:5501/outcome", {"stage": "won"}).json()
    assert closed_at["changed"] is True and closed_at["outcome_amount"] is None
    assert events(bot, claimed["id"]).count("outcome") == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": "maybe"}, "stage"),
        ({"stage": "won", "amount": -5}, "amount"),
        ({"stage": "won", "amount": "12.345"}, "amount"),
        ({"stage": "won", "amount": True}, "amount"),
        ({"stage": "won", "currency": "euro"}, "currency"),
        ({"stage": "won", "at": "yesterday"}, "at"),
        ({"stage": "won", "closed_by": "bob"}, "closed_by"),
        ({}, "stage"),
    ],
)
def test_an_invalid_outcome_is_refused_with_its_field_and_changes_nothing(
    bot: BatonServer, claimed: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    refused = post_outcome(bot, "external/hubspot:5501/outcome", body)

    assert refused.status_code == 422, refused.text
    assert field in refused.json()["fields"]
    assert "outcome" not in events(bot, claimed["id"])


def test_outcomes_the_lead_cannot_take_are_refused(
    bot: BatonServer, slack: SlackEmulator, claimed: dict[str, Any]
) -> None:
    unclaimed = send_lead(bot, external_id="hubspot:5502")
    wait_for_card(slack, unclaimed["id"])
    not_yet = post_outcome(bot, "external/hubspot:5502/outcome", {"stage": "won"})
    assert not_yet.status_code == 409
    assert "is open; it cannot be given an outcome now" in not_yet.json()["error"]
    assert not_yet.json()["lead_status"] == "open"

    post_outcome(bot, "external/hubspot:5501/outcome", {"stage": "lost"})
    back = post_outcome(bot, "external/hubspot:5501/outcome", {"stage": "opportunity"})
    assert back.status_code == 409 and "cannot go back to opportunity" in back.json()["error"]

    missing = post_outcome(bot, "external/hubspot:404/outcome", {"stage": "won"})
    assert missing.status_code == 404
    assert post_outcome(bot, "99999/outcome", {"stage": "won"}).status_code == 404
    unsigned = post_outcome(bot, "external/hubspot:5501/outcome", {"stage": "won"}, headers={})
    assert unsigned.status_code == 401
    assert events(bot, unclaimed["id"]).count("outcome") == 0
    assert events(bot, claimed["id"]).count("outcome") == 1


def test_the_owner_records_an_outcome_from_slack_and_others_are_refused(
    bot: BatonServer, slack: SlackEmulator, user: As, claimed: dict[str, Any]
) -> None:
    lead_id = claimed["id"]
    refused = ask(user, slack, REP_2, f"outcome {lead_id} won")
    assert "Only the lead's owner or a manager can record an outcome for" in refused

    said = ask(user, slack, REP_1, f"outcome {lead_id} lost 3,000 usd went with a competitor")

    assert "is now lost" in said
    card = wait_for_card(slack, lead_id, lambda c: "Lost by" in card_text(c))
    assert "3,000 USD: went with a competitor" in card_text(card)
    unclear = ask(user, slack, REP_1, f"outcome {lead_id} closed")
    assert unclear.startswith("Say opportunity, won or lost after the lead.")
