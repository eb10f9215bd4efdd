"""Routing in `assign` mode through the real interfaces: leads over HTTP, `/leads away`,
`back` and `routing` as signed slash commands, cards and DMs in the Slack emulator.

The rotation skips a rep who is away and does not flood them on return, skips a rep at
capacity, falls back to the channel when nobody is available, and explains each decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.conftest import EXAMPLE_RULES, EXTRA_REPS
from tests.e2e.conftest import (
    INTAKE_AUTH,
    buttons,
    card_text,
    eventually,
    send_lead,
    settled,
    wait_for_card,
)
from tests.e2e.test_leads_command import ask
from tests.factories import lead_payload

As = Callable[[str], SlackUser]
REP_3 = EXTRA_REPS[0].id
TEAM_LEAD = EXTRA_REPS[1].id
CAPACITY = 3
ASSIGNING_ROUTE = f"""
[[routes]]
name = "inbound"
channel = "{SALES_CHANNEL}"
mode = "assign"
pool = ["{REP_1}", "{REP_2}", "{REP_3}"]
capacity = {CAPACITY}
team_leads = ["{TEAM_LEAD}"]
"""


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules, with every lead routed through one pool of three reps."""
    path = tmp_path / "baton.toml"
    path.write_text(EXAMPLE_RULES.read_text() + ASSIGNING_ROUTE)
    return {**config_env, "BATON_CONFIG": str(path)}


def owners(bot: BatonServer, slack: SlackEmulator, count: int, first: int) -> list[str | None]:
    """Send `count` leads and return who each was assigned to (None: left to the channel), as
    their cards show it: the owner, or Accept for anyone."""
    found = []
    for number in range(first, first + count):
        lead_id = send_lead(bot, external_id=f"hs-{number}")["id"]
        card = wait_for_card(slack, lead_id)
        with bot.services.db.read() as session:
            owner = lead_store.get_lead(session, lead_id).owner_id
        shown = (
            f"Claimed by <@{owner}>" in card_text(card) if owner else "lead.accept" in buttons(card)
        )
        assert shown, card_text(card)
        found.append(owner)
    return found


def test_an_away_rep_is_skipped_and_not_flooded_on_return(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    assert "routing skips you" in ask(user, slack, REP_1, "help")
    assert "You are away until `/leads back`" in ask(user, slack, REP_1, "away")

    while_away = owners(bot, slack, 4, first=1)
    assert while_away == [REP_2, REP_3, REP_2, REP_3]
    explained = ask(user, slack, MANAGER, "routing 1")
    assert f"skipped <@{REP_1}>: away until `/leads back`" in explained
    assert f"assigned to <@{REP_2}>: lowest pointer" in explained
    eventually(
        lambda: any("was assigned to you by Baton routing" in dm["text"] for dm in slack.dms(REP_2))
    )

    assert "You are back" in ask(user, slack, REP_1, "back")
    # Level with the others, not owed the four leads they took meanwhile: one each.
    assert Counter(owners(bot, slack, 3, first=5)) == {REP_1: 1, REP_2: 1, REP_3: 1}


def test_a_rep_at_capacity_is_skipped_and_with_nobody_available_the_channel_takes_the_lead(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    refused = ask(user, slack, REP_2, f"away <@{REP_3}>")
    assert "Only" in refused and "team lead" in refused
    assert "is away until" in ask(user, slack, TEAM_LEAD, f"away until 2099-01-05 <@{REP_3}>")
    assert "is away until" in ask(user, slack, MANAGER, f"away <@{REP_1}>")

    assert owners(bot, slack, CAPACITY + 1, first=1) == [REP_2] * CAPACITY + [None]
    explained = ask(user, slack, REP_2, f"routing {CAPACITY + 1}")
    assert f"skipped <@{REP_2}>: at capacity ({CAPACITY} claimed leads" in explained
    assert f"skipped <@{REP_3}>: away until Mon 05 Jan" in explained
    assert "nobody in the pool is available: posted to the channel" in explained

    # The channel's first click wins, as without routing.
    card = wait_for_card(slack, CAPACITY + 1)
    assert user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    wait_for_card(slack, CAPACITY + 1, lambda c: f"Claimed by <@{REP_1}>" in card_text(c))
    settled(bot)


def test_the_intake_answer_shows_each_lead_as_routing_left_it(bot: BatonServer) -> None:
    single = send_lead(bot, external_id="hs-single")
    response = httpx.post(
        f"{bot.url}/api/leads/batch",
        json={"leads": [lead_payload(external_id=f"hs-batch-{n}") for n in range(2)]},
        headers=INTAKE_AUTH,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answered = [single] + [result["body"] for result in response.json()["results"]]

    # Assigned in the intake's own transaction: the answer is the lead as stored, owner and all.
    shown = [(lead["status"], lead["owner_id"], lead["accepted_at"]) for lead in answered]
    with bot.services.db.read() as session:
        stored = [lead_store.get_lead(session, lead["id"]) for lead in answered]
    assert shown == [(lead.status, lead.owner_id, lead.accepted_at.isoformat()) for lead in stored]
    assert [owner for _, owner, _ in shown] == [REP_1, REP_2, REP_3]
