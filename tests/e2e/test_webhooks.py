"""Outbound webhooks end to end: changes made through Slack and the intake API reach a real
receiver, each verified with the Standard Webhooks reference library, once and in order per
lead; through an outage, a 429 with Retry-After, and a 410 that disables the endpoint."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import DEFAULT_SIGNING_SECRET as SIGNING_SECRET
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import webhooks as webhook_store
from tests.conftest import EXAMPLE_RULES, NOW
from tests.e2e.conftest import (
    INTAKE_AUTH,
    SETTLE_SECONDS,
    Serve,
    buttons,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_leads_command import ask
from tests.e2e.test_sla_flow import SWEEP, Clock, hot_lead
from tests.factories import lead_payload
from tests.webhook_receiver import OLD_SECRET, SECRET, WebhookReceiver, webhook_toml

As = Callable[[str], SlackUser]
FAST = {"webhook_first_retry": 0.05}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def webhook_options() -> dict[str, object]:
    """Extra keys of the test's `[[webhooks]]` entry."""
    return {}


@pytest.fixture
def config_env(
    config_env: dict[str, str],
    tmp_path: Path,
    receiver: WebhookReceiver,
    webhook_options: dict[str, object],
) -> dict[str, str]:
    """The example rules with one endpoint, the receiver, signed with the new secret and the
    one it replaces (a rotation under way: the receiver knows only the new one)."""
    rules = tmp_path / "baton.toml"
    rules.write_text(
        EXAMPLE_RULES.read_text(encoding="utf-8") + webhook_toml(receiver.url, **webhook_options),
        encoding="utf-8",
    )
    return {
        **config_env,
        "BATON_CONFIG": str(rules),
        "RECEIVER_SECRET": f"{SECRET} {OLD_SECRET}",
    }


def delivered(bot: BatonServer) -> None:
    """Wait until no webhook delivery is waiting (delivered or given up)."""

    def nothing_waiting() -> bool:
        with bot.services.db.read() as session:
            return webhook_store.count_waiting(session) == 0

    eventually(nothing_waiting, timeout=SETTLE_SECONDS)  # a loaded CI machine is slow


def test_every_change_reaches_the_receiver_once_in_order_per_lead(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    bot = start_bot(**FAST)
    user: As = lambda who: slack_user(slack, bot, who)  # noqa: E731
    first, second, third = (
        send_lead(bot, external_id=f"hook-{n}", name=f"Lead {n}")["id"] for n in range(3)
    )
    card = wait_for_card(slack, first, lambda c: "lead.accept" in buttons(c))
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    (claimed,) = eventually(
        lambda: [m for m in slack.dms(REP_1) if "lead.release" in buttons(m)]
    )  # the owner releases from the DM Baton sent them
    user(REP_1).click(REP_1, claimed["ts"], "lead.release")
    card = wait_for_card(slack, first, lambda c: "lead.reject" in buttons(c))
    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_2).submit_view(
        modal["id"],
        {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}},
    )
    card = wait_for_card(slack, second, lambda c: "lead.accept" in buttons(c))
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    card = wait_for_card(slack, second, lambda c: "lead.contacted" in buttons(c))
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.contacted")
    wait_for_card(slack, third)
    assert "is now" in ask(user, slack, MANAGER, f"assign {third} <@{REP_2}>")
    ask(user, slack, MANAGER, f"reopen {third}")
    wait_for_card(slack, third, lambda c: "Claim by" in card_text(c))
    settled(bot)
    delivered(bot)

    assert receiver.types_by_lead() == {
        first: ["lead.created", "lead.posted", "lead.accepted", "lead.released", "lead.rejected"],
        second: ["lead.created", "lead.posted", "lead.accepted", "lead.contacted"],
        third: ["lead.created", "lead.posted", "lead.assigned", "lead.reopened"],
    }
    assert receiver.duplicates() == [] and receiver.unverified == 0
    rejected = next(event for event in receiver.received if event.type == "lead.rejected")
    assert rejected.data["reason"] == {"code": "no_budget", "label": "No budget"}
    assert rejected.data["note"] == "Freeze until May"
    assert rejected.data["by"] == REP_2
    assert rejected.data["lead"]["status"] == "rejected"
    assigned = next(event for event in receiver.received if event.type == "lead.assigned")
    assert (assigned.data["by"], assigned.data["assignee"]) == (MANAGER, REP_2)
    # Signed with both secrets while they rotate; the receiver knew only the new one.
    assert all(len(event.signatures) == 2 for event in receiver.received)


