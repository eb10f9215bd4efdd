"""The funnel's rollups, as the triggers on leads keep them whatever writes a lead, are what
counting every lead afresh gives, and the funnel reads the same from them: after intake one by
one, in a small batch and in one counted by statement (storage.funnel_by_statement), posts,
claims, rejects, contacts, outcomes, a promotion, a recycle, an undone claim, new data that moves
a lead to another source and campaign and an operator's INSERT of leads with times, on both
databases."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot import intake
from bot.funnel import funnel_report
from bot.lifecycle import create_many, new_leads, recycle, update_data
from storage import funnel_by_statement, funnel_rollups, migrate
from storage import leads as lead_store
from storage.db import Database
from storage.models import FunnelDay, FunnelTimeWeek, Lead, LeadStatus
from storage.tuning_rollups import BOUNDS_US, claim_bucket
from tests.bot.test_funnel import LIFECYCLE, NY, PERIOD, REP, seeded  # noqa: F401
from tests.factories import create_lead, lead_payload

TABLES = (FunnelDay, FunnelTimeWeek)


def rollups(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that counts something, per table, its shards summed, in key order."""
    found = {}
    for table in TABLES:
        columns = table.__table__.columns
        keys = [column for column in columns if column.primary_key and column.name != "shard"]
        counters = [func.sum(column) for column in columns if not column.primary_key]
        query = select(*keys, *counters).group_by(*keys).order_by(*keys)
        found[table.__tablename__] = [
            tuple(row) for row in session.execute(query) if any(row[len(keys) :])
        ]
    return found


def reports(session: Session) -> list[Any]:
    return [
        funnel_report(session, period=PERIOD, timezone=NY, by=by)
        for by in (None, "source", "campaign", "segment", "cohort")
    ]


def test_rollups_kept_by_every_write_are_the_rollups_counted_afresh(
    seeded: Database,  # noqa: F811 (the fixture of tests.bot.test_funnel)
) -> None:
    db = seeded
    at = datetime(2026, 11, 18, 15, tzinfo=UTC)
    with db.write() as session:
        a3 = session.scalars(select(Lead.id).where(Lead.external_id == "A3")).one()
        update_data(  # a rejected lead moves to another source and campaign
            session,
            lead_id=a3,
            fields={"source": "partner", "campaign": "Partner Q4"},
            sender="hubspot",
            now=at,
        )
        batch = [
            intake.validate_lead(
                lead_payload(external_id=f"N{n}", source=source, segment=segment)
            ).to_fields()
            for n, (source, segment) in enumerate([("ads", "SMB"), (" webinar ", None), ("", "")])
        ]
        create_many(session, new_leads(batch, now=at, dialect=db.engine.dialect), now=at)
        big_batch = [  # counted once for its statement on PostgreSQL, and what follows too
            intake.validate_lead(
                lead_payload(external_id=f"L{n}", source=("ads", "webinar")[n % 2])
            ).to_fields()
            for n in range(funnel_by_statement.FROM_ROWS)
        ]
        create_many(session, new_leads(big_batch, now=at, dialect=db.engine.dialect), now=at)
        copied = [column for column in Lead.__table__.columns if column.name != "id"]
        copies = select(*((c + "-copy") if c.name == "external_id" else c for c in copied)).where(
            Lead.external_id.in_(["A1", "B1", "M1"])
        )  # leads with times, as an operator
        session.execute(insert(Lead).from_select([c.name for c in copied], copies))
        cold = create_lead(session, external_id="C1", status=LeadStatus.MQL, now=at, source="ads")
        assert recycle(session, lead_id=cold.id, after=timedelta(0), now=at + timedelta(days=1))
        x1 = session.scalars(select(Lead.id).where(Lead.external_id == "X1")).one()
        accepted = lead_store.latest_event(session, x1)
        assert accepted is not None and accepted.action == "accept"
        LIFECYCLE.undo(session, event_id=accepted.id, actor=REP, window=timedelta(days=30), now=at)

    with db.write() as session:
        kept, before = rollups(session), reports(session)
        funnel_rollups.rebuild(session)
        assert rollups(session) == kept
        assert reports(session) == before
    days = {row[1:4] for row in kept["funnel_days"]}
    assert ("partner", "Partner Q4", "") in days
    assert ("webinar", "Q4 Ops Webinar", "") in days, "values are kept trimmed"
    assert {row[3] for row in kept["funnel_time_weeks"]} == set(funnel_rollups.BUCKETED)


def test_upgrading_to_0028_counts_the_rollups_from_the_leads_and_keeps_them_after(
    seeded: Database,  # noqa: F811 (the fixture of tests.bot.test_funnel)
) -> None:
    db = seeded
    with db.read() as session:
        kept = rollups(session)
    assert kept["funnel_days"], "the leads are counted"

    migrate.downgrade(db.engine, "0027")
    migrate.upgrade(db.engine)

    with db.write() as session:
        assert rollups(session) == kept
        create_lead(session, external_id="Z1", now=datetime(2026, 11, 19, 15, tzinfo=UTC))
    with db.write() as session:
        after = rollups(session)
        assert after != kept, "the triggers are back"
        funnel_rollups.rebuild(session)
        assert rollups(session) == after


def test_a_time_at_each_bucket_bound_is_counted_in_the_bucket_the_report_searches(
    seeded: Database,  # noqa: F811 (the fixture of tests.bot.test_funnel)
) -> None:
    """Every bound, and a microsecond below it: the triggers put each time to claim in the
    bucket the report then walks (tuning_rollups.claim_bucket)."""
    times = sorted({time for bound in BOUNDS_US for time in (bound - 1, bound)})
    at = datetime(2026, 11, 17, 15, tzinfo=UTC)
    with seeded.write() as session:
        for n, time in enumerate(times):
            lead = create_lead(session, external_id=f"bound-{n}", segment="Bounds", now=at)
            lead.first_decision, lead.time_to_claim_us = "accept", time
            session.flush()
    with seeded.read() as session:
        counted = session.execute(
            select(FunnelTimeWeek.bucket, func.sum(FunnelTimeWeek.leads))
            .where(FunnelTimeWeek.grouping == "segment", FunnelTimeWeek.value == "Bounds")
            .where(FunnelTimeWeek.step == "accepted")
            .group_by(FunnelTimeWeek.bucket)
        )
        assert {bucket: leads for bucket, leads in counted} == Counter(map(claim_bucket, times))
