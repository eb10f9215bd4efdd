"""The daily MQL upkeep through real bots with a controllable clock: an MQL's score decays as its
activities age, an MQL with no new activity for `recycle_after` is recycled, each once however
many processes run the job; a new activity brings a recycled lead back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.serve import BatonServer
from slack_emulator import MARKETER, SlackEmulator
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import NOW
from tests.e2e.conftest import (
    INTAKE_AUTH,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_home_and_digest import open_home
from tests.e2e.test_leads_command import ask
from tests.e2e.test_mqls import MQL, actions, add_activities, posted_cards, scoring_env
from tests.e2e.test_sla_flow import Clock
from tests.webhook_receiver import WebhookReceiver

UPKEEP = 0.1
RECYCLING_MODEL = (
    MODEL_TOML.replace("half_life_days = 10\n", 'half_life_days = 10\nrecycle_after = "30d"\n', 1)
    + """
[[scoring.engagement]]
name = "unsubscribed"
activity = "unsubscribe"
points = -20
half_life_days = 1
"""
)
# VP (+25), 201-500 (+15), a pricing page visit today (+8, halving every 10 days): 48, an MQL.
VISIT = [{"type": "pricing_page", "detail": "Viewed pricing", "at": NOW.isoformat()}]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def config_env(
    config_env: dict[str, str], tmp_path: Path, receiver: WebhookReceiver
) -> dict[str, str]:
    return scoring_env(config_env, tmp_path, receiver, RECYCLING_MODEL)


def stored(bot: BatonServer, lead_id: int) -> dict[str, Any]:
    response = httpx.get(f"{bot.url}/api/leads/{lead_id}", headers=INTAKE_AUTH, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_an_mql_decays_daily_then_goes_cold_into_recycling_once_across_processes(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    clock = Clock(NOW)
    bots = [start_bot(clock=clock, upkeep_every=UPKEEP) for _ in range(2)]
    lead = send_lead(bots[0], **MQL, activities=VISIT)
    assert (lead["status"], lead["score"]) == ("mql", 48)

    clock.advance(days=10)  # the visit counts half: +4
    assert eventually(lambda: stored(bots[1], lead["id"])["score"] == 44)
    clock.advance(days=10)  # a quarter: +2
    assert eventually(lambda: stored(bots[0], lead["id"])["score"] == 42)
    clock.advance(days=10)  # 30 days without an activity: recycled, and rescored (+1)
    assert eventually(lambda: stored(bots[1], lead["id"])["score"] == 41)

    assert stored(bots[0], lead["id"])["status"] == "recycled"
    upkept = ["create", "update", "update", "recycle", "update"]
    assert actions(bots[0], lead["id"]) == upkept
    announced = ["lead.created", "lead.updated", "lead.updated", "lead.recycled", "lead.updated"]
    eventually(lambda: receiver.types_by_lead().get(lead["id"]) == announced)
    events = {event.type: event for event in receiver.events()}
    assert events["lead.updated"].data["by"] == "baton"
    assert events["lead.updated"].data["changes"] == {"score": {"from": 42, "to": 41}}
    recycled = events["lead.recycled"].data
    assert (recycled["from_status"], recycled["to_status"]) == ("mql", "recycled")
    assert (recycled["last_activity_at"], recycled["after_days"]) == (NOW.isoformat(), 30)
    assert posted_cards(slack) == 0

    # A new activity brings it back: a webinar today (+10) makes 51, an MQL again.
    back = add_activities(bots[0], "mql-1", {"activities": [{"type": "webinar"}]})
    assert (back.json()["status"], back.json()["score"]) == ("mql", 51)
    # A demo request makes it an SQL, handed off once.
    promoted = add_activities(bots[1], "mql-1", {"activities": [{"type": "demo_request"}]})
    assert promoted.json()["status"] == "new"
    wait_for_card(slack, lead["id"], lambda card: "Claim by" in card_text(card))
    settled(bots[1])
    assert actions(bots[0], lead["id"])[len(upkept) :] == ["update", "update", "promote", "post"]


def test_a_recycled_lead_that_a_new_activity_makes_an_sql_goes_straight_to_sales(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, upkeep_every=UPKEEP)
    lead = send_lead(bot, **MQL, activities=VISIT)
    clock.advance(days=31)
    eventually(lambda: stored(bot, lead["id"])["status"] == "recycled")

    promoted = add_activities(bot, "mql-1", {"activities": [{"type": "demo_request"}]})

    assert (promoted.json()["status"], promoted.json()["promoted_why"]) == (
        "new",
        "fast lane demo request",
    )
    wait_for_card(slack, lead["id"], lambda card: "Claim by" in card_text(card))
    settled(bot)
    assert actions(bot, lead["id"])[-3:] == ["update", "promote", "post"]


def test_leads_mql_and_the_marketers_home_show_the_same_hottest_mqls_and_the_recycled_count(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, upkeep_every=UPKEEP)
    cold = send_lead(bot, **MQL, activities=VISIT)
    clock.advance(days=31)
    eventually(lambda: stored(bot, cold["id"])["status"] == "recycled")
    webinar = [{"type": "webinar", "at": clock().isoformat()}]
    warm = send_lead(bot, **{**MQL, "external_id": "mql-2"}, activities=webinar)
    hot = send_lead(bot, **{**MQL, "external_id": "mql-3"}, activities=[*webinar, *VISIT])

    def user(who: str) -> Any:
        return slack_user(slack, bot, who)

    reply = ask(user, slack, MARKETER, "mql")
    home = card_text(open_home(slack, user, MARKETER))
    for shown in (reply, home):
        assert "MQLs, highest score first* (2)" in shown
        assert f"#{hot['id']} · mql · score *51*: decision maker +25, webinar 1× +10" in shown
        assert f"#{warm['id']} · mql · score *50*: decision maker +25, webinar 1× +10" in shown
        assert shown.index(f"#{hot['id']}") < shown.index(f"#{warm['id']}")
        assert "· last activity <!date^" in shown
        assert f"#{cold['id']}" not in shown
        assert "Recycled (gone cold, back to nurture): 1" in shown


def test_decay_alone_never_makes_an_sql_the_next_new_activity_does(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, upkeep_every=UPKEEP)
    today = NOW.isoformat()
    webinars = [{"type": "webinar", "detail": f"Part {n}", "at": today} for n in range(4)]
    unsubscribed = [*webinars, {"type": "unsubscribe", "at": today}]
    # 25 + 15 + 4 webinars 40 - 20 = 60; in 3 days 25 + 15 + 37 - 3 = 74, over the SQL's 70.
    climbing = send_lead(bot, **MQL, activities=unsubscribed)
    witness = send_lead(bot, **{**MQL, "external_id": "mql-2"}, activities=VISIT)
    assert (climbing["status"], climbing["score"]) == ("mql", 60)

    clock.advance(days=3)  # rescored in order of arrival: the witness after the climbing one
    assert eventually(lambda: stored(bot, witness["id"])["score"] == 46)

    assert (stored(bot, climbing["id"])["status"], stored(bot, climbing["id"])["score"]) == (
        "mql",
        60,
    )
    assert actions(bot, climbing["id"]) == ["create"]
    # Any new data rescores it by the activities' path, which promotes it.
    promoted = add_activities(bot, "mql-1", {"activities": [{"type": "page_view"}]})
    assert (promoted.json()["status"], promoted.json()["score"]) == ("new", 74)
    wait_for_card(slack, climbing["id"], lambda card: "Claim by" in card_text(card))
