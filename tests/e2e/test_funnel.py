"""`/leads funnel` through the real server: leads sent to the API with the team's scoring
model, an MQL promoted by new activities, a lead claimed and marked contacted by signed clicks,
its deal reported by the CRM; the funnel read by a marketer and a manager (late, through
response_url), by source and by cohort, beside App Home, the digest and both exports, which
all give the same numbers; bad input is one line and a rep is refused.

The bot's clock starts on Tuesday 24 November 2026, 10:00 in New York:

| lead | source  | what happens                                                         |
|------|---------|----------------------------------------------------------------------|
| f-1  | webinar | an SQL (demo request); accepted at 10:10, contacted at 10:30; an     |
|      |         | opportunity a day and 2 h later (12:30 next day), won 3 days after   |
| f-2  | ads     | an MQL (48), promoted by activities at 12:30: 2 h 30 min as an MQL   |
| f-3  | ads     | an MQL, still                                                        |
| f-4  | (none)  | an SQL, never claimed                                                |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.funnel import FUNNEL_COLUMNS
from handlers.digest_job import send_digest_now
from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, MARKETER, MARKETING_CHANNEL, REP_1, SALES_CHANNEL, SlackEmulator
from tests.bot.test_scoring import MODEL_TOML
from tests.conftest import EXAMPLE_RULES, NOW
from tests.e2e.conftest import (
    SETTLE_SECONDS,
    card_text,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_home_and_digest import open_home
from tests.e2e.test_mqls import FIRST_VISIT, add_activities
from tests.e2e.test_outcomes import post_outcome
from tests.e2e.test_sla_flow import Clock
from tests.e2e.test_slow_answers import ask_late

MQL = {"score": 12, "intent": None, "activities": FIRST_VISIT, "source": "ads", "campaign": None}
EVERYONE = (
    "MQL *4* → SQL *3* (75%) → accepted *1* (33%) → contacted *1* (100%) → "
    "opportunity *1* (100%) → won *1* (100%) · *25%* of MQLs won\n"
    "Median time per step: to SQL 2 h 30 min · to accepted 10 min · to contacted 20 min · "
    "to opportunity 26 h 00 min · to won 3.0 days"
)


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules with the test scoring model."""
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + MODEL_TOML, encoding="utf-8")
    return {**config_env, "BATON_CONFIG": str(rules)}


