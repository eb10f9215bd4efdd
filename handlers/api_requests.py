"""What every Baton API endpoint does with a request before its own work: the bearer token (only
in the Authorization header), a JSON body within a size limit, the database's work off the event
loop with a 503 when it cannot serve, and the error bodies, as docs/http-api.md documents them."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from handlers.services import Services
from storage.errors import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

T = TypeVar("T")

# Told to a sender when the database is down or locked: webhook senders retry on 503.
RETRY_AFTER_SECONDS = 5
# Query parameters that carry a credential by their name; one carrying the token is refused too.
_CREDENTIAL_PARAMETERS = frozenset(
    {"token", "access_token", "intake_token", "api_key", "apikey", "key", "auth", "authorization"}
)
LEAD_ID = re.compile(r"[0-9]{1,19}")


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def refusal(request: Request, services: Services) -> JSONResponse | None:
    """401 unless the bearer token is in the Authorization header, and only there: a token in
    a URL is written down by every proxy and log on the way, so it is never accepted."""
    expected = services.config.settings.intake_token or ""
    if _token_in_query(request, expected):
        return problem(401, "send the token in the Authorization header, never in the URL")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        return None
    return problem(401, "missing or wrong bearer token")


def _token_in_query(request: Request, expected: str) -> bool:
    if not request.scope["query_string"]:  # the usual request: nothing to parse
        return False
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


async def json_body(request: Request, services: Services, limit: int) -> bytes | JSONResponse:
    """The body of an authorised JSON request of at most `limit` bytes, or the refusal."""
    refused = refusal(request, services)
    if refused is not None:
        return refused
    return await read_json(request, limit)


async def read_json(request: Request, limit: int) -> bytes | JSONResponse:
    """The body of a JSON request of at most `limit` bytes, or the refusal (415, 413)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return problem(415, "the body must be JSON (Content-Type: application/json)")
    body = await _read_limited(request, limit)
    if body is None:
        return problem(413, f"the body is larger than {limit} bytes")
    return body


class LeadsAnswer(JSONResponse):
    """A JSON answer holding leads, encoded by orjson: a batch's answer is a megabyte of JSON
    for a thousand leads, which the standard library's encoder took 15 ms to write (about a
    twelfth of the batch's CPU) and orjson writes in 1.3 ms: the same bytes, but that a tiny
    or huge float may be written another way (0.00001 for 1e-05), the same number. An integer
    past 64 bits, which a lead's kept unknown fields may hold, is left to the standard
    library's encoder, as is text orjson refuses (which that encoder refuses too)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            return super().render(content)


class DatabaseUnavailable(Exception):
    """The database is down or locked past the bounded wait; the sender should retry."""


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run `work` off the event loop (see `served` for a database that cannot serve now)."""
    return await served(run_in_threadpool(work, *args))


async def served(write: Awaitable[T]) -> T:
    """Await a database call; a database that cannot serve now becomes one short log line (no
    SQL, no values: SQLAlchemy's message holds both) and DatabaseUnavailable."""
    try:
        return await write
    except UNAVAILABLE_ERRORS as error:
        cause = getattr(error, "orig", None) or error
        log.warning("intake: database unavailable (%s); answered 503", type(cause).__name__)
        raise DatabaseUnavailable from None


def unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": f"the database is busy or unavailable; retry in {RETRY_AFTER_SECONDS} s"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
