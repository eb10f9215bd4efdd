"""Report numbers on a week built through the real lifecycle, with every answer worked out by hand.

The week is Monday 16 – Sunday 22 November 2026 in New York (EST, UTC-5, no holidays configured).
Policies are the defaults: "hot" (demo_request, pricing) counts wall-clock time, "standard" counts
business hours, 09:00–17:00 on weekdays.

| lead | source / campaign      | policy   | posted (local)  | first decision         | claim |
|------|------------------------|----------|-----------------|------------------------|-------|
| L1   | webinar / Q4 Ops       | hot      | Mon 16 00:00    | A accepts 00:10        | 10m   |
| L2   | webinar / Q4 Ops       | standard | Fri 20 15:00    | B accepts Mon 23 10:00 | 3h    |
| L3   | webinar / Q4 Ops       | standard | Tue 17 10:00    | A accepts 11:00        | 1h    |
| L4   | ads / Brand Search     | standard | Wed 18 09:00    | B accepts 09:30        | 30m   |
| L5   | ads / Brand Search     | hot      | Wed 18 12:00    | C accepts 12:05        | 5m    |
| L6   | ads / Brand Search     | standard | Thu 19 13:00    | breach 17:00, manager  | 5h    |
|      |                        |          |                 | assigns C Fri 10:00    |       |
| L7   | webinar / Q4 Ops       | standard | Tue 17 14:00    | A rejects 15:00        | 1h    |
| L8   | webinar / Q4 Ops       | standard | Thu 19 09:00    | B rejects 11:00, then  | 2h    |
|      |                        |          |                 | reopened, C accepts    |       |
| L9   | (none)                 | hot      | Fri 20 11:00    | C rejects 11:20        | 20m   |
| L10  | (none)                 | standard | Sat 21 10:00    | none: still open       |       |

L1 is contacted 30 minutes after its claim (wall clock); L3 on Wed 18 10:00, 7 business hours
after its claim. Outside the week's handoffs: L0 (posted the Friday before, rejected at the very
first instant of the week), B1 (posted and rejected at the first instant of the next week) and
B2 (posted one second before the week began).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.lifecycle import Actor, Lifecycle
from bot.periods import Period, parse_period
from bot.reports import (
    FEEDBACK_COLUMNS,
    FeedbackGroup,
    HandoffStats,
    ReasonCount,
    RepLoad,
    feedback_rows,
    handoff_stats,
    nearest_rank,
    rejection_feedback,
)
from bot.rules import DEFAULT_REASONS, Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from tests.conftest import NOW
from tests.factories import create_lead

NY = ZoneInfo("America/New_York")
POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
A, B, C = Actor("U0REPA00001"), Actor("U0REPB00001"), Actor("U0REPC00001")
MANAGER = Actor("U0MANAGER01", is_manager=True)
# The taxonomy at the time of the rejections; "wrong_region" was retired from it since.
REASONS_THEN = [*DEFAULT_REASONS, "wrong_region"]
WEBINAR = {"source": "webinar", "campaign": "Q4 Ops Webinar"}
ADS = {"source": "ads", "campaign": "Brand Search"}
NO_SOURCE = {"source": None, "campaign": None}
HOT = {"intent": "demo_request"}
STANDARD = {"intent": "content"}
LAST_WEEK = parse_period("last-week", now=NOW, timezone=NY)


def ny(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=NY).astimezone(UTC)


class Seeder:
    """Moves leads through the real domain functions at fixed moments."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ids: dict[str, int] = {}

    def handoff(self, name: str, at: datetime, **fields: object) -> None:
        with self.db.write() as session:
            lead = create_lead(session, external_id=name, name=f"Lead {name}", now=at, **fields)
            LIFECYCLE.card_posted(
                session, lead_id=lead.id, channel="C0SALES0001", ts=f"{lead.id}.0", now=at
            )
            self.ids[name] = lead.id

    def accept(self, name: str, rep: Actor, at: datetime) -> None:
        with self.db.write() as session:
            LIFECYCLE.accept(session, lead_id=self.ids[name], actor=rep, now=at)

    def reject(
        self, name: str, rep: Actor, at: datetime, reason: str, note: str | None = None
    ) -> None:
        with self.db.write() as session:
            LIFECYCLE.reject(
                session,
                lead_id=self.ids[name],
                actor=rep,
                reason=reason,
                note=note,
                reasons=REASONS_THEN,
                now=at,
            )

    def contacted(self, name: str, rep: Actor, at: datetime) -> None:
        with self.db.write() as session:
            LIFECYCLE.mark_contacted(session, lead_id=self.ids[name], actor=rep, now=at)

    def breach(self, name: str, at: datetime) -> None:
        with self.db.write() as session:
            LIFECYCLE.escalate(session, lead_id=self.ids[name], breach="claim", reopen=True, now=at)

    def assign(self, name: str, rep: Actor, at: datetime) -> None:
        with self.db.write() as session:
            LIFECYCLE.assign(
                session, lead_id=self.ids[name], actor=MANAGER, assignee=rep.id, now=at
            )

    def reopen(self, name: str, at: datetime) -> None:
        with self.db.write() as session:
            LIFECYCLE.reopen(session, lead_id=self.ids[name], actor=MANAGER, now=at)


