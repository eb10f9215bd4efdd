"""`/leads tune` through signed slash commands and the Slack emulator: leads scored by the
team's model, decided by reps on their cards, then the tuning report for a marketer, answered
late through response_url as a slow report is; a rep is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.tuning import TUNING_COLUMNS
from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MARKETER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import card_text, send_lead, settled, slack_user, wait_for_card
from tests.e2e.test_slow_answers import ask_late


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules with the test scoring model and an acceptance target."""
    model = MODEL_TOML.replace("[scoring]\n", "[scoring]\ntarget_acceptance = 0.5\n", 1)
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + model, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules)}


@pytest.fixture
def late(start_bot: Callable[..., BatonServer], slack: SlackEmulator) -> Any:
    """Users of a bot that answers every command through response_url; an intern's lead (the
    student rule: 0 points, under 40) rejected as no_authority, a VP's (decision maker and
    mid-market: 40) accepted. Both are demo requests: SQLs by the fast lane."""
    bot = start_bot(answer_within=0)
    user: Callable[[str], SlackUser] = lambda who: slack_user(slack, bot, who)  # noqa: E731
    intern = send_lead(bot, external_id="tune-intern", title="Marketing Intern")
    vp = send_lead(bot, external_id="tune-vp")
    assert (intern["score"], vp["score"]) == (0, 40)
    claim = lambda c: "Claim by" in card_text(c)  # noqa: E731
    user(REP_1).click(SALES_CHANNEL, wait_for_card(slack, vp["id"], claim)["ts"], "lead.accept")
    intern_card = wait_for_card(slack, intern["id"], claim)
    user(REP_2).click(SALES_CHANNEL, intern_card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_2).submit_view(modal["id"], {"reason": {"reason_select": "no_authority"}})
    settled(bot)
    return user


def test_a_marketer_reads_acceptance_by_band_rule_and_source_and_a_rep_is_refused(
    late: Callable[[str], SlackUser], slack: SlackEmulator
) -> None:
    tune = ask_late(late, slack, MARKETER, "tune 7d")
    assert "Tuning the score from sales' answers: last 7 days" in tune
    assert "2 handed off, 2 decided: 50% accepted" in tune
    for line in (
        "• under 40: 1 · 0% ·",
        "• 40–59: 1 · 100% ·",
        "• fit: student: 1 · 0% ·",
        "• fit: decision maker: 1 · 100% ·",
        "• fit: mid-market: 2 · 50% ·",
        "• webinar: 2 · 50% ·",
    ):
        assert line in tune
    assert "None (a rule is judged from 20 decided leads)" in tune  # two leads judge nothing
    assert "no score reaches 50% acceptance among at least 20 decided leads" in tune

    assert "managers and marketers" in ask_late(late, slack, REP_1, "tune")


def test_the_tuning_export_arrives_in_the_askers_dms(
    late: Callable[[str], SlackUser], slack: SlackEmulator
) -> None:
    assert "score tuning for last 30 days is on its way" in ask_late(
        late, slack, MARKETER, "tune 30d csv"
    )
    # The file is built and uploaded by delivery after the answer: patient on a loaded machine.
    (message,) = slack.wait_for(
        lambda: [m for m in slack.dms(MARKETER) if m.get("files")], timeout=30
    )
    (file,) = message["files"]
    assert file["name"].startswith("baton-tuning-") and file["name"].endswith(".csv")
    lines = slack.file_content(file["id"]).decode().splitlines()
    assert lines[0] == ",".join(TUNING_COLUMNS)
    assert "rule,fit: student,1,1,0,1,0.0," in "\n".join(lines)
    assert "no_authority 1" in "\n".join(lines)
