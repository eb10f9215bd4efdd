"""Revision 0008 gives leads decided before it the report facts the transitions now keep.

A history is played through the real lifecycle (which records the facts as it goes); the columns
are then dropped by downgrading and rebuilt from the event log by upgrading again, and must come
back identical, with the same day counts and the same report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import report_facts
from bot.lifecycle import Actor, Lifecycle
from bot.periods import Period
from bot.reports import handoff_stats
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from storage import migrate
from storage.db import Database
from storage.models import HandoffDay, Lead, Rejection
from tests.factories import create_lead

POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
A, B, C = Actor("U0REPA00001"), Actor("U0REPB00001"), Actor("U0REPC00001")
MANAGER = Actor("U0MANAGER01", is_manager=True)
FRIDAY = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # 15:00 in New York
WEEK = Period(start=FRIDAY - timedelta(days=7), end=FRIDAY + timedelta(days=7), label="two weeks")
FACTS = (
    "first_decision",
    "first_decided_by",
    "first_claimed_at",
    "contact_credit",
    "time_to_claim_us",
    "time_to_contact_us",
)
BEFORE = "0007"


def at(hours: float) -> datetime:
    return FRIDAY + timedelta(hours=hours)


def play_history(db: Database) -> None:
    with db.write() as session:

        def lead(name: str, posted: float | None, intent: str = "content") -> int:
            created = create_lead(session, external_id=name, intent=intent, now=at(-1))
            if posted is not None:
                LIFECYCLE.card_posted(
                    session, lead_id=created.id, channel="C1", ts=name, now=at(posted)
                )
            return created.id

        hot = lead("hot", 0, intent="demo_request")  # counted on the clock
        LIFECYCLE.accept(session, lead_id=hot, actor=A, now=at(0.5))
        LIFECYCLE.mark_contacted(session, lead_id=hot, actor=A, now=at(1))
        weekend = lead("weekend", 0)  # Friday 15:00 to Monday 10:00: 3 business hours
        LIFECYCLE.accept(session, lead_id=weekend, actor=B, now=at(67))
        second_try = lead("second-try", 1)
        reason = {"reason": "no_budget", "note": "Frozen", "reasons": ["no_budget"]}
        LIFECYCLE.reject(session, lead_id=second_try, actor=A, now=at(1.5), **reason)
        LIFECYCLE.reopen(session, lead_id=second_try, actor=MANAGER, now=at(2))
        LIFECYCLE.accept(session, lead_id=second_try, actor=C, now=at(68))
        LIFECYCLE.mark_contacted(session, lead_id=second_try, actor=C, now=at(70))
        early = lead("assigned-before-its-card", None)
        LIFECYCLE.assign(session, lead_id=early, actor=MANAGER, assignee=B.id, now=at(0.1))
        LIFECYCLE.card_posted(session, lead_id=early, channel="C1", ts="early", now=at(0.2))
        breached = lead("breached", 0.3)
        LIFECYCLE.escalate(session, lead_id=breached, breach="claim", reopen=True, now=at(66))
        LIFECYCLE.assign(session, lead_id=breached, actor=MANAGER, assignee=C.id, now=at(69))
        late = lead("late-follow-up", 0.4, intent="pricing")
        LIFECYCLE.accept(session, lead_id=late, actor=A, now=at(0.6))
        LIFECYCLE.escalate(session, lead_id=late, breach="follow_up", reopen=True, now=at(20))
        LIFECYCLE.mark_contacted(session, lead_id=late, actor=MANAGER, now=at(21))
        lead("waiting", 0.7)


def facts(db: Database) -> dict[str, dict[str, Any]]:
    columns = [getattr(Lead, name) for name in FACTS]
    with db.read() as session:
        rows = session.execute(select(Lead.external_id, *columns)).all()
    return {row.external_id: dict(zip(FACTS, row[1:], strict=True)) for row in rows}


def day_counts(db: Database) -> set[tuple[Any, ...]]:
    """The day counts, less groups that moves emptied (kept at zero)."""
    with db.read() as session:
        rows = session.execute(select(*HandoffDay.__table__.columns)).all()
        return {tuple(row) for row in rows if row.leads}


def rejections(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Rejection.id,
                    Rejection.lead_id,
                    Rejection.at,
                    Rejection.source,
                    Rejection.campaign,
                    Rejection.reason,
                    Rejection.note,
                ).order_by(Rejection.id)
            )
        ]


@pytest.fixture
def history(db: Database) -> Any:
    play_history(db)
    yield
    migrate.upgrade(db.engine, elapsed=report_facts.elapsed_by(POLICIES))


def test_the_transitions_record_the_facts(db: Database, history: None) -> None:
    recorded = facts(db)
    assert recorded["weekend"]["time_to_claim_us"] == 3 * 3600 * 10**6
    assert recorded["hot"]["time_to_contact_us"] == 30 * 60 * 10**6
    assert recorded["second-try"]["first_decision"] == "reject"
    assert recorded["second-try"]["first_decided_by"] == A.id
    assert recorded["second-try"]["first_claimed_at"] == at(68)
    assert recorded["assigned-before-its-card"]["time_to_claim_us"] == 0
    assert recorded["assigned-before-its-card"]["first_decided_by"] == B.id
    assert recorded["late-follow-up"]["contact_credit"] == MANAGER.id  # nobody owned it then
    assert recorded["second-try"]["contact_credit"] == C.id
    assert recorded["waiting"] == dict.fromkeys(FACTS)


def test_upgrading_rebuilds_the_facts_from_the_event_log(db: Database, history: None) -> None:
    recorded, rejected, days = facts(db), rejections(db), day_counts(db)
    assert [(row[3], row[5], row[6]) for row in rejected] == [("webinar", "no_budget", "Frozen")]
    with db.read() as session:
        report = handoff_stats(session, period=WEEK, policies=POLICIES)
    migrate.downgrade(db.engine, BEFORE)
    migrate.upgrade(db.engine, elapsed=report_facts.elapsed_by(POLICIES))
    # Counted afresh from the leads, the days agree with what the transitions kept up to date.
    assert (facts(db), rejections(db), day_counts(db)) == (recorded, rejected, days)
    with db.read() as session:
        assert handoff_stats(session, period=WEEK, policies=POLICIES) == report
    assert report.handed_off == 7 and report.sla_breaches == 2


def test_upgrading_without_the_sla_rules_refuses_and_changes_nothing(
    db: Database, history: None
) -> None:
    migrate.downgrade(db.engine, BEFORE)
    with pytest.raises(RuntimeError, match="baton db upgrade"):
        migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == BEFORE
