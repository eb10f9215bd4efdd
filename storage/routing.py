"""Queries of routing: reps marked away, each pool's rotation pointers, and how many claimed,
not yet contacted leads each rep holds."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.leads import HELD
from storage.models import Lead, RepAway, RepMissedSlas, RotationPointer


def _insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert `rows`, or update the row already holding their keys."""
    statement = _insert(session, model).values(rows)
    changed = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


def away_reps(session: Session, user_ids: Collection[str] | None = None) -> dict[str, RepAway]:
    """The reps marked away (of `user_ids`, or all), by user ID."""
    query = select(RepAway).order_by(RepAway.user_id)
    if user_ids is not None:
        query = query.where(RepAway.user_id.in_(user_ids))
    return {row.user_id: row for row in session.scalars(query)}


def mark_away(
    session: Session,
    *,
    user_id: str,
    until: datetime | None,
    set_by: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    row = {"user_id": user_id, "until": until, "set_by": set_by, "set_at": now, "reason": reason}
    _upsert(session, RepAway, [row], ["user_id"])


def count_missed(session: Session, *, user_id: str) -> int:
    """One more SLA missed in a row by the rep: how many now."""
    statement = _insert(session, RepMissedSlas).values(user_id=user_id, in_a_row=1)
    upsert = statement.on_conflict_do_update(
        index_elements=["user_id"], set_={"in_a_row": RepMissedSlas.in_a_row + 1}
    )
    return int(session.execute(upsert.returning(RepMissedSlas.in_a_row)).scalar_one())


def reset_missed(session: Session, *, user_id: str) -> None:
    """The rep met an SLA (or was paused for missing them): the count starts again."""
    session.execute(delete(RepMissedSlas).where(RepMissedSlas.user_id == user_id))


def mark_back(session: Session, *, user_id: str) -> bool:
    """Whether the rep was marked away (they no longer are)."""
    removed = session.execute(
        delete(RepAway).where(RepAway.user_id == user_id).returning(RepAway.user_id)
    ).first()
    return removed is not None


def pointers(session: Session, *, pool: str, reps: Sequence[str]) -> dict[str, float]:
    """The pool's pointers by rep (a rep new to the pool has none), locked until the
    transaction ends, so two leads routed at once through one pool move the rotation one
    after the other (SQLite's single writer does that by itself).

    Every rep of `reps` first gets a row (empty for a newcomer; nothing changes for a rep who
    has one): a pool's very first lead then finds rows to lock, as every later one does. Two
    processes routing it at once meet on the insert, the second waiting for the first's
    commit, and lock the rows in one order (by rep), so neither can pick a rep the other just
    picked, nor deadlock."""
    if reps:
        newcomers = [{"pool": pool, "user_id": rep, "pointer": None} for rep in reps]
        session.execute(
            _insert(session, RotationPointer).values(newcomers).on_conflict_do_nothing()
        )
    rows = session.execute(
        select(RotationPointer.user_id, RotationPointer.pointer)
        .where(RotationPointer.pool == pool)
        .order_by(RotationPointer.user_id)
        .with_for_update()
    )
    return {user_id: pointer for user_id, pointer in rows if pointer is not None}


def read_pointers(session: Session, *, pool: str) -> dict[str, float]:
    """The pool's pointers by rep, as they stand, without locking them (for a view)."""
    rows = session.execute(
        select(RotationPointer.user_id, RotationPointer.pointer).where(RotationPointer.pool == pool)
    )
    return {user_id: pointer for user_id, pointer in rows if pointer is not None}


def save_pointers(session: Session, *, pool: str, pointers: Mapping[str, float]) -> None:
    if pointers:
        rows = [
            {"pool": pool, "user_id": user_id, "pointer": pointer}
            for user_id, pointer in pointers.items()
        ]
        _upsert(session, RotationPointer, rows, ["pool", "user_id"])


def held_counts(session: Session, user_ids: Collection[str]) -> dict[str, int]:
    """How many claimed, not yet contacted leads each of `user_ids` owns (absent: none)."""
    rows = session.execute(
        select(Lead.owner_id, func.count())
        .where(Lead.status.in_(HELD), Lead.owner_id.in_(user_ids))
        .group_by(Lead.owner_id)
    )
    return {owner: count for owner, count in rows if owner is not None}
