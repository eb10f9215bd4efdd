"""Why a lead is an SQL, as the card and the Details modal tell it when the team's scoring model
gave the score: the total and verdict with the largest contributions on the card's why line,
every rule and criterion in Details; a lead scored by its sender looks as before."""

from __future__ import annotations

import json
from typing import Any

from bot.cards import detail_blocks
from bot.score_explanation import Contribution, Criterion, Part, Score, Verdict, why_line
from storage.models import Lead
from tests.bot.test_cards import block, card, details, make_lead, texts

EXPLAINED = Score(
    total=82,
    verdict=Verdict.SQL,
    mql=40,
    sql=70,
    contributions=(
        Contribution(Part.FIT, "decision maker", 25),
        Contribution(Part.FIT, "mid-market", 15),
        Contribution(Part.FIT, "free email <b>&co", -10),
        Contribution(Part.ENGAGEMENT, "pricing page", 24, count=4, capped=True),
        Contribution(Part.ENGAGEMENT, "webinar", 28, count=3),
    ),
    criteria=(Criterion("need", True), Criterion("timeline", True)),
    sender_score=55,
)


def scored_lead(**overrides: Any) -> Lead:
    return make_lead(score=EXPLAINED.total, score_explanation=EXPLAINED.to_json(), **overrides)


def test_the_why_line_gives_the_verdict_largest_contributions_and_criteria() -> None:
    message = card(scored_lead())

    assert [b.get("block_id") for b in message.blocks] == ["who", "why", "state", "buttons"]
    assert block(message, "why") == (
        "Score *82* · SQL (from 70): webinar 3× +28, decision maker +25 · need ✓ timeline ✓"
        " · Intent *demo_request* · 📈 Asked for a demo"
    )


def test_a_fast_lane_and_missing_criteria_are_said_on_the_card() -> None:
    lane = Score(total=12, verdict=Verdict.SQL, mql=40, sql=70, fast_lane="demo request")
    assert "Score *12* · SQL by fast lane demo request · " in block(
        card(make_lead(score=12, score_explanation=lane.to_json())), "why"
    )
    short = Score(
        total=75, verdict=Verdict.MQL, mql=40, sql=70, criteria=(Criterion("timeline", False),)
    )
    assert "MQL (needs timeline known for an SQL) · timeline ✗" in block(
        card(make_lead(score=75, score_explanation=short.to_json())), "why"
    )


def test_details_show_every_rule_and_criterion() -> None:
    sections = [
        text["text"]
        for text in texts(details(scored_lead())["blocks"])
        if "Why this score" in text["text"]
    ]

    assert sections == [
        "\n".join(
            [
                "*Why this score*",
                "Score 82 of 100: SQL (from 70)",
                "Thresholds: MQL from 40, SQL from 70",
                "Fit +30",
                "• decision maker +25",
                "• mid-market +15",
                "• free email &lt;b&gt;&amp;co -10",  # rule names are escaped like lead data
                "Engagement +52",
                "• pricing page 4× +24 (capped)",
                "• webinar 3× +28",
                "Required: need ✓, timeline ✓",
                "Sender's score: 55 (the model's total replaces it)",
            ]
        )
    ]


def test_a_lead_scored_by_its_sender_has_no_reasons_to_show() -> None:
    lead = make_lead()
    assert block(card(lead), "why") == "Score *82* · Intent *demo_request* · 📈 Asked for a demo"
    assert "Why this score" not in json.dumps([b.to_dict() for b in detail_blocks(lead)])


def test_reasons_that_cannot_be_read_leave_the_card_as_the_sender_scored_it() -> None:
    lead = make_lead(score_explanation={"total": "lots"})
    assert block(card(lead), "why") == "Score *82* · Intent *demo_request* · 📈 Asked for a demo"
    assert "Why this score" not in json.dumps([b.to_dict() for b in detail_blocks(lead)])


def test_the_why_line_leads_with_one_contribution_of_each_part() -> None:
    fit_heavy = Score(
        total=60,
        verdict=Verdict.MQL,
        mql=40,
        sql=70,
        contributions=(
            Contribution(Part.FIT, "decision maker", 25),
            Contribution(Part.FIT, "mid-market", 15),
            Contribution(Part.FIT, "software", 10),
            Contribution(Part.ENGAGEMENT, "ebook", 0, count=1),  # decayed to nothing
            Contribution(Part.ENGAGEMENT, "newsletter", 5),
            Contribution(Part.ENGAGEMENT, "unsubscribed", -8),
        ),
    )
    assert why_line(fit_heavy) == "MQL (SQL from 70): decision maker +25, unsubscribed 1× -8"
