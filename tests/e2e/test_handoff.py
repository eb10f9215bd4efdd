"""The handoff end to end: intake over HTTP, the card in Slack, reps clicking, the modal."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.conftest import EXTRA_REPS
from tests.e2e.conftest import (
    buttons,
    card_redraws_held,
    card_text,
    clicks_applied,
    send_lead,
    settled,
    wait_for_card,
)
from tests.e2e.test_leads_command import ask

As = Callable[[str], SlackUser]


def events_of(bot: BatonServer, lead_id: int) -> list[str]:
    with bot.services.db.read() as session:
        return [event.action for event in lead_store.list_events(session, lead_id)]


def test_a_new_lead_is_posted_as_a_card_with_accept_and_reject(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))  # redrawn open

    assert buttons(card) == ["lead.accept", "lead.reject", "lead.details"]
    text = card_text(card)
    for shown in ("🔥 *hot*", "Dana Whitfield", "Northwind Traders", "82", "demo_request"):
        assert shown in text
    assert "webinar" not in text  # the source, like every other field, is behind Details
    stored = send_lead(bot)  # a repeated delivery returns the lead, now open, and posts nothing
    assert (stored["status"], stored["slack_channel"], stored["slack_ts"]) == (
        "open",
        SALES_CHANNEL,
        card["ts"],
    )
    assert len(slack.calls("chat.postMessage")) == 1


def test_accept_updates_the_card_and_sends_the_rep_the_lead(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])

    response = user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    assert response.status_code == 200

    claimed = wait_for_card(slack, lead["id"], lambda c: f"<@{REP_1}>" in card_text(c))
    assert "Claimed by" in card_text(claimed)
    assert buttons(claimed) == ["lead.contacted", "lead.details"]  # Release: in the owner's DM
    dm = slack.wait_for(lambda: slack.dms(REP_1))
    assert "Dana Whitfield" in dm[0]["text"]
    owners = ["lead.contacted", "lead.release", "lead.details"]
    assert buttons(dm[0]) == [*owners, "lead.undo"]  # Undo: the accept is theirs, and recent


def test_a_double_click_claims_once(bot: BatonServer, slack: SlackEmulator, user: As) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    alice = user(REP_1)
    with card_redraws_held(slack):
        alice.click(SALES_CHANNEL, card["ts"], "lead.accept")
        alice.click(SALES_CHANNEL, card["ts"], "lead.accept")

    slack.wait_for(lambda: slack.dms(REP_1))
    assert events_of(bot, lead["id"]).count("accept") == 1
    assert slack.ephemerals(REP_1) == []


def test_many_reps_accepting_at_once_leave_one_owner(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    reps = [rep.id for rep in EXTRA_REPS]
    barrier = threading.Barrier(len(reps))
    codes: list[int] = []

    def click(rep: str) -> None:
        driver = user(rep)
        barrier.wait()
        codes.append(driver.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code)

    threads = [threading.Thread(target=click, args=(rep,)) for rep in reps]
    with card_redraws_held(slack):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert codes == [200] * len(reps)
    settled(bot)  # the clicks are applied after their acknowledgements
    with bot.services.db.read() as session:
        owner = lead_store.get_lead(session, lead["id"]).owner_id
    assert owner in reps
    assert events_of(bot, lead["id"]).count("accept") == 1
    losers = [rep for rep in reps if rep != owner]
    refusals = slack.wait_for(
        lambda: all(slack.ephemerals(rep) for rep in losers) and losers, timeout=10
    )
    for rep in refusals:
        (message,) = slack.ephemerals(rep)
        # Every notice says which lead it is about.
        named = f"Northwind Traders · Dana Whitfield (#{lead['id']}) was already claimed by"
        assert f"{named} <@{owner}>" in message["text"]
    assert len(slack.dms(owner)) == 1


def test_reject_through_the_modal_with_a_validation_error_first(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    bob = user(REP_2)

    assert bob.click(SALES_CHANNEL, card["ts"], "lead.reject").status_code == 200
    (modal,) = slack.open_views(REP_2)
    assert modal["callback_id"] == "lead.reject.submit"

    refused = bob.submit_view(modal["id"], {"reason": {"reason_select": "other"}})
    assert refused.json()["response_action"] == "errors"
    assert "note" in slack.view_errors(modal["id"])
    assert events_of(bot, lead["id"]).count("reject") == 0

    accepted = bob.submit_view(
        modal["id"],
        {"reason": {"reason_select": "other"}, "note": {"note_input": "Student project"}},
    )
    assert accepted.status_code == 200 and not accepted.content
    assert slack.open_views(REP_2) == []
    rejected = wait_for_card(slack, lead["id"], lambda c: "Student project" in card_text(c))
    assert f"<@{REP_2}>" in card_text(rejected)
    assert buttons(rejected) == ["lead.details"]
    with bot.services.db.read() as session:
        stored = lead_store.get_lead(session, lead["id"])
    assert (stored.status, stored.reject_reason, stored.source) == ("rejected", "other", "webinar")


def test_reject_after_someone_accepted_is_refused_clearly(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    with card_redraws_held(slack):  # bob clicks the card as he saw it, before it is redrawn
        user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
        clicks_applied(bot)  # alice's claim is made (bob clicking first would get the form)
        user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    assert slack.open_views(REP_2) == []
    (refusal,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert f"already claimed by <@{REP_1}>" in refusal["text"]


def test_a_modal_submitted_after_someone_claimed_says_so_in_the_modal(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    bob = user(REP_2)
    bob.click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")

    answer = bob.submit_view(modal["id"], {"reason": {"reason_select": "no_budget"}})
    assert answer.json()["response_action"] == "errors"
    # Modals show mention syntax raw: the refusal names the owner in plain words instead.
    error = slack.view_errors(modal["id"])["reason"]
    assert error == "This lead was already claimed by another rep."
    assert re.search(r"<@[UW]", error) is None
    assert events_of(bot, lead["id"]).count("reject") == 0


def test_owner_marks_contacted_and_a_stranger_cannot(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    claimed = wait_for_card(slack, lead["id"], lambda c: "lead.contacted" in buttons(c))

    user(REP_2).click(SALES_CHANNEL, claimed["ts"], "lead.contacted")
    (refusal,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert refusal["text"] == (
        "Only the lead's owner or a manager can mark "
        f"Northwind Traders · Dana Whitfield (#{lead['id']}) contacted."
    )

    user(REP_1).click(SALES_CHANNEL, claimed["ts"], "lead.contacted")
    contacted = wait_for_card(slack, lead["id"], lambda c: "Contacted" in card_text(c))
    assert buttons(contacted) == ["lead.details"]


def test_a_manager_may_release_someone_elses_lead(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, lead["id"], lambda c: "lead.contacted" in buttons(c))

    released = ask(user, slack, MANAGER, f"release {lead['id']}")
    assert f"Northwind Traders · Dana Whitfield (#{lead['id']}) is back in the queue" in released
    reopened = wait_for_card(slack, lead["id"], lambda c: "lead.accept" in buttons(c))
    assert f"<@{REP_1}>" not in card_text(reopened)


def test_an_expired_trigger_tells_the_rep_to_click_again(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    slack.faults.add("views.open", error="expired_trigger_id")

    assert user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject").status_code == 200
    (message,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert message["text"] == (
        "Slack took too long to open the Reject form for "
        f"Northwind Traders · Dana Whitfield (#{lead['id']}). Please click Reject again."
    )
    assert slack.open_views(REP_2) == []
    assert events_of(bot, lead["id"]).count("reject") == 0


def test_a_slow_slack_never_delays_the_acknowledgement_past_three_seconds(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    card = wait_for_card(slack, lead["id"])
    slack.faults.add("views.open", delay=5.0)

    response = user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() < 3
    (message,) = slack.wait_for(lambda: slack.ephemerals(REP_2))
    assert "click Reject again" in message["text"]
