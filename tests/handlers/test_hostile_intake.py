"""Hostile deliveries to the intake API, over real HTTP, on SQLite and PostgreSQL.

Each entry of the corpus is refused with its status and the fields at fault, stores nothing,
sends nothing to Slack (a lead sent after it is the only card that arrives), and leaves neither
the body nor the token in the server's log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from handlers.serve import BatonServer
from slack_emulator import SlackEmulator
from storage.db import Database
from storage.models import Lead, LeadEvent, SlackOutbox
from tests.e2e.conftest import cards, send_lead, wait_for_card
from tests.factories import lead_payload

TOKEN = "test-intake-token"
JSON_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
MARKER = "Dana Whitfield"  # the name in every lead body below; it must never reach the log
DEEP = "[" * 20_000 + "]" * 20_000


def lead_body(**overrides: Any) -> bytes:
    """The default lead as JSON bytes; lone surrogates come out as `\\ud800` escapes."""
    return json.dumps(lead_payload(**overrides)).encode()


def with_raw(name: str, raw: str) -> bytes:
    """The default lead with field `name` set to raw JSON text no encoder would write."""
    return lead_body(**{name: "RAW"}).replace(b'"RAW"', raw.encode())


@dataclass(frozen=True)
class Hostile:
    id: str
    body: bytes
    status: int
    fields: frozenset[str] = field(default_factory=frozenset)


def invalid(case_id: str, body: bytes, *fields: str) -> Hostile:
    return Hostile(case_id, body, 422, frozenset(fields))


CORPUS = [
    invalid(
        "lone-surrogate-in-an-activity",
        lead_body(activities=[{"type": "demo_request", "detail": "\ud800"}]),
        "activities.0.detail",
    ),
    invalid("lone-surrogate-in-name", lead_body(name=f"{MARKER} \udfff"), "name"),
    invalid("lone-surrogate-in-external-id", lead_body(external_id="hs-\ud83d"), "external_id"),
    invalid("nul-in-notes", lead_body(notes="before\x00after"), "notes"),
    invalid("5000-digit-score", with_raw("score", "9" * 5000), "score"),
    invalid("5000-digit-company-size", with_raw("company_size", "1" * 5000), "company_size"),
    invalid("5000-digit-decimal", with_raw("company_size", "1" * 5000 + ".5"), "company_size"),
    invalid("20000-deep-field", with_raw("notes", DEEP), "notes"),
    invalid("20000-deep-activity", with_raw("activities", f'[{{"detail": {DEEP}}}]'), "activities"),
    invalid("20000-deep-body", DEEP.encode(), "body"),
    invalid(
        "year-9999-at-minus-14",
        lead_body(activities=[{"type": "visit", "at": "9999-12-31T23:00:00-14:00"}]),
        "activities.0.at",
    ),
    invalid(
        "year-1-at-plus-14",
        lead_body(activities=[{"type": "visit", "at": "0001-01-01T00:00:00+14:00"}]),
        "activities.0.at",
    ),
    invalid("score-true", lead_body(score=True), "score"),
    invalid("score-minus-infinity", with_raw("score", "-Infinity"), "score"),
    invalid("score-1e999", with_raw("score", "1e999"), "score"),
    invalid("company-size-true", lead_body(company_size=True), "company_size"),
    invalid("company-size-nan", with_raw("company_size", "NaN"), "company_size"),
    invalid("company-size-infinity", with_raw("company_size", "Infinity"), "company_size"),
    invalid("crm-url-user-info", lead_body(crm_url="http://evil.example@crm.example/"), "crm_url"),
    invalid("null-body", b"null", "body"),
    Hostile("broken-json", lead_body()[:-20], 400),
    Hostile("not-utf-8", lead_body(name="Dana \udc80").replace(b"\\udc80", b"\xff"), 400),
    Hostile("utf-16", json.dumps(lead_payload()).encode("utf-16"), 400),
    Hostile("empty-body", b"", 400),
]


@pytest.fixture
def server_log(bot: BatonServer, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """Everything the running server logs, at INFO, uvicorn's error and access logs included
    (uvicorn's loggers do not propagate to the root logger, where caplog listens)."""
    caplog.set_level(logging.INFO)
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.INFO)
    yield caplog
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def stored(bot: BatonServer) -> dict[str, int]:
    """How many rows intake writes to: a lead, its event, its card in the outbox."""
    with bot.services.db.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Lead, LeadEvent, SlackOutbox)
        }


NOTHING = {"leads": 0, "lead_events": 0, "slack_outbox": 0}


def assert_only_a_later_lead_reaches_slack(bot: BatonServer, slack: SlackEmulator) -> None:
    """Send a good lead and wait for its card: were anything else on its way, it would be
    there by then (the outbox delivers in order)."""
    canary = send_lead(bot, external_id="canary", name="Canary Lead")
    wait_for_card(slack, canary["id"])
    assert set(cards(slack)) == {canary["id"]}
    assert len(slack.calls("chat.postMessage")) == 1


def assert_log_clean(log: pytest.LogCaptureFixture) -> None:
    assert TOKEN not in log.text
    assert MARKER not in log.text
    assert "Traceback" not in log.text


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_hostile_delivery_is_refused_and_leaves_no_trace(
    bot: BatonServer, slack: SlackEmulator, server_log: pytest.LogCaptureFixture, case: Hostile
) -> None:
    response = httpx.post(
        f"{bot.url}/api/leads", content=case.body, headers=JSON_HEADERS, timeout=30
    )

    assert response.status_code == case.status, response.text
    problem = response.json()
    assert problem["error"]
    if case.status == 422:
        assert set(problem["fields"]) == case.fields
    assert stored(bot) == NOTHING
    assert_only_a_later_lead_reaches_slack(bot, slack)
    assert f'"POST /api/leads HTTP/1.1" {case.status}' in server_log.text  # the log is seen
    assert_log_clean(server_log)


@contextmanager
def write_lock_held(holder: Database) -> Iterator[None]:
    """`holder` holds what intake must write: SQLite's one write lock; on PostgreSQL the outbox
    table, written last, so the lead and its event are inserted before intake waits, and must
    be rolled back."""
    with holder.write() as session:
        if holder.dialect == "postgresql":
            session.execute(text("LOCK TABLE slack_outbox IN SHARE MODE"))
        else:
            session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is taken
        yield


@contextmanager
def other_connection(bot: BatonServer, holder: str) -> Iterator[Database]:
    """Another process's connection, or one more of the server's own (its other writers)."""
    if holder == "this process":
        yield bot.services.db
        return
    other = Database.from_url(bot.services.config.settings.database_url)
    try:
        yield other
    finally:
        other.dispose()


@pytest.mark.parametrize("holder", ["another process", "this process"])
def test_locked_database_answers_503_with_retry_after_and_keeps_nothing(
    bot: BatonServer, slack: SlackEmulator, server_log: pytest.LogCaptureFixture, holder: str
) -> None:
    url = f"{bot.url}/api/leads"
    with other_connection(bot, holder) as connection, write_lock_held(connection):
        refused = httpx.post(url, content=lead_body(), headers=JSON_HEADERS, timeout=60)

        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
        assert "retry" in refused.json()["error"]
    assert stored(bot) == NOTHING

    retried = httpx.post(url, content=lead_body(), headers=JSON_HEADERS, timeout=60)
    assert retried.status_code == 201
    wait_for_card(slack, retried.json()["id"])
    assert len(slack.calls("chat.postMessage")) == 1
    assert "intake: database unavailable" in server_log.text
    assert TOKEN not in server_log.text
    assert MARKER not in server_log.text
