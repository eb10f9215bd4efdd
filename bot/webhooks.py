"""Outbound webhooks as domain data: the event types, the `[[webhooks]]` endpoints a team
configures, and the events a change announces, queued for every subscribed endpoint in the
change's own transaction (sending them is an adapter's job: handlers.webhook_delivery).
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from storage import webhooks as webhook_store
from storage.models import Lead

# The event type each lead event's action announces (bot.lifecycle.Action values); an action
# left out announces nothing. A new one is a line here (and a row in docs/webhooks.md).
ACTION_TYPES = {
    "create": "lead.created",
    "update": "lead.updated",
    "promote": "lead.promoted",
    "recycle": "lead.recycled",
    "post": "lead.posted",
    "accept": "lead.accepted",
    "reject": "lead.rejected",
    "release": "lead.released",
    "assign": "lead.assigned",
    "reopen": "lead.reopened",
    "escalate": "lead.escalated",
    "mark_contacted": "lead.contacted",
    "outcome": "lead.outcome",
    "undo": "lead.undone",
}
SLA_TYPES = ("sla.reminded", "sla.breached")  # announced by bot.sla_sweep
EVENT_TYPES = (*ACTION_TYPES.values(), *SLA_TYPES)
TEST_EVENT = "baton.test"  # sent by `baton webhooks test`, never queued by a change
# The HubSpot write-back's deliveries (bot.hubspot): a name no `[[webhooks]]` entry may take.
WRITE_BACK_ENDPOINT = "hubspot"

# What a receiver learns about the lead in every event: who, where from, and its handoff state.
LEAD_FIELDS = (
    "id",
    "external_id",
    "status",
    "name",
    "email",
    "company",
    "title",
    "source",
    "campaign",
    "score",
    "crm_url",
    "owner_id",
    "sla_policy",
    "slack_channel",
    "slack_ts",
    "created_at",
    "posted_at",
    "accepted_at",
    "rejected_at",
    "escalated_at",
    "contacted_at",
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def matching(pattern: str) -> list[str]:
    """The event types a `lead.*` style pattern names."""
    return [kind for kind in EVENT_TYPES if fnmatch.fnmatchcase(kind, pattern)]


class WebhookEndpoint(BaseModel):
    """One `[[webhooks]]` entry: where to send, which events, the variable holding its
    `whsec_` secret(s), how long to retry and how long to wait for an answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    events: list[str] = Field(min_length=1)
    secret_env: str
    retry_hours: float = Field(24.0, gt=0, le=24 * 7)
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r}: lower-case letters, digits, - and _ (at most 64)")
        if name == WRITE_BACK_ENDPOINT:
            raise ValueError(f"{name!r} is reserved for the HubSpot write-back ([hubspot])")
        return name

    @field_validator("url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+\S*$", url):
            raise ValueError(f"must be an http(s) URL, got {url!r}")
        return url

    @field_validator("events")
    @classmethod
    def _known_events(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not matching(pattern):
                raise ValueError(f"{pattern!r} names no event type ({', '.join(EVENT_TYPES)})")
        return patterns

    @field_validator("secret_env")
    @classmethod
    def _variable_name(cls, name: str) -> str:
        if not _VARIABLE.match(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return name

    @property
    def event_types(self) -> list[str]:
        """Every event type its patterns name, in EVENT_TYPES order."""
        return [kind for kind in EVENT_TYPES if any(kind in matching(p) for p in self.events)]


def check_endpoints(endpoints: Sequence[WebhookEndpoint]) -> None:
    """ValueError when two endpoints share a name (the CLI and the database know them by it)."""
    names = [endpoint.name for endpoint in endpoints]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"endpoint name {name!r} is used twice")


def lead_events(
    session: Session,
    *,
    events: Sequence[tuple[Lead, Mapping[str, Any]]],
    reasons: Mapping[str, str] | None = None,
) -> None:
    """Announce lead events as bot.lifecycle records them (each with its lead as written);
    `reasons` labels a rejection's reason code. An event nobody subscribes to is not shaped
    (a batch of leads announces a thousand)."""
    subscribers = webhook_store.subscribers(session)
    announced = []
    for lead, event in events:
        kind = ACTION_TYPES.get(event["action"])
        if kind is None or kind not in subscribers:
            continue
        details = dict(event["details"])
        data: dict[str, Any] = {
            "by": event["actor"],
            "from_status": _value(event["from_status"]),
            "to_status": _value(event["to_status"]),
        }
        if event["action"] == "reject":  # a code from the taxonomy, given with its label
            code = details.pop("reason")
            data["reason"] = {"code": code, "label": (reasons or {}).get(code, code)}
        announced.append((kind, lead, {**data, **details}, event["at"]))
    _queue(session, announced, subscribers)


def sla_event(
    session: Session, *, kind: str, lead: Lead, data: Mapping[str, Any], now: datetime
) -> None:
    """Announce an SLA moment (`sla.reminded`, `sla.breached`) about the lead."""
    _queue(session, [(kind, lead, data, now)], webhook_store.subscribers(session))


def body(kind: str, *, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A delivery's body, as the Standard Webhooks specification shapes it."""
    return {"type": kind, "timestamp": _timestamp(at), "data": dict(data)}


def new_message_id() -> str:
    """A `webhook-id`: one per event, the same on every retry and for every endpoint."""
    return f"msg_{uuid.uuid4().hex}"


def lead_data(lead: Lead) -> dict[str, Any]:
    return {name: _value(getattr(lead, name)) for name in LEAD_FIELDS}


def _queue(
    session: Session,
    announced: Sequence[tuple[str, Lead, Mapping[str, Any], datetime]],
    subscribers: Mapping[str, list[str]],
) -> None:
    """Queue each event for the enabled endpoints `subscribers` names for its type, in order;
    an event nobody subscribes to costs nothing more than the one look-up of who subscribes."""
    deliveries: list[tuple[str, webhook_store.Event]] = []
    for kind, lead, data, at in announced:
        endpoints = subscribers.get(kind)
        if not endpoints:
            continue
        event = webhook_store.Event(
            event_type=kind,
            lead_id=lead.id,
            message_id=new_message_id(),
            payload=body(kind, data={"lead": lead_data(lead), **data}, at=at),
            at=at,
        )
        deliveries.extend((endpoint, event) for endpoint in endpoints)
    webhook_store.queue(session, deliveries)


def _value(value: Any) -> Any:
    """A column's value as JSON carries it: times as ISO 8601 in UTC, statuses as their names."""
    if isinstance(value, datetime):
        return _timestamp(value)
    if hasattr(value, "value"):
        return value.value
    return value


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
