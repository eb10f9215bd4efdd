"""The HubSpot write-back as domain data: the `[hubspot]` rules, and what each decision writes on
the lead's HubSpot contact (owner, lead status, a rejection note). Pure: no HTTP here.

A decision reaches HubSpot through the webhook outbox: when write-back is on, the reserved
endpoint `hubspot` subscribes to the decisions below, so their events are queued in the
decision's own transaction like any webhook's, and an adapter (handlers.hubspot_writeback) turns
each one into HubSpot calls with `write_back`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.webhooks import WRITE_BACK_ENDPOINT

ENDPOINT = WRITE_BACK_ENDPOINT  # the decisions' deliveries to HubSpot, in the webhook outbox
# The decisions written back; `baton webhooks` shows their deliveries under ENDPOINT.
EVENT_TYPES = ("lead.accepted", "lead.assigned", "lead.rejected", "lead.contacted")
_EXTERNAL_ID = re.compile(r"^hubspot:(\d+)$")  # a lead that came through /api/hooks/hubspot
_PROPERTY = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOTE_MARK = "Baton lead #"  # how a note Baton wrote is known again (with its hs_timestamp)


class HubSpotRules(BaseModel):
    """`[hubspot]` in baton.toml: which contact properties Baton writes and the values it
    writes for each decision (an empty value writes nothing for that decision)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner_property: str = "hubspot_owner_id"
    status_property: str = "hs_lead_status"
    accepted_status: str = Field("IN_PROGRESS", max_length=100)
    rejected_status: str = Field("UNQUALIFIED", max_length=100)
    contacted_status: str = Field("CONNECTED", max_length=100)
    notes: bool = True  # a note on the contact with a rejection's reason and the rep's note
    # Leads that did not come from HubSpot's hook are found by their email.
    match_by_email: bool = True
    retry_hours: float = Field(24.0, gt=0, le=24 * 7)
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("owner_property", "status_property")
    @classmethod
    def _property_name(cls, name: str) -> str:
        if not _PROPERTY.match(name):
            raise ValueError(f"{name!r} is not a HubSpot property's internal name")
        return name


@dataclass(frozen=True)
class RejectionNote:
    """The note a rejection leaves on the contact, as `note_html` words it."""

    lead_id: int
    lead_name: str
    reason: str  # the reason's label
    note: str | None
    by: str  # the Slack user who rejected it
    at: datetime  # the note's hs_timestamp: with NOTE_MARK, how a retry recognises it


@dataclass(frozen=True)
class WriteBack:
    """What one decision writes on one contact: found by `contact_id`, else by `email`."""

    lead_id: int
    contact_id: str | None
    email: str | None
    properties: dict[str, str] = field(default_factory=dict)
    owner_property: str | None = None
    owner_of: str | None = None  # the Slack user whose HubSpot owner becomes the contact's
    note: RejectionNote | None = None

    @property
    def contact(self) -> str | None:
        """How the contact is named in the write-back's log lines and errors."""
        if self.contact_id is not None:
            return f"contact {self.contact_id}"
        return f"contact with email {self.email}" if self.email else None


def write_back(event: Mapping[str, Any], rules: HubSpotRules) -> WriteBack:
    """What the queued event (a Standard Webhooks body, bot.webhooks.body) writes."""
    kind, data = event["type"], event["data"]
    lead = data["lead"]
    match = _EXTERNAL_ID.match(lead.get("external_id") or "")
    contact_id = match.group(1) if match else None
    status = {
        "lead.accepted": rules.accepted_status,
        "lead.assigned": rules.accepted_status,
        "lead.rejected": rules.rejected_status,
        "lead.contacted": rules.contacted_status,
    }[kind]
    claimed = kind in ("lead.accepted", "lead.assigned")
    note = None
    if kind == "lead.rejected" and rules.notes:
        note = RejectionNote(
            lead_id=lead["id"],
            lead_name=lead["name"],
            reason=data["reason"]["label"],
            note=data.get("note"),
            by=data["by"],
            at=to_milliseconds(datetime.fromisoformat(event["timestamp"])),
        )
    return WriteBack(
        lead_id=lead["id"],
        contact_id=contact_id,
        email=lead.get("email") if contact_id is None and rules.match_by_email else None,
        properties={rules.status_property: status} if status else {},
        owner_property=rules.owner_property if claimed else None,
        owner_of=lead["owner_id"] if claimed else None,
        note=note,
    )


def to_milliseconds(at: datetime) -> datetime:
    """The moment as HubSpot keeps a datetime: to the millisecond."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def epoch_milliseconds(at: datetime) -> str:
    """A datetime property's value as HubSpot takes it: milliseconds since the epoch."""
    return str((at - EPOCH) // timedelta(milliseconds=1))


def note_html(note: RejectionNote, *, rep: str) -> str:
    """The note's body (HubSpot shows it as rich text): the reason, the rep's note, who and
    which lead; every piece of lead or rep text escaped."""
    lines = [
        f"<strong>Rejected in Baton</strong>: {html.escape(note.reason)}",
        *([f"Note: {html.escape(note.note)}"] if note.note else []),
        f"By {html.escape(rep)} · {NOTE_MARK}{note.lead_id} ({html.escape(note.lead_name)})",
    ]
    return "".join(f"<p>{line}</p>" for line in lines)


def is_note_of(note: RejectionNote, *, body: str, timestamp: datetime | None) -> bool:
    """Whether a note on the contact is this rejection's (written by an earlier try whose
    answer was lost): the same moment and the same lead mark."""
    return timestamp == note.at and f"{NOTE_MARK}{note.lead_id} " in html.unescape(body)
