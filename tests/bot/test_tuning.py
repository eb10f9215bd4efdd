"""The tuning report on a week of scored leads moved through the real lifecycle, every answer
worked out by hand (both databases).

Posted Monday 16 – Friday 20 November 2026 in New York, policy "standard" (business hours,
09:00–17:00 on weekdays); the model's explanations are stored as intake stores them.

| leads | score | rules                               | source   | what sales did               |
|-------|-------|-------------------------------------|----------|------------------------------|
| I1–I6 | 10    | fit: student or intern              | list-buy | I1 accepted; I2–I5 rejected  |
|       |       |                                     |          | no_authority, I6 not_icp     |
| D1–D8 | 85    | fit: decision maker,                | webinar  | D1–D7 accepted (D1, D2 won), |
|       |       | engagement: pricing page            |          | D8 rejected bad_timing       |
| W1–W3 | 65    | engagement: webinar                 | webinar  | rejected no_need             |
| S1–S2 | 50    | none: scored by the sender          | (none)   | S1 accepted, S2 still open   |

Times to claim: D1–D6 10, 20, …, 60 minutes, D7 posted 16:30, accepted 09:30 next day (one
business hour); D8 5 minutes; I and W leads 15 minutes, S1 45 minutes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.digest import digest_message
from bot.lifecycle import Actor, Lifecycle
from bot.outcomes import validate_outcome
from bot.periods import Period
from bot.reply_blocks import times_counted
from bot.rules import DEFAULT_REASONS, Rules
from bot.scoring import ScoringModel
from bot.sla_policy import SlaPolicies
from bot.tuning import (
    MIN_SAMPLE,
    TUNING_COLUMNS,
    Tally,
    TuningReport,
    band_of,
    threshold_for,
    tuning_report,
    tuning_rows,
)
from bot.tuning_blocks import tuning_blocks
from storage.db import Database
from tests.factories import create_lead

NY = ZoneInfo("America/New_York")
LIFECYCLE = Lifecycle(SlaPolicies(Rules()))
REP = Actor("U0REPA00001")
WEEK = Period(
    start=datetime(2026, 11, 16, tzinfo=NY).astimezone(UTC),
    end=datetime(2026, 11, 23, tzinfo=NY).astimezone(UTC),
    label="the week of 16 November",
)
MODEL = ScoringModel.model_validate(
    {
        "mql": 40,
        "sql": 70,
        "target_acceptance": 0.6,
        "fit": [{"name": "decision maker", "field": "title", "contains": "VP", "points": 25}],
    }
)
INTERN = [("fit", "student or intern", -30)]
DECISION_MAKER = [("fit", "decision maker", 25), ("engagement", "pricing page", 24)]
WEBINAR = [("engagement", "webinar", 10)]
SMALL_SAMPLE = 5


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NY).astimezone(UTC)


def explanation(total: int, rules: list[tuple[str, str, int]]) -> dict[str, Any]:
    return {
        "total": total,
        "verdict": "sql" if total >= 70 else "mql",
        "mql": 40,
        "sql": 70,
        "contributions": [
            {"part": part, "label": label, "points": points, "count": 1, "capped": False}
            for part, label, points in rules
        ],
        "criteria": [],
        "fast_lane": None,
        "sender_score": None,
    }


class Week:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.number = 0

    def lead(
        self,
        posted: datetime,
        score: int,
        rules: list[tuple[str, str, int]] | None,
        source: str | None,
        *,
        accept: timedelta | None = None,
        reject: tuple[timedelta, str] | None = None,
        won: bool = False,
    ) -> None:
        self.number += 1
        with self.db.write() as session:
            lead = create_lead(
                session,
                external_id=f"tune-{self.number}",
                now=posted,
                score=score,
                source=source,
                intent="content",
            )
            lead.score_explanation = None if rules is None else explanation(score, rules)
            session.flush()
            LIFECYCLE.card_posted(
                session, lead_id=lead.id, channel="C0SALES0001", ts=f"{lead.id}.0", now=posted
            )
            if accept is not None:
                LIFECYCLE.accept(session, lead_id=lead.id, actor=REP, now=posted + accept)
            if reject is not None:
                LIFECYCLE.reject(
                    session,
                    lead_id=lead.id,
                    actor=REP,
                    reason=reject[1],
                    note=None,
                    reasons=list(DEFAULT_REASONS),
                    now=posted + reject[0],
                )
            if won:
                LIFECYCLE.record_outcome(
                    session,
                    lead_id=lead.id,
                    actor=REP,
                    outcome=validate_outcome({"stage": "won"}),
                    now=posted + timedelta(days=1),
                )


@pytest.fixture
def week(db: Database) -> Database:
    w = Week(db)
    quarter = timedelta(minutes=15)
    w.lead(ny(16, 10), 10, INTERN, "list-buy", accept=quarter)
    for reason in ["no_authority"] * 4 + ["not_icp"]:
        w.lead(ny(16, 11), 10, INTERN, "list-buy", reject=(quarter, reason))
    for minutes in (10, 20, 30, 40, 50, 60):
        claim = timedelta(minutes=minutes)
        w.lead(ny(17, 10), 85, DECISION_MAKER, "webinar", accept=claim, won=minutes <= 20)
    w.lead(ny(17, 16, 30), 85, DECISION_MAKER, "webinar", accept=timedelta(hours=17))
    w.lead(ny(17, 11), 85, DECISION_MAKER, "webinar", reject=(timedelta(minutes=5), "bad_timing"))
    for _ in range(3):
        w.lead(ny(18, 10), 65, WEBINAR, "webinar", reject=(quarter, "no_need"))
    w.lead(ny(19, 10), 50, None, None, accept=timedelta(minutes=45))
    w.lead(ny(19, 10), 50, None, None)
    w.lead(ny(23, 10), 85, DECISION_MAKER, "webinar", accept=quarter)  # the next week
    return db


def tuned(
    db: Database, *, model: ScoringModel | None = MODEL, min_sample: int = SMALL_SAMPLE
) -> TuningReport:
    with db.read() as session:
        return tuning_report(
            session, period=WEEK, model=model, reasons=DEFAULT_REASONS, min_sample=min_sample
        )


def rates(tally: Tally) -> tuple[int, int, float | None, timedelta | None, float | None]:
    return (
        tally.leads,
        tally.decided,
        tally.acceptance_rate,
        tally.median_time_to_claim,
        tally.win_rate,
    )


def minutes(value: int) -> timedelta:
    return timedelta(minutes=value)


def test_bands_rules_and_sources_count_what_sales_did(week: Database) -> None:
    report = tuned(week)
    assert rates(report.total) == (19, 18, 9 / 18, minutes(15), 2 / 9)
    assert {g.label: rates(g.tally) for g in report.bands} == {
        "under 40": (6, 6, 1 / 6, minutes(15), 0.0),
        "40–59": (2, 1, 1.0, minutes(45), 0.0),
        "60–79": (3, 3, 0.0, minutes(15), None),
        # 5, 10, 20, 30, 40, 50, 60 and 60 (the overnight one in business hours): rank 4.
        "80 and up": (8, 8, 7 / 8, minutes(30), 2 / 7),
    }
    assert [(g.label, rates(g.tally)) for g in report.rules] == [
        ("engagement: pricing page", (8, 8, 7 / 8, minutes(30), 2 / 7)),
        ("fit: decision maker", (8, 8, 7 / 8, minutes(30), 2 / 7)),
        ("fit: student or intern", (6, 6, 1 / 6, minutes(15), 0.0)),
        ("engagement: webinar", (3, 3, 0.0, minutes(15), None)),
    ]
    assert [(g.label, g.tally.decided, g.tally.acceptance_rate) for g in report.sources] == [
        ("webinar", 11, 7 / 11),
        ("list-buy", 6, 1 / 6),
        ("(none)", 1, 1.0),
    ]
    assert report.unexplained == 2


def test_the_rule_sales_rejects_far_more_is_flagged_with_its_reasons_and_a_small_one_is_not(
    week: Database,
) -> None:
    report = tuned(week)
    [flag] = report.flagged  # webinar's leads were all rejected, but only 3 of them
    assert (flag.rule, flag.rejection_rate, flag.decided, flag.others_rate) == (
        "fit: student or intern",
        5 / 6,
        6,
        4 / 12,
    )
    assert flag.reasons == [("Not a decision maker", 0.8), ("Not our ideal customer", 0.2)]


def test_the_threshold_is_the_lowest_score_from_which_acceptance_reaches_the_target(
    week: Database,
) -> None:
    report = tuned(week)
    # At or above 85: 7 of 8; 65: 7 of 11; 50: 8 of 12 (67 %); 10: 9 of 18 (50 %).
    assert report.threshold is not None
    assert (report.threshold.score, report.threshold.decided) == (50, 12)
    assert report.threshold.acceptance_rate == pytest.approx(8 / 12)


def test_the_default_sample_judges_nothing_this_small_and_no_target_means_no_threshold(
    week: Database,
) -> None:
    with week.read() as session:  # the default sample
        report = tuning_report(session, period=WEEK, model=None, reasons=DEFAULT_REASONS)
    assert report.min_sample == MIN_SAMPLE
    assert report.flagged == []
    assert (report.target, report.threshold) == (None, None)


def test_bands_and_thresholds_at_their_edges() -> None:
    assert [band_of(s) for s in (None, 0, 39, 40, 59, 60, 79, 80, 100)] == [
        "no score",
        "under 40",
        "under 40",
        "40–59",
        "40–59",
        "60–79",
        "60–79",
        "80 and up",
        "80 and up",
    ]
    # Too few leads at the top to count; from 60 down the sample is large enough.
    scored = {90: Counter({True: 1}), 60: Counter({True: 2}), 30: Counter({False: 2})}
    assert threshold_for(scored, 0.6, 3) is not None
    assert threshold_for(scored, 0.6, 3).score == 30  # 3 of 5
    assert threshold_for(scored, 0.61, 3).score == 60  # 3 of 3
    assert threshold_for(scored, 0.6, 6) is None


def test_the_export_has_a_row_per_band_rule_and_source_with_the_same_numbers(
    week: Database,
) -> None:
    report = tuned(week)
    rows = tuning_rows(report)
    assert all(tuple(row) == TUNING_COLUMNS for row in rows)
    assert [(row["grouped_by"], row["group"]) for row in rows][:5] == [
        ("score band", "under 40"),
        ("score band", "40–59"),
        ("score band", "60–79"),
        ("score band", "80 and up"),
        ("rule", "engagement: pricing page"),
    ]
    (intern,) = [row for row in rows if row["group"] == "fit: student or intern"]
    assert intern == {
        "grouped_by": "rule",
        "group": "fit: student or intern",
        "leads": 6,
        "decided": 6,
        "accepted": 1,
        "rejected": 5,
        "acceptance_rate": 0.1667,
        "median_time_to_claim_minutes": 15.0,
        "won": 0,
        "win_rate": 0.0,
        "flagged": "yes",
        "top_reasons": "no_authority 4; not_icp 1",
    }
    assert len(rows) == 4 + 4 + 3


def test_the_digest_carries_the_flagged_rules_and_threshold_as_tune_says_them(
    week: Database,
) -> None:
    """Only with a model; worded exactly as `/leads tune` words them, over the same leads."""
    policies = SlaPolicies(Rules())
    with week.read() as session:
        digests = [
            digest_message(session, period=WEEK, rules=rules, policies=policies).blocks
            for rules in (Rules(scoring=MODEL), Rules())
        ]
        report = tuning_report(session, period=WEEK, model=MODEL, reasons=DEFAULT_REASONS)
    with_model, without = digests
    tune = tuning_blocks(report, title="Tuning", times=times_counted(Rules()))
    flags, threshold = with_model[-2:]
    assert "no score reaches 60% acceptance among at least 20 decided leads" in str(threshold)
    assert flags in tune and threshold in tune
    assert "Score tuning" in str(with_model) and "Score tuning" not in str(without)
