"""The answer to a new lead, single or in a batch, is the lead as stored to the last field:
intake builds it from what it wrote rather than reading it back (storage.leads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES
from tests.factories import lead_payload

AUTH = {"Authorization": "Bearer test-intake-token"}


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules (unknown fields kept) with the test scoring model."""
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + MODEL_TOML, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules)}


def test_each_new_lead_is_answered_as_it_is_then_read(
    start_bot: Callable[..., BatonServer],
) -> None:
    """Moments in UTC whatever offset they came with, the score and its reasons, kept unknown
    fields, defaults, an MQL's status. No delivery: a posted card would change the lead."""
    bot = start_bot(delivery="off")
    leads = [
        lead_payload(external_id="same-1", favourite_colour="teal", visits=3.5),
        lead_payload(
            external_id="same-2",
            name="Zoë Ångström 山田",
            activities=[
                {"type": "pricing_page", "at": "2026-11-24T09:30:00.123456+05:30"},
                {"type": "pricing_page"},
                {"type": "pricing_page"},
                {"type": "webinar", "detail": "Stayed to the end"},
            ],
        ),
        lead_payload(external_id="same-3", title="Intern", activities=[], notes=None),
    ]
    with httpx.Client(base_url=bot.url, timeout=30) as client:
        batch = client.post("/api/leads/batch", json={"leads": leads[:2]}, headers=AUTH)
        single = client.post("/api/leads", json=leads[2], headers=AUTH)
        answers = [result["body"] for result in batch.json()["results"]] + [single.json()]
        read = [client.get(f"/api/leads/{answer['id']}", headers=AUTH).json() for answer in answers]

    assert [result["status"] for result in batch.json()["results"]] == [201, 201]
    assert single.status_code == 201
    assert answers == read
    assert read[0]["extra"] == {"favourite_colour": "teal", "visits": 3.5}
    assert read[1]["activities"][0]["at"] == "2026-11-24T04:00:00.123456+00:00"
    assert [lead["score_explanation"]["verdict"] for lead in read] == ["sql", "sql", "unqualified"]
    assert [lead["status"] for lead in read] == ["new", "new", "mql"]  # the intern is kept back
