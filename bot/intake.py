"""Lead intake: what a valid lead looks like, and storing it exactly once per external_id."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    ValidationError,
)
from pydantic_core import PydanticKnownError, core_schema
from sqlalchemy import Dialect
from sqlalchemy.orm import Session

from bot import assignment, extra_fields, lead_updates, lifecycle, scoring
from bot.errors import InvalidInput, LeadNotFound
from bot.json_input import field_name
from bot.rules import Rules
from bot.validation import problems
from storage import leads as lead_store
from storage.models import Lead, LeadStatus

log = logging.getLogger(__name__)

MAX_ACTIVITIES = lead_updates.MAX_ACTIVITIES
# Who sent a repeat that updated a lead, as its event's actor and `lead.updated`'s `by` name
# it: the intake API, a CSV import, or (through a hook) the hook's name.
API_SENDER = "api"
CSV_SENDER = "csv"
SENDER_WORDS = {API_SENDER: "the API", CSV_SENDER: "a CSV import"}
# Leads per batch request: a thousand is one transaction of well under a second.
MAX_BATCH = 1000
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
# A URL whose netloc (up to the first /, ? or #) is a host alone: no user info, port or
# brackets, which _check_url then leaves to urlsplit.
_PLAIN_HOST = re.compile(r"https?://[^/?#@\[\]:]+(?:[/?#]|$)", re.IGNORECASE)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _clean_text(value: Any) -> Any:
    """Trim text, and take numbers as text: sources send sizes like 250 as numbers.

    Booleans are left to fail as "not a string" (True is no company size), and NaN or Infinity
    is refused rather than stored as "nan" or "inf".
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be text or a finite number")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _check_storable(value: str) -> str:
    """Refuse what JSON can carry but no database or Slack can take back (PITFALLS.md, 25)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid text (it holds a lone surrogate)") from None
    if "\x00" in value:
        raise ValueError("is not valid text (it holds a NUL character)")
    return value


def _refuse_boolean(value: Any) -> Any:
    """Python counts True as 1; a score of `true` is a mistake to report, not a 1 to store."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def _check_email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


def _check_url(value: str | None) -> str | None:
    """An http(s) URL whose host is what a reader sees: `http://crm.example@evil.example/`
    reads as the CRM but opens evil.example, so user info is refused."""
    if value is None:
        return None
    if not _URL.match(value):
        raise ValueError("must be an http:// or https:// URL")
    if value.isascii() and _PLAIN_HOST.match(value):
        return value  # a host alone (urlsplit's netloc): no user info, and a host named
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValueError("must not hold user info (user@host)")
    if not parts.hostname:
        raise ValueError("must name a host")
    return value


