"""The scoring model: known answers for fit, engagement, decay, thresholds, criteria and fast
lanes, and the properties every model keeps whatever the lead (caps hold, older activity never
counts more, a fast lane always makes an SQL, no model leaves the sender's score)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.intake import FIELD_NAMES
from bot.rules import rules_from_toml
from bot.score_explanation import Part, Score, Verdict, breakdown, why_line
from bot.scoring import SCORED_FIELDS, EngagementRule, ScoringModel, first_number, scored_fields

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

MODEL_TOML = """
[scoring]
mql = 40
sql = 70
required = ["need", "timeline"]
half_life_days = 10

[[scoring.fit]]
name = "decision maker"
field = "title"
contains = ["VP", "Director", "Chief"]
points = 25

[[scoring.fit]]
name = "mid-market"
field = "company_size"
at_least = 200
below = 5000
points = 15

[[scoring.fit]]
name = "student"
field = "title"
contains = ["intern", "student"]
points = -30

[[scoring.engagement]]
name = "pricing page"
activity = "pricing_page"
points = 8
cap = 20

[[scoring.engagement]]
name = "webinar"
activity = ["webinar", "webinar_attended"]
points = 10
half_life_days = 30

[[scoring.fast_lanes]]
name = "demo request"
activity = "demo_request"

