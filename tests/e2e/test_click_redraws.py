"""A click on a card is redrawn through the click's response_url, which Slack does not count
against chat.update's rate tier: the rep sees it at once however busy the workspace. Slack
refusing that URL, or a click elsewhere (App Home, a DM), leaves the redraw to chat.update, and
no redraw ever shows an older state than one shown before it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import REP_1, SALES_CHANNEL, SlackEmulator
from storage.models import OutboxKind
from tests.e2e.conftest import (
    buttons,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_failed_deliveries import outbox_rows
from tests.e2e.test_home_and_digest import open_home

HELD_FOR = 600  # Retry-After, in seconds: far longer than any test waits
CLAIMED = f"Claimed by <@{REP_1}>"


def claimed(card: dict[str, Any]) -> bool:
    return CLAIMED in card_text(card)


def replaced_cards(slack: SlackEmulator) -> list[Any]:
    """The response_url answers that replaced the clicked message."""
    return [
        call
        for call in slack.calls("response_url")
        if call.status == 200 and (call.args.get("body") or {}).get("replace_original")
    ]


def card_updates(slack: SlackEmulator, card: dict[str, Any]) -> list[Any]:
    """The chat.update calls that redrew the card (it is posted open, as it stays until
    someone acts)."""
    return [
        call for call in slack.calls("chat.update") if call.ok and call.args["ts"] == card["ts"]
    ]


def response_url_of(user: SlackUser) -> str:
    """The response_url of the user's last click, as Slack sent it to the bot."""
    assert user.last_request is not None
    payload = json.loads(dict(parse_qsl(user.last_request.body.decode()))["payload"])
    return str(payload["response_url"])


def posted_card(bot: BatonServer, slack: SlackEmulator) -> tuple[int, dict[str, Any]]:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "lead.accept" in buttons(c))
    settled(bot)
    return lead["id"], card


def test_a_click_is_redrawn_through_its_response_url_while_chat_update_is_held(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead_id, card = posted_card(bot, slack)
    held = slack.faults.add("chat.update", status=429, retry_after=HELD_FOR, times=None)

    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    redrawn = wait_for_card(slack, lead_id, claimed)
    settled(bot)

    assert "lead.contacted" in buttons(redrawn) and "lead.accept" not in buttons(redrawn)
    assert card_text(redrawn).strip().startswith("🔥 *hot*")  # drawn as a post draws it
    assert redrawn["ts"] == card["ts"] and len(slack.messages(SALES_CHANNEL)) == 1
    assert len(replaced_cards(slack)) == 1 and held.hits == 0
    # The response_url is a credential: the delivered row keeps no copy of it.
    assert all(row.payload == {} for row in outbox_rows(bot, lead_id) if row.kind.endswith("card"))


@pytest.mark.parametrize(
    "refusal",
    [
        {"status": 404, "error": "expired_url"},
        {"status": 500},
        {"drop": True},
    ],
    ids=["expired", "server-error", "connection-dropped"],
)
def test_a_refused_response_url_falls_back_to_chat_update(
    bot: BatonServer, slack: SlackEmulator, refusal: dict[str, Any]
) -> None:
    lead_id, card = posted_card(bot, slack)
    refused = slack.faults.add("response_url", **refusal)

    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, lead_id, claimed)
    settled(bot)

    assert refused.hits == 1 and replaced_cards(slack) == []
    assert len(card_updates(slack, card)) == 1
    assert all(row.payload == {} for row in outbox_rows(bot, lead_id) if row.kind.endswith("card"))


def test_a_response_url_used_up_meanwhile_falls_back_to_chat_update(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    """Slack allows five uses of a response_url. The bot that took the click cannot deliver
    (its delivery stopped) while the URL is used five times; another bot on the database is
    refused the sixth use, and chat.update redraws the card instead."""
    clicked_bot = start_bot()
    lead_id, card = posted_card(clicked_bot, slack)
    clicked_bot.delivery.stop()
    rep = slack_user(slack, clicked_bot, REP_1)

    rep.click(SALES_CHANNEL, card["ts"], "lead.accept")
    for _ in range(5):
        used = httpx.post(response_url_of(rep), json={"text": "Noted."}, timeout=10)
        assert used.status_code == 200
    start_bot()
    wait_for_card(slack, lead_id, claimed)
    settled(clicked_bot)

    assert replaced_cards(slack) == []
    assert [call.response.get("error") for call in slack.calls("response_url")][-1] == "used_url"
    assert len(card_updates(slack, card)) == 1


def test_clicks_in_app_home_and_in_a_dm_redraw_the_channel_card(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    """Their response_url (a DM's) would replace the message clicked, not the card."""
    lead_id, card = posted_card(bot, slack)
    rep = slack_user(slack, bot, REP_1)

    home = open_home(slack, lambda who: slack_user(slack, bot, who), REP_1)
    rep.click_in_view(home["id"], "lead.accept", value=str(lead_id))
    wait_for_card(slack, lead_id, claimed)
    (dm,) = slack.wait_for(lambda: slack.dms(REP_1))
    settled(bot)

    rep.click(REP_1, dm["ts"], "lead.contacted")
    wait_for_card(slack, lead_id, lambda c: "Contacted" in card_text(c))
    settled(bot)

    assert replaced_cards(slack) == []
    assert len(card_updates(slack, card)) == 2
    (still,) = slack.dms(REP_1)
    assert still["text"] == dm["text"] and "You claimed" in still["text"]


def test_a_redraw_never_lands_after_a_newer_one(bot: BatonServer, slack: SlackEmulator) -> None:
    """The card's Accept is redrawn through a response_url that Slack answers slowly; meanwhile
    the rep marks the lead contacted from the DM, which chat.update redraws. That redraw waits
    for the first to land, so the card ends showing the lead as it is."""
    lead_id, card = posted_card(bot, slack)
    slow = slack.faults.add("response_url", delay=4.0)
    rep = slack_user(slack, bot, REP_1)

    rep.click(SALES_CHANNEL, card["ts"], "lead.accept")
    slack.wait_for(lambda: slow.hits)  # the claimed card is on its way
    dm = slack.wait_for(lambda: [m for m in slack.dms(REP_1) if "You claimed" in m["text"]])
    rep.click(REP_1, dm[0]["ts"], "lead.contacted")
    eventually(lambda: replaced_cards(slack))
    settled(bot)

    final = slack.message(SALES_CHANNEL, card["ts"])
    assert "Contacted" in card_text(final) and not claimed(final)
    (replaced,) = replaced_cards(slack)
    (updated,) = card_updates(slack, card)
    assert updated.at >= replaced.at
    kinds = {row.kind for row in outbox_rows(bot, lead_id)}
    assert {OutboxKind.REPLACE_CARD, OutboxKind.UPDATE_CARD} <= kinds
