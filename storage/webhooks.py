"""Queries on outbound webhooks: the endpoints and their subscriptions, queuing events for
them, leasing each (endpoint, lead) lane's oldest delivery, settling deliveries, and the
failed ones (listed, replayed)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from storage.models import WebhookDelivery, WebhookEndpoint, WebhookSubscription


@dataclass(frozen=True)
class Event:
    """An event, as queued for an endpoint."""

    event_type: str
    lead_id: int | None
    message_id: str
    payload: dict[str, Any]
    at: datetime


# Every change asks it: built once, run on the connection without the ORM.
_SUBSCRIBERS = (
    select(WebhookSubscription.event_type, WebhookSubscription.endpoint)
    .join(WebhookEndpoint, WebhookEndpoint.name == WebhookSubscription.endpoint)
    .where(WebhookEndpoint.disabled_at.is_(None))
    .order_by(WebhookSubscription.endpoint)
)


def subscribers(session: Session) -> dict[str, list[str]]:
    """The enabled endpoints subscribed to each event type (types nobody wants left out)."""
    found: dict[str, list[str]] = {}
    for event_type, endpoint in session.connection().execute(_SUBSCRIBERS):
        found.setdefault(event_type, []).append(endpoint)
    return found


def queue(session: Session, deliveries: Sequence[tuple[str, Event]]) -> None:
    """Queue each (endpoint, event), in this order, in one executemany."""
    if deliveries:
        session.connection().execute(
            _QUEUE,
            [
                {
                    "endpoint": endpoint,
                    "event_type": event.event_type,
                    "message_id": event.message_id,
                    "lead_id": event.lead_id,
                    "payload": event.payload,
                    "attempts": 0,
                    "next_attempt_at": event.at,
                    "created_at": event.at,
                    "queued_at": event.at,
                }
                for endpoint, event in deliveries
            ],
        )


_QUEUE = insert(WebhookDelivery)  # built once: every lead and every move queues through it


def sync_endpoints(session: Session, endpoints: Mapping[str, tuple[str, Sequence[str]]]) -> None:
    """Make the stored endpoints and subscriptions those configured (name → URL, event types).

    An endpoint's disabled state is kept (only `enable` clears it); an endpoint no longer
    configured keeps its row and loses its subscriptions. Safe when two processes start at once.
    """
    configured = [(kind, name) for name, (_, kinds) in endpoints.items() for kind in kinds]
    session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.endpoint.not_in(list(endpoints)))
    )
    for name, (_, kinds) in endpoints.items():
        session.execute(
            delete(WebhookSubscription).where(
                WebhookSubscription.endpoint == name, WebhookSubscription.event_type.not_in(kinds)
            )
        )
    if not endpoints:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    add_endpoints = dialect.insert(WebhookEndpoint).values(
        [{"name": name, "url": url} for name, (url, _) in endpoints.items()]
    )
    session.execute(
        add_endpoints.on_conflict_do_update(
            index_elements=[WebhookEndpoint.name], set_={"url": add_endpoints.excluded.url}
        )
    )
    if configured:
        session.execute(
            dialect.insert(WebhookSubscription)
            .values([{"event_type": kind, "endpoint": name} for kind, name in configured])
            .on_conflict_do_nothing()
        )


def list_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name)).all()


def get_endpoint(session: Session, name: str) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, name, populate_existing=True)


def disabled_endpoints(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(WebhookEndpoint.name).where(WebhookEndpoint.disabled_at.is_not(None))
        )
    )


def delivery_counts(session: Session) -> dict[str, tuple[int, int]]:
    """(waiting, failed) deliveries per endpoint that has any."""
    waiting = func.count().filter(WebhookDelivery.done_at.is_(None))
    failed = func.count().filter(WebhookDelivery.failed_at.is_not(None))
    rows = session.execute(
        select(WebhookDelivery.endpoint, waiting, failed).group_by(WebhookDelivery.endpoint)
    ).all()
    return {endpoint: (int(w), int(f)) for endpoint, w, f in rows}


def lease_due(
    session: Session,
    *,
    endpoints: Sequence[str],
    now: datetime,
    limit: int,
    lease: timedelta,
    owner: str,
) -> Sequence[WebhookDelivery]:
    """Take up to `limit` due deliveries to these endpoints, oldest first, each the oldest
    undelivered one of its (endpoint, lead) lane, for `lease`.

    A lane whose head is leased (by any process), backing off or waiting out a Retry-After
    sends nothing, which keeps each lead's events in order at each endpoint. FOR UPDATE SKIP
    LOCKED lets several PostgreSQL processes lease at once without taking the same rows; SQLite
    has one writer at a time.
    """
    if not endpoints:
        return []
    earlier = aliased(WebhookDelivery)
    waits_behind = (
        select(earlier.id)
        .where(
            earlier.endpoint == WebhookDelivery.endpoint,
            earlier.lead_id == WebhookDelivery.lead_id,
            earlier.done_at.is_(None),
            earlier.id < WebhookDelivery.id,
        )
        .exists()
    )
    enabled = select(WebhookEndpoint.name).where(
        WebhookEndpoint.name.in_(endpoints), WebhookEndpoint.disabled_at.is_(None)
    )
    rows = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.done_at.is_(None),
            WebhookDelivery.endpoint.in_(enabled),
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
            ~waits_behind,
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    for row in rows:
        row.locked_until = now + lease
        row.lease_owner = owner
        row.attempts += 1  # tries started: a crash mid-send still counts as one
    session.flush()
    return rows


def _settle(session: Session, row: WebhookDelivery, owner: str, **values: Any) -> bool:
    """Write the outcome of `owner`'s try, unless its lease ran out and another took over."""
    settled = session.execute(
        sql_update(WebhookDelivery)
        .where(
            WebhookDelivery.id == row.id,
            WebhookDelivery.lease_owner == owner,
            WebhookDelivery.done_at.is_(None),
        )
        .values(locked_until=None, lease_owner=None, **values)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    ).first()
    return settled is not None


