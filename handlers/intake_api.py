"""HTTP intake: `POST /api/leads` and `GET /api/leads/{id}`, as docs/http-api.md documents them."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
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
from storage.write_groups import WriteGroups

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024
# A batch of intake.MAX_BATCH leads: 8 KiB a lead on average, some eight times a typical one.
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024
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
        "opportunity_at",
        "closed_at",
    ):
        value = getattr(lead, name)
        data[name] = value.isoformat() if value else None
    # The deal, as the CRM reported it; the amount as a string, so no digit is lost to a float.
    amount = lead.outcome_amount
    data["outcome_amount"] = None if amount is None else str(amount)
    data["outcome_currency"] = lead.outcome_currency
    data["outcome_reason"] = lead.outcome_reason
    data["extra"] = lead.extra or {}
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


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` (checked while reading, not after)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def _json_body(request: Request, services: Services, limit: int) -> bytes | JSONResponse:
    """The body of an authorised JSON request of at most `limit` bytes, or the refusal."""
    refused = _refusal(request, services)
    if refused is not None:
        return refused
    return await _read_json(request, limit)


async def _read_json(request: Request, limit: int) -> bytes | JSONResponse:
    """The body of a JSON request of at most `limit` bytes, or the refusal (415, 413)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _problem(415, "the body must be JSON (Content-Type: application/json)")
    body = await _read_limited(request, limit)
    if body is None:
        return _problem(413, f"the body is larger than {limit} bytes")
    return body


class DatabaseUnavailable(Exception):
    """The database is down or locked past the bounded wait; the sender should retry."""


async def _in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run `work` off the event loop (see `_served` for a database that cannot serve now)."""
    return await _served(run_in_threadpool(work, *args))


async def _served(write: Awaitable[T]) -> T:
    """Await a database call; a database that cannot serve now becomes one short log line (no
    SQL, no values: SQLAlchemy's message holds both) and DatabaseUnavailable."""
    try:
        return await write
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
    # Single leads arriving together are stored together: one transaction for the group.
    singles: WriteGroups[intake.LeadInput, intake.Received] = WriteGroups(
        lambda leads: _store_all(services, leads), max_group=intake.MAX_BATCH
    )

    @api.post("/leads")
    async def create_lead(request: Request) -> JSONResponse:
        body = await _json_body(request, services, MAX_BODY_BYTES)
        if isinstance(body, JSONResponse):
            return body
        received: intake.Received | InvalidInput
        try:
            # Checked on the event loop: a lead of at most MAX_BODY_BYTES takes less time to
            # check than a hop to a thread would; only its group's write leaves the loop.
            lead_input = intake.validate_lead(
                json_input.parse(body), keep_unknown=_keeps_unknown(services)
            )
            received = await _served(asyncio.wrap_future(singles.submit(lead_input)))
        except json_input.BrokenJson as broken:
            metrics.LEADS_RECEIVED.labels(result="invalid").inc()
            return _problem(400, str(broken))
        except InvalidInput as invalid:
            received = invalid
        except DatabaseUnavailable:
            metrics.LEADS_RECEIVED.labels(result="unavailable").inc()
            return _unavailable()
        status, data = _item_result(received)
        location = {"Location": f"/api/leads/{data['id']}"} if status == 201 else None
        return JSONResponse(data, status_code=status, headers=location)

    @api.post("/leads/batch")
    async def create_leads(request: Request) -> JSONResponse:
        body = await _json_body(request, services, MAX_BATCH_BODY_BYTES)
        if isinstance(body, JSONResponse):
            return body
        try:
            results = await _in_thread(_store_batch, services, body)
        except json_input.BrokenJson as broken:
            return _problem(400, str(broken))
        except InvalidInput as invalid:
            return _problem(422, "invalid batch", fields=invalid.errors)
        except DatabaseUnavailable:
            return _unavailable()
        return _batch_answer(results)

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


def _item_result(result: intake.Received | InvalidInput) -> tuple[int, dict[str, Any]]:
    """The single endpoint's status and body for one lead (a batch lists one per lead), counted."""
    if isinstance(result, InvalidInput):
        metrics.LEADS_RECEIVED.labels(result="invalid").inc()
        return 422, {"error": "invalid lead", "fields": result.errors}
    metrics.LEADS_RECEIVED.labels(result="created" if result.created else "duplicate").inc()
    return (201 if result.created else 200), lead_json(result.lead)


def _batch_answer(results: list[intake.Received | InvalidInput]) -> JSONResponse:
    items = [_item_result(result) for result in results]
    statuses = Counter(status for status, _ in items)
    return JSONResponse(
        {
            "results": [{"status": status, "body": body} for status, body in items],
            "created": statuses[201],
            "existing": statuses[200],
            "invalid": statuses[422],
        }
    )


def _keeps_unknown(services: Services) -> bool:
    return services.config.rules.intake.keeps_unknown_fields


def _store_all(services: Services, leads: Sequence[intake.LeadInput]) -> list[intake.Received]:
    with services.unit_of_work() as session:
        return intake.store(session, leads, now=services.clock())


def _store_batch(services: Services, body: bytes) -> list[intake.Received | InvalidInput]:
    checked = intake.check_batch(  # before the write lock is taken
        json_input.parse(body), keep_unknown=_keeps_unknown(services)
    )
    with services.unit_of_work() as session:
        return intake.receive_checked(session, checked, now=services.clock())


def _load(services: Services, lead_id: int) -> dict[str, Any] | None:
    with services.db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        return None if lead is None else lead_json(lead)
