"""The funnel counted in the database on leads moved through the real lifecycle, every answer
worked out by hand (both databases).

Entered on Tuesday 20 October (cohort 2026-10) and Tuesday 17 November 2026 (cohort 2026-11),
10:00 in New York; default rules (policy "standard": business hours, and every claim and
contact below falls inside them, so business and wall-clock minutes agree).

| lead | source  | entered | what happened                                                  |
|------|---------|---------|----------------------------------------------------------------|
| A1   | webinar | Oct 20  | SQL; accepted 30 min, contacted 60 min later; opportunity 2 days |
|      |         |         | after contact, won 10 days after that                          |
| A2   | webinar | Oct 20  | SQL; accepted 10 min, contacted 120 min; opportunity 4 days, lost |
| A3   | webinar | Oct 20  | SQL; rejected                                                  |
| M1   | ads     | Oct 20  | MQL, promoted 3 days later; accepted 20 min after its post     |
| M2   | ads     | Oct 20  | MQL, recycled (gone cold): an MQL, not an SQL                  |
| U1   | ads     | Oct 20  | under the MQL threshold, still: in no stage                    |
| B1   | webinar | Nov 17  | SQL; accepted 40 min, contacted 30 min; opportunity 1 day, won 6 days |
| B2   | (none)  | Nov 17  | SQL, still open                                                |
| M3   | ads     | Nov 17  | MQL, promoted a day later, posted, still open                  |
| X1   | webinar | Dec 1   | after the period: counted nowhere                              |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.funnel import FUNNEL_COLUMNS, FunnelGroup, funnel_report, funnel_rows, months_of
from bot.lifecycle import Actor, Lifecycle
from bot.outcomes import validate_outcome
from bot.periods import Period
from bot.rules import DEFAULT_REASONS, Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from storage.models import LeadStatus
from tests.factories import create_lead

NY = ZoneInfo("America/New_York")
LIFECYCLE = Lifecycle(SlaPolicies(Rules()))
REP = Actor("U0REPA00001")
PERIOD = Period(
    start=datetime(2026, 10, 1, tzinfo=NY).astimezone(UTC),
    end=datetime(2026, 12, 1, tzinfo=NY).astimezone(UTC),
    label="October and November",
)
OCT, NOV = datetime(2026, 10, 20, 10, tzinfo=NY), datetime(2026, 11, 17, 10, tzinfo=NY)


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


class Seeder:
    def __init__(self, db: Database) -> None:
        self.db = db

    def lead(
        self,
        name: str,
        entered: datetime,
        source: str | None,
        *,
        verdict: str | None = None,
        recycled: bool = False,
        promoted_after: timedelta | None = None,
        accept: timedelta | None = None,
        reject: bool = False,
        contact: timedelta | None = None,
        opportunity: timedelta | None = None,
        closed: tuple[str, timedelta] | None = None,
    ) -> None:
        """A lead that entered at `entered`; each move a delay after the one before."""
        with self.db.write() as session:
            held = verdict is not None and promoted_after is None
            lead = create_lead(
                session,
                external_id=name,
                now=entered.astimezone(UTC),
                source=source,
                campaign=f"{source} campaign" if source else None,
                status=LeadStatus.RECYCLED
                if recycled
                else LeadStatus.MQL
                if held
                else LeadStatus.NEW,
            )
            if verdict is not None:
                lead.score_explanation = {"verdict": verdict, "total": 50, "contributions": []}
            at = entered.astimezone(UTC)
            if promoted_after is not None:
                at += promoted_after
                lead.promoted_at = at
            session.flush()
            if held:
                return
            LIFECYCLE.card_posted(session, lead_id=lead.id, channel="C0SALES0001", ts=name, now=at)
            if reject:
                LIFECYCLE.reject(
                    session,
                    lead_id=lead.id,
                    actor=REP,
                    reason="no_budget",
                    note=None,
                    reasons=list(DEFAULT_REASONS),
                    now=at + minutes(5),
                )
            if accept is None:
                return
            at += accept
            LIFECYCLE.accept(session, lead_id=lead.id, actor=REP, now=at)
            if contact is None:
                return
            at += contact
            LIFECYCLE.mark_contacted(session, lead_id=lead.id, actor=REP, now=at)
            for stage, delay in [("opportunity", opportunity), *([closed] if closed else [])]:
                assert delay is not None
                at += delay
                outcome = validate_outcome({"stage": stage})
                LIFECYCLE.record_outcome(
                    session, lead_id=lead.id, actor=REP, outcome=outcome, now=at
                )


@pytest.fixture
def seeded(db: Database) -> Database:
    s = Seeder(db)
    days = timedelta(days=1)
    s.lead("A1", OCT, "webinar", accept=minutes(30), contact=minutes(60), opportunity=2 * days,
           closed=("won", 10 * days))  # fmt: skip
    s.lead("A2", OCT, "webinar", accept=minutes(10), contact=minutes(120), opportunity=4 * days,
           closed=("lost", days))  # fmt: skip
    s.lead("A3", OCT, "webinar", reject=True)
    s.lead("M1", OCT, "ads", verdict="sql", promoted_after=3 * days, accept=minutes(20))
    s.lead("M2", OCT, "ads", verdict="mql", recycled=True)
    s.lead("U1", OCT, "ads", verdict="unqualified")
    s.lead("B1", NOV, "webinar", accept=minutes(40), contact=minutes(30), opportunity=days,
           closed=("won", 6 * days))  # fmt: skip
    s.lead("B2", NOV, None)
    s.lead("M3", NOV, "ads", verdict="sql", promoted_after=days)
    s.lead("X1", datetime(2026, 12, 1, 10, tzinfo=NY), "webinar", accept=minutes(5))
    return db


def counts(group: FunnelGroup) -> list[int]:
    return [stage.count for stage in group.stages]


def test_every_stage_counts_rates_and_median_times_of_the_periods_leads(seeded: Database) -> None:
    with seeded.read() as session:
        report = funnel_report(session, period=PERIOD, timezone=NY)
    total = report.total
    assert counts(total) == [8, 7, 4, 3, 3, 2]
    assert [stage.rate for stage in total.stages] == [None, 7 / 8, 4 / 7, 3 / 4, 1.0, 2 / 3]
    assert total.overall == 2 / 8
    # Nearest rank: promotions 1 and 3 days; claims 10, 20, 30, 40; contacts 30, 60, 120;
    # contact to deal 1, 2, 4 days; deal to win 6 and 10 days.
    assert [stage.median_time for stage in total.stages] == [
        None,
        timedelta(days=1),
        minutes(20),
        minutes(60),
        timedelta(days=2),
        timedelta(days=6),
    ]
    assert report.groups == []


def test_by_source_and_by_cohort(seeded: Database) -> None:
    with seeded.read() as session:
        by_source = funnel_report(session, period=PERIOD, timezone=NY, by="source")
        by_cohort = funnel_report(session, period=PERIOD, timezone=NY, by="cohort")
    assert [(group.label, counts(group)) for group in by_source.groups] == [
        ("webinar", [4, 4, 3, 3, 3, 2]),
        ("ads", [3, 2, 1, 0, 0, 0]),
        ("(none)", [1, 1, 0, 0, 0, 0]),
    ]
    webinar = by_source.groups[0]
    assert [stage.median_time for stage in webinar.stages] == [
        None,
        None,  # no webinar lead was an MQL first
        minutes(30),  # 10, 30, 40
        minutes(60),
        timedelta(days=2),
        timedelta(days=6),
    ]
    assert by_source.groups[1].stages[1].median_time == timedelta(days=1)  # 1 and 3 days
    assert [(group.label, counts(group)) for group in by_cohort.groups] == [
        ("2026-10", [5, 4, 3, 2, 2, 1]),
        ("2026-11", [3, 3, 1, 1, 1, 1]),
    ]
    assert by_cohort.groups[0].overall == 1 / 5


def test_a_funnel_without_medians_counts_the_same(seeded: Database) -> None:
    """The chart's funnel: the same counts, and no time read."""
    with seeded.read() as session:
        full = funnel_report(session, period=PERIOD, timezone=NY, by="source")
        bare = funnel_report(session, period=PERIOD, timezone=NY, by="source", medians=False)
    assert [(g.label, counts(g)) for g in bare.groups] == [
        (g.label, counts(g)) for g in full.groups
    ]
    assert counts(bare.total) == counts(full.total)
    for group in [bare.total, *bare.groups]:
        assert all(stage.median_time is None for stage in group.stages)


