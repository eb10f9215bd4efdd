"""The tuning report, grouped and ranked in the database, is the report counted lead by lead as
its definitions say (bot.tuning's docstring): random leads, explanations, rejections and times
to claim (ties, minute edges), both databases."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from bot.periods import Period
from bot.reports import nearest_rank
from bot.scoring import ScoringModel
from bot.tuning import (
    Tally,
    TuningReport,
    band_of,
    decision_of,
    source_of,
    threshold_for,
    tuning_report,
)
from storage import tuning_rollups
from storage.db import Database
from storage.models import LeadStatus, Rejection
from tests.factories import create_lead

# Three weeks from a Monday morning: whole days and whole weeks (counted by the rollups) with
# parts of a day and of a week (counted from the leads) at either end.
START = datetime(2026, 11, 2, 5, tzinfo=UTC)
END = START + timedelta(days=21)
MINUTE = 60_000_000
MODEL = ScoringModel.model_validate(
    {
        "mql": 40,
        "sql": 70,
        "target_acceptance": 0.5,
        "fit": [{"name": "decision maker", "field": "title", "contains": "VP", "points": 25}],
    }
)
POSTED = st.one_of(
    st.none(),
    st.sampled_from((START, END, START - timedelta(microseconds=1))),
    st.integers(min_value=0, max_value=20).map(lambda day: START + timedelta(days=day, hours=3)),
)
CONTRIBUTION = st.fixed_dictionaries(
    {
        "part": st.sampled_from(("fit", "engagement")),
        "label": st.sampled_from(("decision maker", "pricing page", "webinar")),
        "points": st.sampled_from((25, -30, 0, 2.5, 0.0)),
    }
)
EXPLANATION = st.one_of(
    st.none(),
    st.just({"contributions": "none"}),
    st.builds(
        lambda items: {"total": 50, "contributions": items}, st.lists(CONTRIBUTION, max_size=3)
    ),
)
# Few values, on and around minute edges: ties and buckets of one are common.
CLAIM = st.none() | st.sampled_from((0, 1, MINUTE - 1, MINUTE, MINUTE + 1, 5 * MINUTE, 90 * MINUTE))
LEAD = st.fixed_dictionaries(
    {
        "posted": POSTED,
        "score": st.none() | st.sampled_from((-5, 10, 39, 40, 65, 80, 99)),
        "source": st.sampled_from((None, "", " ads ", "ads", "webinar\t")),
        "explanation": EXPLANATION,
        "decision": st.sampled_from((None, "accept", "assign", "reject")),
        "won": st.booleans(),
        "claim": CLAIM,
        "reasons": st.lists(st.sampled_from((None, "no_need", "not_icp")), max_size=2),
    }
)


def rules_of(explanation: dict[str, Any] | None) -> list[str]:
    contributions = (explanation or {}).get("contributions")
    if not isinstance(contributions, list):
        return []
    named = (f"{item['part']}: {item['label']}" for item in contributions if item["points"])
    return list(dict.fromkeys(named))


def one_by_one(leads: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Each group's numbers as the report defines them, lead by lead."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for lead in leads:
        if lead["posted"] is None or not START <= lead["posted"] < END:
            continue
        keys = [
            ("total", ""),
            ("band", band_of(lead["score"])),
            ("source", source_of(lead["source"])),
        ]
        keys += [("rule", rule) for rule in rules_of(lead["explanation"])]
        for key in keys:
            groups[key].append(lead)
    counted = {}
    for key, members in groups.items():
        decisions = [decision_of(lead["decision"]) for lead in members]
        reasons = Counter(
            (lead["reasons"][0] if lead["reasons"] else None) or "unknown"
            for lead, decision in zip(members, decisions, strict=True)
            if decision == "rejected"
        )
        claims = [
            timedelta(microseconds=lead["claim"]) for lead in members if lead["claim"] is not None
        ]
        counted[key] = (
            len(members),
            decisions.count("accepted"),
            decisions.count("rejected"),
            sum(lead["won"] for lead in members),
            nearest_rank(claims, 50),
            reasons,
        )
    return counted


def numbers(tally: Tally) -> tuple[Any, ...]:
    return (
        tally.leads,
        tally.accepted,
        tally.rejected,
        tally.won,
        tally.median_time_to_claim,
        tally.reasons,
    )


def reported(report: TuningReport) -> dict[tuple[str, str], tuple[Any, ...]]:
    found = {("total", ""): numbers(report.total)} if report.total.leads else {}
    for grouped_by, groups in (
        ("band", report.bands),
        ("rule", report.rules),
        ("source", report.sources),
    ):
        found |= {(grouped_by, group.label): numbers(group.tally) for group in groups}
    return found


def store(session: Session, leads: list[dict[str, Any]]) -> None:
    for number, row in enumerate(leads):
        lead = create_lead(session, external_id=f"tune-{number}", now=START - timedelta(days=9))
        lead.posted_at, lead.score, lead.source = row["posted"], row["score"], row["source"]
        lead.score_explanation = row["explanation"]
        lead.first_decision, lead.time_to_claim_us = row["decision"], row["claim"]
        lead.status = LeadStatus.WON if row["won"] else LeadStatus.REJECTED
        if row["decision"] == "reject" and row["reasons"]:
            lead.first_reject_reason = row["reasons"][0]
        session.flush()
        for later, reason in enumerate(row["reasons"]):
            at = END + timedelta(days=1, minutes=later)
            session.add(Rejection(lead_id=lead.id, at=at, source=None, reason=reason))
    session.flush()
    tuning_rollups.rebuild(session)  # the rollups as the transitions that set these keep them


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(LEAD, max_size=14))
def test_the_grouped_report_is_the_report_counted_lead_by_lead(
    db: Database, leads: list[dict[str, Any]]
) -> None:
    with Session(db.engine) as session:  # rolled back on leaving: each example starts empty
        store(session, leads)
        report = tuning_report(
            session, period=Period(START, END, ""), model=MODEL, reasons={}, min_sample=1
        )

    assert reported(report) == one_by_one(leads)
    inside = [row for row in leads if row["posted"] is not None and START <= row["posted"] < END]
    assert report.unexplained == sum(not isinstance(row["explanation"], dict) for row in inside)
    decided: dict[int, Counter[bool]] = defaultdict(Counter)
    for row in inside:
        decision = decision_of(row["decision"])
        if decision is not None and row["score"] is not None:
            decided[row["score"]][decision == "accepted"] += 1
    assert report.threshold == threshold_for(decided, 0.5, 1)