@pytest.fixture
def week(db: Database) -> Seeder:
    s = Seeder(db)
    s.handoff("L0", datetime(2026, 11, 13, 15, tzinfo=UTC), **WEBINAR, **HOT)
    s.reject("L0", A, ny(16, 0), "bad_timing", "Call back in January")

    s.handoff("L1", ny(16, 0), **WEBINAR, **HOT)
    s.accept("L1", A, ny(16, 0, 10))
    s.contacted("L1", A, ny(16, 0, 40))
    s.handoff("L2", ny(20, 15), **WEBINAR, **STANDARD)
    s.accept("L2", B, ny(23, 10))  # after the weekend, and after the week: still its outcome
    s.handoff("L3", ny(17, 10), **WEBINAR, **STANDARD)
    s.accept("L3", A, ny(17, 11))
    s.contacted("L3", A, ny(18, 10))
    s.handoff("L4", ny(18, 9), **ADS, **STANDARD)
    s.accept("L4", B, ny(18, 9, 30))
    s.handoff("L5", ny(18, 12), **ADS, intent="pricing")
    s.accept("L5", C, ny(18, 12, 5))
    s.handoff("L6", ny(19, 13), **ADS, **STANDARD)
    s.breach("L6", ny(19, 17))
    s.assign("L6", C, ny(20, 10))
    s.handoff("L7", ny(17, 14), **WEBINAR, **STANDARD)
    s.reject("L7", A, ny(17, 15), "no_budget", "Student project, no budget")
    s.handoff("L8", ny(19, 9), **WEBINAR, **STANDARD)
    s.reject("L8", B, ny(19, 11), "no_budget", "Budget frozen until Q2")
    s.reopen("L8", ny(19, 12))
    s.accept("L8", C, ny(19, 12, 30))
    s.handoff("L9", ny(20, 11), **NO_SOURCE, intent="pricing")
    s.reject("L9", C, ny(20, 11, 20), "wrong_region", "   ")
    s.handoff("L10", ny(21, 10), **NO_SOURCE, **STANDARD)

    s.handoff("B1", ny(23, 0), **ADS, **HOT)
    s.reject("B1", B, ny(23, 0), "duplicate", "Same person as L4")
    s.handoff("B2", ny(15, 23, 59, 59), **ADS, **STANDARD)
    return s


def test_the_weeks_handoff_numbers(db: Database, week: Seeder) -> None:
    with db.read() as session:
        stats = handoff_stats(session, period=LAST_WEEK, policies=POLICIES)
    assert stats == HandoffStats(
        period=LAST_WEEK,
        handed_off=10,
        accepted=6,
        rejected=3,
        still_open=1,
        acceptance_rate=6 / 9,
        # 5m 10m 20m 30m 1h 1h 2h 3h 5h: rank 5 of 9, and rank 9 (⌈8.1⌉).
        median_time_to_claim=timedelta(hours=1),
        p90_time_to_claim=timedelta(hours=5),
        # 30m (wall clock) and 7h (business hours): rank 1 of 2, and rank 2 (⌈1.8⌉).
        median_time_to_contact=timedelta(minutes=30),
        p90_time_to_contact=timedelta(hours=7),
        sla_breaches=1,
        breach_rate=0.1,
        per_rep=[
            # C owns L5 and L6 (its first claims) and L8, accepted after B's reject was reopened.
            RepLoad(rep_id=C.id, open=3, accepted=2, contacted=0),
            RepLoad(rep_id=B.id, open=2, accepted=2, contacted=0),
            RepLoad(rep_id=A.id, open=0, accepted=2, contacted=2),
        ],
    )
    assert sum(load.accepted for load in stats.per_rep) == stats.accepted


