"""Escalations a manager acts on, messages that stay true as a lead moves on, and Undo: the real
bot over signed HTTP, Slack played by the emulator, a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from handlers.serve import BatonServer
from slack_emulator import (
    DEFAULT_TOKEN,
    MANAGER,
    MARKETER,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SlackEmulator,
)
from storage import lead_messages as message_store
from storage import leads as lead_store
from storage import reports as report_store
from tests.conftest import NOW
from tests.e2e.conftest import (
    card_redraws_held,
    card_text,
    eventually,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_leads_command import ask
from tests.e2e.test_sla_flow import SWEEP, Clock, hot_lead, replies

Start = Callable[..., BatonServer]


def actions(message: dict[str, Any]) -> list[str]:
    """The action ids a message offers (buttons and pickers)."""
    return [
        element["action_id"]
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def dms_saying(slack: SlackEmulator, user: str, text: str) -> list[dict[str, Any]]:
    return [dm for dm in slack.dms(user) if text in card_text(dm) or text in dm["text"]]


def lead_state(bot: BatonServer, lead_id: int) -> tuple[str, str | None, list[str]]:
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        events = [event.action for event in lead_store.list_events(session, lead_id)]
    return lead.status.value, lead.owner_id, events


def escalated(start_bot: Start, slack: SlackEmulator) -> tuple[BatonServer, int, dict[str, Any]]:
    """A hot lead nobody claimed within its 15 minutes, and the manager's escalation DM."""
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, card = hot_lead(bot, slack)
    clock.advance(minutes=15)
    eventually(lambda: dms_saying(slack, MANAGER, "needs a manager"))
    return bot, lead_id, card


def test_a_manager_assigns_from_the_escalation_dm_in_one_step(
    start_bot: Start, slack: SlackEmulator
) -> None:
    bot, lead_id, card = escalated(start_bot, slack)
    (dm,) = slack.dms(MANAGER)
    text = card_text(dm)
    assert f"(#{lead_id})" in text and "claim deadline missed since" in text
    assert "Open the card" in text and "Budget" not in text  # a short message, not the card
    assert actions(dm) == ["lead.assign_to", "lead.reopen"]
    (in_thread,) = eventually(lambda: replies(slack, card, "SLA breached"))
    assert actions(in_thread) == ["lead.assign_to", "lead.reopen"]

    manager = slack_user(slack, bot, MANAGER)
    assert manager.pick_user(MANAGER, dm["ts"], "lead.assign_to", REP_2).status_code == 200

    assert lead_state(bot, lead_id)[:2] == ("accepted", REP_2)
    (announced,) = eventually(lambda: dms_saying(slack, REP_2, "was assigned to you by"))
    assert f"<@{MANAGER}>" in announced["text"] and "You claimed" not in card_text(announced)
    assert actions(announced) == ["lead.contacted", "lead.release", "lead.details"]
    redrawn = eventually(lambda: [m for m in slack.dms(MANAGER) if "Assigned to" in card_text(m)])
    assert f"Assigned to <@{REP_2}> by <@{MANAGER}>" in card_text(redrawn[0])
    assert actions(redrawn[0]) == []
    eventually(lambda: actions(replies(slack, card, "SLA breached")[0]) == [])
    wait_for_card(slack, lead_id, lambda c: f"<@{REP_2}>" in card_text(c))


def test_an_escalation_dealt_with_offers_nothing_when_the_lead_escalates_again(
    start_bot: Start, slack: SlackEmulator
) -> None:
    """Bob, assigned from the escalation, misses his follow-up too: the new escalation offers
    Assign to… and Reopen; the first one, dealt with, does not come back to life."""
    bot, lead_id, _ = escalated(start_bot, slack)
    (first,) = slack.dms(MANAGER)
    slack_user(slack, bot, MANAGER).pick_user(MANAGER, first["ts"], "lead.assign_to", REP_2)
    assert lead_state(bot, lead_id)[:2] == ("accepted", REP_2)

    bot.services.clock.advance(hours=1)  # type: ignore[attr-defined]  # the test's Clock
    (again,) = eventually(lambda: dms_saying(slack, MANAGER, "has not reached"))
    assert actions(again) == ["lead.assign_to", "lead.reopen"]
    settled(bot)
    assert actions(slack.message(MANAGER, first["ts"])) == []
    assert actions(slack.message(MANAGER, again["ts"])) == ["lead.assign_to", "lead.reopen"]