@pytest.fixture
def funnel_bot(start_bot: Callable[..., BatonServer], slack: SlackEmulator) -> BatonServer:
    """A bot answering every command late, its clock moved through the table above."""
    clock = Clock(NOW)
    bot = start_bot(clock=clock, answer_within=0)
    as_ = partial(slack_user, slack, bot)
    won = send_lead(bot, external_id="f-1")
    assert send_lead(bot, external_id="f-2", **MQL)["status"] == "mql"
    assert send_lead(bot, external_id="f-3", **MQL)["status"] == "mql"
    send_lead(bot, external_id="f-4", source=None, campaign=None)
    card = wait_for_card(slack, won["id"], lambda c: "Claim by" in card_text(c))
    clock.advance(minutes=10)
    as_(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    settled(bot)
    clock.advance(minutes=20)
    home = open_home(slack, as_, REP_1)
    as_(REP_1).click_in_view(home["id"], "lead.contacted", value=str(won["id"]))
    settled(bot)
    clock.advance(hours=2)
    visits = [
        {"type": "pricing_page", "detail": "Pricing again"},
        {"type": "pricing_page", "detail": "And again"},
        {"type": "webinar", "detail": "Scaling ops"},
    ]
    assert add_activities(bot, "f-2", {"activities": visits}).json()["status"] == "new"
    clock.advance(days=1)
    assert post_outcome(bot, "external/f-1/outcome", {"stage": "opportunity"}).status_code == 200
    clock.advance(days=3)
    assert post_outcome(bot, "external/f-1/outcome", {"stage": "won"}).status_code == 200
    settled(bot)
    return bot


def files(slack: SlackEmulator, who: str, ending: str) -> list[dict[str, Any]]:
    """The files sent to `who`'s DMs whose name ends so."""
    sent = [file for message in slack.dms(who) for file in message.get("files", [])]
    return [file for file in sent if file["name"].endswith(ending)]


def test_the_funnel_agrees_in_slack_app_home_the_digest_and_both_exports(
    funnel_bot: BatonServer, slack: SlackEmulator
) -> None:
    user: Callable[[str], SlackUser] = partial(slack_user, slack, funnel_bot)
    funnel = ask_late(user, slack, MARKETER, "funnel 7d")
    assert "*Funnel to revenue, last 7 days*\n" + EVERYONE in funnel
    assert "The chart follows in your DMs." in funnel
    (chart,) = slack.wait_for(lambda: files(slack, MARKETER, ".png"), timeout=SETTLE_SECONDS)
    assert chart["name"].startswith("baton-funnel-")
    comments = [message.get("text", "") for message in slack.dms(MARKETER)]
    assert any(
        c.startswith("Funnel to revenue, last 7 days, by source: each bar") for c in comments
    )
    assert slack.file_content(chart["id"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "to accepted and to contacted: as `/leads stats` counts them (by SLA policy)" in funnel

    by_source = ask_late(user, slack, MANAGER, "funnel 7d by source")
    assert "*Funnel to revenue, last 7 days, by source*" in by_source
    assert "*webinar*: MQL *1* → SQL *1* (100%) → accepted *1* (100%)" in by_source
    assert "*ads*: MQL *2* → SQL *1* (50%) → accepted *0* (0%)" in by_source
    assert "*(none)*: MQL *1* → SQL *1* (100%) → accepted *0* (0%)" in by_source
    # Its chart is drawn from the answer's counts, under the answer's title.
    (drawn,) = slack.wait_for(lambda: files(slack, MANAGER, ".png"), timeout=SETTLE_SECONDS)
    assert slack.file_content(drawn["id"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert any(
        message.get("text", "").startswith("Funnel to revenue, last 7 days, by source: each bar")
        for message in slack.dms(MANAGER)
    )
    cohort = ask_late(user, slack, MARKETER, "funnel 30d by cohort")
    assert "*2026-11*: " + EVERYONE.split("\n")[0] in cohort

    # The same numbers on the App Home of a marketer and a manager, and in the digest.
    for who in (MARKETER, MANAGER):
        assert "*Funnel to revenue, last 30 days*\n" + EVERYONE in card_text(
            open_home(slack, user, who)
        )
    assert send_digest_now(funnel_bot.services)
    settled(funnel_bot)
    digest, _chart = slack.messages(MARKETING_CHANNEL)
    assert "*Funnel to revenue, last 7 days*\n" + EVERYONE in card_text(digest)

    # Both exports hold them too: everyone, then each source, campaign, segment and month.
    ask_late(user, slack, MARKETER, "funnel 7d json")
    assert "funnel for last 30 days is on its way to your DMs as a CSV" in ask_late(
        user, slack, MARKETER, "funnel 30d csv"
    )
    sent = slack.wait_for(
        lambda: files(slack, MARKETER, ".json") and files(slack, MARKETER, ".csv"),
        timeout=SETTLE_SECONDS,
    )
    assert sent
    by_name = {kind: files(slack, MARKETER, f".{kind}")[0] for kind in ("json", "csv")}
    assert by_name["json"]["name"].startswith("baton-funnel-")
    rows = json.loads(slack.file_content(by_name["json"]["id"]))
    assert rows[0] == {
        "grouped_by": "all",
        "group": "",
        "mql": 4,
        "sql": 3,
        "accepted": 1,
        "contacted": 1,
        "opportunity": 1,
        "won": 1,
        "rate_to_sql": 0.75,
        "rate_to_accepted": 0.3333,
        "rate_to_contacted": 1.0,
        "rate_to_opportunity": 1.0,
        "rate_to_won": 1.0,
        "overall_rate": 0.25,
        "median_minutes_to_sql": 150.0,
        "median_minutes_to_accepted": 10.0,
        "median_minutes_to_contacted": 20.0,
        "median_minutes_to_opportunity": 1560.0,
        "median_minutes_to_won": 4320.0,
    }
    assert [(row["grouped_by"], row["group"], row["mql"]) for row in rows[1:]] == [
        ("source", "ads", 2),
        ("source", "webinar", 1),
        ("source", "(none)", 1),
        ("campaign", "(none)", 3),
        ("campaign", "Q4 Ops Webinar", 1),
        ("segment", "(none)", 4),
        ("cohort", "2026-11", 4),
    ]
    csv_lines = slack.file_content(by_name["csv"]["id"]).decode().splitlines()
    assert csv_lines[0] == ",".join(FUNNEL_COLUMNS)
    assert csv_lines[1].startswith("all,,4,3,1,1,1,1,0.75,0.3333,1.0,1.0,1.0,0.25,150.0,10.0,")


def test_bad_input_is_one_line_that_changes_nothing_and_a_rep_is_refused(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    bot = start_bot(answer_within=0)  # what reaches the domain answers late, however busy
    user: Callable[[str], SlackUser] = partial(slack_user, slack, bot)
    usage = "Type `/leads funnel [period] [by source|campaign|segment|cohort] [csv|json]`"
    for typed, said in [
        ("funnel 7d by region csv", "`by` takes source, campaign, segment or cohort, not `region`"),
        ("funnel by", "`by` takes source, campaign, segment or cohort."),
        ("funnel fortnight json", "`fortnight` is not a period such as `7d`"),
        ("funnel 7d by source extra", "`/leads funnel` does not take `extra`"),
    ]:
        answer = user(MARKETER).slash_command("/leads", typed).json()["text"]  # in the ack
        assert said in answer and usage in answer and "\n" not in answer, answer
    empty = ask_late(user, slack, MARKETER, "funnel 7d by source")
    assert "No lead entered in this period." in empty and "chart" not in empty  # none of nothing
    refused = ask_late(user, slack, REP_1, "funnel 7d csv")
    assert "`/leads funnel` is only for managers and marketers" in refused
    settled(bot)
    assert not [m for m in slack.dms(MARKETER) + slack.dms(REP_1) if m.get("files")]
