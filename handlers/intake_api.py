"""HTTP intake: `POST /api/leads`, `POST /api/leads/external/{external_id}/activities` and
`GET /api/leads/{id}`, as docs/http-api.md documents them."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot import intake, json_input
from bot.errors import InvalidInput, LeadNotFound
from handlers import heap, metrics
from handlers.api_requests import (
    LEAD_ID,
    DatabaseUnavailable,
    LeadsAnswer,
    in_thread,
    json_body,
    problem,
    refusal,
    served,
    unavailable,
)
from handlers.services import Services
from storage import leads as lead_store
from storage.models import Lead
from storage.write_groups import WriteGroups

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024
# A batch of intake.MAX_BATCH leads: 8 KiB a lead on average, some eight times a typical one.
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024
# Batches a process checks, stores and answers at once, by database; the others wait their
# turn, their bodies read. A batch of 1,000 leads holds some 9 MB meanwhile, which the heap
# keeps after (in pages a few lasting objects pin), and checking it holds the GIL. SQLite's one
# writer stores one batch at a time, but its statements leave the GIL free most of their time:
# with two at once the next batch is checked and made ready (intake.ready_batch) meanwhile,
# 8,868-9,672 leads/s against 8,609-8,870 with one (benchmarks.handoff, alternating runs);
# three did no better. PostgreSQL indexes a batch in its own processes while the server checks
# the next: four at once stored 4,650-5,900 leads/s there, one 3,600.
BATCHES_AT_ONCE = {"sqlite": 2, "postgresql": 4}


# The lead object's members as docs/http-api.md lists them, in order: as stored, then times.
_AS_STORED = (
    "id",
    "status",
    *intake.FIELD_NAMES,
    "owner_id",
    "rejected_by",
    "reject_reason",
    "reject_note",
    "sla_policy",
    "slack_channel",
    "slack_ts",
)
_TIMES = (
    "data_changed_at",
    "promoted_at",
    "claim_due_at",
    "follow_up_due_at",
    "created_at",
    "updated_at",
    "posted_at",
    "accepted_at",
    "rejected_at",
    "escalated_at",
    "contacted_at",
    "opportunity_at",
    "closed_at",
)


def lead_json(lead: Lead) -> dict[str, Any]:
    """The API's view of a lead: its fields, its state and its timestamps (ISO 8601, UTC)."""
    stored, times, (amount, currency, reason, extra, explanation, changes, why) = _shown(lead)
    data: dict[str, Any] = dict(zip(_AS_STORED, stored, strict=True))
    data.update(zip(_TIMES, [value and _iso(value) for value in times], strict=True))
    # The deal, as the CRM reported it; the amount as a string, so no digit is lost to a float.
    data["outcome_amount"] = None if amount is None else str(amount)
    data["outcome_currency"] = currency
    data["outcome_reason"] = reason
    data["extra"] = extra or {}
    # Why the team's scoring model gave the score (docs/scoring.md); null: the sender's score.
    data["score_explanation"] = explanation
    data["data_changes"] = changes
    data["promoted_why"] = why  # why new data made an MQL an SQL (bot.promotion)
    return data


_OTHERS = (
    "outcome_amount",
    "outcome_currency",
    "outcome_reason",
    "extra",
    "score_explanation",
    "data_changes",
    "promoted_why",
)
_SHOWN = frozenset((*_AS_STORED, *_TIMES, *_OTHERS))
_READ = (itemgetter(*_AS_STORED), itemgetter(*_TIMES), itemgetter(*_OTHERS))


def _shown(lead: Lead) -> tuple[tuple[Any, ...], ...]:
    """The values lead_json shows, as _READ's three groups, read from the lead's loaded state
    at once (each read through the ORM's attribute is a Python call, and a lead shows some
    fifty); a lead missing one (expired) reads them through the ORM, which loads it."""
    try:
        return tuple(read(lead.__dict__) for read in _READ)
    except KeyError:
        loaded = {name: getattr(lead, name) for name in _SHOWN}
        return tuple(read(loaded) for read in _READ)


def _iso(moment: datetime) -> str:
    """`moment.isoformat()`, written by orjson in C in a quarter of its time (the same text for
    an aware datetime): a lead shows a few, a batch's answer a few thousand."""
    return orjson.dumps(moment)[1:-1].decode()


