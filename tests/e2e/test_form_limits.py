"""Limits a form shows hold on the server too: a signed submission may carry anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.lifecycle import NOTE_MAX_LENGTH
from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import card_text, send_lead, settled, wait_for_card

As = Callable[[str], SlackUser]


def test_the_reject_form_shows_its_note_limit(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    user(REP_2).click(SALES_CHANNEL, wait_for_card(slack, lead["id"])["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    (note,) = [block for block in modal["blocks"] if block.get("block_id") == "note"]
    assert note["element"]["max_length"] == NOTE_MAX_LENGTH == 2000


@pytest.mark.parametrize(
    "note",
    ["x" * (NOTE_MAX_LENGTH + 1), "Budget frozen. " * 6667, "🙅" * (NOTE_MAX_LENGTH + 1)],
    ids=["one character too many", "100,000 characters", "emoji, one too many"],
)
def test_a_note_over_the_limit_is_a_field_error_and_changes_nothing(
    bot: BatonServer, slack: SlackEmulator, user: As, note: str
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    rep = user(REP_2)
    rep.click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    settled(bot)
    calls_before = len(slack.calls())

    refused = rep.submit_view(
        modal["id"], {"reason": {"reason_select": "other"}, "note": {"note_input": note}}
    )

    assert refused.status_code == 200
    assert refused.json()["response_action"] == "errors"
    assert slack.view_errors(modal["id"]) == {
        "note": f"Note must be at most 2,000 characters, not {len(note.strip()):,}"
    }
    assert [view["id"] for view in slack.open_views(REP_2)] == [modal["id"]]  # still open
    with bot.services.db.read() as session:
        stored = lead_store.get_lead(session, lead["id"])
        events = [event.action for event in lead_store.list_events(session, lead["id"])]
    assert (stored.status, stored.reject_note) == ("open", None)
    assert "reject" not in events
    settled(bot)
    assert len(slack.calls()) == calls_before  # nothing posted, updated or sent


def test_a_note_of_exactly_the_limit_rejects_the_lead(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    rep = user(REP_2)
    rep.click(SALES_CHANNEL, wait_for_card(slack, lead["id"])["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    note = "é" * NOTE_MAX_LENGTH

    accepted = rep.submit_view(
        modal["id"], {"reason": {"reason_select": "no_need"}, "note": {"note_input": note}}
    )

    assert accepted.status_code == 200 and not accepted.content
    with bot.services.db.read() as session:
        stored = lead_store.get_lead(session, lead["id"])
    assert (stored.status, stored.reject_note) == ("rejected", note)


def test_choosing_other_makes_the_note_required_in_the_form(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    """The form's label follows the rule: "(optional)" until Other is chosen, then required."""
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    rep = user(REP_2)
    rep.click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    assert note_block(modal)["optional"] is True

    assert rep.choose_in_view(modal["id"], "reason", "other").status_code == 200

    redrawn = slack.wait_for(
        lambda: [v for v in slack.open_views(REP_2) if not note_block(v)["optional"]]
    )
    assert redrawn[0]["id"] == modal["id"]
    with pytest.raises(ValueError, match="required input note is empty"):
        rep.submit_view(modal["id"], {"reason": {"reason_select": "other"}})
    rep.choose_in_view(modal["id"], "reason", "no_budget")
    slack.wait_for(lambda: [v for v in slack.open_views(REP_2) if note_block(v)["optional"]])
    rep.submit_view(modal["id"], {"reason": {"reason_select": "no_budget"}})
    wait_for_card(slack, lead["id"], lambda c: "Rejected" in card_text(c))


def note_block(view: dict[str, Any]) -> dict[str, Any]:
    (note,) = [block for block in view["blocks"] if block.get("block_id") == "note"]
    return note
