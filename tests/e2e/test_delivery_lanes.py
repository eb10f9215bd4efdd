"""Delivery in lanes: a channel Slack holds back (429 with Retry-After) delays no other channel
and nothing a person's click causes; each channel's cards keep their order, also with two bots
delivering from one database; a burst bigger than a channel takes in a minute is announced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from handlers.slack_delivery import BURST_CARDS
from slack_driver import SlackUser
from slack_emulator import MANAGER, MARKETING_CHANNEL, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from tests.conftest import EXAMPLE_RULES, NOW
from tests.e2e.conftest import (
    INTAKE_AUTH,
    card_text,
    cards,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_failed_deliveries import outbox_rows
from tests.e2e.test_leads_command import ask
from tests.e2e.test_sla_flow import SWEEP, Clock
from tests.factories import lead_payload

# Leads from Germany are routed to a channel of their own (the marketing channel stands in).
GERMAN_CHANNEL = MARKETING_CHANNEL
HELD_FOR = 600  # Retry-After, in seconds: far longer than any test waits


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules plus one route, so leads go to two channels."""
    rules = tmp_path / "rules.toml"
    route = f'\n[[routes]]\nmatch = {{ country = ["DE"] }}\nchannel = "{GERMAN_CHANNEL}"\n'
    rules.write_text(EXAMPLE_RULES.read_text() + route)
    return {**config_env, "BATON_CONFIG": str(rules)}


def card_order(slack: SlackEmulator, channel: str) -> list[int]:
    """The lead ids of the cards in a channel, as they were posted."""
    return [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages(channel)
        if (message.get("metadata") or {}).get("event_payload")
    ]