def test_an_empty_period_has_empty_stages(seeded: Database) -> None:
    quiet = Period(start=PERIOD.start - timedelta(days=30), end=PERIOD.start, label="September")
    with seeded.read() as session:
        report = funnel_report(session, period=quiet, timezone=NY, by="campaign")
    assert counts(report.total) == [0] * 6
    assert report.total.overall is None and report.groups == []


def test_the_export_holds_everyone_then_each_grouping(seeded: Database) -> None:
    with seeded.read() as session:
        rows = funnel_rows(session, period=PERIOD, timezone=NY)
    assert all(list(row) == list(FUNNEL_COLUMNS) for row in rows)
    assert rows[0] == {
        "grouped_by": "all",
        "group": "",
        "mql": 8,
        "sql": 7,
        "accepted": 4,
        "contacted": 3,
        "opportunity": 3,
        "won": 2,
        "rate_to_sql": 0.875,
        "rate_to_accepted": 0.5714,
        "rate_to_contacted": 0.75,
        "rate_to_opportunity": 1.0,
        "rate_to_won": 0.6667,
        "overall_rate": 0.25,
        "median_minutes_to_sql": 1440.0,
        "median_minutes_to_accepted": 20.0,
        "median_minutes_to_contacted": 60.0,
        "median_minutes_to_opportunity": 2880.0,
        "median_minutes_to_won": 8640.0,
    }
    groups = [(row["grouped_by"], row["group"], row["mql"]) for row in rows[1:]]
    assert groups == [
        ("source", "webinar", 4),
        ("source", "ads", 3),
        ("source", "(none)", 1),
        ("campaign", "webinar campaign", 4),
        ("campaign", "ads campaign", 3),
        ("campaign", "(none)", 1),
        ("segment", "(none)", 8),
        ("cohort", "2026-10", 5),
        ("cohort", "2026-11", 3),
    ]


def test_the_months_of_a_period_are_the_teams_calendar_months() -> None:
    assert [label for label, _ in months_of(PERIOD, NY)] == ["2026-10", "2026-11"]
    one_day = Period(start=OCT.astimezone(UTC), end=(OCT + timedelta(days=1)).astimezone(UTC),
                     label="")  # fmt: skip
    assert months_of(one_day, NY) == [("2026-10", datetime(2026, 11, 1, tzinfo=NY))]
