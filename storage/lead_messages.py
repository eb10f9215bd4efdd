"""Queries on the messages Baton remembers per lead (LeadMessage), to redraw them later."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from storage.models import LeadMessage

# Every move asks it: built once, run on the connection without the ORM.
_ANY = select(LeadMessage.id).where(LeadMessage.lead_id == bindparam("lead_id")).limit(1)


def remember(
    session: Session,
    *,
    lead_id: int,
    kind: str,
    user_id: str | None,
    channel: str,
    ts: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    session.execute(
        insert(LeadMessage),
        [
            {
                "lead_id": lead_id,
                "kind": kind,
                "user_id": user_id,
                "channel": channel,
                "ts": ts,
                "payload": payload,
                "created_at": now,
            }
        ],
    )


def has_any(session: Session, *, lead_id: int) -> bool:
    return session.connection().execute(_ANY, {"lead_id": lead_id}).first() is not None


def list_for_lead(session: Session, lead_id: int) -> Sequence[LeadMessage]:
    query = select(LeadMessage).where(LeadMessage.lead_id == lead_id).order_by(LeadMessage.id)
    return session.scalars(query).all()