def _in_utc(value: datetime) -> datetime:
    """The moment in UTC, as stored; year 9999 at -14:00 is past the last UTC year Python has."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


@dataclass(frozen=True)
class _Text:
    """Field metadata: trimmed, non-empty text of at most `max_length` characters.

    A class rather than a type built by a function, so the field's static type stays `str`.
    One function checks it all: a chain of pydantic validators (clean, type, two lengths,
    storable) is five calls into Python per field, and a lead has some twenty text fields.
    Its errors are the ones the chain raised, in the same order.
    """

    max_length: int

    def check(self, value: Any) -> str:
        return self._fits(value.strip() if isinstance(value, str) else _clean_text(value))

    def _fits(self, text: Any) -> str:
        if not isinstance(text, str):
            raise PydanticKnownError("string_type")
        size = len(text)
        if not size:
            raise PydanticKnownError(
                "too_short", {"field_type": "Value", "min_length": 1, "actual_length": 0}
            )
        if size > self.max_length:
            raise PydanticKnownError(
                "too_long",
                {"field_type": "Value", "max_length": self.max_length, "actual_length": size},
            )
        # ASCII text holds no lone surrogate (isascii reads a flag): only NUL is left to look for.
        if text.isascii() and "\x00" not in text:
            return text
        return _check_storable(text)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The input schema only describes the field (a JSON schema of a lead): `check` decides.
        return core_schema.no_info_plain_validator_function(
            self.check, json_schema_input_schema=self._described()
        )

    def _described(self) -> core_schema.CoreSchema:
        return core_schema.str_schema(min_length=1, max_length=self.max_length)


@dataclass(frozen=True)
class _OptionalText(_Text):
    """Field metadata: like _Text, with blank text taken as absent (None)."""

    def check(self, value: Any) -> str | None:  # type: ignore[override]
        if isinstance(value, str):
            text = value.strip()
            return self._fits(text) if text else None
        return None if value is None else self._fits(_clean_text(value))

    def _described(self) -> core_schema.CoreSchema:
        return core_schema.nullable_schema(core_schema.str_schema(max_length=self.max_length))


class Activity(BaseModel):
    """Something the lead did that made it an SQL (a demo request, a pricing page visit...)."""

    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, _Text(64)]
    detail: Annotated[str | None, _OptionalText(500)] = None
    at: Annotated[AwareDatetime, AfterValidator(_in_utc)] | None = None


class LeadInput(BaseModel):
    """One lead as marketing sends it; the same fields arrive as JSON or as CSV columns."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, _Text(255)]
    name: Annotated[str, _Text(200)]
    email: Annotated[str | None, _OptionalText(320), AfterValidator(_check_email)] = None
    phone: Annotated[str | None, _OptionalText(64)] = None
    title: Annotated[str | None, _OptionalText(200)] = None
    company: Annotated[str | None, _OptionalText(200)] = None
    company_size: Annotated[str | None, _OptionalText(64)] = None
    industry: Annotated[str | None, _OptionalText(120)] = None
    country: Annotated[str | None, _OptionalText(120)] = None
    segment: Annotated[str | None, _OptionalText(120)] = None
    source: Annotated[str | None, _OptionalText(120)] = None
    campaign: Annotated[str | None, _OptionalText(200)] = None
    score: Annotated[
        Annotated[int, Field(ge=0, le=100)] | None,  # the range on the number: null is no score
        BeforeValidator(_blank_to_none),
        BeforeValidator(_refuse_boolean),
    ] = None
    intent: Annotated[str | None, _OptionalText(120)] = None
    budget: Annotated[str | None, _OptionalText(500)] = None
    authority: Annotated[str | None, _OptionalText(500)] = None
    need: Annotated[str | None, _OptionalText(500)] = None
    timeline: Annotated[str | None, _OptionalText(500)] = None
    activities: list[Activity] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    notes: Annotated[str | None, _OptionalText(5000)] = None
    crm_url: Annotated[str | None, _OptionalText(2000), AfterValidator(_check_url)] = None
    owner_email: Annotated[str | None, _OptionalText(320), AfterValidator(_check_email)] = None
    # What the sender sent beyond these fields, when the rules keep unknown fields.
    _extra: dict[str, Any] = PrivateAttr(default_factory=dict)

    def to_fields(self) -> dict[str, Any]:
        """The lead's fields as stored. Read from the validated values at once: every field
        but activities is text, a number or None, which model_dump only copies, and reading
        `_extra` through pydantic's attribute hook costs more than the rest of a lead here."""
        fields = {name: value for name, value in self.__dict__.items() if name != "activities"}
        fields["extra"] = (self.__pydantic_private__ or {}).get("_extra") or None
        fields["activities"] = _stored_activities(self.activities)
        return fields


class NewActivities(BaseModel):
    """What `POST /api/leads/external/{external_id}/activities` takes: a stored lead's new
    activities, each as a lead's own."""

    model_config = ConfigDict(extra="forbid")

    activities: list[Activity] = Field(min_length=1, max_length=MAX_ACTIVITIES)

    def to_fields(self) -> dict[str, Any]:
        """Fields as a repeat of the lead holding only these activities sends them: every other
        field absent, so the stored ones stand (bot.lead_updates)."""
        absent = dict.fromkeys(LeadInput.model_fields)
        return {**absent, "extra": None, "activities": _stored_activities(self.activities)}


def _stored_activities(activities: Sequence[Activity]) -> list[dict[str, Any]]:
    return [
        {
            "type": activity.type,
            "detail": activity.detail,
            "at": activity.at.isoformat() if activity.at else None,
        }
        for activity in activities
    ]


FIELD_NAMES = tuple(LeadInput.model_fields)
_KNOWN = frozenset(FIELD_NAMES)


