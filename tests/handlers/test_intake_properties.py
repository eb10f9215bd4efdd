"""Properties of the intake API over real HTTP, on SQLite and PostgreSQL: any body ends as a
stored lead that reads back the same, or as a 4xx with its reasons that stored nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import intake
from handlers.serve import BatonServer
from storage.models import Lead
from tests.intake_strategies import json_values, lead_shaped

JSON_HEADERS = {"Authorization": "Bearer test-intake-token", "Content-Type": "application/json"}
# One server serves every example of a test: the examples share it, as senders do.
OVER_ONE_SERVER = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def client(bot: BatonServer) -> httpx.Client:
    with httpx.Client(base_url=bot.url, timeout=30) as http:
        yield http


def lead_count(bot: BatonServer) -> int:
    with bot.services.db.read() as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


def deliver(client: httpx.Client, bot: BatonServer, body: bytes) -> None:
    before = lead_count(bot)
    response = client.post("/api/leads", content=body, headers=JSON_HEADERS)

    assert response.status_code in (200, 201, 400, 422), response.text
    answer = response.json()
    if response.status_code >= 400:
        assert answer["error"]
        if response.status_code == 422:
            assert answer["fields"]
        assert lead_count(bot) == before
        return
    assert lead_count(bot) == before + (response.status_code == 201)
    read = client.get(f"/api/leads/{answer['id']}", headers=JSON_HEADERS)
    assert read.status_code == 200
    # The data reads back as answered; its status may have moved on (the card got posted).
    assert {name: read.json()[name] for name in intake.FIELD_NAMES} == {
        name: answer[name] for name in intake.FIELD_NAMES
    }


def as_json(payload: Any) -> bytes:
    """Python's encoder: NaN and Infinity as bare words, lone surrogates as escapes."""
    return json.dumps(payload).encode()


@OVER_ONE_SERVER
@given(st.one_of(lead_shaped(), json_values).map(as_json))
def test_any_json_is_stored_and_read_back_or_refused_with_reasons(
    client: httpx.Client, bot: BatonServer, body: bytes
) -> None:
    deliver(client, bot, body)


@OVER_ONE_SERVER
@given(st.binary(max_size=300))
def test_any_bytes_are_refused_with_reasons_or_stored(
    client: httpx.Client, bot: BatonServer, body: bytes
) -> None:
    deliver(client, bot, body)