def test_a_non_rep_picked_in_an_escalation_is_refused_naming_the_lead(
    start_bot: Start, slack: SlackEmulator
) -> None:
    bot, lead_id, _ = escalated(start_bot, slack)
    (dm,) = slack.dms(MANAGER)
    manager = slack_user(slack, bot, MANAGER)

    manager.pick_user(MANAGER, dm["ts"], "lead.assign_to", MARKETER)

    (refusal,) = eventually(lambda: slack.ephemerals(MANAGER))
    assert f"(#{lead_id}): <@{MARKETER}> is a marketer" in refusal["text"]
    assert "\n" not in refusal["text"]
    status, owner, events = lead_state(bot, lead_id)
    assert (status, owner, "assign" in events) == ("escalated", None, False)
    assert actions(slack.dms(MANAGER)[0]) == ["lead.assign_to", "lead.reopen"]

    manager.pick_user(MANAGER, dm["ts"], "lead.assign_to", "")  # the picker cleared
    (_, cleared) = eventually(lambda: slack.ephemerals(MANAGER)[1:] and slack.ephemerals(MANAGER))
    assert cleared["text"] == f"Pick the rep to assign {label(bot, lead_id)} to."
    assert lead_state(bot, lead_id)[0] == "escalated"


def test_a_rep_cannot_act_on_an_escalation(start_bot: Start, slack: SlackEmulator) -> None:
    bot, lead_id, card = escalated(start_bot, slack)
    (in_thread,) = eventually(lambda: replies(slack, card, "SLA breached"))
    rep = slack_user(slack, bot, REP_1)

    rep.pick_user(SALES_CHANNEL, in_thread["ts"], "lead.assign_to", REP_1)
    rep.click(SALES_CHANNEL, in_thread["ts"], "lead.reopen")

    refusals = eventually(lambda: len(slack.ephemerals(REP_1)) == 2 and slack.ephemerals(REP_1))
    assert [r["text"] for r in refusals] == [
        f"Only a manager can assign {label(bot, lead_id)}.",
        f"Only a manager can reopen {label(bot, lead_id)}.",
    ]
    assert lead_state(bot, lead_id)[0] == "escalated"


def label(bot: BatonServer, lead_id: int) -> str:
    return f"Northwind Traders · Dana Whitfield (#{lead_id})"


def claimed_by_rep_1(bot: BatonServer, slack: SlackEmulator) -> tuple[int, dict[str, Any]]:
    """An open lead REP_1 claimed, and REP_1's DM about it (the owner's buttons, then Undo)."""
    lead_id, card = hot_lead(bot, slack)
    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    (dm,) = eventually(lambda: dms_saying(slack, REP_1, "You claimed"))
    assert actions(dm) == ["lead.contacted", "lead.release", "lead.details", "lead.undo"]
    return lead_id, dm


def test_after_a_reassign_the_old_owner_is_told_and_their_dm_offers_only_details(
    bot: BatonServer, slack: SlackEmulator, user: Callable[..., Any]
) -> None:
    lead_id, dm = claimed_by_rep_1(bot, slack)
    user(REP_1).open_app_home()
    eventually(lambda: "Your open leads* (1)" in card_text(slack.home(REP_1) or {}))

    ask(user, slack, MANAGER, f"assign {lead_id} <@{REP_2}>")

    told = eventually(lambda: dms_saying(slack, REP_1, "no longer yours"))
    assert f"reassigned to <@{REP_2}> by <@{MANAGER}>" in told[0]["text"]
    eventually(lambda: "Your open leads* (0)" in card_text(slack.home(REP_1) or {}))
    assert "lead.contacted" not in str(slack.home(REP_1))
    eventually(lambda: actions(slack.message(REP_1, dm["ts"])) == ["lead.details"])
    assert f"<@{REP_2}>" in card_text(slack.message(REP_1, dm["ts"]))
    eventually(lambda: dms_saying(slack, REP_2, f"was assigned to you by <@{MANAGER}>"))


def test_after_a_reopen_the_old_owner_is_told_and_their_dm_offers_only_details(
    bot: BatonServer, slack: SlackEmulator, user: Callable[..., Any]
) -> None:
    lead_id, dm = claimed_by_rep_1(bot, slack)

    ask(user, slack, MANAGER, f"reopen {lead_id}")

    told = eventually(lambda: dms_saying(slack, REP_1, "no longer yours"))
    assert f"reopened by <@{MANAGER}> for every rep" in told[0]["text"]
    eventually(lambda: actions(slack.message(REP_1, dm["ts"])) == ["lead.details"])
    assert "Open: waiting for a rep" in card_text(slack.message(REP_1, dm["ts"]))


