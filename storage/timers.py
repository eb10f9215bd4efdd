"""Queries on SLA timers: adding them, cancelling a lead's, and leasing the due ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from storage.models import SlaTimer


def add_many(session: Session, timers: Sequence[dict[str, Any]]) -> None:
    """Add timers (lead_id, kind, cycle, due_at) in one executemany; nobody reads their ids."""
    if timers:
        session.connection().execute(_ADD, list(timers))


_ADD = insert(SlaTimer)  # built once: every move runs it


# Every claim runs it: built once, run on the connection without the ORM.
_CANCEL_PENDING = (
    update(SlaTimer)
    .where(
        SlaTimer.lead_id == bindparam("of_lead"),
        SlaTimer.fired_at.is_(None),
        SlaTimer.cancelled_at.is_(None),
    )
    .values(cancelled_at=bindparam("cancelled"))
)


def cancel_pending(
    session: Session,
    *,
    lead_id: int,
    now: datetime,
    only: str | None = None,
    sparing: str | None = None,
) -> None:
    """Cancel the lead's pending timers: all, `only` those of one kind, or all but `sparing`'s."""
    statement = _CANCEL_PENDING
    if only is not None:
        statement = statement.where(SlaTimer.kind == only)
    if sparing is not None:
        statement = statement.where(SlaTimer.kind != sparing)
    session.connection().execute(statement, {"of_lead": lead_id, "cancelled": now})


def take_due(session: Session, *, now: datetime, limit: int) -> Sequence[SlaTimer]:
    """Lock up to `limit` due timers, earliest first, and mark them fired.

    The caller applies their effects in the same transaction, so a timer is fired exactly when
    its effects commit. FOR UPDATE SKIP LOCKED (PostgreSQL) lets several processes sweep at once
    without taking the same timer; SQLite's single writer serialises sweeps by itself.
    """
    timers = session.scalars(
        select(SlaTimer)
        .where(
            SlaTimer.fired_at.is_(None),
            SlaTimer.cancelled_at.is_(None),
            SlaTimer.due_at <= now,
        )
        .order_by(SlaTimer.due_at, SlaTimer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for timer in timers:
        timer.fired_at = now
    session.flush()
    return timers


def put_back(session: Session, timer: SlaTimer) -> None:
    """A timer taken by `take_due` that could not act now: the next sweep takes it again."""
    timer.fired_at = None
    session.flush()


def list_for_lead(session: Session, lead_id: int) -> Sequence[SlaTimer]:
    return session.scalars(
        select(SlaTimer).where(SlaTimer.lead_id == lead_id).order_by(SlaTimer.id)
    ).all()


def count_pending(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(SlaTimer)
            .where(SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None))
        )
        or 0
    )
