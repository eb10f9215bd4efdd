"""Baton in Socket Mode end to end: no /slack/events, every Slack request over the websocket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from handlers.config import load_config
from handlers.serve import BatonServer
from slack_emulator import DEFAULT_APP_TOKEN, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import buttons, card_redraws_held, card_text, send_lead, wait_for_card


def open_card(slack: SlackEmulator, lead_id: int) -> dict[str, Any]:
    """The card once its post is recorded and redrawn with its deadline: settled, so the next
    redraw is a click's."""
    return wait_for_card(slack, lead_id, lambda card: "Claim by" in card_text(card))


@pytest.fixture
def socket_env(config_env: dict[str, str]) -> dict[str, str]:
    """The test bot's environment with an app token, and no signing secret: none is needed."""
    env = {name: value for name, value in config_env.items() if name != "SLACK_SIGNING_SECRET"}
    return {**env, "SLACK_APP_TOKEN": DEFAULT_APP_TOKEN}


@pytest.fixture
def start_socket_bot(
    socket_env: dict[str, str], slack: SlackEmulator
) -> Iterator[Callable[[], BatonServer]]:
    """Starts bots serving intake over HTTP and Slack over Socket Mode, on one database, as
    `start_bot` does in HTTP mode; each returns once its connection is open."""
    started: list[BatonServer] = []

    def start() -> BatonServer:
        server = BatonServer(
            load_config(socket_env), post_interval=0.0, first_retry=0.05, delivery="inline"
        )
        server.start()
        started.append(server)
        slack.wait_for(lambda: slack.socket_connections() == len(started))
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def socket_bot(start_socket_bot: Callable[[], BatonServer]) -> BatonServer:
    return start_socket_bot()


def test_socket_mode_serves_no_slack_events_endpoint(
    socket_bot: BatonServer, slack: SlackEmulator
) -> None:
    response = httpx.post(f"{socket_bot.url}/slack/events", json={"type": "url_verification"})

    assert response.status_code == 404
    assert slack.calls("apps.connections.open")[-1].ok


def test_accept_over_the_socket_claims_the_card_and_dms_the_rep(
    socket_bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(socket_bot)
    card = open_card(slack, lead["id"])

    response = slack.user(REP_1, socket_mode=True).click(SALES_CHANNEL, card["ts"], "lead.accept")

    assert response.status_code == 200
    claimed = wait_for_card(slack, lead["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    assert "Claimed by" in card_text(claimed)
    assert buttons(claimed) == ["lead.contacted", "lead.details"]
    dm = slack.wait_for(lambda: slack.dms(REP_1))
    assert "Dana Whitfield" in dm[0]["text"]


def test_reject_over_the_socket_through_the_modal(
    socket_bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(socket_bot)
    card = open_card(slack, lead["id"])
    bob = slack.user(REP_2, socket_mode=True)

    assert bob.click(SALES_CHANNEL, card["ts"], "lead.reject").status_code == 200
    (modal,) = slack.open_views(REP_2)
    refused = bob.submit_view(modal["id"], {"reason": {"reason_select": "other"}})

    assert refused.json()["response_action"] == "errors"
    assert "note" in slack.view_errors(modal["id"])
    accepted = bob.submit_view(
        modal["id"],
        {"reason": {"reason_select": "other"}, "note": {"note_input": "Student project"}},
    )
    assert accepted.status_code == 200 and not accepted.content
    assert slack.open_views(REP_2) == []
    rejected = wait_for_card(slack, lead["id"], lambda c: "Student project" in card_text(c))
    assert buttons(rejected) == ["lead.details"]
    with socket_bot.services.db.read() as session:
        stored = lead_store.get_lead(session, lead["id"])
    assert (stored.status, stored.reject_reason) == ("rejected", "other")


def test_leads_help_over_the_socket_answers_ephemerally(
    socket_bot: BatonServer, slack: SlackEmulator
) -> None:
    response = slack.user(REP_1, socket_mode=True).slash_command("/leads", "help")

    assert response.status_code == 200
    (reply,) = slack.wait_for(lambda: slack.ephemerals(REP_1, SALES_CHANNEL))
    shown = reply["text"] + " " + card_text(reply)
    assert "/leads mine" in shown and "/leads assign" in shown
    assert slack.messages(SALES_CHANNEL) == []


def test_two_bots_share_the_work_each_request_reaching_one_of_them(
    start_socket_bot: Callable[[], BatonServer], slack: SlackEmulator
) -> None:
    first, _second = start_socket_bot(), start_socket_bot()
    leads = [send_lead(first, external_id=f"pair-{n}", name=f"Lead {n}") for n in (1, 2)]
    cards = [open_card(slack, lead["id"]) for lead in leads]

    with card_redraws_held(slack):  # REP_2 clicks the card as REP_1 saw it
        accepted = slack.user(REP_1, socket_mode=True).click(
            SALES_CHANNEL, cards[0]["ts"], "lead.accept"
        )
        accepted_again = slack.user(REP_2, socket_mode=True).click(
            SALES_CHANNEL, cards[0]["ts"], "lead.accept"
        )
    rejected = slack.user(REP_2, socket_mode=True).click(
        SALES_CHANNEL, cards[1]["ts"], "lead.reject"
    )

    assert accepted.request.url == rejected.request.url != accepted_again.request.url
    wait_for_card(slack, leads[0]["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    (refusal,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert f"already claimed by <@{REP_1}>" in refusal["text"]
    (modal,) = slack.open_views(REP_2)
    assert modal["callback_id"] == "lead.reject.submit"