[[scoring.fast_lanes]]
when = { field = "intent", equals = "contact_sales" }
"""
MODEL = rules_from_toml(MODEL_TOML, source="baton.toml").scoring
assert MODEL is not None


def activity(kind: str, days_ago: int | None = 0) -> dict[str, Any]:
    at = None if days_ago is None else (NOW - timedelta(days=days_ago)).isoformat()
    return {"type": kind, "detail": None, "at": at}


def score(**fields: Any) -> Score:
    assert MODEL is not None
    return MODEL.score(fields, now=NOW)


def points(result: Score) -> dict[str, int]:
    return {c.label: c.points for c in result.contributions}


def test_fit_rules_add_what_holds_ignoring_case() -> None:
    result = score(title="vp of Sales", company_size="201-500")

    assert points(result) == {"decision maker": 25, "mid-market": 15}
    assert result.total == 40 and result.verdict == Verdict.MQL


def test_a_size_outside_the_bounds_or_without_a_number_scores_nothing() -> None:
    assert points(score(company_size="5,000+")) == {}
    assert points(score(company_size="unknown")) == {}
    assert first_number("1,000+") == 1000 and first_number("50-199") == 50


def test_engagement_counts_each_activity_up_to_the_cap() -> None:
    result = score(activities=[activity("pricing_page")] * 2)
    assert points(result) == {"pricing page": 16}
    capped = score(activities=[activity("PRICING_PAGE")] * 5)
    (contribution,) = capped.contributions
    assert (contribution.points, contribution.count, contribution.capped) == (20, 5, True)


def test_engagement_halves_every_half_life_in_whole_days() -> None:
    assert points(score(activities=[activity("pricing_page", 10)])) == {"pricing page": 4}
    assert points(score(activities=[activity("pricing_page", 20)])) == {"pricing page": 2}
    # Less than a day old counts whole; the rule's own half-life beats the model's.
    assert points(score(activities=[activity("webinar", 0)])) == {"webinar": 10}
    assert points(score(activities=[activity("webinar", 30)])) == {"webinar": 5}


def test_an_activity_without_a_time_or_from_the_future_counts_as_new() -> None:
    undated = score(activities=[activity("pricing_page", None)])
    future = score(activities=[activity("pricing_page", -3)])
    assert points(undated) == points(future) == {"pricing page": 8}


def test_an_sql_needs_the_threshold_and_the_required_fields() -> None:
    strong = {
        "title": "Chief Revenue Officer",
        "company_size": "800",
        "activities": [activity("pricing_page")] * 3 + [activity("webinar")],
    }
    missing = score(**strong, need="a CRM")
    assert missing.total == 70 and missing.verdict == Verdict.MQL
    assert [(c.field, c.met) for c in missing.criteria] == [("need", True), ("timeline", False)]
    assert "needs timeline known" in why_line(missing)

    complete = score(**strong, need="a CRM", timeline="Q1")
    assert complete.verdict == Verdict.SQL


def test_a_fast_lane_makes_an_sql_whatever_the_score() -> None:
    demo = score(title="Student", activities=[activity("demo_request", 400)])
    assert demo.total == 0 and demo.verdict == Verdict.SQL and demo.fast_lane == "demo request"
    by_intent = score(intent="Contact_Sales")
    assert by_intent.fast_lane == "intent is contact_sales"
    assert by_intent.verdict == Verdict.SQL


def test_the_total_stays_between_0_and_100() -> None:
    assert score(title="Student intern").total == 0
    assert points(score(title="Student intern")) == {"student": -30}


def test_the_explanation_names_each_part_and_the_senders_score() -> None:
    result = score(title="VP Sales", score=55, activities=[activity("pricing_page")] * 3)
    assert breakdown(result) == [
        "Score 45 of 100: MQL (SQL from 70)",
        "Thresholds: MQL from 40, SQL from 70",
        "Fit +25",
        "  decision maker +25",
        "Engagement +20",
        "  pricing page 3× +20 (capped)",
        "Required: need ✗, timeline ✗",
        "Sender's score: 55 (the model's total replaces it)",
    ]
    assert why_line(result) == (
        "MQL (SQL from 70): decision maker +25, pricing page 3× +20 (capped) · need ✗ timeline ✗"
    )


def test_rules_test_only_fields_a_lead_has() -> None:
    assert set(SCORED_FIELDS) <= set(FIELD_NAMES)


def test_a_stored_explanation_that_cannot_be_read_is_none() -> None:
    assert Score.from_json(None) is None
    assert Score.from_json({"total": "many"}) is None
    assert Score.from_json({"total": 1, "verdict": "hot", "mql": 1, "sql": 2}) is None


# --------------------------------------------------------------------------- properties

KINDS = ("pricing_page", "webinar", "demo_request", "newsletter")
activities = st.lists(
    st.builds(activity, st.sampled_from(KINDS), st.none() | st.integers(-5, 3000)), max_size=30
)
text = st.none() | st.sampled_from(["VP Sales", "intern", "250", "1,200", "", "  ", "Q1", "x"])
leads = st.fixed_dictionaries(
    {
        "title": text,
        "company_size": text,
        "need": text,
        "timeline": text,
        "intent": st.none() | st.sampled_from(["contact_sales", "pricing"]),
        "score": st.none() | st.integers(0, 100),
        "activities": activities,
    }
)


@given(leads)
def test_any_lead_gets_a_total_within_bounds_that_round_trips(lead: dict[str, Any]) -> None:
    result = score(**lead)
    assert result.total == min(100, max(0, sum(c.points for c in result.contributions)))
    assert Score.from_json(result.to_json()) == result
    assert result.sender_score == lead["score"]


@given(leads)
def test_without_a_model_the_senders_score_stands(lead: dict[str, Any]) -> None:
    assert scored_fields(None, lead, now=NOW) == lead
    assert MODEL is not None
    stored = scored_fields(MODEL, lead, now=NOW)
    assert stored["score"] == stored["score_explanation"]["total"]
    assert stored["score_explanation"]["sender_score"] == lead["score"]


@given(leads)
def test_caps_hold(lead: dict[str, Any]) -> None:
    assert MODEL is not None
    caps = {rule.label: rule.cap for rule in MODEL.engagement}
    for contribution in score(**lead).contributions:
        cap = caps.get(contribution.label) if contribution.part == Part.ENGAGEMENT else None
        assert cap is None or abs(contribution.points) <= cap


@given(
    st.integers(-100, 100).filter(bool),
    st.none() | st.floats(0.5, 400),
    st.integers(0, 5000),
    st.integers(0, 5000),
)
def test_older_activity_never_counts_more(
    each: int, half_life: float | None, younger: int, older_by: int
) -> None:
    model = ScoringModel(
        mql=10,
        sql=50,
        half_life_days=half_life,
        engagement=[EngagementRule(activity=["visit"], points=each)],
    )

    def worth(days: int) -> int:
        (contribution,) = model.score(
            {"activities": [activity("visit", days)]}, now=NOW
        ).contributions
        return contribution.points

    assert abs(worth(younger + older_by)) <= abs(worth(younger))


@given(leads, st.integers(0, 3000))
def test_a_fast_lane_wins_over_score_and_criteria(lead: dict[str, Any], age: int) -> None:
    lead["activities"] = [*lead["activities"], activity("demo_request", age)]
    result = score(**lead)
    assert result.verdict == Verdict.SQL and result.fast_lane == "demo request"


@given(leads)
def test_without_a_fast_lane_an_sql_meets_threshold_and_criteria(lead: dict[str, Any]) -> None:
    lead["intent"] = None
    lead["activities"] = [a for a in lead["activities"] if a["type"] != "demo_request"]
    result = score(**lead)
    met = all(c.met for c in result.criteria)
    assert (result.verdict == Verdict.SQL) == (result.total >= 70 and met)
    assert (result.verdict == Verdict.UNQUALIFIED) == (result.total < 40)


def test_the_worked_example_in_the_docs_holds() -> None:
    """docs/scoring.md's model, lead and `baton score` output agree with the code."""
    page = (Path(__file__).parents[2] / "docs" / "scoring.md").read_text(encoding="utf-8")
    model = rules_from_toml(re.findall(r"```toml\n(.*?)```", page, re.DOTALL)[0], source="docs")
    (console,) = re.findall(r"```console\n\$ baton score lead.json\n(.*?)```", page, re.DOTALL)
    assert model.scoring is not None
    lead = {
        "title": "VP Operations",
        "company_size": "201-500",
        "need": "Route planning",
        "score": 55,
        "activities": [
            activity("pricing_page"),
            activity("pricing_page", 10),
            activity("webinar", 30),
        ],
    }

    assert breakdown(model.scoring.score(lead, now=NOW)) == console.splitlines()
