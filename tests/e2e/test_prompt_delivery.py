"""What a change queues for Slack goes out at once: every write wakes the delivery worker after
it commits, so nothing waits for the worker's idle poll (here made an hour long to prove it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers import slack_delivery
from handlers.serve import BatonServer
from slack_emulator import REP_1, SALES_CHANNEL, SlackEmulator
from tests.e2e.conftest import card_text, send_lead, slack_user, wait_for_card


@pytest.fixture
def sleepy_bot(
    monkeypatch: pytest.MonkeyPatch, start_bot: Callable[..., BatonServer]
) -> BatonServer:
    """A bot whose delivery worker, once idle, would not look at the outbox for an hour (and
    whose SLA sweep, which wakes it too, waits as long)."""
    monkeypatch.setattr(slack_delivery, "IDLE_POLL_SECONDS", 3600)
    return start_bot(sweep_every=3600)


def test_a_lead_from_the_intake_api_and_a_click_on_its_card_reach_slack_at_once(
    sleepy_bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(sleepy_bot)
    card = wait_for_card(slack, lead["id"])

    slack_user(slack, sleepy_bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, lead["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    slack.wait_for(lambda: [dm for dm in slack.dms(REP_1) if "You claimed" in dm["text"]])


def test_leads_sent_back_to_back_all_reach_slack_at_once(
    sleepy_bot: BatonServer, slack: SlackEmulator
) -> None:
    """Leads arriving faster than the delivery gathers commits (each wake-up waits a moment
    for the next) are all posted without the idle poll: no wake-up is lost meanwhile."""
    first = send_lead(sleepy_bot, external_id="back-to-back-0")
    wait_for_card(slack, first["id"])  # the worker is idle again, its latest round just run

    leads = [send_lead(sleepy_bot, external_id=f"back-to-back-{n}") for n in range(1, 6)]

    for lead in leads:
        wait_for_card(slack, lead["id"])


def test_cards_queued_for_a_channel_follow_one_another_without_the_gathering_wait(
    monkeypatch: pytest.MonkeyPatch, start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    """A lane that has sent its card starts the next round at once: the wait that gathers a
    stream of commits into one round (made an hour long here) never holds a queue of cards."""
    monkeypatch.setattr(slack_delivery, "IDLE_POLL_SECONDS", 3600)
    monkeypatch.setattr(slack_delivery, "COMMIT_GATHER_SECONDS", 3600)
    intake_only = start_bot(delivery="off", sweep_every=3600)
    leads = [send_lead(intake_only, external_id=f"queued-{n}") for n in range(20)]

    start_bot(sweep_every=3600)  # its first round finds the queue; no commit wakes it after

    for lead in leads:
        wait_for_card(slack, lead["id"])
