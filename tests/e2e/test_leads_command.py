"""`/leads` through signed slash commands: every subcommand, who may use it, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.serve import BatonServer
from handlers.slow_answers import WORKING
from slack_driver import SlackUser
from slack_emulator import MANAGER, MARKETER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import card_text, settled, wait_for_card

As = Callable[[str], SlackUser]


def ask(user: As, slack: SlackEmulator, who: str, text: str) -> str:
    """Run `/leads text` as `who` and return everything the reply shows them. An answer that
    took longer than the acknowledgement allows (a busy machine) is waited for: it follows
    the "Working on it" notice through the command's response_url."""
    before = len(slack.ephemerals(who))
    response = user(who).slash_command("/leads", text)
    assert response.status_code == 200
    (reply,) = slack.wait_for(
        lambda: [r for r in slack.ephemerals(who)[before:] if r["text"] != WORKING], timeout=30
    )
    return reply["text"] + " " + card_text(reply)


@pytest.mark.parametrize("text", ["", "help"])
def test_help_lists_every_subcommand(
    bot: BatonServer, slack: SlackEmulator, user: As, text: str
) -> None:
    reply = ask(user, slack, REP_1, text)
    for name in ("mine", "show", "find", "assign"):
        assert f"`/leads {name}" in reply


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("bogus", "`bogus` is not a /leads command. Commands: `mine`, `queue`"),
        ("stats forever", "`forever` is not a period such as `7d`, `30d` or `this-week`. "),
        ("assign 3", "`/leads assign` needs a lead, then the rep as an @mention. "),
        ("reopen", "`/leads reopen` needs a lead. Type `/leads reopen &lt;lead&gt;`, e.g."),
        ("mine now", "`/leads mine` does not take `now`. Type `/leads mine`."),
        ("find", "`/leads find` needs something to look for. "),
    ],
)
def test_unclear_input_gets_one_line_saying_what_was_wrong_and_how_to_say_it(
    bot: BatonServer, slack: SlackEmulator, user: As, text: str, told: str
) -> None:
    before = len(slack.ephemerals(REP_1))
    user(REP_1).slash_command("/leads", text)
    (reply,) = slack.ephemerals(REP_1)[before:]
    assert reply["text"].startswith(told)
    assert "\n" not in reply["text"] and "/leads* shows" not in reply["text"]  # not the help
    assert not any(field in reply["text"] for field in ("rep:", "period:", "command:", "lead:"))


