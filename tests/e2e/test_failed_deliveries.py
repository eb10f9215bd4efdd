"""Slack refusing a message for good: recorded as failed with Slack's reason, not retried,
counted in /metrics, logged, shown to managers and listed by `baton check`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import (
    MANAGER,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SlackEmulator,
)
from storage import outbox as outbox_store
from storage.models import SlackOutbox
from tests.e2e.conftest import card_redraws_held, card_text, send_lead, settled, wait_for_card
from tests.e2e.log_checks import assert_log_clean
from tests.e2e.test_home_and_digest import open_home
from tests.e2e.test_leads_command import ask
from tests.handlers.test_cli import baton

As = Callable[[str], SlackUser]
GIVEN_UP = "baton_slack_deliveries_given_up_total"


def metric(bot: BatonServer, name: str, **labels: str) -> float:
    """A sample read from the bot's /metrics over HTTP (0 when it was never counted)."""
    text = httpx.get(f"{bot.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def outbox_rows(bot: BatonServer, lead_id: int) -> list[SlackOutbox]:
    with bot.services.db.read() as session:
        return list(outbox_store.list_rows(session, lead_id=lead_id))


def failed_rows(bot: BatonServer) -> list[tuple[int | None, str, str | None]]:
    with bot.services.db.read() as session:
        rows = outbox_store.list_failed(session, limit=100)
    return [(row.lead_id, row.kind, row.last_error) for row in rows]


def open_lead(bot: BatonServer, slack: SlackEmulator, external_id: str = "hs-1") -> int:
    lead_id = send_lead(bot, external_id=external_id)["id"]
    wait_for_card(slack, lead_id)
    settled(bot)
    return lead_id


# ------------------------------------------------------------ permanent Slack errors


def accept(user: As, slack: SlackEmulator, lead_id: int) -> None:
    card = wait_for_card(slack, lead_id)
    assert user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept").status_code == 200


def accept_in_home(user: As, slack: SlackEmulator, lead_id: int) -> None:
    """Accept from App Home, so chat.update redraws the card (a click on the card itself is
    redrawn through the click's response_url)."""
    home = open_home(slack, user, REP_1)
    assert user(REP_1).click_in_view(home["id"], "lead.accept", value=str(lead_id))


@pytest.mark.parametrize(
    ("method", "error", "kind"),
    [
        ("chat.postMessage", "is_archived", "post_card"),
        ("chat.postMessage", "not_in_channel", "post_card"),
        ("chat.postMessage", "channel_not_found", "post_card"),
        ("chat.postMessage", "invalid_blocks", "post_card"),
        ("chat.postMessage", "msg_too_long", "post_card"),
        ("chat.update", "message_not_found", "update_card"),
        ("conversations.open", "user_not_found", "dm"),
        ("conversations.open", "user_disabled", "dm"),
    ],
)
def test_a_delivery_slack_refuses_for_good_is_recorded_counted_and_not_retried(
    bot: BatonServer,
    slack: SlackEmulator,
    user: As,
    caplog: pytest.LogCaptureFixture,
    method: str,
    error: str,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO)
    given_up_before = metric(bot, GIVEN_UP, kind=kind, reason=error)
    if kind == "post_card":
        refusal = slack.faults.add(method, error=error, times=None)  # every try would fail
        lead_id = send_lead(bot)["id"]
    else:
        lead_id = open_lead(bot, slack)
        refusal = slack.faults.add(method, error=error, times=None)
        accept_in_home(user, slack, lead_id)

    slack.wait_for(lambda: refusal.hits >= 1)
    settled(bot)  # nothing is left to retry
    assert refusal.hits == 1
    assert failed_rows(bot) == [(lead_id, kind, error)]
    assert metric(bot, GIVEN_UP, kind=kind, reason=error) == given_up_before + 1
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"{kind} for lead {lead_id} failed for good ({error})" in line for line in logged)
    assert_log_clean(caplog)


def test_a_refused_token_is_retried_not_given_up(bot: BatonServer, slack: SlackEmulator) -> None:
    """A bad token fails every delivery alike; fixing it must deliver them, so none is dropped."""
    refused = slack.faults.add("chat.postMessage", error="invalid_auth", times=2)
    lead_id = send_lead(bot)["id"]
    wait_for_card(slack, lead_id)
    settled(bot)
    assert refused.hits == 2
    assert failed_rows(bot) == []


def test_a_reply_slack_never_takes_is_given_up_after_a_few_tries(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    given_up_before = metric(bot, GIVEN_UP, kind="ephemeral", reason="retries_exhausted")
    lead_id = open_lead(bot, slack)
    failing = slack.faults.add("chat.postEphemeral", error="fatal_error", times=None)
    card = wait_for_card(slack, lead_id)
    with card_redraws_held(slack):
        user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
        user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.accept")  # lost: told by an ephemeral

    slack.wait_for(lambda: failing.hits >= 5)
    settled(bot)
    assert failing.hits == 5
    ((failed_lead, failed_kind, reason),) = failed_rows(bot)
    assert (failed_lead, failed_kind) == (None, "ephemeral")
    assert reason == "given up: 200 fatal_error"
    assert metric(bot, GIVEN_UP, kind="ephemeral", reason="retries_exhausted") == (
        given_up_before + 1
    )


# ------------------------------------------------------------- what people are shown


def test_managers_and_baton_check_see_failed_deliveries(
    bot: BatonServer,
    slack: SlackEmulator,
    user: As,
    config_env: dict[str, str],
    tmp_path: Path,
) -> None:
    clean = baton("check", cwd=tmp_path, env=config_env)
    assert "deliveries: none failed" in clean.stdout
    assert "not delivered" not in ask(user, slack, MANAGER, "sla")

    slack.faults.add("conversations.open", error="user_not_found", times=None)
    lead_id = send_lead(bot)["id"]
    accept(user, slack, lead_id)
    slack.wait_for(lambda: slack.calls("conversations.open"))
    settled(bot)

    health = ask(user, slack, MANAGER, "sla")
    assert "Slack messages not delivered, last 7 days:* 1" in health
    assert f"DM for lead #{lead_id}: `user_not_found`" in health
    assert "not delivered" not in ask(user, slack, REP_1, "sla")

    user(MANAGER).open_app_home()
    home = slack.wait_for(lambda: slack.home(MANAGER))
    assert f"DM for lead #{lead_id}: `user_not_found`" in card_text(home)

    checked = baton("check", cwd=tmp_path, env=config_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    at = lines.index("deliveries: 1 failed for good, not retried (latest first):")
    assert lines[at + 1].endswith(f"UTC  lead {lead_id}  dm  user_not_found")
    assert "Dana Whitfield" not in checked.stdout