def send_batch(bot: BatonServer, leads: list[dict[str, object]]) -> list[int]:
    response = httpx.post(
        f"{bot.url}/api/leads/batch", json={"leads": leads}, headers=INTAKE_AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    return [result["body"]["id"] for result in response.json()["results"]]


def test_a_channel_held_by_slack_delays_no_other_channel_and_no_click(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    first = send_lead(bot, external_id="first", name="First Lead")
    card = wait_for_card(slack, first["id"])
    held = slack.faults.add(
        "chat.postMessage", status=429, retry_after=HELD_FOR, channel=SALES_CHANNEL, times=None
    )
    waiting = send_lead(bot, external_id="waiting", name="Waiting Lead")
    slack.wait_for(lambda: held.hits)

    german = send_lead(bot, external_id="german", name="Jonas Weber", country="DE")
    slack.wait_for(lambda: german["id"] in cards(slack, GERMAN_CHANNEL), timeout=10)
    winner, loser = slack_user(slack, bot, REP_1), slack_user(slack, bot, REP_2)
    winner.click(SALES_CHANNEL, card["ts"], "lead.accept")
    loser.click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, first["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    slack.wait_for(lambda: [dm for dm in slack.dms(REP_1) if "You claimed" in dm["text"]])
    slack.wait_for(lambda: slack.ephemerals(REP_2, SALES_CHANNEL))

    assert waiting["id"] not in cards(slack)  # still held: everything above went past it
    assert held.hits == 1  # the lane waits out Retry-After instead of asking again


def test_cards_keep_their_order_per_channel_through_failures_and_two_bots(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    """Two bots deliver from one database while Slack fails some posts: in each channel the
    cards appear in the order the leads arrived, each once."""
    bots = [start_bot(), start_bot()]
    slack.faults.add("chat.postMessage", status=500, channel=SALES_CHANNEL, times=3)
    slack.faults.add("chat.postMessage", status=429, retry_after=0, channel="C0MKTG*", times=2)
    leads = [
        lead_payload(external_id=f"order-{n}", name=f"Lead {n}", country="DE" if n % 3 else "US")
        for n in range(30)
    ]
    ids = send_batch(bots[0], leads[:15]) + send_batch(bots[1], leads[15:])
    german = [lead_id for lead_id, lead in zip(ids, leads, strict=True) if lead["country"] == "DE"]
    others = [lead_id for lead_id in ids if lead_id not in german]

    slack.wait_for(lambda: set(others) <= set(cards(slack)), timeout=20)
    slack.wait_for(lambda: set(german) <= set(cards(slack, GERMAN_CHANNEL)), timeout=20)
    settled(bots[0])

    assert card_order(slack, SALES_CHANNEL) == others
    assert card_order(slack, GERMAN_CHANNEL) == german


def test_a_burst_bigger_than_a_minute_of_posting_is_announced_once_before_its_cards(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    bot = start_bot(post_interval=0.01)
    burst = [
        lead_payload(external_id=f"burst-{n}", name=f"Lead {n}") for n in range(BURST_CARDS + 5)
    ]
    ids = send_batch(bot, burst)
    german = send_lead(bot, external_id="german", name="Jonas Weber", country="DE")
    slack.wait_for(lambda: set(ids) <= set(cards(slack)), timeout=30)
    settled(bot)

    notice, *rest = slack.messages(SALES_CHANNEL)
    assert f"{len(ids)} new leads are on their way to this channel" in notice["text"]
    assert "in the order the leads arrived" in notice["text"]
    assert [m["metadata"]["event_payload"]["lead_id"] for m in rest] == ids
    assert card_order(slack, GERMAN_CHANNEL) == [german["id"]]
    assert len(slack.messages(GERMAN_CHANNEL)) == 1  # one card is no burst

    more = send_batch(bot, [lead_payload(external_id="after", name="After the burst")])
    slack.wait_for(lambda: set(more) <= set(cards(slack)), timeout=10)
    settled(bot)
    assert len(slack.messages(SALES_CHANNEL)) == 1 + len(ids) + 1  # no second notice


def test_a_small_batch_gets_no_notice(bot: BatonServer, slack: SlackEmulator) -> None:
    ids = send_batch(bot, [lead_payload(external_id=f"few-{n}", name=f"L {n}") for n in range(5)])
    slack.wait_for(lambda: set(ids) <= set(cards(slack)), timeout=10)
    settled(bot)
    assert card_order(slack, SALES_CHANNEL) == ids
    assert len(slack.messages(SALES_CHANNEL)) == len(ids)


def test_clicks_are_answered_while_a_burst_is_being_posted(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    """Posting a burst one card at a time leaves the redraw, the DM and the loser's notice
    free to go ahead of the cards still queued."""
    bot = start_bot(post_interval=1.0)
    first = send_lead(bot, external_id="first", name="First Lead")
    card = wait_for_card(slack, first["id"])
    ids = send_batch(
        bot, [lead_payload(external_id=f"b-{n}", name=f"Lead {n}") for n in range(BURST_CARDS)]
    )
    slack.wait_for(lambda: cards(slack).keys() & set(ids))

    # The winner's card is redrawn a second late, so the second rep still sees Accept.
    slack.faults.add("response_url", delay=1.0)
    users: list[SlackUser] = [slack_user(slack, bot, REP_1), slack_user(slack, bot, REP_2)]
    for clicker in users:
        clicker.click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, first["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    slack.wait_for(lambda: [dm for dm in slack.dms(REP_1) if "You claimed" in dm["text"]])
    slack.wait_for(lambda: slack.ephemerals(REP_2, SALES_CHANNEL))

    assert not set(ids) <= set(cards(slack))  # the burst is still being posted


def test_a_thread_reply_whose_card_slack_refused_is_given_up_and_holds_up_no_card(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    """A reply waits for its card at the head of the channel; a card given up for good would
    make it wait forever, with every later card behind it."""
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    slack.faults.add("chat.postMessage", error="invalid_blocks", channel=SALES_CHANNEL)
    refused = send_lead(bot, external_id="refused", intent="demo_request")  # "hot": 1 h follow-up
    settled(bot)

    def as_user(who: str) -> SlackUser:
        return slack_user(slack, bot, who)

    assert "now" in ask(as_user, slack, MANAGER, f"assign {refused['id']} <@{REP_1}>")

    clock.advance(hours=2)  # the follow-up window is breached: a reply for the card's thread
    eventually(lambda: slack.dms(MANAGER))
    later = send_lead(bot, external_id="later", name="Later Lead")
    wait_for_card(slack, later["id"])
    settled(bot)

    given_up = {(row.kind, row.last_error) for row in outbox_rows(bot, refused["id"])}
    assert {("post_card", "invalid_blocks"), ("thread_reply", "card_not_posted")} <= given_up
    assert card_order(slack, SALES_CHANNEL) == [later["id"]]
