"""Test data with fixed defaults; tests override only what they are about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import intake, lifecycle
from storage.models import Lead, LeadStatus
from tests.conftest import NOW

S = LeadStatus


def lead_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": "hs-1001",
        "name": "Dana Whitfield",
        "email": "dana@northwind.example",
        "phone": "+1 555 0100",
        "title": "VP Operations",
        "company": "Northwind Traders",
        "company_size": "201-500",
        "industry": "Logistics",
        "country": "US",
        "source": "webinar",
        "campaign": "Q4 Ops Webinar",
        "score": 82,
        "intent": "demo_request",
        "budget": "Approved for Q1",
        "authority": "Decision maker",
        "need": "Route planning",
        "timeline": "This quarter",
        "activities": [
            {"type": "demo_request", "detail": "Asked for a demo", "at": "2026-11-24T14:00:00Z"}
        ],
        "notes": "Came from the webinar chat.",
        "crm_url": "https://crm.example/leads/1001",
    }
    payload.update(overrides)
    return payload


def create_lead(
    session: Session, *, status: LeadStatus = LeadStatus.NEW, now: datetime = NOW, **overrides: Any
) -> Lead:
    """A stored lead forced into `status` (with an owner where the status implies one)."""
    fields = intake.validate_lead(lead_payload(**overrides)).to_fields()
    created, _ = lifecycle.create(session, fields=fields, now=now)
    # Intake answers with a snapshot no session tracks; a test changes the stored lead.
    lead = session.get_one(Lead, created.id)
    if status != LeadStatus.NEW:
        lead.status = status.value
        if status in (S.ACCEPTED, S.CONTACTED, S.OPPORTUNITY, S.WON, S.LOST):
            lead.owner_id = "U0REP000001"
        if status == LeadStatus.REJECTED:
            lead.rejected_by = "U0REP000001"
            lead.reject_reason = "no_budget"
        session.flush()
    return lead
