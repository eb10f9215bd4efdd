"""A promoted MQL is routed like any new SQL: with a route in `assign` mode, new activities that
make an MQL an SQL give it to the pool's next rep, and its card is posted claimed, as intake
does for a lead that is an SQL from the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.serve import BatonServer
from slack_emulator import REP_1, REP_2, SlackEmulator
from storage import leads as lead_store
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import card_text, send_lead, settled, wait_for_card
from tests.e2e.test_mqls import FIRST_VISIT, MQL, actions, add_activities
from tests.e2e.test_routing import ASSIGNING_ROUTE


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules with the test scoring model, every lead routed through one pool."""
    path = tmp_path / "baton.toml"
    path.write_text(EXAMPLE_RULES.read_text() + MODEL_TOML + ASSIGNING_ROUTE, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(path)}


def owner(bot: BatonServer, lead_id: int) -> str | None:
    with bot.services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        assert lead is not None
        return lead.owner_id


def test_a_promoted_mql_is_assigned_and_posted_as_intake_does_a_new_sql(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    sql = send_lead(bot, external_id="sql-1", activities=[{"type": "demo_request"}])
    mql = send_lead(bot, **MQL, activities=FIRST_VISIT)
    assert mql["status"] == "mql"

    promoted = add_activities(bot, "mql-1", {"activities": [{"type": "demo_request"}]})

    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["status"] == "accepted"
    for lead_id, rep in ((sql["id"], REP_1), (mql["id"], REP_2)):
        wait_for_card(
            slack, lead_id, lambda card, rep=rep: f"Claimed by <@{rep}>" in card_text(card)
        )
        assert owner(bot, lead_id) == rep
    settled(bot)
    handed_off = actions(bot, sql["id"])[1:]  # after its create
    assert actions(bot, mql["id"]) == ["create", "update", "promote", *handed_off]
