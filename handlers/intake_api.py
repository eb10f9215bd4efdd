"""HTTP intake: `POST /api/leads` and `GET /api/leads/{id}`, as docs/http-api.md documents them."""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot import intake
from bot.errors import InvalidInput
from handlers import metrics
from handlers.services import Services
from storage import leads as lead_store
from storage.models import Lead

MAX_BODY_BYTES = 64 * 1024


def lead_json(lead: Lead) -> dict[str, Any]:
    """The API's view of a lead: its fields, its state and its timestamps (ISO 8601, UTC)."""
    data: dict[str, Any] = {"id": lead.id, "status": lead.status}
    for name in intake.FIELD_NAMES:
        data[name] = getattr(lead, name)
    for name in (
        "owner_id",
        "rejected_by",
        "reject_reason",
        "reject_note",
        "sla_policy",
        "slack_channel",
        "slack_ts",
    ):
        data[name] = getattr(lead, name)
    for name in (
        "claim_due_at",
        "follow_up_due_at",
        "created_at",
        "updated_at",
        "posted_at",
        "accepted_at",
        "rejected_at",
        "escalated_at",
        "contacted_at",
        "closed_at",
    ):
        value = getattr(lead, name)
        data[name] = value.isoformat() if value else None
    return data


def _problem(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _authorized(request: Request, services: Services) -> bool:
    expected = services.config.settings.intake_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return bool(
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None once it grows past the limit (checked while reading, not after)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def router(services: Services) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.post("/leads")
    async def create_lead(request: Request) -> JSONResponse:
        if not _authorized(request, services):
            return _problem(401, "missing or wrong bearer token")
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _problem(415, "the body must be JSON (Content-Type: application/json)")
        body = await _read_limited(request)
        if body is None:
            return _problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _problem(415, "the body is not valid JSON")
        try:
            received, data = await run_in_threadpool(_store, services, payload)
        except InvalidInput as invalid:
            metrics.LEADS_RECEIVED.labels(result="invalid").inc()
            return _problem(422, "invalid lead", fields=invalid.errors)
        metrics.LEADS_RECEIVED.labels(result="created" if received else "duplicate").inc()
        if not received:
            return JSONResponse(data, status_code=200)
        return JSONResponse(data, status_code=201, headers={"Location": f"/api/leads/{data['id']}"})

    @api.get("/leads/{lead_id}")
    async def read_lead(lead_id: int, request: Request) -> JSONResponse:
        if not _authorized(request, services):
            return _problem(401, "missing or wrong bearer token")
        data = await run_in_threadpool(_load, services, lead_id)
        if data is None:
            return _problem(404, f"lead {lead_id} not found")
        return JSONResponse(data)

    return api


def _store(services: Services, payload: Any) -> tuple[bool, dict[str, Any]]:
    with services.unit_of_work() as session:
        received = intake.receive(session, payload=payload, now=services.clock())
        return received.created, lead_json(received.lead)


def _load(services: Services, lead_id: int) -> dict[str, Any] | None:
    with services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        return None if lead is None else lead_json(lead)