def mark_delivered(session: Session, row: WebhookDelivery, *, owner: str, now: datetime) -> bool:
    return _settle(session, row, owner, done_at=now, last_error=None)


def mark_retry(
    session: Session, row: WebhookDelivery, *, owner: str, error: str, retry_at: datetime
) -> bool:
    return _settle(session, row, owner, next_attempt_at=retry_at, last_error=error[:2000])


def mark_failed(
    session: Session, row: WebhookDelivery, *, owner: str, error: str, now: datetime
) -> bool:
    return _settle(session, row, owner, done_at=now, failed_at=now, last_error=error[:2000])


def disable_endpoint(session: Session, *, name: str, reason: str, now: datetime) -> int:
    """Disable the endpoint and settle its waiting deliveries as failed (replayable once it
    is enabled again); returns how many were waiting."""
    session.execute(
        sql_update(WebhookEndpoint)
        .where(WebhookEndpoint.name == name, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason[:2000])
    )
    return fail_waiting(session, names=[name], now=now)


def fail_waiting(session: Session, *, names: Collection[str], now: datetime) -> int:
    """Settle the waiting deliveries of these (disabled) endpoints as failed; returns how many.
    Also for a delivery queued by a move that still saw its endpoint enabled, and committed
    after the endpoint was disabled."""
    if not names:
        return 0
    waiting = session.execute(
        sql_update(WebhookDelivery)
        .where(WebhookDelivery.endpoint.in_(names), WebhookDelivery.done_at.is_(None))
        .values(
            done_at=now,
            failed_at=now,
            locked_until=None,
            lease_owner=None,
            last_error=func.coalesce(WebhookDelivery.last_error, "endpoint disabled"),
        )
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return len(waiting.all())


def enable_endpoint(session: Session, *, name: str) -> bool:
    """Clear the endpoint's disabled state; False when no such endpoint is stored."""
    enabled = session.execute(
        sql_update(WebhookEndpoint)
        .where(WebhookEndpoint.name == name)
        .values(disabled_at=None, disabled_reason=None)
        .returning(WebhookEndpoint.name)
    ).first()
    return enabled is not None


def list_failed(
    session: Session, *, limit: int, endpoint: str | None = None
) -> Sequence[WebhookDelivery]:
    """Deliveries given up on, latest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.failed_at.is_not(None))
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint == endpoint)
    return session.scalars(
        query.order_by(WebhookDelivery.failed_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    ).all()


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    if not 0 < delivery_id < 2**31:
        return None
    return session.get(WebhookDelivery, delivery_id, populate_existing=True)


def replay(session: Session, row: WebhookDelivery, *, now: datetime) -> None:
    """Send a failed delivery again, under its own webhook-id, with a fresh retry window; it
    keeps its place in its lead's order."""
    session.execute(
        sql_update(WebhookDelivery)
        .where(WebhookDelivery.id == row.id, WebhookDelivery.failed_at.is_not(None))
        .values(
            done_at=None,
            failed_at=None,
            attempts=0,
            next_attempt_at=now,
            queued_at=now,
            locked_until=None,
            lease_owner=None,
        )
        .execution_options(synchronize_session=False)
    )


def list_deliveries(session: Session, *, endpoint: str | None = None) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint == endpoint)
    return session.scalars(query).all()


def count_waiting(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.done_at.is_(None))
        )
        or 0
    )
