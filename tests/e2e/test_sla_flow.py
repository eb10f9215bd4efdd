"""SLA reminders and escalation in Slack, with a controllable clock: once each, whatever happens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from handlers.serve import BatonServer
from slack_emulator import MANAGER, REP_1, SALES_CHANNEL, SlackEmulator
from tests.conftest import NOW
from tests.e2e.conftest import (
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)

SWEEP = 0.05


class Clock:
    """The bot's clock, moved by the test (the domain never reads the real one)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


def replies(slack: SlackEmulator, card: dict, containing: str = "") -> list[dict]:
    """Replies in the card's thread (not the card itself) whose text contains `containing`."""
    return [
        message
        for message in slack.thread(SALES_CHANNEL, card["ts"])
        if message["ts"] != card["ts"] and containing in message.get("text", "")
    ]


def hot_lead(bot: BatonServer, slack: SlackEmulator, **overrides: object) -> tuple[int, dict]:
    lead = send_lead(bot, intent="demo_request", **overrides)  # "hot": 15 min, remind at 10
    return lead["id"], wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))


def test_reminder_then_escalation_once_each(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, card = hot_lead(bot, slack)

    clock.advance(minutes=9)
    settled(bot)
    assert replies(slack, card, "Still unclaimed") == []

    clock.advance(minutes=1)
    eventually(lambda: replies(slack, card, "Still unclaimed"))

    clock.advance(minutes=5)
    (breach,) = eventually(lambda: replies(slack, card, "SLA breached"))
    assert f"<@{MANAGER}>" in breach["text"]
    eventually(lambda: slack.dms(MANAGER))
    escalated = wait_for_card(slack, lead_id, lambda c: "SLA breached" in card_text(c))
    assert "lead.accept" in str(escalated["blocks"])  # still claimable

    clock.advance(hours=3)
    settled(bot)
    assert len(replies(slack, card, "Still unclaimed")) == 1
    assert len(replies(slack, card, "SLA breached")) == 1
    assert len(slack.dms(MANAGER)) == 1


def test_nothing_fires_after_a_rep_accepts(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    _, card = hot_lead(bot, slack)
    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    settled(bot)
    (claimed,) = [m["text"] for m in replies(slack, card)]
    assert claimed.endswith(f" · claimed by <@{REP_1}>")  # the move's own line

    clock.advance(minutes=30)  # past the claim window; the 1 h follow-up window still runs
    settled(bot)
    assert [m["text"] for m in replies(slack, card)] == [claimed]  # no reminder, no breach
    assert len(slack.dms(REP_1)) == 1  # only "you claimed it"


def test_follow_up_reminder_reaches_the_owner(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, card = hot_lead(bot, slack)
    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    settled(bot)

    clock.advance(minutes=56)  # hot follow-up: 1 h, reminded 5 min before the end
    reminder = eventually(lambda: [m for m in slack.dms(REP_1) if "Reminder" in m["text"]])
    assert len(reminder) == 1
    settled(bot)
    (told,) = replies(slack, card, "⏰ Reminded its owner: the follow-up SLA ends <!date^")
    assert "<@" not in told["text"]  # the DM reminds the owner; the thread pings nobody again

    slack_user(slack, bot, REP_1).click(
        REP_1, reminder[0]["ts"], "lead.contacted"
    )  # in the DM with the bot
    wait_for_card(slack, lead_id, lambda c: "Contacted" in card_text(c))
    clock.advance(hours=2)
    settled(bot)
    assert replies(slack, card, "SLA breached") == []


def test_a_breach_fired_before_a_restart_is_delivered_once_after_it(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    first = start_bot(clock=clock, sweep_every=SWEEP)
    _, card = hot_lead(first, slack)
    settled(first)

    outage = slack.faults.outage(status=503)
    clock.advance(minutes=20)  # reminder and breach both due; fired, but Slack is down
    eventually(lambda: outage.hits >= 1)
    first.stop()
    slack.faults.remove(outage)

    second = start_bot(clock=clock, sweep_every=SWEEP)
    clock.advance(minutes=1)  # the stopped bot's leases on undelivered messages run out
    eventually(lambda: replies(slack, card, "SLA breached"))
    settled(second)
    assert len(replies(slack, card, "Still unclaimed")) == 1
    assert len(replies(slack, card, "SLA breached")) == 1
    assert len(slack.dms(MANAGER)) == 1


def test_two_bots_on_one_database_fire_each_moment_once(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bots = [start_bot(clock=clock, sweep_every=SWEEP) for _ in range(2)]
    posted = [
        hot_lead(bots[n % 2], slack, external_id=f"two-{n}", name=f"Lead {n}") for n in range(8)
    ]

    clock.advance(minutes=20)
    for _, card in posted:
        eventually(lambda card=card: replies(slack, card, "SLA breached"))
    for bot in bots:
        settled(bot)  # a send in flight when the clock jumps would outlive its lease
    clock.advance(minutes=1)
    for bot in bots:
        settled(bot)
    for _, card in posted:
        assert len(replies(slack, card, "Still unclaimed")) == 1
        assert len(replies(slack, card, "SLA breached")) == 1
    assert len(slack.dms(MANAGER)) == len(posted)
