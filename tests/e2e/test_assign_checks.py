"""`/leads assign` asks Slack about the assignee before anything changes: only an active
person who is a rep gets a lead; the manager is told why not in one line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import (
    MANAGER,
    MARKETER,
    REP_1,
    REP_2,
    Bot,
    SlackEmulator,
    User,
    Workspace,
)
from slack_emulator.workspace import default_users
from storage import leads as lead_store
from tests.conftest import PATIENT_SLACK
from tests.e2e.conftest import card_text, settled, wait_for_card
from tests.e2e.log_checks import assert_log_clean
from tests.e2e.test_failed_deliveries import open_lead, outbox_rows
from tests.e2e.test_leads_command import ask

As = Callable[[str], SlackUser]
DEACTIVATED = User("U0GONE00001", "gone", "Gone Rep", deleted=True)


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """The default workspace plus a rep whose account was deactivated."""
    with SlackEmulator(
        workspace=Workspace(users=(*default_users(), DEACTIVATED)), **PATIENT_SLACK
    ) as emulator:
        yield emulator


@pytest.mark.parametrize(
    ("assignee", "reason"),
    [
        ("U0NOSUCHUSR", "`U0NOSUCHUSR` is not a member of this workspace"),
        (DEACTIVATED.id, f"<@{DEACTIVATED.id}> is deactivated in Slack"),
        (Bot().user_id, f"<@{Bot().user_id}> is a bot"),
        (MARKETER, f"<@{MARKETER}> is a marketer"),
    ],
)
def test_a_lead_is_assigned_only_to_an_active_rep(
    bot: BatonServer,
    slack: SlackEmulator,
    user: As,
    caplog: pytest.LogCaptureFixture,
    assignee: str,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO)
    lead_id = open_lead(bot, slack)
    outbox_before = [row.id for row in outbox_rows(bot, lead_id)]

    reply = ask(user, slack, MANAGER, f"assign {lead_id} <@{assignee}>")
    assert reason in reply and "Nothing was assigned." in reply

    settled(bot)
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        events = [event.action for event in lead_store.list_events(session, lead_id)]
    assert (lead.status, lead.owner_id) == ("open", None)
    assert events == ["create", "post"]
    assert [row.id for row in outbox_rows(bot, lead_id)] == outbox_before
    assert slack.calls("conversations.open") == []
    assert_log_clean(caplog)


def test_slacks_answer_about_a_user_is_remembered_and_reps_cost_no_look_up(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id = open_lead(bot, slack)
    assert "only for managers" in ask(user, slack, REP_1, f"assign {lead_id} <@U0NOSUCHUSR>")
    assert slack.calls("users.info") == []

    for _ in range(2):
        assert "deactivated" in ask(user, slack, MANAGER, f"assign {lead_id} <@{DEACTIVATED.id}>")
    assert len(slack.calls("users.info")) == 1

    reply = ask(user, slack, MANAGER, f"assign {lead_id} <@{REP_2}>")
    assert f"Northwind Traders · Dana Whitfield (#{lead_id}) is now <@{REP_2}>'s" in reply
    wait_for_card(slack, lead_id, lambda c: f"<@{REP_2}>" in card_text(c))
    slack.wait_for(lambda: slack.dms(REP_2))


def test_a_slow_slack_costs_the_manager_a_clear_answer_not_the_acknowledgement(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id = open_lead(bot, slack)
    slack.faults.add("users.info", delay=2.5)  # past the 2 s the interactive client waits

    reply = ask(user, slack, MANAGER, f"assign {lead_id} <@{REP_2}>")  # Slack waits 3 s
    assert f"Slack did not confirm <@{REP_2}> in time. Nothing was assigned; try again." in reply
    with bot.services.db.read() as session:
        assert lead_store.get_lead(session, lead_id).owner_id is None
