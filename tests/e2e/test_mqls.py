"""MQLs through the real bot, with the team's scoring model: a lead under the SQL threshold is
kept for marketing (no card, no SLA); new activities sent to the API push it over, and it is
handed off once, its card saying why now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.serve import BatonServer
from slack_emulator import MANAGER, MARKETER, REP_1, SlackEmulator
from storage import leads as lead_store
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import (
    INTAKE_AUTH,
    card_text,
    eventually,
    send_lead,
    settled,
    wait_for_card,
)
from tests.e2e.test_leads_command import As, ask
from tests.webhook_receiver import SECRET, WebhookReceiver, webhook_toml

MQL = {"external_id": "mql-1", "score": 12, "intent": None}
# VP (+25), 201-500 (+15), a pricing page visit (+8): an MQL (SQL from 70).
FIRST_VISIT = [{"type": "pricing_page", "detail": "Viewed pricing"}]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def scoring_env(
    config_env: dict[str, str], tmp_path: Path, receiver: WebhookReceiver, model: str
) -> dict[str, str]:
    """The example rules with a scoring `model`, and a webhook endpoint: the receiver."""
    rules = tmp_path / "baton.toml"
    text = EXAMPLE_RULES.read_text(encoding="utf-8") + model + webhook_toml(receiver.url)
    rules.write_text(text, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules), "RECEIVER_SECRET": SECRET}


@pytest.fixture
def config_env(
    config_env: dict[str, str], tmp_path: Path, receiver: WebhookReceiver
) -> dict[str, str]:
    """The example rules with the test scoring model, and a webhook endpoint: the receiver."""
    return scoring_env(config_env, tmp_path, receiver, MODEL_TOML)


def add_activities(bot: BatonServer, external_id: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{bot.url}/api/leads/external/{external_id}/activities",
        json=body,
        headers={**INTAKE_AUTH, **headers},
        timeout=10,
    )


def posted_cards(slack: SlackEmulator) -> int:
    return len(slack.calls("chat.postMessage"))


def actions(bot: BatonServer, lead_id: int) -> list[str]:
    with bot.services.db.read() as session:
        return [event.action for event in lead_store.list_events(session, lead_id)]


def test_an_mql_is_kept_until_new_activities_make_it_an_sql_and_its_card_says_why_now(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(bot, **MQL, activities=FIRST_VISIT)
    assert (lead["status"], lead["score"]) == ("mql", 48)
    settled(bot)
    assert posted_cards(slack) == 0
    assert lead["claim_due_at"] is None

    # Two more visits (pricing page +20, capped, from +8) and a webinar (+10) make 70: an SQL.
    response = add_activities(
        bot,
        "mql-1",
        {
            "activities": [
                {"type": "pricing_page", "detail": "Pricing again"},
                {"type": "pricing_page", "at": "2026-11-29T09:00:00Z"},
                {"type": "webinar", "detail": "Scaling ops"},
            ]
        },
    )

    assert response.status_code == 200, response.text
    promoted = response.json()
    assert (promoted["status"], promoted["score"], promoted["updated"]) == ("new", 70, True)
    why_now = "pricing page 3× +12, webinar 1× +10 (score 48 → 70)"
    assert promoted["promoted_why"] == why_now
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    assert f"🚀 Why now: {why_now}" in card_text(card)
    settled(bot)
    assert actions(bot, lead["id"]) == ["create", "update", "promote", "post"]
    read = httpx.get(f"{bot.url}/api/leads/{lead['id']}", headers=INTAKE_AUTH, timeout=10)
    assert read.json()["status"] == "open" and read.json()["claim_due_at"] is not None

    # The same activities again change nothing: the card is posted once.
    again = add_activities(
        bot, "mql-1", {"activities": [{"type": "webinar", "detail": "Scaling ops"}]}
    )
    assert again.status_code == 200 and "updated" not in again.json()
    settled(bot)
    assert posted_cards(slack) == 1


def test_an_activity_that_leaves_it_an_mql_rescores_it_and_posts_nothing(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(bot, **MQL, activities=FIRST_VISIT)

    response = add_activities(bot, "mql-1", {"activities": [{"type": "webinar"}]})

    assert response.json()["changes"]["score"] == {"from": 48, "to": 58}
    assert response.json()["status"] == "mql"
    settled(bot)
    assert posted_cards(slack) == 0
    assert actions(bot, lead["id"]) == ["create", "update"]


def test_a_repeat_of_the_lead_that_makes_it_an_sql_promotes_it_too(
    bot: BatonServer, slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    lead = send_lead(bot, **MQL, activities=FIRST_VISIT)

    again = send_lead(bot, **MQL, activities=[*FIRST_VISIT, {"type": "demo_request"}])

    assert (again["status"], again["promoted_why"]) == ("new", "fast lane demo request")
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    assert "🚀 Why now: fast lane demo request" in card_text(card)
    settled(bot)
    assert actions(bot, lead["id"]) == ["create", "update", "promote", "post"]
    announced = ["lead.created", "lead.updated", "lead.promoted", "lead.posted"]
    eventually(lambda: receiver.types_by_lead().get(lead["id"]) == announced)
    promoted = next(event for event in receiver.events() if event.type == "lead.promoted")
    assert promoted.data["why"] == "fast lane demo request"


@pytest.mark.parametrize(
    ("external_id", "body", "headers", "status", "told"),
    [
        ("nobody", {"activities": [{"type": "webinar"}]}, {}, 404, "no lead has this external_id"),
        ("mql-1", {"activities": []}, {}, 422, "invalid activities"),
        ("mql-1", {"activities": [{"detail": "no type"}]}, {}, 422, "invalid activities"),
        ("mql-1", {"signals": []}, {}, 422, "invalid activities"),
        ("mql-1", [], {}, 422, "invalid activities"),
        ("mql-1", {"activities": [{"type": "webinar"}]}, {"Authorization": "Bearer x"}, 401, ""),
    ],
)
def test_bad_activities_are_refused_and_change_nothing(
    bot: BatonServer,
    slack: SlackEmulator,
    external_id: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    told: str,
) -> None:
    lead = send_lead(bot, **MQL, activities=FIRST_VISIT)

    response = add_activities(bot, external_id, body, **headers)

    assert response.status_code == status, response.text
    assert told in response.text
    assert actions(bot, lead["id"]) == ["create"]


def test_leads_mql_lists_mqls_by_score_with_their_leading_rules_for_marketers_and_managers(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lower = send_lead(bot, **MQL, activities=FIRST_VISIT)
    higher = send_lead(bot, **{**MQL, "external_id": "mql-2"}, activities=[{"type": "webinar"}])
    sql = send_lead(bot, external_id="sql-1", activities=[{"type": "demo_request"}])

    for who in (MARKETER, MANAGER):
        reply = ask(user, slack, who, "mql")
        assert "MQLs, highest score first* (2)" in reply
        assert f"#{higher['id']} · mql · score *50*: decision maker +25, webinar 1× +10" in reply
        assert f"#{lower['id']} · mql · score *48*: decision maker +25, pricing page 1× +8" in reply
        assert reply.index(f"#{higher['id']}") < reply.index(f"#{lower['id']}")
        assert f"#{sql['id']}" not in reply

    assert "`/leads mql` is only for managers and marketers." in ask(user, slack, REP_1, "mql")
