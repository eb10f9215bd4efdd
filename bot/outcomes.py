"""What became of a handed-off lead, as the CRM reports it (`POST /api/leads/…/outcome`) or its
owner or a manager says it in Slack: validated into a lifecycle.Outcome, found by id or by the
sender's external_id, and recorded by the lifecycle."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, LeadNotFound
from bot.intake import _in_utc, _OptionalText, _refuse_boolean, field_errors
from bot.lifecycle import Actor, Lifecycle, Outcome
from storage import leads as lead_store
from storage.models import Lead, LeadStatus

STAGES = ("opportunity", "won", "lost")


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


class OutcomeInput(BaseModel):
    """The body of an outcome request."""

    model_config = ConfigDict(extra="forbid")

    stage: Literal["opportunity", "won", "lost"]
    amount: Annotated[
        Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None,
        BeforeValidator(_refuse_boolean),
    ] = None
    currency: Annotated[
        Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] | None, AfterValidator(_upper)
    ] = None
    reason: Annotated[str | None, _OptionalText(500)] = None
    at: Annotated[AwareDatetime, AfterValidator(_in_utc)] | None = None

    def outcome(self) -> Outcome:
        return Outcome(
            stage=LeadStatus(self.stage),
            amount=self.amount,
            currency=self.currency,
            reason=self.reason,
            at=self.at,
        )


def validate_outcome(payload: Any) -> Outcome:
    """Validate untrusted input, raising InvalidInput that maps each bad field to its problem."""
    if not isinstance(payload, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    try:
        return OutcomeInput.model_validate(payload).outcome()
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None


def record(
    session: Session,
    lifecycle: Lifecycle,
    *,
    lead_key: int | str,
    outcome: Outcome,
    actor: Actor,
    now: datetime,
) -> tuple[Lead, bool]:
    """Record `outcome` for the lead numbered `lead_key` (an int) or stored under that
    external_id (a str); (lead, changed)."""
    lead = (
        lead_store.get_lead(session, lead_key)
        if isinstance(lead_key, int)
        else lead_store.get_leads_by_external_ids(session, [lead_key]).get(lead_key)
    )
    if lead is None:
        raise LeadNotFound(lead_key)
    return lifecycle.record_outcome(session, lead_id=lead.id, actor=actor, outcome=outcome, now=now)
