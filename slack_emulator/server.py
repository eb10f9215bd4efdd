"""The emulator's surface: `/api/<method>`, `/response_url/<id>`, `/upload/<id>`, `/socket/<id>`
(and `/emulator/...` for inspection, added by the emulator)."""

import asyncio
import copy
import json
from collections.abc import Callable, Collection, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slack_emulator import responses
from slack_emulator.errors import Args, SlackError
from slack_emulator.faults import Faults
from slack_emulator.methods import METHODS
from slack_emulator.ratelimits import POST_METHOD, RateLimiter
from slack_emulator.sockets import SocketHub
from slack_emulator.store import Call, Store

_DROP = "emulator.drop_connection"
# The one method taking an app-level token (xapp-) instead of a bot token.
_CONNECTIONS_OPEN = "apps.connections.open"
# What a call returns: HTTP status, JSON body, headers.
Answer = tuple[int, dict[str, Any], dict[str, str]]


def build_app(
    store: Store,
    faults: Faults,
    tokens: Collection[str],
    app_tokens: Collection[str],
    sockets: SocketHub,
    limiter: RateLimiter | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> ASGIApp:
    """The ASGI app for uvicorn (h11), wrapped so a fault can drop the TCP connection.

    With a `limiter`, Web API calls over Slack's rate limits are refused as Slack refuses them.
    """
    endpoints = _Endpoints(
        store, faults, frozenset(tokens), frozenset(app_tokens), sockets, limiter
    )
    app = Starlette(
        routes=[
            Route("/api/{method}", endpoints.api, methods=["GET", "POST"]),
            Route("/response_url/{url_id}", endpoints.response_url, methods=["POST"]),
            Route("/upload/{file_id}", endpoints.upload, methods=["POST"]),
            WebSocketRoute("/socket/{ticket}", sockets.serve),
            *extra_routes,
        ]
    )
    return _ConnectionDropper(app)


class _Endpoints:
    def __init__(
        self,
        store: Store,
        faults: Faults,
        tokens: frozenset[str],
        app_tokens: frozenset[str],
        sockets: SocketHub,
        limiter: RateLimiter | None,
    ) -> None:
        self.store = store
        self.faults = faults
        self.tokens = tokens
        self.app_tokens = app_tokens
        self.sockets = sockets
        self.limiter = limiter

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        try:
            args = await _read_args(request)
        except SlackError as error:
            return JSONResponse(error.body())
        body_token = args.pop("token", None)
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or body_token
        host, port = request.scope["server"]
        socket_base = f"ws://{host}:{port}"
        return await self._serve(
            method, args, lambda: self._call_method(method, args, token, socket_base)
        )

    async def upload(self, request: Request) -> Response:
        """Step two of a file upload: the bytes, POSTed to the URL step one handed out."""
        file_id = request.path_params["file_id"]
        content = await request.body()
        with self.store.changed:
            stored = self.store.upload(file_id, content)
            self.store.changed.notify_all()
        if not stored:
            return PlainTextResponse("unknown file or wrong length", status_code=400)
        return PlainTextResponse(f"OK - {len(content)}")

    async def response_url(self, request: Request) -> Response:
        url_id = request.path_params["url_id"]
        body = await request.body()
        try:
            answer = json.loads(body) if body else {}
        except json.JSONDecodeError:
            answer = body.decode()
        args = {"url_id": url_id, "body": answer}
        return await self._serve("response_url", args, lambda: self._respond(url_id, answer))

    async def _serve(self, name: str, args: dict[str, Any], run: Callable[[], Answer]) -> Response:
        """Apply the first matching fault around `run`, and log the call."""
        channel = args.get("channel")
        fault = self.faults.take(name, channel if isinstance(channel, str) else None)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        headers: dict[str, str] = {}
        body: dict[str, Any] = {}
        status = 200
        dropped = fault is not None and fault.drop
        # The effect and its call's log in one hold of the lock: whoever sees a message posted
        # also sees the call that posted it.
        with self.store.changed:
            if fault is None or not fault.blocks_effect:
                status, body, headers = run()
            if fault is not None and fault.fails:
                status, body, headers = fault.answer()
            self.store.calls.append(
                Call(name, args, None if dropped else status, body, self.store.clock())
            )
            self.store.changed.notify_all()
        if dropped:
            return _DropResponse()
        return JSONResponse(body, status, headers)

    def _call_method(
        self, method: str, values: dict[str, Any], token: str | None, socket_base: str
    ) -> Answer:
        with self.store.changed:
            try:
                self._check_token(method, token)
                retry_after = self._retry_after(method, values)
                if retry_after is not None:
                    return (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(retry_after)},
                    )
                if method == _CONNECTIONS_OPEN:
                    body = {"ok": True, "url": self.sockets.issue_url(socket_base)}
                else:
                    handler = METHODS.get(method)
                    if handler is None:
                        raise SlackError("unknown_method")
                    body = copy.deepcopy(handler(self.store, Args(values)))
            except SlackError as error:
                body = error.body()
            self.store.changed.notify_all()
        return 200, body, {}

    def _retry_after(self, method: str, values: dict[str, Any]) -> int | None:
        """None when the call is within Slack's rate limits (or none are enforced)."""
        if self.limiter is None:
            return None
        channel = None
        if method == POST_METHOD:
            try:
                channel = self.store.channel(values.get("channel")).id
            except SlackError:
                channel = str(values.get("channel"))
        return self.limiter.retry_after(method, channel)

    def _check_token(self, method: str, token: str | None) -> None:
        """Bot tokens for the Web API, app tokens for Socket Mode; the other kind is refused."""
        if not token:
            raise SlackError("not_authed")
        wanted, other = self.tokens, self.app_tokens
        if method == _CONNECTIONS_OPEN:
            wanted, other = other, wanted
        if token in other:
            raise SlackError("not_allowed_token_type")
        if token not in wanted:
            raise SlackError("invalid_auth")

    def _respond(self, url_id: str, answer: Any) -> Answer:
        with self.store.changed:
            try:
                target = self.store.use_response_url(url_id)
                responses.respond(self.store, target, answer)
            except SlackError as error:
                status = 404 if error.error.endswith("_url") else 400
                return status, error.body(), {}
            finally:
                self.store.changed.notify_all()
        return 200, {"ok": True}, {}


async def _read_args(request: Request) -> dict[str, Any]:
    """Query string plus a form or JSON body, as Slack accepts either."""
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return args
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            raise SlackError("invalid_json") from None
        if not isinstance(parsed, dict):
            raise SlackError("json_not_object")
        args.update(parsed)
    else:
        args.update(parse_qsl(body.decode(), keep_blank_values=True))
    return args


class _DropResponse(Response):
    """Asks the outermost layer to close the connection instead of answering."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": _DROP})


class _ConnectionDropper:
    """Closes the client's TCP connection with no response, so it sees `RemoteDisconnected`.

    ASGI has no message for this, so it reaches the transport through uvicorn's
    request cycle (the bound `send` it hands to the app).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def guarded_send(message: Message) -> None:
            if message["type"] != _DROP:
                await send(message)
                return
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is None:
                raise RuntimeError("dropping a connection needs uvicorn's h11 server")
            transport.close()
            await asyncio.sleep(0)

        await self.app(scope, receive, guarded_send)
