"""The tuning report's rollups, as the transitions keep them lead by lead, are what counting every
posted lead afresh gives: after posts, claims, rejects (undone, reopened), outcomes and new data
that changes a posted lead's source and score, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.lifecycle import Outcome, update_data
from bot.periods import Period
from bot.tuning import tuning_report
from storage import leads as lead_store
from storage import migrate, tuning_rollups
from storage.db import Database
from storage.models import ClaimTimeWeek, Lead, LeadStatus, TuningDay, TuningRuleDay
from tests.bot.test_reports import ADS, LIFECYCLE, A, B, Seeder, ny, week  # noqa: F401
from tests.conftest import NOW

TABLES = (TuningDay, TuningRuleDay, ClaimTimeWeek)


def rollups(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that counts something, per table, in key order."""
    found = {}
    for table in TABLES:
        columns = list(table.__table__.columns)
        rows = session.execute(select(*columns).order_by(*columns))
        counted = [name for name in ("leads", "timed") if name in table.__table__.columns]
        found[table.__tablename__] = [
            tuple(row) for row in rows if any(row._mapping[name] for name in counted)
        ]
    return found


def test_rollups_kept_by_each_move_are_the_rollups_counted_afresh(
    db: Database,
    week: Seeder,  # noqa: F811 (the fixture of tests.bot.test_reports)
) -> None:
    week.handoff("X1", ny(18, 10), **ADS, intent="pricing")
    week.reject("X1", A, ny(18, 10, 5), "no_budget", "Too small")
    with db.write() as session:  # the reject taken back: no decision, no reason any more
        undone = lead_store.latest_event(session, week.ids["X1"])
        assert undone is not None
        LIFECYCLE.undo(
            session, event_id=undone.id, actor=A, window=timedelta(hours=1), now=ny(18, 10, 6)
        )
    week.accept("X1", B, ny(18, 11))
    with db.write() as session:  # won, and new data moves the lead to another source
        LIFECYCLE.record_outcome(
            session,
            lead_id=week.ids["X1"],
            actor=B,
            outcome=Outcome(LeadStatus.WON),
            now=ny(19, 9),
        )
        update_data(
            session,
            lead_id=week.ids["L4"],
            fields={"source": "partner", "score": 91},
            sender="hubspot",
            now=ny(19, 10),
        )

    with db.write() as session:
        kept = rollups(session)
        period = Period(NOW - timedelta(days=30), NOW, "30d")
        before = tuning_report(session, period=period, model=None, reasons={})
        tuning_rollups.rebuild(session)
        assert rollups(session) == kept
        assert tuning_report(session, period=period, model=None, reasons={}) == before
    assert kept["tuning_days"], "the posted leads are counted"
    assert any(row[2] == "partner" for row in kept["tuning_days"])
    assert any(row[4] == "accept" and row[5] == 1 for row in kept["tuning_days"])


def test_upgrading_to_0027_counts_the_rollups_and_first_reject_reasons_from_the_leads(
    db: Database,
    week: Seeder,  # noqa: F811 (the fixture of tests.bot.test_reports)
) -> None:
    reasons = select(Lead.external_id, Lead.first_reject_reason).order_by(Lead.external_id)
    with db.write() as session:
        kept, first_reasons = rollups(session), session.execute(reasons).all()
    assert ("L8", "no_budget") in first_reasons  # rejected first, reopened, then accepted

    migrate.downgrade(db.engine, "0026")
    migrate.upgrade(db.engine)

    with db.write() as session:
        assert rollups(session) == kept
        assert session.execute(reasons).all() == first_reasons
