"""The team's scoring model through the real bot: a lead sent to the intake API is scored by the
model in baton.toml, the card in the Slack emulator shows the total and why, Details shows every
rule, and the API gives the explanation back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from slack_emulator import REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import INTAKE_AUTH, card_text, send_lead, wait_for_card
from tests.e2e.test_card_details_and_thread import details_of
from tests.e2e.test_leads_command import As
from tests.factories import lead_payload


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules with the test scoring model."""
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + MODEL_TOML, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules)}


def test_the_models_score_and_why_are_on_the_card_and_in_details(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(
        bot,
        score=12,  # the sender's score, which the model's replaces
        intent=None,
        activities=[
            {"type": "pricing_page", "detail": "Viewed pricing"},
            {"type": "pricing_page"},
            {"type": "pricing_page", "detail": "Again"},
            {"type": "webinar", "detail": "Scaling ops"},
        ],
    )
    # VP (+25), 201-500 (+15), three pricing page visits (+24, capped at 20), a webinar (+10);
    # need and timeline known.
    assert lead["score"] == 70
    assert lead["score_explanation"]["verdict"] == "sql"
    assert lead["score_explanation"]["sender_score"] == 12

    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    (why,) = [b["text"]["text"] for b in card["blocks"] if b.get("block_id") == "why"]
    assert why == (
        "Score *70* · SQL (from 70): decision maker +25, pricing page 3× +20 (capped)"
        " · need ✓ timeline ✓ · 📈 Viewed pricing"
    )

    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.details")
    shown = details_of(slack, REP_2)
    for line in (
        "*Why this score*\nScore 70 of 100: SQL (from 70)",
        "Fit +40\n• decision maker +25\n• mid-market +15",
        "Engagement +30\n• pricing page 3× +20 (capped)\n• webinar 1× +10",
        "Required: need ✓, timeline ✓",
        "Sender's score: 12",
    ):
        assert line in shown, line

    read = httpx.get(f"{bot.url}/api/leads/{lead['id']}", headers=INTAKE_AUTH, timeout=10)
    assert read.json()["score_explanation"] == lead["score_explanation"]


def test_a_fast_lane_lead_says_so_on_its_card(bot: BatonServer, slack: SlackEmulator) -> None:
    lead = send_lead(bot, external_id="demo-1", title="Student", company_size=None)

    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    assert (
        "Score *0* · SQL by fast lane demo request: student -30 · need ✓ timeline ✓"
        in card_text(card)
    )


def test_a_batch_is_scored_lead_by_lead(bot: BatonServer) -> None:
    batch = [
        lead_payload(external_id="b-1", activities=[]),
        lead_payload(external_id="b-2", score=101),  # refused: the sender's score is checked
        lead_payload(external_id="b-3", title="Intern", company_size="12", activities=[]),
    ]
    response = httpx.post(
        f"{bot.url}/api/leads/batch", json={"leads": batch}, headers=INTAKE_AUTH, timeout=30
    )

    first, refused, third = response.json()["results"]
    assert refused["status"] == 422
    assert (first["body"]["score"], first["body"]["score_explanation"]["verdict"]) == (40, "mql")
    assert (third["body"]["score"], third["body"]["score_explanation"]["verdict"]) == (
        0,
        "unqualified",
    )
    with bot.services.db.read() as session:
        stored = lead_store.get_lead(session, third["body"]["id"])
        assert stored is not None and stored.score_explanation == third["body"]["score_explanation"]


def test_a_repeat_with_a_new_activity_is_rescored_and_an_identical_one_is_not(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    activities = [{"type": "pricing_page", "detail": "Viewed pricing"}, {"type": "demo_request"}]
    lead = send_lead(bot, score=12, intent=None, activities=activities)
    # VP (+25), 201-500 (+15), a pricing page visit (+8); an SQL by the demo request's fast lane.
    assert lead["score"] == 48
    wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))

    identical = send_lead(bot, score=12, intent=None, activities=activities)
    again = send_lead(bot, score=12, intent=None, activities=[*activities, {"type": "webinar"}])

    assert "updated" not in identical
    assert again["changes"] == {
        "activities": {"added": [{"type": "webinar", "detail": None, "at": None}]},
        "score": {"from": 48, "to": 58},
    }
    assert (again["score"], again["score_explanation"]["sender_score"]) == (58, 12)
    wait_for_card(
        slack, lead["id"], lambda c: "score 48 → 58 · new signal: webinar" in card_text(c)
    )


def test_each_new_lead_is_answered_as_it_is_then_read(
    start_bot: Callable[..., BatonServer],
) -> None:
    """The answer to a new lead, single or in a batch, is the lead as stored to the last field
    (intake builds it from what it wrote, storage.leads): moments in UTC whatever offset they
    came with, the score and its reasons, kept unknown fields, defaults, an MQL's status. No
    delivery: a posted card would change the lead between the answer and the read."""
    bot = start_bot(delivery="off")
    leads = [
        lead_payload(external_id="same-1", favourite_colour="teal", visits=3.5),
        lead_payload(
            external_id="same-2",
            name="Zoë Ångström 山田",
            activities=[
                {"type": "pricing_page", "at": "2026-11-24T09:30:00.123456+05:30"},
                {"type": "pricing_page"},
                {"type": "pricing_page"},
                {"type": "webinar", "detail": "Stayed to the end"},
            ],
        ),
        lead_payload(external_id="same-3", title="Intern", activities=[], notes=None),
    ]
    with httpx.Client(base_url=bot.url, timeout=30) as client:
        batch = client.post("/api/leads/batch", json={"leads": leads[:2]}, headers=INTAKE_AUTH)
        single = client.post("/api/leads", json=leads[2], headers=INTAKE_AUTH)
        answers = [result["body"] for result in batch.json()["results"]] + [single.json()]
        read = [
            client.get(f"/api/leads/{answer['id']}", headers=INTAKE_AUTH).json()
            for answer in answers
        ]

    assert [result["status"] for result in batch.json()["results"]] == [201, 201]
    assert single.status_code == 201
    assert answers == read
    assert read[0]["extra"] == {"favourite_colour": "teal", "visits": 3.5}
    assert read[1]["activities"][0]["at"] == "2026-11-24T04:00:00.123456+00:00"
    assert [lead["score_explanation"]["verdict"] for lead in read] == ["sql", "sql", "unqualified"]
    assert [lead["status"] for lead in read] == ["new", "new", "mql"]  # the intern is kept back