def test_a_changed_repeat_is_announced_with_what_changed(
    bot: BatonServer, slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    lead_id = send_lead(bot)["id"]
    wait_for_card(slack, lead_id)
    send_lead(bot)  # identical: nothing to announce
    send_lead(bot, title="COO")
    settled(bot)
    delivered(bot)

    assert receiver.types_by_lead() == {lead_id: ["lead.created", "lead.posted", "lead.updated"]}
    updated = receiver.received[-1]
    assert updated.data["by"] == "api"
    assert updated.data["from_status"] == updated.data["to_status"] == "open"
    assert updated.data["changes"] == {"title": {"from": "VP Operations", "to": "COO"}}


def test_sla_moments_are_announced(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    lead_id, _ = hot_lead(bot, slack)
    clock.advance(minutes=10)
    eventually(lambda: "sla.reminded" in receiver.types_by_lead().get(lead_id, []))
    clock.advance(minutes=5)
    eventually(lambda: "lead.escalated" in receiver.types_by_lead().get(lead_id, []))
    clock.advance(hours=3)
    settled(bot)
    delivered(bot)
    assert receiver.types_by_lead()[lead_id] == [
        "lead.created",
        "lead.posted",
        "sla.reminded",
        "sla.breached",
        "lead.escalated",
    ]
    breached = next(event for event in receiver.received if event.type == "sla.breached")
    assert breached.data["window"] == "claim"
    assert receiver.duplicates() == []


def test_an_outage_delays_events_and_loses_none(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    outage = receiver.answer(503, times=4)
    bot = start_bot(**FAST)
    lead_ids = [send_lead(bot, external_id=f"outage-{n}")["id"] for n in range(3)]
    settled(bot)
    delivered(bot)
    assert outage.hits == 4
    assert receiver.types_by_lead() == {
        lead_id: ["lead.created", "lead.posted"] for lead_id in lead_ids
    }
    assert receiver.duplicates() == []
    # What the outage refused was sent again under the same webhook-id.
    assert {event.webhook_id for event in receiver.refused} <= {
        event.webhook_id for event in receiver.received
    }


def test_a_429_is_retried_no_sooner_than_its_retry_after(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    receiver.answer(429, retry_after="2")
    bot = start_bot(**FAST)
    lead_id = send_lead(bot)["id"]
    settled(bot)
    delivered(bot)
    (slowed,) = receiver.refused
    retried = next(e for e in receiver.received if e.webhook_id == slowed.webhook_id)
    assert retried.at - slowed.at >= 2
    assert receiver.types_by_lead() == {lead_id: ["lead.created", "lead.posted"]}


def test_a_delivery_a_move_queued_while_the_endpoint_was_being_disabled_is_failed_too(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    """A move that read the endpoint as enabled may commit its delivery after a 410 disabled
    it and failed what was waiting: the worker fails it too, rather than keep it waiting."""
    receiver.answer(410)
    bot = start_bot(**FAST)
    lead_id = send_lead(bot)["id"]
    settled(bot)
    delivered(bot)
    with bot.services.db.write() as session:  # what the late move committed
        late = webhook_store.Event(
            event_type="lead.updated",
            lead_id=lead_id,
            message_id="msg_late",
            payload={"late": True},
            at=NOW,
        )
        webhook_store.queue(session, [("crm", late)])

    delivered(bot)

    assert len(receiver.refused) == 1 and receiver.received == []
    with bot.services.db.read() as session:
        rows = webhook_store.list_deliveries(session)
    (row,) = [row for row in rows if row.message_id == "msg_late"]
    assert row.failed_at is not None and row.attempts == 0


def test_a_410_disables_the_endpoint_and_is_shown(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    receiver.answer(410)
    bot = start_bot(**FAST)
    lead_id = send_lead(bot)["id"]
    settled(bot)
    delivered(bot)
    send_lead(bot, external_id="after-the-410")
    settled(bot)
    delivered(bot)

    assert receiver.received == [] and len(receiver.refused) == 1
    with bot.services.db.read() as session:
        (endpoint,) = webhook_store.list_endpoints(session)
        rows = webhook_store.list_deliveries(session)
    assert endpoint.disabled_at is not None
    # Recorded as failed: the refused event, and the card's if it was queued before the 410;
    # the lead sent after the 410 queued nothing.
    assert [(row.lead_id, row.event_type) for row in rows][:1] == [(lead_id, "lead.created")]
    assert {row.lead_id for row in rows} == {lead_id}
    assert all(row.failed_at is not None for row in rows)
    metrics = httpx.get(f"{bot.url}/metrics", timeout=5).text
    assert 'baton_webhook_endpoint_disabled{endpoint="crm"} 1.0' in metrics
    assert 'baton_webhook_deliveries_given_up_total{endpoint="crm",reason="endpoint_disabled"}' in (
        metrics
    )


@pytest.mark.parametrize("webhook_options", [{"retry_hours": 0.0003}])
def test_retries_stop_when_the_retry_window_ends(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    """The window is configurable: a second here (a day by default)."""
    receiver.answer(503, times=None)
    bot = start_bot(**FAST)
    send_lead(bot)
    settled(bot)
    delivered(bot)
    with bot.services.db.read() as session:
        failed = webhook_store.list_failed(session, limit=10)
    assert len(failed) == 2
    assert all("HTTP 503: gave up after" in (row.last_error or "") for row in failed)
    metrics = httpx.get(f"{bot.url}/metrics", timeout=5).text
    assert 'reason="retries_exhausted"' in metrics


@pytest.mark.parametrize("webhook_options", [{"timeout_seconds": 5}])
def test_a_delivery_in_flight_at_a_kill_is_sent_again_under_its_id_and_the_rest_in_order(
    serve: Serve, slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    """The receiver holds the first delivery 8 s; its sender is killed meanwhile. The next
    process waits out the lease (timeout + 5 s), sends it again under the same webhook-id (the
    receiver dedupes), then the lead's later events, in order."""
    in_flight = receiver.answer(204, delay=8)
    first = serve()
    lead_ids = [lead_via(first.url, f"crash-{n}") for n in range(3)]
    eventually(lambda: in_flight.hits)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)

    serve()
    expected = {lead_id: ["lead.created", "lead.posted"] for lead_id in lead_ids}
    eventually(lambda: receiver.types_by_lead() == expected, timeout=60)
    time.sleep(1)  # anything sent twice more would have arrived by now
    assert receiver.types_by_lead() == expected
    assert set(receiver.duplicates()) <= set(in_flight.taken)
    assert receiver.unverified == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_processes_deliver_each_event_once_in_order_per_lead(
    serve: Serve, slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    """Both lease from one PostgreSQL database at once (SKIP LOCKED); with no crash, not even
    a retry: each webhook-id arrives exactly once."""
    processes = [serve(), serve()]
    lead_ids = [lead_via(processes[n % 2].url, f"pair-{n}") for n in range(12)]
    for n, lead_id in enumerate(lead_ids):
        card = wait_for_card(slack, lead_id, lambda c: "lead.accept" in buttons(c))
        rep = slack.user(
            REP_1, bot_url=f"{processes[n % 2].url}/slack/events", signing_secret=SIGNING_SECRET
        )
        rep.click(SALES_CHANNEL, card["ts"], "lead.accept")
    expected = {lead_id: ["lead.created", "lead.posted", "lead.accepted"] for lead_id in lead_ids}
    eventually(lambda: receiver.types_by_lead() == expected, timeout=60)
    time.sleep(1)
    assert receiver.types_by_lead() == expected
    assert receiver.duplicates() == [] and receiver.refused == []


def lead_via(url: str, external_id: str) -> int:
    response = httpx.post(
        f"{url}/api/leads",
        json=lead_payload(external_id=external_id, name=external_id),
        headers=INTAKE_AUTH,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_an_outcome_from_the_crm_is_announced(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, receiver: WebhookReceiver
) -> None:
    bot = start_bot(**FAST)
    lead_id = send_lead(bot)["id"]
    card = wait_for_card(slack, lead_id, lambda c: "lead.accept" in buttons(c))
    slack_user(slack, bot, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    eventually(lambda: "lead.accepted" in receiver.types_by_lead().get(lead_id, []))
    response = httpx.post(
        f"{bot.url}/api/leads/{lead_id}/outcome",
        json={"stage": "won", "amount": "12000.00", "currency": "EUR", "reason": "Chose us"},
        headers=INTAKE_AUTH,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    delivered(bot)
    assert receiver.types_by_lead()[lead_id][-1] == "lead.outcome"
    outcome = receiver.events()[-1].data
    assert (outcome["stage"], outcome["amount"], outcome["currency"], outcome["reason"]) == (
        "won",
        "12000.00",
        "EUR",
        "Chose us",
    )
    assert (outcome["by"], outcome["lead"]["status"]) == ("crm", "won")
