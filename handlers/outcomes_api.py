"""The CRM's side of the loop: `POST /api/leads/{id}/outcome`,
`POST /api/leads/external/{external_id}/outcome` and `GET /api/leads/external/{external_id}`,
as docs/http-api.md documents them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot import json_input, outcomes
from bot.errors import InvalidInput, InvalidTransition, LeadNotFound
from bot.lifecycle import CRM, Outcome
from handlers.api_requests import (
    LEAD_ID,
    DatabaseUnavailable,
    in_thread,
    json_body,
    problem,
    refusal,
    unavailable,
)
from handlers.intake_api import MAX_BODY_BYTES, lead_json
from handlers.services import Services
from storage import leads as lead_store


def router(services: Services) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.post("/leads/external/{external_id:path}/outcome")
    async def outcome_by_external_id(external_id: str, request: Request) -> JSONResponse:
        return await _record(services, request, external_id)

    @api.post("/leads/{lead_id}/outcome")
    async def outcome_by_id(lead_id: str, request: Request) -> JSONResponse:
        if not LEAD_ID.fullmatch(lead_id):
            refused = refusal(request, services)
            return refused or problem(404, "no such lead")
        return await _record(services, request, int(lead_id))

    @api.get("/leads/external/{external_id:path}")
    async def read_by_external_id(external_id: str, request: Request) -> JSONResponse:
        refused = refusal(request, services)
        if refused is not None:
            return refused
        try:
            data = await in_thread(_load, services, external_id)
        except DatabaseUnavailable:
            return unavailable()
        if data is None:
            return problem(404, "no lead has this external_id")
        return JSONResponse(data)

    return api


async def _record(services: Services, request: Request, lead_key: int | str) -> JSONResponse:
    """Validate the outcome before the database is touched, then record it: 200 with the lead
    whether it changed or was already so, 404 for no such lead, 409 when the lead cannot take
    this outcome (not claimed yet, or a closed deal sent back to opportunity)."""
    body = await json_body(request, services, MAX_BODY_BYTES)
    if isinstance(body, JSONResponse):
        return body
    try:
        outcome = outcomes.validate_outcome(json_input.parse(body))
    except json_input.BrokenJson as broken:
        return problem(400, str(broken))
    except InvalidInput as invalid:
        return problem(422, "invalid outcome", fields=invalid.errors)
    try:
        data = await in_thread(_store, services, lead_key, outcome)
    except DatabaseUnavailable:
        return unavailable()
    except LeadNotFound:
        return problem(404, "no such lead")
    except InvalidTransition as refused:
        return problem(409, str(refused), lead_status=refused.status.value)
    return JSONResponse(data)


def _store(services: Services, lead_key: int | str, outcome: Outcome) -> dict[str, Any]:
    with services.unit_of_work() as session:
        lead, changed = outcomes.record(
            session,
            services.lifecycle,
            lead_key=lead_key,
            outcome=outcome,
            actor=CRM,
            now=services.clock(),
        )
        return {**lead_json(lead), "changed": changed}


def _load(services: Services, external_id: str) -> dict[str, Any] | None:
    with services.db.read() as session:
        lead = lead_store.get_leads_by_external_ids(session, [external_id]).get(external_id)
        return None if lead is None else lead_json(lead)
