"""Nothing is lost and nothing is doubled: Slack failing, dropping connections, restarts."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import REP_1, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import card_text, cards, send_lead, settled, wait_for_card

LEADS = 5


def send_leads(bot: BatonServer, count: int) -> list[int]:
    return [send_lead(bot, external_id=f"ext-{n}", name=f"Lead {n}")["id"] for n in range(count)]


def wait_until_all_posted(slack: SlackEmulator, lead_ids: list[int]) -> None:
    slack.wait_for(lambda: set(lead_ids) <= set(cards(slack)), timeout=20)


def assert_each_posted_once(slack: SlackEmulator, bot: BatonServer, lead_ids: list[int]) -> None:
    settled(bot)
    tagged = [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages(SALES_CHANNEL)
    ]
    assert sorted(tagged) == sorted(lead_ids)
    posted = cards(slack)
    with bot.services.db.read() as session:
        for lead_id in lead_ids:
            lead = lead_store.get_lead(session, lead_id)
            assert (lead.status, lead.slack_ts) == ("open", posted[lead_id]["ts"])


def test_rate_limited_posts_are_retried_after_retry_after(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    limited = slack.faults.add("chat.postMessage", status=429, retry_after=1, times=4)
    lead_ids = send_leads(bot, LEADS)
    wait_until_all_posted(slack, lead_ids)
    assert limited.hits == 4
    assert_each_posted_once(slack, bot, lead_ids)


def test_server_errors_are_retried_until_slack_takes_the_post(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    failing = slack.faults.add("chat.postMessage", status=500, times=3)
    lead_ids = send_leads(bot, LEADS)
    wait_until_all_posted(slack, lead_ids)
    assert failing.hits == 3
    assert_each_posted_once(slack, bot, lead_ids)


def test_a_post_slack_stored_before_the_connection_dropped_is_not_posted_again(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    dropped = slack.faults.add("chat.postMessage", apply=True, drop=True, times=1)
    (lead_id,) = send_leads(bot, 1)
    wait_until_all_posted(slack, [lead_id])
    slack.wait_for(lambda: slack.calls("conversations.history"))
    assert dropped.hits == 1
    assert len(slack.calls("chat.postMessage")) == 1
    assert_each_posted_once(slack, bot, [lead_id])


def test_leads_wait_out_a_slack_outage(bot: BatonServer, slack: SlackEmulator) -> None:
    outage = slack.faults.outage(status=503)
    lead_ids = send_leads(bot, LEADS)
    slack.wait_for(lambda: outage.hits >= LEADS)
    assert cards(slack) == {}

    slack.faults.remove(outage)
    wait_until_all_posted(slack, lead_ids)
    assert_each_posted_once(slack, bot, lead_ids)


def test_leads_stored_before_a_restart_are_posted_once_after_it(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    first = start_bot()
    outage = slack.faults.outage(status=503)
    lead_ids = send_leads(first, LEADS)
    slack.wait_for(lambda: outage.hits >= 1)
    first.stop()
    slack.faults.remove(outage)
    assert cards(slack) == {}

    second = start_bot()
    wait_until_all_posted(slack, lead_ids)
    assert_each_posted_once(slack, second, lead_ids)


def test_a_burst_is_posted_in_order_and_paced_per_channel(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    interval = 0.05
    bot = start_bot(post_interval=interval)
    lead_ids = send_leads(bot, 20)
    wait_until_all_posted(slack, lead_ids)

    tagged = [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages(SALES_CHANNEL)
    ]
    assert tagged == sorted(lead_ids)
    posted_at = [call.at for call in slack.calls("chat.postMessage")]
    gaps = [later - earlier for earlier, later in pairwise(posted_at)]
    assert min(gaps) >= interval * 0.9


def test_a_card_is_posted_as_it_stays_until_someone_acts(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    """A new lead's card appears open, with its claim deadline, and is not edited right after
    it appears (an edit per card would spend chat.update's rate limit on every burst)."""
    lead_ids = send_leads(bot, 3)
    wait_until_all_posted(slack, lead_ids)
    settled(bot)
    assert all("Claim by" in card_text(card) for card in cards(slack).values())
    assert slack.calls("chat.update") == []


def test_card_updates_survive_slack_errors(
    bot: BatonServer, slack: SlackEmulator, user: Callable[[str], SlackUser]
) -> None:
    lead_id = send_leads(bot, 1)[0]
    card = wait_for_card(slack, lead_id)
    expired = slack.faults.add("response_url", status=404, error="expired_url")
    failing = slack.faults.add("chat.update", status=500, times=4)

    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    updated = wait_for_card(slack, lead_id, lambda c: "Claimed by" in card_text(c))
    assert expired.hits == 1 and failing.hits == 4  # the click's response_url, then chat.update
    assert updated["ts"] == card["ts"]


def test_a_card_claimed_before_its_post_was_recorded_keeps_its_owner(
    bot: BatonServer, slack: SlackEmulator, user: Callable[[str], SlackUser]
) -> None:
    """The rep who clicks the instant the card appears wins it; recording the post afterwards
    leaves the claim alone and redraws the card."""
    slow = slack.faults.add("chat.postMessage", delay=0.5, apply=True)
    (lead_id,) = send_leads(bot, 1)
    card = slack.wait_for(lambda: cards(slack).get(lead_id))  # stored, response still on its way
    assert user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200

    claimed = wait_for_card(slack, lead_id, lambda c: f"<@{REP_1}>" in card_text(c))
    settled(bot)
    assert slow.hits == 1
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
    assert (lead.status, lead.owner_id, lead.slack_ts) == ("accepted", REP_1, claimed["ts"])
