"""Requests Slack did not send, or sent twice, change nothing; lead text never pings anyone."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from handlers.serve import BatonServer
from slack_driver import Delivery, SlackUser
from slack_emulator import REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import (
    card_redraws_held,
    card_text,
    send_lead,
    settled,
    wait_for_card,
)

As = Callable[[str], SlackUser]


def accepts(bot: BatonServer, lead_id: int) -> int:
    with bot.services.db.read() as session:
        return [e.action for e in lead_store.list_events(session, lead_id)].count("accept")


@pytest.mark.parametrize(
    "delivery",
    [Delivery(bad_signature=True), Delivery(age=301)],
    ids=["forged-signature", "stale-timestamp"],
)
def test_unsigned_or_stale_clicks_are_refused_and_change_nothing(
    bot: BatonServer, slack: SlackEmulator, user: As, delivery: Delivery
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])

    response = user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept", delivery=delivery)
    assert response.status_code == 401
    assert accepts(bot, lead["id"]) == 0
    settled(bot)
    assert slack.dms(REP_1) == [] and slack.ephemerals(REP_1) == []


def test_a_request_without_slack_headers_is_refused(bot: BatonServer) -> None:
    response = httpx.post(
        f"{bot.url}/slack/events",
        data={"payload": json.dumps({"type": "block_actions", "actions": []})},
    )
    assert response.status_code == 401


def test_a_replayed_click_inside_the_signature_window_is_harmless(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    alice = user(REP_1)
    assert alice.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    assert alice.replay().status_code == 200

    settled(bot)
    assert accepts(bot, lead["id"]) == 1
    assert len(slack.dms(REP_1)) == 1


def test_slack_retrying_a_click_changes_nothing_twice(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    alice = user(REP_1)
    with card_redraws_held(slack):
        alice.click(SALES_CHANNEL, card["ts"], "lead.accept")
        retry = alice.click(
            SALES_CHANNEL, card["ts"], "lead.accept", delivery=Delivery(retry_num=1)
        )
    assert retry.status_code == 200

    settled(bot)
    assert accepts(bot, lead["id"]) == 1
    assert len(slack.dms(REP_1)) == 1


def test_a_click_with_a_tampered_lead_reference_changes_nothing(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))  # settled
    bob = user(REP_2)
    for block in card["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "lead.accept":
                element["value"] = "not-a-lead"
    slack.store.messages[SALES_CHANNEL][0]["blocks"] = card["blocks"]

    assert bob.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    (message,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert "is not a lead number" in message["text"] and "Traceback" not in message["text"]
    assert accepts(bot, lead["id"]) == 0


HOSTILE = "<!channel> <@U0REP000001> & <https://evil.example|click> 🚀"


def test_hostile_lead_text_renders_safely_within_limits(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(
        bot,
        name=HOSTILE,
        company=HOSTILE,
        notes=HOSTILE + "x" * 4900,
        need="y" * 500,
        campaign="<!here>" * 28,
    )
    card = wait_for_card(slack, lead["id"])

    raw = json.dumps(card["blocks"]) + card["text"]
    for mention in ("<!channel>", "<!here>", "<@U0REP000001>", "<https://evil"):
        assert mention not in raw
    assert "&lt;!channel&gt;" in card_text(card)
    assert "🚀" in card_text(card)
    assert all(call.ok for call in slack.calls("chat.postMessage"))
