"""Managers named by a Slack user group: a click never waits for Slack to say who is in it.

The group's members are read at start-up and refreshed in the background; a click uses the last
members Baton knows, whether Slack is slow, failing, or has changed the group since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import REP_1, REP_2, SALES_CHANNEL, SlackEmulator, Usergroup, Workspace
from slack_emulator.workspace import default_users
from tests.conftest import EXAMPLE_RULES, PATIENT_SLACK
from tests.e2e.conftest import buttons, card_text, eventually, send_lead, wait_for_card

As = Callable[[str], SlackUser]
MANAGERS_GROUP = "S0SALESMGRS"
REFRESH_SECONDS = 0.1


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """The default workspace, with a managers' group holding REP_2."""
    groups = (Usergroup(MANAGERS_GROUP, "sales-managers", (REP_2,)),)
    with SlackEmulator(
        workspace=Workspace(users=default_users(), usergroups=groups), **PATIENT_SLACK
    ) as emulator:
        yield emulator


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules, with the managers' group as a manager group."""
    rules = EXAMPLE_RULES.read_text().replace(
        "manager_groups = []", f'manager_groups = ["{MANAGERS_GROUP}"]'
    )
    assert MANAGERS_GROUP in rules
    path = tmp_path / "baton.toml"
    path.write_text(rules)
    return {**config_env, "BATON_CONFIG": str(path)}


@pytest.fixture
def bot(start_bot: Callable[..., BatonServer]) -> BatonServer:
    return start_bot(refresh_groups_every=REFRESH_SECONDS)


def claimed_by_rep_1(slack: SlackEmulator, user: As, bot: BatonServer) -> dict[str, object]:
    """A lead REP_1 accepted, as its card shows it."""
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    assert user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    return wait_for_card(slack, lead["id"], lambda c: "lead.contacted" in buttons(c))


def contacted_by_rep_2(slack: SlackEmulator, card: dict[str, object]) -> None:
    """A move only the owner or a manager may make went through for REP_2."""
    lead_id = card["metadata"]["event_payload"]["lead_id"]  # type: ignore[index]
    wait_for_card(slack, lead_id, lambda c: "📞 Contacted by" in card_text(c))


def refreshes_after(slack: SlackEmulator, count: int) -> Callable[[], bool]:
    """True once Slack was asked for the group `count` more times than now (so at least one
    whole refresh started after this moment)."""
    asked = len(slack.calls("usergroups.users.list"))
    return lambda: len(slack.calls("usergroups.users.list")) >= asked + count


def test_a_click_while_slack_fails_on_the_group_uses_its_last_known_members(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    card = claimed_by_rep_1(slack, user, bot)
    slack.faults.add("usergroups.users.list", status=500, delay=0.5, times=None)
    eventually(refreshes_after(slack, 2))

    response = user(REP_2).click(SALES_CHANNEL, str(card["ts"]), "lead.contacted")

    assert response.status_code == 200
    contacted_by_rep_2(slack, card)
    assert slack.ephemerals(REP_2) == []


def test_a_manager_added_to_the_group_is_recognised_after_the_background_refresh(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    slack.set_usergroup_members(MANAGERS_GROUP, [])
    eventually(refreshes_after(slack, 2))
    card = claimed_by_rep_1(slack, user, bot)
    user(REP_2).click(SALES_CHANNEL, str(card["ts"]), "lead.contacted")
    (refusal,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert "owner or a manager" in refusal["text"]

    slack.set_usergroup_members(MANAGERS_GROUP, [REP_2])
    eventually(refreshes_after(slack, 2))
    user(REP_2).click(SALES_CHANNEL, str(card["ts"]), "lead.contacted")

    contacted_by_rep_2(slack, card)
    assert len(slack.ephemerals(REP_2)) == 1