def test_business_hours_skip_the_weekend_but_hot_leads_count_the_night(
    db: Database, week: Seeder
) -> None:
    # L2 alone: Friday 15:00 -> Monday 10:00 is 67 hours on the clock, 3 working hours.
    friday = Period(start=ny(20, 15), end=ny(20, 15, 0, 1), label="L2")
    # L1 alone: posted at midnight, claimed ten minutes later, long before opening time.
    monday = Period(start=ny(16, 0), end=ny(16, 0, 0, 1), label="L1")
    with db.read() as session:
        l2 = handoff_stats(session, period=friday, policies=POLICIES)
        l1 = handoff_stats(session, period=monday, policies=POLICIES)
    assert (l2.handed_off, l2.median_time_to_claim) == (1, timedelta(hours=3))
    assert (l1.handed_off, l1.median_time_to_claim) == (1, timedelta(minutes=10))
    assert l1.median_time_to_contact == timedelta(minutes=30)


def test_a_reps_own_numbers_cover_the_leads_they_decided(db: Database, week: Seeder) -> None:
    with db.read() as session:
        stats = handoff_stats(session, period=LAST_WEEK, policies=POLICIES, rep=C.id)
    # L5 and L6 (claimed by and for C) and L9 (rejected by C); L8 was B's decision.
    assert (stats.handed_off, stats.accepted, stats.rejected, stats.still_open) == (3, 2, 1, 0)
    assert stats.acceptance_rate == 2 / 3
    assert (stats.median_time_to_claim, stats.p90_time_to_claim) == (
        timedelta(minutes=20),
        timedelta(hours=5),
    )
    assert (stats.median_time_to_contact, stats.p90_time_to_contact) == (None, None)
    assert (stats.sla_breaches, stats.breach_rate) == (1, 1 / 3)
    # Open: everything C holds now, L8 included, as C's App Home and `/leads mine` count it.
    assert stats.per_rep == [RepLoad(rep_id=C.id, open=3, accepted=2, contacted=0)]


def test_a_source_filter_ignores_case(db: Database, week: Seeder) -> None:
    with db.read() as session:
        stats = handoff_stats(session, period=LAST_WEEK, policies=POLICIES, source=" ADS ")
    assert (stats.handed_off, stats.accepted, stats.rejected, stats.still_open) == (3, 3, 0, 0)
    assert stats.acceptance_rate == 1.0
    # 5m, 30m, 5h: the middle one, and the last.
    assert (stats.median_time_to_claim, stats.p90_time_to_claim) == (
        timedelta(minutes=30),
        timedelta(hours=5),
    )
    assert stats.breach_rate == 1 / 3


def test_handoffs_count_from_the_first_instant_and_stop_before_the_end(
    db: Database, week: Seeder
) -> None:
    this_week = parse_period("this-week", now=NOW, timezone=NY)
    with db.read() as session:
        stats = handoff_stats(session, period=this_week, policies=POLICIES)
    # Only B1, posted at Monday 00:00 and rejected on the spot.
    assert (stats.handed_off, stats.rejected, stats.median_time_to_claim) == (1, 1, timedelta(0))
    assert stats.acceptance_rate == 0.0


def test_a_period_without_handoffs_has_no_rates(db: Database, week: Seeder) -> None:
    empty = Period(start=ny(10, 0), end=ny(12, 0), label="nothing")
    with db.read() as session:
        stats = handoff_stats(session, period=empty, policies=POLICIES)
    assert stats == HandoffStats(
        period=empty,
        handed_off=0,
        accepted=0,
        rejected=0,
        still_open=0,
        acceptance_rate=None,
        median_time_to_claim=None,
        p90_time_to_claim=None,
        median_time_to_contact=None,
        p90_time_to_contact=None,
        sla_breaches=0,
        breach_rate=None,
        # What the reps hold now is their load whatever the period.
        per_rep=[
            RepLoad(rep_id=C.id, open=3, accepted=0, contacted=0),
            RepLoad(rep_id=B.id, open=2, accepted=0, contacted=0),
        ],
    )