class SingleLeads:
    """`POST /api/leads`. Single leads arriving together are stored together: one transaction
    for the group (storage.write_groups). http_app also serves it ahead of FastAPI's routing."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._groups: WriteGroups[intake.LeadInput, intake.Received] = WriteGroups(
            lambda leads: _store_all(services, leads), max_group=intake.MAX_BATCH
        )

    async def __call__(self, request: Request) -> JSONResponse:
        body = await json_body(request, self._services, MAX_BODY_BYTES)
        if isinstance(body, JSONResponse):
            return body
        received: intake.Received | InvalidInput
        try:
            # Checked on the event loop: a lead of at most MAX_BODY_BYTES takes less time to
            # check than a hop to a thread would; only its group's write leaves the loop.
            lead_input = intake.validate_lead(
                json_input.parse(body), keep_unknown=_keeps_unknown(self._services)
            )
            received = await served(asyncio.wrap_future(self._groups.submit(lead_input)))
        except json_input.BrokenJson as broken:
            metrics.LEADS_RECEIVED.labels(result="invalid").inc()
            return problem(400, str(broken))
        except InvalidInput as invalid:
            received = invalid
        except DatabaseUnavailable:
            metrics.LEADS_RECEIVED.labels(result="unavailable").inc()
            return unavailable()
        status, data = item_result(received)
        location = {"Location": f"/api/leads/{data['id']}"} if status == 201 else None
        return LeadsAnswer(data, status_code=status, headers=location)


def router(services: Services, single_leads: SingleLeads) -> APIRouter:
    api = APIRouter(prefix="/api")
    api.add_api_route("/leads", single_leads, methods=["POST"])
    batch_turns = asyncio.Semaphore(BATCHES_AT_ONCE[services.db.dialect])

    @api.post("/leads/batch")
    async def create_leads(request: Request) -> JSONResponse:
        body = await json_body(request, services, MAX_BATCH_BODY_BYTES)
        if isinstance(body, JSONResponse):
            return body
        try:
            # Counted from now: a burst's batches waiting their turn keep what the heap holds.
            with heap.giving_back_after():
                async with batch_turns:
                    return await in_thread(_answered_batch, services, body)
        except json_input.BrokenJson as broken:
            return problem(400, str(broken))
        except InvalidInput as invalid:
            return problem(422, "invalid batch", fields=invalid.errors)
        except DatabaseUnavailable:
            return unavailable()

    @api.post("/leads/external/{external_id:path}/activities")
    async def add_activities(external_id: str, request: Request) -> JSONResponse:
        body = await json_body(request, services, MAX_BODY_BYTES)
        if isinstance(body, JSONResponse):
            return body
        try:
            activities = intake.validate_activities(json_input.parse(body))
            received = await in_thread(_store_activities, services, external_id, activities)
        except json_input.BrokenJson as broken:
            return problem(400, str(broken))
        except InvalidInput as invalid:
            return problem(422, "invalid activities", fields=invalid.errors)
        except DatabaseUnavailable:
            return unavailable()
        except LeadNotFound:
            return problem(404, "no lead has this external_id")
        return LeadsAnswer(item_result(received)[1])

    @api.get("/leads/{lead_id}")
    async def read_lead(lead_id: str, request: Request) -> JSONResponse:
        refused = refusal(request, services)
        if refused is not None:
            return refused
        if not LEAD_ID.fullmatch(lead_id):  # not a number, or longer than any id
            return problem(404, "no such lead")
        try:
            data = await in_thread(_load, services, int(lead_id))
        except DatabaseUnavailable:
            return unavailable()
        if data is None:
            return problem(404, f"lead {lead_id} not found")
        return LeadsAnswer(data)

    return api


def item_result(result: intake.Received | InvalidInput) -> tuple[int, dict[str, Any]]:
    """The single endpoint's status and body for one lead (a batch lists one per lead), counted.
    A repeat that changed the lead says so and what changed; an identical one is the stored lead."""
    status, data, counted_as = _answer(result)
    metrics.LEADS_RECEIVED.labels(result=counted_as).inc()
    return status, data


def _answer(result: intake.Received | InvalidInput) -> tuple[int, dict[str, Any], str]:
    """`item_result`'s status and body, and what the lead counts as, uncounted."""
    if isinstance(result, InvalidInput):
        return 422, {"error": "invalid lead", "fields": result.errors}, "invalid"
    if result.created:
        return 201, lead_json(result.lead), "created"
    if result.changes is None:
        return 200, lead_json(result.lead), "duplicate"
    return 200, {**lead_json(result.lead), "updated": True, "changes": result.changes}, "updated"


def _batch_answer(results: list[intake.Received | InvalidInput]) -> LeadsAnswer:
    items = [_answer(result) for result in results]
    counted = Counter(counted_as for _, _, counted_as in items)
    for counted_as, count in counted.items():  # once a kind, not once a lead
        metrics.LEADS_RECEIVED.labels(result=counted_as).inc(count)
    return LeadsAnswer(
        {
            "results": [{"status": status, "body": body} for status, body, _ in items],
            "created": counted["created"],
            "existing": counted["duplicate"] + counted["updated"],
            "updated": counted["updated"],
            "invalid": counted["invalid"],
        }
    )


def _keeps_unknown(services: Services) -> bool:
    return services.config.rules.intake.keeps_unknown_fields


def _store_all(services: Services, leads: Sequence[intake.LeadInput]) -> list[intake.Received]:
    with services.unit_of_work() as session:
        return intake.store(
            session,
            leads,
            sender=intake.API_SENDER,
            moves=services.lifecycle,
            now=services.clock(),
            model=services.config.rules.scoring,
        )


def _answered_batch(services: Services, body: bytes) -> LeadsAnswer:
    """A batch stored and its answer written, both off the event loop: the answer is a
    megabyte of JSON for a thousand leads."""
    return _batch_answer(_store_batch(services, body))


def _store_batch(services: Services, body: bytes) -> list[intake.Received | InvalidInput]:
    checked = intake.check_batch(json_input.parse(body), keep_unknown=_keeps_unknown(services))
    batch = intake.ready_batch(  # like the check, before the write turn is taken
        checked,
        now=services.clock(),
        model=services.config.rules.scoring,
        dialect=services.db.engine.dialect,
        rules=services.config.rules,
    )
    with services.unit_of_work() as session:
        return intake.receive_checked(
            session, batch, sender=intake.API_SENDER, moves=services.lifecycle
        )


def _store_activities(
    services: Services, external_id: str, activities: intake.NewActivities
) -> intake.Received:
    with services.unit_of_work() as session:
        return intake.add_activities(
            session,
            external_id=external_id,
            activities=activities,
            sender=intake.API_SENDER,
            moves=services.lifecycle,
            now=services.clock(),
            model=services.config.rules.scoring,
        )


def _load(services: Services, lead_id: int) -> dict[str, Any] | None:
    with services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        return None if lead is None else lead_json(lead)
