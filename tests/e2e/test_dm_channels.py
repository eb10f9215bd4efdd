"""A DM is one Slack call once the rep's DM channel is known: Baton opens it once and remembers
it, and opens it again only after Slack refused a message into it."""

from __future__ import annotations

from handlers.serve import BatonServer
from slack_emulator import REP_1, SALES_CHANNEL, SlackEmulator
from tests.e2e.conftest import send_lead, slack_user, wait_for_card


def claim(bot: BatonServer, slack: SlackEmulator, name: str) -> None:
    """REP_1 accepts a new lead on its card and gets the owner's DM for it."""
    lead_id = send_lead(bot, external_id=name, name=name)["id"]
    card = wait_for_card(slack, lead_id)
    assert slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    slack.wait_for(lambda: [dm for dm in slack.dms(REP_1) if name in dm["text"]])


def opened_for(slack: SlackEmulator, user_id: str) -> int:
    return len([c for c in slack.calls("conversations.open") if c.args.get("users") == user_id])


def test_a_reps_dm_channel_is_opened_once_for_all_their_dms(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    claim(bot, slack, "Ada Lovelace")
    claim(bot, slack, "Grace Hopper")
    claim(bot, slack, "Edsger Dijkstra")
    assert opened_for(slack, REP_1) == 1


def test_a_dm_slack_refused_arrives_through_its_channel_opened_again(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    claim(bot, slack, "Ada Lovelace")
    refused = slack.faults.add("chat.postMessage", status=500, channel=slack.store.dm(REP_1).id)
    claim(bot, slack, "Grace Hopper")
    assert refused.hits == 1
    assert opened_for(slack, REP_1) == 2
