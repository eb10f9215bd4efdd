"""A card button's click is recorded and acknowledged, then applied (bot.received_clicks): the
card shows the move, two reps' clicks on one lead go the way they were recorded (the earlier
owns it, the later is told, once) across two web processes, and the clicks a killed server left
waiting are applied by the next one, each once. Signed HTTP to real servers, the Slack emulator
over HTTP."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable

import pytest

from bot.lifecycle import Action
from handlers import click_inbox
from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage import received_clicks
from storage.db import Database
from tests.conftest import EXTRA_REPS
from tests.e2e.conftest import (
    Serve,
    Served,
    card_redraws_held,
    card_text,
    eventually,
    send_lead,
    settled,
    wait_for_card,
)
from tests.e2e.test_web_processes import PROCESS, TRIES, post_lead, rep, send, serve_two

# A server killed with clicks waiting delivers nothing more; the next one waits out the leases
# of what the killed one was sending (30 s) before sending it again.
AFTER_RESTART_SECONDS = 90


def test_an_accept_is_acknowledged_and_then_shown_on_the_card(
    bot: BatonServer, slack: SlackEmulator, user: Callable[[str], SlackUser]
) -> None:
    lead = send_lead(bot, external_id="inbox-1", name="Ada Inbox")
    card = wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))

    response = user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")

    assert response.status_code == 200 and response.content == b""
    wait_for_card(slack, lead["id"], lambda c: f"Claimed by <@{REP_1}>" in card_text(c))
    eventually(lambda: any("Ada Inbox" in dm["text"] for dm in slack.dms(REP_1)))
    settled(bot)  # every click applied, and all it queued delivered
    assert slack.ephemerals(REP_1) == []


def test_a_flood_of_clicks_that_the_applier_gives_way_to_claims_each_lead_once(
    bot: BatonServer,
    slack: SlackEmulator,
    user: Callable[[str], SlackUser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While clicks keep coming the applier stops after each slice of applying to let them be
    acknowledged (here after every click): each lead is still claimed once, by its clicker."""
    # The applier starts within the flood, and after each click it applies finds the next
    # rep's click came sooner than a pause.
    monkeypatch.setattr(click_inbox, "APPLY_SLICE_SECONDS", 0.0)
    monkeypatch.setattr(click_inbox, "ACKS_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(click_inbox, "QUIET_SECONDS", 0.3)
    leads = [send_lead(bot, external_id=f"flood-{n}")["id"] for n in range(12)]
    ts = {
        lead_id: wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))["ts"]
        for lead_id in leads
    }
    owners = {lead_id: (REP_1, REP_2)[n % 2] for n, lead_id in enumerate(leads)}

    def clicks_of(clicker: str) -> None:
        driver = user(clicker)
        for lead_id, owner in owners.items():
            if owner == clicker:
                assert driver.click(SALES_CHANNEL, ts[lead_id], "lead.accept").status_code == 200
                time.sleep(0.1)

    threads = [threading.Thread(target=clicks_of, args=(clicker,)) for clicker in (REP_1, REP_2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    for lead_id, owner in owners.items():
        wait_for_card(slack, lead_id, lambda c, o=owner: f"Claimed by <@{o}>" in card_text(c))
    settled(bot)
    with bot.services.db.read() as session:
        claims = [
            [event.action for event in lead_store.list_events(session, lead_id)].count(
                Action.ACCEPT
            )
            for lead_id in leads
        ]
    assert claims == [1] * len(leads)


def test_of_two_reps_clicking_one_after_the_other_on_two_processes_the_first_owns_the_lead(
    serve: Serve, slack: SlackEmulator
) -> None:
    """The second click is sent once the first is acknowledged, on a new connection, so often
    to the other process: whichever process applies them, the click recorded first claims the
    lead and the second rep is told, once."""
    served = serve_two(serve)
    first, second = REP_2, EXTRA_REPS[0].id
    crossed = 0
    for n in range(TRIES):
        lead_id, _ = send(served, f"order-{n}")
        card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
        with card_redraws_held(slack):  # the second rep clicks the card as first drawn
            answers = [
                rep(slack, served, clicker).click(SALES_CHANNEL, card["ts"], "lead.accept")
                for clicker in (first, second)
            ]
        assert [answer.status_code for answer in answers] == [200, 200]
        wait_for_card(slack, lead_id, lambda c: f"Claimed by <@{first}>" in card_text(c))
        notice = f"(#{lead_id}) was already claimed by <@{first}>"
        told = eventually(
            lambda notice=notice: [m for m in slack.ephemerals(second) if notice in m["text"]]
        )
        assert len(told) == 1
        crossed += len({answer.headers[PROCESS] for answer in answers}) == 2
        if crossed == 2:
            break
    assert crossed == 2  # two leads whose clicks two different processes recorded


def test_clicks_a_killed_server_left_waiting_are_applied_once_by_the_next(
    serve: Serve, slack: SlackEmulator, database_url: str
) -> None:
    """Reps click at once until some clicks were acknowledged and not yet applied when the
    server is frozen (SIGSTOP) and then killed (SIGKILL): the next server applies them at
    start; every lead is claimed by its clicker once (one claim in its history), and each owner
    hears of each lead (a DM the killed delivery process had sent but not recorded is sent
    again: a kill -9 between a Slack call and its commit repeats a DM, never a claim)."""
    served = serve()
    clickers = [member.id for member in EXTRA_REPS[:8]]
    leads = [new_lead(served, f"killed-{n}") for n in range(ROUNDS * len(clickers))]
    ts = {
        lead_id: wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))["ts"]
        for lead_id in leads
    }
    owners: dict[int, str] = {}
    db = Database.from_url(database_url)
    try:
        waiting = 0
        for start in range(0, len(leads), len(clickers)):
            batch = dict(zip(leads[start : start + len(clickers)], clickers, strict=True))
            click_at_once(slack, served, batch, ts)
            owners.update(batch)
            os.kill(served.process.pid, signal.SIGSTOP)  # it applies nothing more
            waiting = waiting_clicks(db)
            if waiting:
                break
            os.kill(served.process.pid, signal.SIGCONT)
        assert waiting, "every click was applied before its server could be stopped"
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(timeout=10)

        serve()
        for lead_id, owner in owners.items():
            wait_for_card(slack, lead_id, lambda c, o=owner: f"Claimed by <@{o}>" in card_text(c))
        eventually(lambda: not waiting_clicks(db) and not pending(db), AFTER_RESTART_SECONDS)
        with db.read() as session:
            claims = [
                [event.action for event in lead_store.list_events(session, lead_id)].count(
                    Action.ACCEPT
                )
                for lead_id in owners
            ]
    finally:
        db.dispose()
    assert claims == [1] * len(owners)
    for owner in clickers:
        told = {
            name
            for dm in slack.dms(owner)
            for name in re.findall(r"Lead killed-\d+\b", card_text(dm) + dm["text"])
        }
        assert len(told) == list(owners.values()).count(owner)


ROUNDS = 2  # of clicks at once, until some are left waiting at the kill (a card a second)


def new_lead(served: Served, external_id: str) -> int:
    return int(post_lead(served, external_id).json()["id"])


def waiting_clicks(db: Database) -> int:
    with db.read() as session:
        return received_clicks.count_waiting(session)


def pending(db: Database) -> int:
    with db.read() as session:
        return outbox_store.count_pending(session)


def click_at_once(
    slack: SlackEmulator, served: Served, batch: dict[int, str], ts: dict[int, str]
) -> None:
    """Each rep clicks Accept on their lead's card, all at once; every click acknowledged."""
    barrier = threading.Barrier(len(batch))
    statuses: list[int] = []

    def click(lead_id: int, clicker: str) -> None:
        driver = rep(slack, served, clicker)
        barrier.wait()
        statuses.append(driver.click(SALES_CHANNEL, ts[lead_id], "lead.accept").status_code)

    threads = [threading.Thread(target=click, args=pair) for pair in batch.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * len(batch)
