"""The database really goes away under a running bot, and comes back.

A click, a form or a command during the outage is acknowledged (HTTP 200, so Slack shows no
bare failure) and the person is told, without the database, that it did not take; intake
answers 503 with Retry-After; nothing is stored or half-stored; once the database is back the
same click works and the lead the sender retried is posted once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from handlers.config import load_config
from handlers.serve import BatonServer
from handlers.slack_outage import TRY_AGAIN, TRY_CLICK_AGAIN
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    MANAGER,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SlackEmulator,
)
from storage import leads as lead_store
from storage import migrate
from storage import outbox as outbox_store
from storage.db import Database
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import (
    INTAKE_AUTH,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.log_checks import assert_log_clean
from tests.e2e.throwaway_postgres import ThrowawayPostgres
from tests.factories import lead_payload

REJECT_FORM = {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}}


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.start()
        db = Database.from_url(server.url)
        migrate.upgrade(db.engine)
        db.dispose()
        yield server
    finally:
        server.remove()


@pytest.fixture
def bot(postgres: ThrowawayPostgres, slack: SlackEmulator) -> Iterator[BatonServer]:
    env = {
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "BATON_INTAKE_TOKEN": "test-intake-token",
        "DATABASE_URL": postgres.url,
        "BATON_CONFIG": str(EXAMPLE_RULES),
    }
    server = BatonServer(
        load_config(env), post_interval=0.0, first_retry=0.05, sweep_every=0.2, delivery="inline"
    )
    server.start()
    yield server
    server.stop()


def health(bot: BatonServer) -> int:
    return httpx.get(f"{bot.url}/healthz", timeout=10).status_code


def story(bot: BatonServer, lead_id: int) -> tuple[str, str | None, list[str]]:
    """The lead's status, owner and audit trail, as stored."""
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        events = [event.action for event in lead_store.list_events(session, lead_id)]
    return lead.status, lead.owner_id, events


def test_a_click_during_a_database_outage_is_acknowledged_and_the_rep_told_to_retry(
    bot: BatonServer,
    postgres: ThrowawayPostgres,
    slack: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    alice, bob, maria = (slack_user(slack, bot, who) for who in (REP_1, REP_2, MANAGER))
    accepted = send_lead(bot, external_id="outage-1")["id"]
    rejected = send_lead(bot, external_id="outage-2")["id"]
    card = wait_for_card(slack, accepted)
    other_card = wait_for_card(slack, rejected)
    bob.click(SALES_CHANNEL, other_card["ts"], "lead.reject")
    (form,) = slack.open_views(REP_2)
    alice.open_app_home()
    home = slack.wait_for(lambda: slack.home(REP_1))
    settled(bot)
    with bot.services.db.read() as session:
        outbox_before = len(outbox_store.list_rows(session))

    postgres.stop()
    assert health(bot) == 503

    assert alice.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    (told,) = slack.ephemerals(REP_1)
    assert told["text"] == TRY_CLICK_AGAIN.format(lead=accepted)  # names the lead clicked
    assert [call.status for call in slack.calls("response_url")] == [200]

    slack.faults.add("response_url", delay=2.5)  # slower than Baton waits for it
    assert bob.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200  # within 3 s

    in_home = alice.click_in_view(home["id"], "lead.accept", value=str(accepted))
    assert in_home.status_code == 200  # App Home has no response_url: told in a DM
    assert [dm["text"] for dm in slack.dms(REP_1)] == [TRY_CLICK_AGAIN.format(lead=accepted)]

    assert bob.submit_view(form["id"], REJECT_FORM).status_code == 200
    assert TRY_AGAIN in slack.view_errors(form["id"]).values()
    assert [view["id"] for view in slack.open_views(REP_2)] == [form["id"]]  # kept open

    assert maria.slash_command("/leads", "queue").status_code == 200
    assert [e["text"] for e in slack.ephemerals(MANAGER)] == [TRY_AGAIN]

    late = lead_payload(external_id="outage-3", name="Late Lead")
    refused = httpx.post(f"{bot.url}/api/leads", json=late, headers=INTAKE_AUTH, timeout=10)
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0

    postgres.start()
    eventually(lambda: health(bot) == 200)
    assert story(bot, accepted) == ("open", None, ["create", "post"])
    assert story(bot, rejected) == ("open", None, ["create", "post"])
    with bot.services.db.read() as session:
        assert len(outbox_store.list_rows(session)) == outbox_before
        assert lead_store.get_leads_by_external_ids(session, ["outage-3"]) == {}

    retried = httpx.post(f"{bot.url}/api/leads", json=late, headers=INTAKE_AUTH, timeout=10)
    assert retried.status_code == 201  # the sender's retry, after Retry-After
    assert send_lead(bot, **late)["id"] == retried.json()["id"]  # and once more: a repeat

    assert alice.click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200
    assert bob.submit_view(form["id"], REJECT_FORM).status_code == 200
    assert slack.open_views(REP_2) == []
    wait_for_card(slack, accepted, lambda c: f"<@{REP_1}>" in card_text(c))
    wait_for_card(slack, rejected, lambda c: "No budget" in card_text(c))
    wait_for_card(slack, retried.json()["id"])
    settled(bot)
    posted = [
        card["metadata"]["event_payload"]["lead_id"] for card in slack.messages(SALES_CHANNEL)
    ]
    assert sorted(posted) == sorted([accepted, rejected, retried.json()["id"]])  # each once
    assert story(bot, accepted) == ("accepted", REP_1, ["create", "post", "accept"])
    assert story(bot, rejected)[::2] == ("rejected", ["create", "post", "reject"])
    assert len(slack.ephemerals(REP_1)) == 1  # nothing more was said about the lost click
    assert any("You claimed" in dm["text"] for dm in slack.dms(REP_1))
    assert_log_clean(caplog, "Freeze until May", "Late Lead", postgres.url)
    said = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    told = [line for line in said if "told the sender of a Slack" in line]
    # APScheduler's own "skipped: maximum number of running instances" may repeat when a busy
    # machine slows a sweep past its interval; Baton's workers must each say the outage once.
    scheduler_said = {
        record.getMessage() for record in caplog.records if record.name.startswith("apscheduler")
    }
    background = [line for line in said if line not in told and line not in scheduler_said]
    assert len(told) == 5  # one line per Slack request answered during the outage
    assert "could not answer through response_url: TimeoutError" in background
    assert len(background) == len(set(background))  # workers say it once, not once per try
    assert not any(record.exc_info for record in caplog.records)  # no tracebacks