def test_rejection_feedback_by_source_and_campaign(db: Database, week: Seeder) -> None:
    with db.read() as session:
        groups = rejection_feedback(session, period=LAST_WEEK, reasons=DEFAULT_REASONS)
    # L0 counts (rejected in the week, though posted before it), so does L8 (reopened since);
    # B1, rejected at the instant the week ended, does not.
    assert groups == [
        FeedbackGroup(
            source="webinar",
            campaign="Q4 Ops Webinar",
            rejected=3,
            reasons=[
                ReasonCount(
                    code="no_budget",
                    label="No budget",
                    count=2,
                    share=2 / 3,
                    example_notes=["Budget frozen until Q2", "Student project, no budget"],
                ),
                ReasonCount(
                    code="bad_timing",
                    label="Bad timing",
                    count=1,
                    share=1 / 3,
                    example_notes=["Call back in January"],
                ),
            ],
        ),
        FeedbackGroup(
            source="(none)",
            campaign=None,
            rejected=1,
            # A code no longer in the taxonomy keeps its code as the label; a blank note is none.
            reasons=[ReasonCount("wrong_region", "wrong_region", 1, 1.0, [])],
        ),
    ]


def test_feedback_for_one_source(db: Database, week: Seeder) -> None:
    this_week = parse_period("this-week", now=NOW, timezone=NY)
    with db.read() as session:
        ads = rejection_feedback(session, period=this_week, reasons=DEFAULT_REASONS, source="Ads")
        webinar = rejection_feedback(
            session, period=this_week, reasons=DEFAULT_REASONS, source="webinar"
        )
    assert ads == [
        FeedbackGroup(
            "ads",
            "Brand Search",
            1,
            [ReasonCount("duplicate", "Duplicate", 1, 1.0, ["Same person as L4"])],
        )
    ]
    assert webinar == []


def test_example_notes_are_the_three_newest_non_empty_ones(db: Database) -> None:
    s = Seeder(db)
    for n, note in enumerate(["first", "second", None, "third", "fourth"]):
        s.handoff(f"N{n}", ny(17, 10 + n), **WEBINAR, **STANDARD)
        s.reject(f"N{n}", A, ny(17, 10 + n, 30), "no_need", note)
    with db.read() as session:
        (group,) = rejection_feedback(session, period=LAST_WEEK, reasons=DEFAULT_REASONS)
    (reason,) = group.reasons
    assert (reason.count, reason.example_notes) == (5, ["fourth", "third", "second"])


def test_feedback_rows_for_export(db: Database, week: Seeder) -> None:
    with db.read() as session:
        rows = feedback_rows(session, period=LAST_WEEK, reasons=DEFAULT_REASONS)
    assert [row["external_id"] for row in rows] == ["L0", "L7", "L8", "L9"]
    assert all(list(row) == list(FEEDBACK_COLUMNS) for row in rows)
    assert rows[2] == {
        "lead_id": week.ids["L8"],
        "external_id": "L8",
        "name": "Lead L8",
        "company": "Northwind Traders",
        "source": "webinar",
        "campaign": "Q4 Ops Webinar",
        "reason": "no_budget",
        "reason_label": "No budget",
        "note": "Budget frozen until Q2",  # kept, though a reopen cleared it from the lead
        "rejected_by": B.id,
        "rejected_at": "2026-11-19T16:00:00Z",
        "posted_at": "2026-11-19T14:00:00Z",
    }
    assert rows[0]["rejected_at"] == "2026-11-16T05:00:00Z"
    assert (rows[3]["source"], rows[3]["reason_label"], rows[3]["note"]) == (
        None,
        "wrong_region",
        None,
    )


def test_numbers_agree_between_feedback_views(db: Database, week: Seeder) -> None:
    with db.read() as session:
        groups = rejection_feedback(session, period=LAST_WEEK, reasons=DEFAULT_REASONS)
        rows = feedback_rows(session, period=LAST_WEEK, reasons=DEFAULT_REASONS)
    reason_counts = sum(reason.count for group in groups for reason in group.reasons)
    assert sum(g.rejected for g in groups) == reason_counts == len(rows)


@pytest.mark.parametrize(
    ("minutes", "percentile", "expected"),
    [
        ([], 50, None),
        ([7], 90, 7),
        ([4, 1, 3, 2], 50, 2),  # even count: the lower middle value
        ([4, 1, 3, 2], 90, 4),
        (list(range(1, 31)), 90, 27),
        (list(range(1, 11)), 90, 9),
    ],
)
def test_nearest_rank(minutes: list[int], percentile: int, expected: int | None) -> None:
    result = nearest_rank([timedelta(minutes=m) for m in minutes], percentile)
    assert result == (None if expected is None else timedelta(minutes=expected))
