"""HTTP intake: `POST /api/leads` and `GET /api/leads/{id}`, as docs/http-api.md documents them."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot import intake, json_input
from bot.errors import InvalidInput
from handlers import metrics
from handlers.services import Services
from storage import leads as lead_store
from storage.errors import UNAVAILABLE_ERRORS
from storage.models import Lead

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024
# Told to a sender when the database is down or locked: webhook senders retry on 503.
RETRY_AFTER_SECONDS = 5
# Query parameters that carry a credential by their name; one carrying the token is refused too.
_CREDENTIAL_PARAMETERS = frozenset(
    {"token", "access_token", "intake_token", "api_key", "apikey", "key", "auth", "authorization"}
)
_LEAD_ID = re.compile(r"[0-9]{1,19}")


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


def _refusal(request: Request, services: Services) -> JSONResponse | None:
    """401 unless the bearer token is in the Authorization header, and only there: a token in
    a URL is written down by every proxy and log on the way, so it is never accepted."""
    expected = services.config.settings.intake_token or ""
    if _token_in_query(request, expected):
        return _problem(401, "send the token in the Authorization header, never in the URL")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        return None
    return _problem(401, "missing or wrong bearer token")


def _token_in_query(request: Request, expected: str) -> bool:
    for name, value in request.query_params.multi_items():
        if expected and hmac.compare_digest(value.encode(), expected.encode()):
            log.warning(
                "intake: refused the intake token sent in a URL; it may be in logs on the "
                "way: consider a new BATON_INTAKE_TOKEN"
            )
            return True
        if name.lower() in _CREDENTIAL_PARAMETERS:
            return True
    return False


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


class DatabaseUnavailable(Exception):
    """The database is down or locked past the bounded wait; the sender should retry."""


async def _in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run `work` off the event loop; a database that cannot serve now becomes one short log
    line (no SQL, no values: SQLAlchemy's message holds both) and DatabaseUnavailable."""
    try:
        return await run_in_threadpool(work, *args)
    except UNAVAILABLE_ERRORS as error:
        cause = getattr(error, "orig", None) or error
        log.warning("intake: database unavailable (%s); answered 503", type(cause).__name__)
        raise DatabaseUnavailable from None


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": f"the database is busy or unavailable; retry in {RETRY_AFTER_SECONDS} s"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def router(services: Services) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.post("/leads")
    async def create_lead(request: Request) -> JSONResponse:
        refused = _refusal(request, services)
        if refused is not None:
            return refused
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _problem(415, "the body must be JSON (Content-Type: application/json)")
        body = await _read_limited(request)
        if body is None:
            return _problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            received, data = await _in_thread(_store, services, body)
        except json_input.BrokenJson as broken:
            metrics.LEADS_RECEIVED.labels(result="invalid").inc()
            return _problem(400, str(broken))
        except InvalidInput as invalid:
            metrics.LEADS_RECEIVED.labels(result="invalid").inc()
            return _problem(422, "invalid lead", fields=invalid.errors)
        except DatabaseUnavailable:
            metrics.LEADS_RECEIVED.labels(result="unavailable").inc()
            return _unavailable()
        metrics.LEADS_RECEIVED.labels(result="created" if received else "duplicate").inc()
        if not received:
            return JSONResponse(data, status_code=200)
        return JSONResponse(data, status_code=201, headers={"Location": f"/api/leads/{data['id']}"})

    @api.get("/leads/{lead_id}")
    async def read_lead(lead_id: str, request: Request) -> JSONResponse:
        refused = _refusal(request, services)
        if refused is not None:
            return refused
        if not _LEAD_ID.fullmatch(lead_id):  # not a number, or longer than any id
            return _problem(404, "no such lead")
        try:
            data = await _in_thread(_load, services, int(lead_id))
        except DatabaseUnavailable:
            return _unavailable()
        if data is None:
            return _problem(404, f"lead {lead_id} not found")
        return JSONResponse(data)

    return api


def _store(services: Services, body: bytes) -> tuple[bool, dict[str, Any]]:
    payload = json_input.parse(body)
    with services.unit_of_work() as session:
        received = intake.receive(session, payload=payload, now=services.clock())
        return received.created, lead_json(received.lead)


def _load(services: Services, lead_id: int) -> dict[str, Any] | None:
    with services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        return None if lead is None else lead_json(lead)
