"""`POST /slack/events`: only requests Slack signed reach Bolt, handed over off the event loop.

Order matters: headers are judged before the body is read, the body is read only up to
MAX_BODY_BYTES, its signature is checked on the raw bytes, and only then is it parsed. Whatever
fails is answered 400/401/413/415 at once with one short log line, never the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import App, BoltRequest, BoltResponse
from starlette.concurrency import run_in_threadpool

from handlers.slack_request import (
    JSON,
    MAX_BODY_BYTES,
    Refusal,
    check_signature,
    fresh_signature,
    parse_body,
)

log = logging.getLogger(__name__)


class SlackEvents:
    """`POST /slack/events`, every click and command Slack sends. http_app also serves it ahead
    of FastAPI's routing: an acknowledgement's budget is small, and the floor is Bolt's own."""

    def __init__(self, bolt: App, signing_secret: str) -> None:
        self._bolt = bolt
        self._signing_secret = signing_secret

    async def __call__(self, request: Request) -> Response:
        try:
            timestamp, signature = fresh_signature(
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
                now=time.time(),
            )
            body = await _read_limited(request, MAX_BODY_BYTES)
            # Bolt is synchronous: the rest runs on the thread pool, so one slow request never
            # blocks the event loop (and with it every other click's acknowledgement).
            bolt_response = await run_in_threadpool(
                dispatch_verified,
                self._bolt,
                self._signing_secret,
                body,
                dict(request.headers.items()),
                timestamp=timestamp,
                signature=signature,
            )
        except Refusal as refusal:
            log.warning("refused a request to /slack/events: %s", refusal.reason)
            # Closing the connection stops a body still being sent; nothing more is read.
            return JSONResponse(
                {"error": refusal.reason},
                status_code=refusal.status,
                headers={"Connection": "close"},
            )
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers={
                k: v[0] for k, v in bolt_response.headers.items() if k.lower() != "content-length"
            },
        )


def router(events: SlackEvents) -> APIRouter:
    api = APIRouter()
    api.add_api_route("/slack/events", events, methods=["POST"])
    return api


def dispatch_verified(
    bolt: App,
    signing_secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timestamp: str,
    signature: str,
) -> BoltResponse:
    """Bolt's answer to a body read in full, once its signature holds and it parses; a
    `Refusal` otherwise. `timestamp` and `signature` come from `fresh_signature`."""
    check_signature(body, timestamp, signature, secret=signing_secret)
    payload = parse_body(body, headers.get("content-type"))
    # Bolt gets the object verified above as JSON text, so its own guesses about the body's
    # format cannot make it read anything else (its signature check is off).
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    bolt_headers["content-type"] = JSON
    bolt_headers.pop("content-length", None)
    try:
        bolt_request = BoltRequest(body=payload.json_text, headers=bolt_headers)
    except Exception:  # Bolt reads ids from fixed places and trips on other shapes
        raise Refusal(400, "payload Bolt cannot read") from None
    return bolt.dispatch(bolt_request)


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit`: from Content-Length before
    reading, or while streaming a chunked body, so an endless upload costs at most `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal(413, f"body over {limit} bytes")
    return bytes(body)
