"""The queries behind the tuning report (bot.tuning): what became of each lead handed off in a
period, with the score and the reasons the model gave it; and, for the digest's chart, only how
many leads of each source each first decision had, grouped here.

The report reads one narrow row per lead: the rules a lead matched live in its stored
explanation (JSON), which SQLite and PostgreSQL unnest differently, so its rows are streamed
and counted in one pass in the domain instead of grouped here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from storage.models import Lead, Rejection

BATCH = 1000  # rows fetched at a time: memory stays flat however long the period


def _first_reason() -> Any:
    """The reason of a lead's first reject as sales gave it (kept when a reopen cleared the
    lead's own)."""
    return (
        select(Rejection.reason)
        .where(Rejection.lead_id == Lead.id)
        .order_by(Rejection.at, Rejection.id)
        .limit(1)
        .scalar_subquery()
    )


def stream_arrivals(
    session: Session, *, start: datetime, end: datetime, fields: Sequence[str]
) -> Iterator[Row[tuple[Any, ...]]]:
    """Each lead stored in [start, end), for scoring it again (bot.replay): the lead `fields`
    named, `activities`, `explanation`, `created_at`, `status`, `first_decision`
    and `reason`, as stream_handoffs gives it."""
    columns: list[Any] = [
        *(getattr(Lead, name) for name in fields),
        Lead.activities,
        Lead.score_explanation.label("explanation"),
        Lead.created_at,
        Lead.status,
        Lead.first_decision,
        _first_reason().label("reason"),
    ]
    query = select(*columns).where(Lead.created_at >= start, Lead.created_at < end)
    yield from session.execute(query.execution_options(yield_per=BATCH))


def stream_handoffs(
    session: Session, *, start: datetime, end: datetime
) -> Iterator[Row[tuple[Any, ...]]]:
    """Each lead posted in [start, end): `score`, `explanation`, `source`, `first_decision`,
    `time_to_claim_us`, `status` and `reason`, the reason of its first reject as sales gave it
    (kept when a reopen cleared the lead's own)."""
    first_reason = _first_reason()
    query = select(
        Lead.score,
        Lead.score_explanation.label("explanation"),
        Lead.source,
        Lead.first_decision,
        Lead.time_to_claim_us,
        Lead.status,
        first_reason.label("reason"),
    ).where(Lead.posted_at >= start, Lead.posted_at < end)
    yield from session.execute(query.execution_options(yield_per=BATCH))


def tally_handoffs(
    session: Session, *, edges: Sequence[datetime]
) -> Iterator[Row[tuple[Any, ...]]]:
    """How many leads posted in each [edges[i], edges[i + 1]) have each stored `source` and
    `first_decision`: `period` (i), `source`, `first_decision` and `leads`, in one grouped
    statement read from ix_leads_report_period alone (a handful of rows, however many leads;
    the domain names sources and decisions as stream_handoffs' rows are named)."""
    period = case(*((Lead.posted_at < edge, index) for index, edge in enumerate(edges[1:])))
    posted = (
        select(period.label("period"), Lead.source, Lead.first_decision)
        .where(Lead.posted_at >= edges[0], Lead.posted_at < edges[-1])
        .subquery()
    )
    query = select(
        posted.c.period, posted.c.source, posted.c.first_decision, func.count().label("leads")
    ).group_by(posted.c.period, posted.c.source, posted.c.first_decision)
    yield from session.execute(query)