def test_queue_lists_waiting_leads_for_reps_and_claimed_ones_for_managers(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    rep_view = ask(user, slack, REP_2, "queue")
    assert "Waiting for a rep* (2)" in rep_view
    assert "Lead 3" in rep_view and "Lead 4" in rep_view and "Lead 1" not in rep_view
    assert rep_view.index("Lead 3") < rep_view.index("Lead 4")  # earlier deadline first
    assert "slack.com/archives/C0SALES0001/p" in rep_view  # links to the cards
    assert "Claimed, not yet contacted" not in rep_view

    manager_view = ask(user, slack, MANAGER, "queue")
    assert "Claimed, not yet contacted* (1)" in manager_view and f"<@{REP_1}>" in manager_view


def test_mine_and_sla_show_a_rep_their_own_leads(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    mine = ask(user, slack, REP_1, "mine")
    assert "Your open leads* (1)" in mine and "Lead 1" in mine and "contact by" in mine
    assert "Nothing waiting on you" in ask(user, slack, REP_2, "mine")
    assert "Your follow-up deadlines" in ask(user, slack, REP_1, "sla")


def test_sla_health_for_managers(seeded: list[int], slack: SlackEmulator, user: As) -> None:
    health = ask(user, slack, MANAGER, "sla")
    assert "Waiting for a rep:* 2" in health
    assert "Claimed, not yet contacted:* 1" in health
    assert "Escalated now:* 0" in health


def test_feedback_is_for_marketers_and_managers(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    feedback = ask(user, slack, MARKETER, "feedback 7d")
    assert "webinar" in feedback and "1 rejection\n" in feedback
    assert "No budget: 1 (100%)" in feedback and "Freeze until May" in feedback
    assert "No rejections" in ask(user, slack, MANAGER, "feedback 30d ebook")
    assert "Why sales rejected leads, this week" in ask(user, slack, MARKETER, "feedback this_week")
    assert "managers and marketers" in ask(user, slack, REP_1, "feedback")


def test_stats_show_everyone_to_managers_and_a_rep_their_own(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    everyone = ask(user, slack, MANAGER, "stats 7d")
    assert "Handed off*\n4" in everyone and "Accepted / rejected*\n1 / 1" in everyone
    assert "Acceptance rate*\n50%" in everyone
    own = ask(user, slack, REP_1, "stats")
    assert "Your numbers" in own and "Handed off*\n1" in own


def test_managers_assign_and_reopen_reps_may_not(
    bot: BatonServer, seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    waiting = seeded[2]
    assert "only for managers" in ask(user, slack, REP_1, f"assign {waiting} <@{REP_1}|alice>")

    reply = ask(user, slack, MANAGER, f"assign #{waiting} <@{REP_2}|bob>")
    assert f"Northwind Traders · Lead 3 (#{waiting}) is now <@{REP_2}>'s" in reply
    wait_for_card(slack, waiting, lambda c: f"<@{REP_2}>" in card_text(c))
    settled(bot)
    assert any(f"assigned to you by <@{MANAGER}>" in dm["text"] for dm in slack.dms(REP_2))

    assert "only for managers" in ask(user, slack, REP_2, f"reopen {waiting}")
    reopened = ask(user, slack, MANAGER, f"reopen {waiting}")
    assert f"Northwind Traders · Lead 3 (#{waiting}) is open again" in reopened
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, waiting)
    assert (lead.status, lead.owner_id) == ("open", None)


def test_reopening_or_releasing_an_open_lead_says_it_already_is(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    waiting = seeded[2]
    already = f"Northwind Traders · Lead 3 (#{waiting}) is already open to every rep; nothing"
    assert ask(user, slack, MANAGER, f"reopen {waiting}").startswith(already)
    assert ask(user, slack, MANAGER, f"release {waiting}").startswith(already)


def test_moving_an_unknown_lead_says_so(seeded: list[int], slack: SlackEmulator, user: As) -> None:
    assert "Lead 999 does not exist" in ask(user, slack, MANAGER, "reopen 999")


def test_share_posts_the_reply_to_the_channel(
    seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    before = len(slack.messages(SALES_CHANNEL))
    user(MANAGER).slash_command("/leads", "queue share")
    # Late on a loaded machine, the answer comes through response_url after "Working on it".
    shared = slack.wait_for(lambda: slack.messages(SALES_CHANNEL)[before:])
    assert len(shared) == 1 and "Waiting for a rep" in card_text(shared[0])


def test_feedback_as_csv_arrives_in_the_askers_dms(
    bot: BatonServer, seeded: list[int], slack: SlackEmulator, user: As
) -> None:
    reply = ask(user, slack, MARKETER, "feedback 7d csv")
    assert "on its way to your DMs as a CSV" in reply

    # The file is built and uploaded by delivery after the answer: patient on a loaded machine.
    (message,) = slack.wait_for(
        lambda: [m for m in slack.dms(MARKETER) if m.get("files")], timeout=30
    )
    (file,) = message["files"]
    assert file["name"].startswith("baton-feedback-") and file["name"].endswith(".csv")
    lines = slack.file_content(file["id"]).decode().splitlines()
    assert lines[0].startswith("lead_id,external_id,")
    assert len(lines) == 2 and "no_budget" in lines[1] and "Freeze until May" in lines[1]

    assert "managers and marketers" in ask(user, slack, REP_1, "feedback csv")
