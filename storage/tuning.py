"""The query behind the tuning report (bot.tuning): what became of each lead handed off in a
period, with the score and the reasons the model gave it.

One narrow row per lead: the rules a lead matched live in its stored explanation (JSON), which
SQLite and PostgreSQL unnest differently, so the rows are streamed and counted in one pass in
the domain instead of grouped here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
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
