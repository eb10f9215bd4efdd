"""The compact card through the real bot: a glance in the channel, every field behind Details
(from the channel, a DM and App Home), Release only where its owner alone sees it, and a thread
that tells the lead's story."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.lead_history import event_line
from handlers.serve import BatonServer
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import buttons, card_text, send_lead, settled, wait_for_card
from tests.e2e.test_leads_command import As, ask

NEW_YORK = ZoneInfo("America/New_York")  # the team's time zone in the test configuration
EVERY_FIELD = (
    "Dana Whitfield",
    "VP Operations",
    "Northwind Traders",
    "dana@northwind.example",
    "+1 555 0100",
    "201-500",
    "Logistics",
    "US",
    "webinar",
    "Q4 Ops Webinar",
    "82",
    "demo_request",
    "Asked for a demo",
    "Approved for Q1",
    "Decision maker",
    "Route planning",
    "This quarter",
    "Came from the webinar chat.",
    "Open in CRM (crm.example)",
    "SLA policy: hot",
)


def state_of(card: dict[str, Any]) -> str:
    (state,) = [b["text"]["text"] for b in card["blocks"] if b.get("block_id") == "state"]
    return str(state)


def thread_lines(slack: SlackEmulator, card: dict[str, Any]) -> list[str]:
    """The replies in the card's thread, oldest first."""
    thread = slack.thread(SALES_CHANNEL, card["ts"])
    return [message["text"] for message in thread if message["ts"] != card["ts"]]


def details_of(slack: SlackEmulator, who: str) -> str:
    (modal,) = slack.open_views(who)
    assert modal["title"]["text"].startswith("Lead #") and "submit" not in modal
    return card_text(modal)


def test_the_card_is_a_glance_and_details_show_everything_to_anyone(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))

    assert [b.get("block_id") for b in card["blocks"]] == ["who", "why", "state", "buttons"]
    assert card_text(card).strip().startswith("🔥 *hot* · *Dana Whitfield* · VP Operations")
    assert "Score *82* · Intent *demo_request* · 📈 Asked for a demo" in card_text(card)
    assert state_of(card).startswith("Open: waiting for a rep · ⏰ Claim by <!date^")
    assert "Approved for Q1" not in card_text(card)
    assert card["text"].startswith("🔥 hot · Dana Whitfield (Northwind Traders): new SQL")

    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    claimed = wait_for_card(slack, lead["id"], lambda c: "Claimed by" in card_text(c))
    assert state_of(claimed).startswith(f"✅ Claimed by <@{REP_1}> <!date^")
    assert "⏰ Follow up by <!date^" in state_of(claimed)
    assert buttons(claimed) == ["lead.contacted", "lead.details"]
    settled(bot)

    user(REP_2).click(SALES_CHANNEL, claimed["ts"], "lead.details")  # not the owner: may look

    shown = details_of(slack, REP_2)
    for value in EVERY_FIELD:
        assert value in shown, value
    assert f"claimed by <@{REP_1}>" in shown and "*History* (times in America/New_York)" in shown
    assert f"✅ Claimed by <@{REP_1}>" in shown
    assert slack.ephemerals(REP_2) == []


def claimed_by_rep_1(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A lead REP_1 accepted, and the DM it brought them."""
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    (dm,) = slack.wait_for(lambda: slack.dms(REP_1))
    return lead, dm


def test_details_open_from_the_owners_dm_and_app_home(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead, dm = claimed_by_rep_1(bot, slack, user)

    user(REP_1).click(REP_1, dm["ts"], "lead.details")
    assert "Approved for Q1" in details_of(slack, REP_1)

    user(REP_1).open_app_home()
    home = slack.wait_for(lambda: slack.home(REP_1))
    assert "lead.release" in buttons(home)
    user(REP_1).click_in_view(home["id"], "lead.details", value=str(lead["id"]))
    assert "dana@northwind.example" in details_of(slack, REP_1)


def test_release_is_the_owners_in_their_dm_and_refused_to_others_by_command(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead, dm = claimed_by_rep_1(bot, slack, user)
    assert "lead.release" not in buttons(wait_for_card(slack, lead["id"]))

    refused = ask(user, slack, REP_2, f"release {lead['id']}")
    assert "Only the lead's owner or a manager can release" in refused
    user(REP_1).click(REP_1, dm["ts"], "lead.release")

    reopened = wait_for_card(slack, lead["id"], lambda c: "lead.accept" in buttons(c))
    assert state_of(reopened).startswith("Open: waiting for a rep")


def test_the_thread_tells_reject_reopen_assign_release_from_the_stored_events(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    lead_id = lead["id"]
    card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_2).submit_view(
        modal["id"],
        {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}},
    )
    rejected = wait_for_card(slack, lead_id, lambda c: "Rejected" in card_text(c))
    assert state_of(rejected).endswith(": No budget — Freeze until May")
    ask(user, slack, MANAGER, f"reopen {lead_id}")
    ask(user, slack, MANAGER, f"assign {lead_id} <@{REP_1}>")
    (dm,) = slack.wait_for(lambda: [m for m in slack.dms(REP_1) if "lead.release" in buttons(m)])
    user(REP_1).click(REP_1, dm["ts"], "lead.release")
    settled(bot)

    with bot.services.db.read() as session:
        events = lead_store.list_events(session, lead_id)
    now = bot.services.clock()
    told = [
        event_line(event, reasons=bot.services.config.rules.reasons, timezone=NEW_YORK, now=now)
        for event in events
        if event.action not in ("create", "post")
    ]
    assert thread_lines(slack, card) == told
    assert [line.split(" · ", 1)[1] for line in told] == [
        f"rejected by <@{REP_2}>: No budget — _Freeze until May_",
        f"reopened by <@{MANAGER}>",
        f"assigned to <@{REP_1}> by <@{MANAGER}>",
        f"released by <@{REP_1}>",
    ]
    local = events[-1].at.astimezone(NEW_YORK)
    assert told[-1].startswith(f"{local:%a %d %b %H:%M} · ")
    assert state_of(wait_for_card(slack, lead_id)).startswith("Open: waiting for a rep")
