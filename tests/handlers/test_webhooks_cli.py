"""`baton webhooks`, run as an operator runs it (a subprocess), beside the real delivery worker
sending to a receiver that verifies every request with the reference library."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.config import load_config
from handlers.services import Services
from handlers.webhook_delivery import WebhookWorker
from storage.db import Database
from tests.conftest import EXAMPLE_RULES
from tests.factories import create_lead
from tests.handlers.test_cli import baton
from tests.webhook_receiver import SECRET, WebhookReceiver, webhook_toml


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def env(tmp_path: Path, database_url: str, receiver: WebhookReceiver) -> dict[str, str]:
    rules = tmp_path / "baton.toml"
    rules.write_text(
        EXAMPLE_RULES.read_text(encoding="utf-8") + webhook_toml(receiver.url), encoding="utf-8"
    )
    return {"DATABASE_URL": database_url, "BATON_CONFIG": str(rules), "RECEIVER_SECRET": SECRET}


@pytest.fixture
def worker(env: dict[str, str]) -> Iterator[WebhookWorker]:
    """The delivery worker `baton serve` runs, driven one round at a time."""
    services = Services(config=load_config(env), db=Database.from_url(env["DATABASE_URL"]))
    worker = WebhookWorker(services, first_retry=0.01)
    yield worker
    worker.stop()
    services.db.dispose()


def new_lead(env: dict[str, str], external_id: str) -> int:
    db = Database.from_url(env["DATABASE_URL"])
    try:
        with db.write() as session:
            return create_lead(session, external_id=external_id, now=datetime.now(UTC)).id
    finally:
        db.dispose()


def run(*args: str, env: dict[str, str], tmp_path: Path) -> tuple[int, str, str]:
    result = baton("webhooks", *args, cwd=tmp_path, env=env)
    return result.returncode, result.stdout, result.stderr


def test_list_failed_replay_enable_and_test(
    tmp_path: Path, env: dict[str, str], receiver: WebhookReceiver, worker: WebhookWorker
) -> None:
    code, out, _ = run(env=env, tmp_path=tmp_path)
    assert code == 0
    assert out.startswith(f"crm  {receiver.url}  enabled  events: lead.*, sla.*  0 waiting")

    refused = receiver.answer(400)
    lead_id = new_lead(env, "cli-1")
    assert worker.deliver_due() == 1
    assert refused.hits == 1
    code, out, _ = run("failed", env=env, tmp_path=tmp_path)
    assert code == 0
    assert (
        "#1 " in out and f"crm  lead.created  lead {lead_id}  1 tries  HTTP 400: not retried" in out
    )

    code, out, _ = run("replay", "1", env=env, tmp_path=tmp_path)
    assert code == 0 and "queued again for crm" in out
    assert worker.deliver_due() == 1
    (replayed,) = receiver.received
    assert (replayed.type, replayed.webhook_id) == ("lead.created", receiver.refused[0].webhook_id)
    code, out, _ = run("failed", env=env, tmp_path=tmp_path)
    assert out == "no failed webhook deliveries\n"

    receiver.answer(410)
    new_lead(env, "cli-2")
    worker.deliver_due()
    code, out, _ = run("list", env=env, tmp_path=tmp_path)
    assert "DISABLED since" in out and "answered 410 Gone" in out and "1 failed" in out
    code, _, err = run("replay", "2", env=env, tmp_path=tmp_path)
    assert code == 1 and "`baton webhooks enable crm` first" in err
    assert run("enable", "crm", env=env, tmp_path=tmp_path)[:2] == (0, "crm: enabled\n")
    assert run("replay", "2", env=env, tmp_path=tmp_path)[0] == 0
    assert worker.deliver_due() == 1
    assert [event.type for event in receiver.received] == ["lead.created", "lead.created"]

    code, out, _ = run("test", "crm", env=env, tmp_path=tmp_path)
    assert code == 0 and "crm: delivered msg_" in out
    assert receiver.received[-1].type == "baton.test"
    receiver.answer(503)
    code, _, err = run("test", "crm", env=env, tmp_path=tmp_path)
    assert (code, err) == (1, "baton: crm: not delivered: HTTP 503\n")


def test_what_cannot_be_done_is_one_line_and_changes_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    for args, message in [
        (("replay", "99"), "baton: no failed delivery #99 (see `baton webhooks failed`)\n"),
        (("test", "nope"), "baton: no webhook endpoint named 'nope' is configured\n"),
        (("enable", "nope"), "baton: no webhook endpoint named 'nope' is configured\n"),
    ]:
        assert run(*args, env=env, tmp_path=tmp_path) == (1, "", message)
    assert run("failed", env=env, tmp_path=tmp_path)[1] == "no failed webhook deliveries\n"


def test_the_hubspot_write_back_is_listed_with_its_deliveries(
    tmp_path: Path, env: dict[str, str], receiver: WebhookReceiver
) -> None:
    hubspot = {**env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-test", "HUBSPOT_API_URL": "https://hs.test"}
    code, out, _ = run(env=hubspot, tmp_path=tmp_path)
    assert code == 0
    assert out.splitlines()[0] == (
        "hubspot  https://hs.test  HubSpot write-back  events: lead.accepted, lead.assigned, "
        "lead.rejected, lead.contacted  0 waiting, 0 failed"
    )
    assert out.splitlines()[1].startswith("crm  ")
    code, out, _ = run(env=env, tmp_path=tmp_path)
    assert "hubspot" not in out
