"""Things done once: Slack events handled and digests sent, guarded by primary keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DigestSent, SlackEventSeen


def first_time(session: Session, row: SlackEventSeen | DigestSent) -> bool:
    """Insert the marker; False when it was already there (inside a savepoint, so the caller's
    transaction goes on either way)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def event_first_seen(session: Session, *, event_id: str, now: datetime) -> bool:
    return first_time(session, SlackEventSeen(event_id=event_id, received_at=now))


def digest_first_sent(session: Session, *, period_key: str, now: datetime) -> bool:
    return first_time(session, DigestSent(period_key=period_key, sent_at=now))