def test_undo_of_an_accept_works_once_and_restores_the_lead(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead_id, dm = claimed_by_rep_1(bot, slack)
    rep = slack_user(slack, bot, REP_1)

    with card_redraws_held(slack):  # the DM still shows Undo when it is clicked again
        rep.click(REP_1, dm["ts"], "lead.undo")
        rep.click(REP_1, dm["ts"], "lead.undo")

    status, owner, events = lead_state(bot, lead_id)
    assert (status, owner, events[-2:]) == ("open", None, ["accept", "undo"])
    (refusal,) = eventually(lambda: slack.ephemerals(REP_1))
    assert refusal["text"] == (
        f"{label(bot, lead_id)} has moved on since you accepted it; nothing was undone."
    )
    card = wait_for_card(slack, lead_id, lambda c: "Open: waiting for a rep" in card_text(c))
    eventually(lambda: actions(slack.message(REP_1, dm["ts"])) == ["lead.details"])
    assert "Open: waiting for a rep" in card_text(slack.message(REP_1, dm["ts"]))
    (told,) = eventually(lambda: replies(slack, card, "undone by"))  # the card's thread, too
    assert f"accept undone by <@{REP_1}>" in told["text"]


def test_undo_is_only_for_its_author(bot: BatonServer, slack: SlackEmulator) -> None:
    lead_id, dm = claimed_by_rep_1(bot, slack)
    # The button copied where another rep can click it (a forwarded message, a forged click).
    copy = WebClient(token=DEFAULT_TOKEN, base_url=slack.api_url).chat_postMessage(
        channel=SALES_CHANNEL, text="copy", blocks=slack.message(REP_1, dm["ts"])["blocks"]
    )

    slack_user(slack, bot, REP_2).click(SALES_CHANNEL, copy["ts"], "lead.undo")

    (refusal,) = eventually(lambda: slack.ephemerals(REP_2))
    assert refusal["text"] == f"Only <@{REP_1}>, who accepted {label(bot, lead_id)}, can undo it."
    assert lead_state(bot, lead_id)[:2] == ("accepted", REP_1)


def test_undo_is_refused_after_the_window(start_bot: Start, slack: SlackEmulator) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, dm = claimed_by_rep_1(bot, slack)

    clock.advance(minutes=5)
    slack_user(slack, bot, REP_1).click(REP_1, dm["ts"], "lead.undo")

    (refusal,) = eventually(lambda: slack.ephemerals(REP_1))
    assert refusal["text"] == (
        f"{label(bot, lead_id)} can be undone only within 5 min of being accepted; "
        "nothing was changed."
    )
    assert lead_state(bot, lead_id)[:2] == ("accepted", REP_1)


def test_the_undo_button_goes_when_its_window_closes(
    start_bot: Start, slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, dm = claimed_by_rep_1(bot, slack)
    eventually(lambda: remembered(bot, lead_id))  # Slack shows the DM a moment before Baton
    # has recorded it: a window closing in between could not know to redraw it

    clock.advance(minutes=5)

    eventually(lambda: "lead.undo" not in actions(slack.message(REP_1, dm["ts"])))
    assert actions(slack.message(REP_1, dm["ts"])) == [
        "lead.contacted",
        "lead.release",
        "lead.details",
    ]
    assert "can undo it" not in card_text(slack.message(REP_1, dm["ts"]))
    assert lead_state(bot, lead_id)[:2] == ("accepted", REP_1)


def remembered(bot: BatonServer, lead_id: int) -> bool:
    """Baton has recorded a message about the lead that it keeps true (the owner's DM)."""
    with bot.services.db.read() as session:
        return message_store.has_any(session, lead_id=lead_id)


def test_undo_of_a_reject_restores_the_lead_and_forgets_the_feedback(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead_id, card = hot_lead(bot, slack)
    rep = slack_user(slack, bot, REP_2)
    rep.click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    rep.submit_view(modal["id"], {"reason": {"reason_select": "no_budget"}})
    (dm,) = eventually(lambda: dms_saying(slack, REP_2, "You rejected"))
    assert "No budget" in dm["text"] and actions(dm) == ["lead.undo"]

    rep.click(REP_2, dm["ts"], "lead.undo")

    status, _, events = lead_state(bot, lead_id)
    assert (status, events[-2:]) == ("open", ["reject", "undo"])
    with bot.services.db.read() as session:
        assert report_store.count_rejections(session, start=NOW, end=NOW.replace(year=2100)) == 0
    wait_for_card(slack, lead_id, lambda c: "lead.accept" in str(c["blocks"]))
    eventually(lambda: actions(slack.message(REP_2, dm["ts"])) == [])
    settled(bot)
