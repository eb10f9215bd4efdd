"""Things done once: Slack events handled and digests sent, guarded by primary keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.db import add_unless_duplicate
from storage.models import DigestSent, SlackEventSeen


def event_first_seen(session: Session, *, event_id: str, now: datetime) -> bool:
    return add_unless_duplicate(session, SlackEventSeen(event_id=event_id, received_at=now))


def digest_first_sent(session: Session, *, period_key: str, now: datetime) -> bool:
    return add_unless_duplicate(session, DigestSent(period_key=period_key, sent_at=now))
