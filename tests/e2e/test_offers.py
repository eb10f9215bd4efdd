"""Routing in `offer` mode through the real interfaces: leads over HTTP, Accept and Pass clicked
in signed payloads, `/leads routing` as a slash command, cards and DMs in the Slack emulator,
the offer timeouts fired by the SLA sweep of one bot or of two on one database.

A lead is offered to one rep at a time by DM; Accept claims it, Pass or a timeout hands it to
the next rep, and after the route's tries it falls back to the channel, saying so in its thread.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.conftest import EXAMPLE_RULES, EXTRA_REPS, NOW
from tests.e2e.conftest import (
    buttons,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_leads_command import ask
from tests.e2e.test_sla_flow import SWEEP, Clock, replies

As = Callable[[str], SlackUser]
REP_3 = EXTRA_REPS[0].id
OFFERING_ROUTE = f"""
[[routes]]
name = "inbound"
channel = "{SALES_CHANNEL}"
mode = "offer"
pool = ["{REP_1}", "{REP_2}", "{REP_3}"]
offer_timeout = "5m"
offer_tries = 2
"""
OFFER_BUTTONS = ["lead.accept", "lead.pass", "lead.details"]
STANDARD = {"intent": "research"}  # the standard SLA policy: hours to claim, not minutes


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules, with every lead offered to a pool of three reps, two tries."""
    path = tmp_path / "baton.toml"
    path.write_text(EXAMPLE_RULES.read_text() + OFFERING_ROUTE)
    return {**config_env, "BATON_CONFIG": str(path)}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def bot(start_bot: Callable[..., BatonServer], clock: Clock) -> BatonServer:
    return start_bot(clock=clock, sweep_every=SWEEP)


def offers_to(
    slack: SlackEmulator, rep: str, lead_id: int, *, open_only: bool = True
) -> list[dict[str, Any]]:
    """The DMs offering lead `lead_id` to `rep`: those still open, or all of them."""
    shown = "is offered to you" if open_only else "offer"
    return [dm for dm in slack.dms(rep) if shown in dm["text"] and f"#{lead_id}" in card_text(dm)]


def offered(slack: SlackEmulator, rep: str, lead_id: int) -> dict[str, Any]:
    """The DM offering the lead to `rep`, once it arrives."""
    (offer,) = eventually(lambda: offers_to(slack, rep, lead_id))
    assert buttons(offer) == OFFER_BUTTONS
    return offer


def offer_ended(slack: SlackEmulator, rep: str, offer: dict[str, Any]) -> str:
    """What `rep`'s offer DM says once redrawn without its buttons."""

    def redrawn() -> dict[str, Any] | None:
        message = slack.message(rep, offer["ts"])
        return None if buttons(message) else message

    return card_text(eventually(redrawn))


def lead_of(bot: BatonServer, lead_id: int) -> Any:
    with bot.services.db.read() as session:
        return lead_store.get_lead(session, lead_id)