def validate_lead(payload: Any, *, keep_unknown: bool = False) -> LeadInput:
    """Validate untrusted input, raising InvalidInput that maps each bad field to its problem.

    With `keep_unknown`, fields Baton does not know are kept with the lead (bot.extra_fields)
    instead of refused; only the known ones are checked."""
    if not isinstance(payload, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    unknown: dict[str, Any] = {}
    if not _KNOWN.issuperset(payload):  # most leads name known fields only: one test, in C
        unknown = {key: value for key, value in payload.items() if key not in _KNOWN}
    if keep_unknown and unknown:
        payload = {key: value for key, value in payload.items() if key in _KNOWN}
    try:
        lead = LeadInput.model_validate(payload)
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None
    if keep_unknown and unknown:
        lead._extra, left_out = extra_fields.kept(unknown)
        if left_out:
            log.info("intake: left out %d unknown field(s) past the limits", len(left_out))
    return lead


# How the API words what pydantic finds, by pydantic's error type.
_WORDING = {
    "extra_forbidden": "unknown field",
    "string_unicode": "holds a field name that is not valid text",  # a lone surrogate
}


def field_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in problems(error, wording=_WORDING):
        errors.setdefault(field_name(list(problem.location)), problem.message)
    return errors


@dataclass(frozen=True)
class Received:
    """One lead's result: the lead as stored, whether it was created, and what a repeat changed
    (bot.lead_updates; None when it changed nothing)."""

    lead: Lead
    created: bool
    changes: dict[str, Any] | None = None


@dataclass(frozen=True)
class Ready:
    """Valid leads with what storing them needs and no transaction does: their fields as sent,
    and the new leads scored and in the database's form. Made before the write turn, so a
    batch is made ready while another batch's statements hold the turn."""

    sent: list[dict[str, Any]]
    new: lifecycle.NewLeads
    now: datetime
    model: scoring.ScoringModel | None


def ready(
    leads: Sequence[LeadInput],
    *,
    now: datetime,
    model: scoring.ScoringModel | None,
    dialect: Dialect,
    rules: Rules,
) -> Ready:
    """`leads` made ready to store, received `now`, scored by the team's `model` if any, each
    new one's card routed by the team's `rules`."""
    sent = [lead.to_fields() for lead in leads]
    scored = [scoring.scored_fields(model, fields, now=now) for fields in sent]
    new = lifecycle.new_leads(scored, now=now, dialect=dialect, rules=rules)
    return Ready(sent, new, now, model)


def store(
    session: Session,
    leads: Sequence[LeadInput],
    *,
    sender: str,
    moves: lifecycle.Lifecycle,
    now: datetime,
    model: scoring.ScoringModel | None = None,
) -> list[Received]:
    """Store valid leads in the caller's transaction, each external_id once; one result each.
    With the team's scoring `model`, each is stored with the model's score and its reasons.
    New leads of a route that assigns go to their rep (bot.assignment) in that transaction.

    A repeat whose data differs from what is stored (an earlier one in `leads` included) updates
    the lead, rescored, audited as by `sender` (the intake API, a CSV import, a hook's name)."""
    dialect = session.get_bind().dialect
    made = ready(leads, now=now, model=model, dialect=dialect, rules=moves.policies.rules)
    return store_ready(session, made, sender=sender, moves=moves)


def store_ready(
    session: Session, leads: Ready, *, sender: str, moves: lifecycle.Lifecycle
) -> list[Received]:
    """`store` for leads made `ready` before the caller's transaction."""
    now, model = leads.now, leads.model
    pairs = lifecycle.create_many(session, leads.new, now=now)
    routed = assignment.route_new_leads(
        session, moves, [lead for lead, created in pairs if created], now=now
    )
    pairs = _read_again(session, pairs, routed)
    results: list[Received] = []
    promoted: list[Lead] = []
    for fields, (lead, created) in zip(leads.sent, pairs, strict=True):
        changes = None
        # Compared unlocked first, so an identical repeat (the common one) locks nothing.
        if not created and lead_updates.compare(lead, fields) is not None:
            # Earlier results of this lead answer with the lead as it was then.
            before = lead_store.detached_copy(lead)
            results = [replace(r, lead=before) if r.lead is lead else r for r in results]
            lead, changes = lifecycle.update_data(
                session, lead_id=lead.id, fields=fields, sender=sender, model=model, now=now
            )
            promoted += [lead] if _promoted(before, lead) else []
        results.append(Received(lead, created, changes))
    assignment.route_new_leads(session, moves, promoted, now=now)
    return results


def _read_again(
    session: Session, pairs: list[tuple[Lead, bool]], lead_ids: Sequence[int]
) -> list[tuple[Lead, bool]]:
    """`pairs` with the leads of `lead_ids` as they are stored now: create_many's leads are as
    inserted, and routing may have assigned or offered them since."""
    if not lead_ids:
        return pairs
    now_stored = {lead_id: lead_store.get_lead(session, lead_id) for lead_id in lead_ids}
    return [(now_stored.get(lead.id) or lead, created) for lead, created in pairs]


def _promoted(before: Lead, after: Lead) -> bool:
    """Whether an update made a lead kept for marketing an SQL: it is routed as a new lead."""
    return before.status in lifecycle.HELD and after.status == LeadStatus.NEW


def validate_activities(payload: Any) -> NewActivities:
    """Validate untrusted new activities (`{"activities": [...]}`), as validate_lead does a lead."""
    if not isinstance(payload, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    try:
        return NewActivities.model_validate(payload)
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None


def add_activities(
    session: Session,
    *,
    external_id: str,
    activities: NewActivities,
    sender: str,
    moves: lifecycle.Lifecycle,
    now: datetime,
    model: scoring.ScoringModel | None = None,
) -> Received:
    """Append new activities to the lead stored under `external_id`, rescored by the team's
    `model` (an MQL they make an SQL is handed off, and routed as a new lead is: an `assign`
    route gives it to its rep); activities
    already stored change nothing. LeadNotFound when no lead has the external_id."""
    lead = lead_store.get_leads_by_external_ids(session, [external_id]).get(external_id)
    if lead is None:
        raise LeadNotFound(external_id)
    before = lead_store.detached_copy(lead)
    lead, changes = lifecycle.update_data(
        session, lead_id=lead.id, fields=activities.to_fields(), sender=sender, model=model, now=now
    )
    if _promoted(before, lead):
        assignment.route_new_leads(session, moves, [lead], now=now)
    return Received(lead, False, changes)


def check_batch(payload: Any, *, keep_unknown: bool = False) -> list[LeadInput | InvalidInput]:
    """The leads of a batch (`{"leads": [...]}`), each validated as the single endpoint does;
    InvalidInput for a batch of the wrong shape or of more than MAX_BATCH leads.

    Done before the transaction, so validating a thousand leads holds no lock.
    """
    if not isinstance(payload, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    errors = {field_name([name]): "unknown field" for name in payload if name != "leads"}
    leads = payload.get("leads")
    if "leads" not in payload:
        errors["leads"] = "Field required"
    elif not isinstance(leads, list):
        errors["leads"] = "must be a list of leads"
    elif len(leads) > MAX_BATCH:
        errors["leads"] = f"holds {len(leads)} leads; at most {MAX_BATCH} are taken at once"
    if errors:
        raise InvalidInput(errors)
    assert isinstance(leads, list)
    return [_checked(lead, keep_unknown) for lead in leads]


def _checked(payload: Any, keep_unknown: bool) -> LeadInput | InvalidInput:
    try:
        return validate_lead(payload, keep_unknown=keep_unknown)
    except InvalidInput as invalid:
        return invalid


@dataclass(frozen=True)
class ReadyBatch:
    """A checked batch (a lead or its InvalidInput, in order) with its valid leads made ready."""

    checked: Sequence[LeadInput | InvalidInput]
    valid: Ready


def ready_batch(
    checked: Sequence[LeadInput | InvalidInput],
    *,
    now: datetime,
    model: scoring.ScoringModel | None,
    dialect: Dialect,
    rules: Rules,
) -> ReadyBatch:
    """A checked batch's valid leads made ready (`ready`), before the write turn."""
    valid = [lead for lead in checked if isinstance(lead, LeadInput)]
    return ReadyBatch(checked, ready(valid, now=now, model=model, dialect=dialect, rules=rules))


def receive_checked(
    session: Session, batch: ReadyBatch, *, sender: str, moves: lifecycle.Lifecycle
) -> list[Received | InvalidInput]:
    """Store the valid leads of a batch in one go (as `store` does); the invalid ones stay as
    they are, so the results line up with the batch."""
    received = iter(store_ready(session, batch.valid, sender=sender, moves=moves))
    return [item if isinstance(item, InvalidInput) else next(received) for item in batch.checked]
