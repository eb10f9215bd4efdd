"""The fake's HTTP surface: every request authenticated, rate limited, routed and recorded."""

import asyncio
import json
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hubspot_emulator import endpoints
from hubspot_emulator.arguments import ApiCall
from hubspot_emulator.errors import HubSpotError, invalid_input
from hubspot_emulator.faults import HubSpotFaults
from hubspot_emulator.portal import Portal
from hubspot_emulator.ratelimit import RateLimits, rate_limited
from hubspot_emulator.records import Request
from slack_emulator.faults import Fault

_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def build_app(portal: Portal, faults: HubSpotFaults, limits: RateLimits, token: str) -> ASGIApp:
    server = _Server(portal, faults, limits, token)
    return Starlette(routes=[Route("/{path:path}", server.serve, methods=_METHODS)])


class _Server:
    def __init__(
        self, portal: Portal, faults: HubSpotFaults, limits: RateLimits, token: str
    ) -> None:
        self.portal = portal
        self.faults = faults
        self.limits = limits
        self.token = token

    async def serve(self, http: HttpRequest) -> Response:
        """Apply the first matching fault around the real answer, and record the request."""
        method, path = http.method, http.url.path
        raw = await http.body()
        query = parse_qs(http.url.query, keep_blank_values=True)
        authorization = http.headers.get("authorization", "")
        correlation_id = str(uuid.uuid4())
        fault = self.faults.take(f"{method} {path}")
        answer = _Answer(200, {}, {})
        with self.portal.changed:
            if fault is None or not fault.blocks_effect:
                answer = self._answer(method, path, query, raw, authorization, correlation_id)
            if fault is not None and fault.fails:
                answer = self._fault_answer(fault, correlation_id)
            self.portal.requests.append(
                Request(method, path, query, _recorded(raw), answer.status, self.portal.clock())
            )
            self.portal.changed.notify_all()
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        headers = {**answer.headers, "X-HubSpot-Correlation-Id": correlation_id}
        return JSONResponse(answer.body, answer.status, headers)

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        raw: bytes,
        authorization: str,
        correlation_id: str,
    ) -> _Answer:
        if authorization.removeprefix("Bearer ").strip() != self.token:
            error = HubSpotError(401, _MISSING_CREDENTIALS, category="INVALID_AUTHENTICATION")
            failure = {"X-HubSpot-Auth-Failure": "401 Unauthorized"}
            return _Answer(401, error.body(correlation_id), failure)
        found = endpoints.route(method, path)
        headers: dict[str, str] = {}
        try:
            headers = self.limits.admit(search=found is not None and found[0] is endpoints.SEARCH)
            if found is None:
                raise HubSpotError(404, f"No {method} endpoint at {path}", category="NOT_FOUND")
            handler, path_params = found
            status, body = handler(self.portal, ApiCall(path_params, query, _json(raw)))
        except HubSpotError as error:
            return _Answer(error.status, error.body(correlation_id), {**headers, **error.headers})
        return _Answer(status, body, headers)

    def _fault_answer(self, fault: Fault, correlation_id: str) -> _Answer:
        if fault.status == 429:
            headers = {**self.limits.headers(), "X-HubSpot-RateLimit-Remaining": "0"}
            error = rate_limited(fault.retry_after, headers)
        else:
            error = HubSpotError(fault.status, _phrase(fault.status), category="INTERNAL_ERROR")
        return _Answer(error.status, error.body(correlation_id), error.headers)


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise invalid_input(f"Invalid input JSON: {error}") from None


def _recorded(raw: bytes) -> Any:
    """The body as tests read it: parsed JSON, or the text when it is not JSON."""
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode(errors="replace")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