def test_an_offer_goes_by_dm_and_accept_claims_it(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id = send_lead(bot, external_id="offer-1", **STANDARD)["id"]
    offer = offered(slack, REP_1, lead_id)
    # The team sees the queue, but nobody can grab a lead offered to someone else.
    card = wait_for_card(slack, lead_id)
    assert f"Offered to <@{REP_1}>" in card_text(card)
    assert buttons(card) == ["lead.details"]
    assert offers_to(slack, REP_2, lead_id) == []

    assert user(REP_1).click(REP_1, offer["ts"], "lead.accept").status_code == 200
    wait_for_card(slack, lead_id, lambda c: f"Claimed by <@{REP_1}>" in card_text(c))
    claimed = lead_of(bot, lead_id)
    assert (claimed.status.value, claimed.owner_id, claimed.offered_to) == ("accepted", REP_1, None)
    assert claimed.first_decision == "accept" and claimed.time_to_claim_us is not None
    assert f"Claimed by <@{REP_1}>" in offer_ended(slack, REP_1, offer)
    assert "Claim by" not in card_text(slack.message(SALES_CHANNEL, card["ts"]))


def test_pass_offers_the_lead_to_the_next_rep_and_is_audited(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id = send_lead(bot, external_id="offer-2", **STANDARD)["id"]
    first = offered(slack, REP_1, lead_id)
    assert user(REP_1).click(REP_1, first["ts"], "lead.pass").status_code == 200
    (form,) = slack.open_views(REP_1)
    assert offers_to(slack, REP_2, lead_id) == []  # nothing passed until the form is sent
    reason = {"pass_reason": {"pass_reason_input": "On a demo until 11"}}
    assert user(REP_1).submit_view(form["id"], reason).status_code == 200

    offered(slack, REP_2, lead_id)
    assert f"Offered to <@{REP_2}>" in offer_ended(slack, REP_1, first)
    wait_for_card(slack, lead_id, lambda c: f"Offered to <@{REP_2}>" in card_text(c))
    explained = ask(user, slack, MANAGER, f"routing {lead_id}")
    assert f"offered to <@{REP_1}>: lowest pointer" in explained
    assert f"<@{REP_1}> passed: On a demo until 11; offered to <@{REP_2}>" in explained
    history = ask(user, slack, MANAGER, f"show {lead_id}")
    assert f"<@{REP_1}> passed" in history


def test_a_timed_out_offer_passes_on_then_falls_back_to_the_channel_and_stale_clicks_fail(
    bot: BatonServer, slack: SlackEmulator, user: As, clock: Clock
) -> None:
    lead_id = send_lead(bot, external_id="offer-3", **STANDARD)["id"]
    first = offered(slack, REP_1, lead_id)
    card = wait_for_card(slack, lead_id)
    settled(bot)

    # Slack fails to redraw for a while, so REP_1 still sees Accept on the offer that timed out.
    held = slack.faults.add("chat.update", status=503, times=None)
    clock.advance(minutes=5)
    second = offered(slack, REP_2, lead_id)
    assert user(REP_1).click(REP_1, first["ts"], "lead.accept").status_code == 200
    (refused,) = eventually(lambda: slack.ephemerals(REP_1))
    assert refused["text"].endswith(f"is offered to <@{REP_2}> now; nothing was changed.")
    assert lead_of(bot, lead_id).offered_to == REP_2
    slack.faults.remove(held)

    clock.advance(minutes=5)  # REP_2 does not answer either: two tries, then the channel
    (fallback,) = eventually(lambda: replies(slack, card, "open to every rep in the channel"))
    assert f"<@{REP_2}> did not answer within 5m" in fallback["text"]
    assert "offered to 2 reps, none took it" in fallback["text"]
    opened = wait_for_card(slack, lead_id, lambda c: "lead.accept" in buttons(c))
    assert "Offered to" not in card_text(opened)
    for rep, offer in ((REP_1, first), (REP_2, second)):
        assert "has ended" in offer_ended(slack, rep, offer)
    explained = ask(user, slack, MANAGER, f"routing {lead_id}")
    assert f"<@{REP_1}> did not answer within 5m; offered to <@{REP_2}>" in explained

    # First click wins, as in a channel route.
    assert user(REP_3).click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    wait_for_card(slack, lead_id, lambda c: f"Claimed by <@{REP_3}>" in card_text(c))


def test_two_bots_on_one_database_make_one_offer_at_a_time_per_lead(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, clock: Clock
) -> None:
    bots = [start_bot(clock=clock, sweep_every=SWEEP) for _ in range(2)]
    leads = [
        send_lead(bots[n % 2], external_id=f"two-{n}", name=f"Lead {n}", **STANDARD)["id"]
        for n in range(6)
    ]
    for lead_id in leads:
        wait_for_card(slack, lead_id)
    first_offers = {lead_id: lead_of(bots[0], lead_id).offered_to for lead_id in leads}
    # The rotation took turns across both bots: two leads each.
    assert Counter(first_offers.values()) == {REP_1: 2, REP_2: 2, REP_3: 2}

    # Both bots sweep the timeouts; on half the leads a Pass, clicked through the other bot,
    # races them: whichever comes first makes the second offer, the other changes nothing.
    first_dms = {lead_id: offered(slack, first_offers[lead_id], lead_id) for lead_id in leads}
    for bot in bots:
        settled(bot)  # a send in flight when the clock jumps would outlive its lease
    clock.advance(minutes=5)
    for lead_id in leads[:3]:
        rep = first_offers[lead_id]
        passing = slack_user(slack, bots[1], rep)
        # LookupError: the timeout won, and its redraw took the button away before the click;
        # no form: the timeout won before the click, which was refused.
        with contextlib.suppress(LookupError):
            passing.click(rep, first_dms[lead_id]["ts"], "lead.pass")
        for form in slack.open_views(rep):
            passing.submit_view(form["id"])
    for lead_id in leads:
        eventually(lambda lead_id=lead_id: lead_of(bots[0], lead_id).offer_tries == 2)
    for bot in bots:
        settled(bot)
    for lead_id in leads:
        lead = lead_of(bots[0], lead_id)
        assert lead.offered_to not in (None, first_offers[lead_id])
        with bots[0].services.db.read() as session:
            routed = [e for e in lead_store.list_events(session, lead_id) if e.action == "route"]
        assert [event.details["offered_to"] for event in routed] == [
            first_offers[lead_id],
            lead.offered_to,
        ]
    for lead_id in leads:  # one DM for each of the two offers, none twice
        sent = [
            len(offers_to(slack, rep, lead_id, open_only=False)) for rep in (REP_1, REP_2, REP_3)
        ]
        assert sorted(sent) == [0, 1, 1]
