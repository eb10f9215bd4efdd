"""Queries on the clicks recorded before their moves are made (ReceivedClick).

Clicks are taken in the order they were recorded, but a click waits while an older click on its
lead is still waiting: so however many appliers take clicks at once (several web processes on
PostgreSQL, each skipping the rows another holds), the clicks on one lead are applied in the order
they were recorded, and the earlier of two reps' Accepts is the one that claims it. On SQLite a
write transaction holds the whole database, so appliers take turns anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from storage.models import ReceivedClick

_RECORD = insert(ReceivedClick)  # built once: every click runs it


def record(session: Session, clicks: Sequence[Mapping[str, Any]]) -> None:
    """Record the clicks (ReceivedClick's columns but the id), in this order, in one statement."""
    if clicks:
        session.connection().execute(_RECORD, list(clicks))


_OLDER = aliased(ReceivedClick)
_NEXT = (
    select(ReceivedClick)
    .where(~exists().where(_OLDER.lead_id == ReceivedClick.lead_id, _OLDER.id < ReceivedClick.id))
    .order_by(ReceivedClick.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def take_next(session: Session) -> ReceivedClick | None:
    """The oldest click no other transaction holds and no older click on its lead waits before,
    locked until the transaction ends (PostgreSQL); None when there is none."""
    return session.scalars(_NEXT).one_or_none()


def take(session: Session, click_id: int) -> ReceivedClick | None:
    """The click, locked until the transaction ends; None once another transaction applied it."""
    query = select(ReceivedClick).where(ReceivedClick.id == click_id).with_for_update()
    return session.scalars(query).one_or_none()


def forget(session: Session, click_id: int) -> None:
    """The click was applied (or its refusal told): it is waiting no more."""
    session.execute(delete(ReceivedClick).where(ReceivedClick.id == click_id))


def count_waiting(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ReceivedClick)) or 0)


def any_waiting(session: Session) -> bool:
    return session.scalar(select(exists().select_from(ReceivedClick))) is True
