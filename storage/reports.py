"""Queries behind the reports: handed-off leads, their decisive events, rejections in a period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, true
from sqlalchemy.orm import Session

from storage.models import Lead, LeadEvent

# The events that decide a report's numbers; creation, posting, release and the like do not.
REPORTED_ACTIONS = ("accept", "assign", "reject", "escalate", "mark_contacted")


def _handed_off_in(start: datetime, end: datetime, source: str | None) -> ColumnElement[bool]:
    return (Lead.posted_at >= start) & (Lead.posted_at < end) & _source_is(source)


def _source_is(source: str | None) -> ColumnElement[bool]:
    """Sources are matched as lead routing matches them: ignoring case and outer spaces."""
    if source is None:
        return true()
    return func.lower(Lead.source) == source.strip().lower()


def list_handed_off(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The leads whose card was posted in [start, end): only the columns reports use, because a
    quarter can hold a hundred thousand leads and full ORM objects would dominate the cost."""
    return session.execute(
        select(Lead.id, Lead.status, Lead.owner_id, Lead.sla_policy, Lead.posted_at)
        .where(_handed_off_in(start, end, source))
        .order_by(Lead.id)
    ).all()


def list_reported_events(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Every decisive event of the leads `list_handed_off` returns, in one query (joined, not an
    IN list, which would hit the drivers' parameter limits), ordered per lead as they happened."""
    return session.execute(
        select(
            LeadEvent.lead_id, LeadEvent.action, LeadEvent.actor, LeadEvent.at, LeadEvent.details
        )
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(_handed_off_in(start, end, source), LeadEvent.action.in_(REPORTED_ACTIONS))
        .order_by(LeadEvent.lead_id, LeadEvent.id)
    ).all()


def list_rejections(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Reject events in [start, end) with the lead they rejected, oldest first.

    Read from the event log rather than the lead's columns: a reopen clears those, but the
    feedback sales gave stays true.
    """
    return session.execute(
        select(
            LeadEvent.id.label("event_id"),
            LeadEvent.actor,
            LeadEvent.at,
            LeadEvent.details,
            Lead.id.label("lead_id"),
            Lead.external_id,
            Lead.name,
            Lead.company,
            Lead.source,
            Lead.campaign,
            Lead.posted_at,
        )
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(
            LeadEvent.action == "reject",
            LeadEvent.at >= start,
            LeadEvent.at < end,
            _source_is(source),
        )
        .order_by(LeadEvent.at, LeadEvent.id)
    ).all()
