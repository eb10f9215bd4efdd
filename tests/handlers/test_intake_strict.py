"""Strict intake (`[intake] unknown_fields = "refuse"`): a field Baton does not know is a 422
naming it, and nothing is stored, for one lead and in a batch."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from storage import leads as lead_store
from tests.conftest import EXAMPLE_RULES
from tests.factories import lead_payload

AUTH = {"Authorization": "Bearer test-intake-token"}


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "baton.toml"
    example = EXAMPLE_RULES.read_text(encoding="utf-8")
    assert 'unknown_fields = "keep"' in example
    strict = example.replace('unknown_fields = "keep"', 'unknown_fields = "refuse"')
    rules.write_text(strict, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules)}


def test_strict_intake_refuses_an_unknown_field_and_stores_nothing(bot: BatonServer) -> None:
    single = httpx.post(
        f"{bot.url}/api/leads", json=lead_payload(extrnal_id="typo"), headers=AUTH, timeout=10
    )
    batch = httpx.post(
        f"{bot.url}/api/leads/batch",
        json={"leads": [lead_payload(external_id="hs-2", visits=3)]},
        headers=AUTH,
        timeout=10,
    )

    assert single.status_code == 422
    assert single.json()["fields"] == {"extrnal_id": "unknown field"}
    assert batch.json()["results"][0]["body"]["fields"] == {"visits": "unknown field"}
    with bot.services.db.read() as session:
        assert lead_store.list_leads(session) == []
