"""The one HTTP server: Slack's requests, the intake API and hooks, health and metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from handlers import hooks_api, intake_api, outcomes_api, slack_http
from handlers.services import Services

METRICS_TIMEOUT = 5.0  # seconds; a scrape that waits longer has given up anyway


class ShortRoute:
    """Serves one busy route's requests straight from its endpoint, ahead of FastAPI's routing,
    dependency solving and inner middleware, which cost a single lead more CPU than its own
    checks did; every other request goes on to FastAPI. The route stays in FastAPI's router
    too (its 405 for other methods). Added as middleware, inside ServerErrorMiddleware, so an
    endpoint that fails still answers 500."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        method: str,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self._app = app
        self._method = method
        self._path = path
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == self._path
            and scope["method"] == self._method
        ):
            response = await self._endpoint(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def create_http_app(
    services: Services, bolt: App | None, *, metrics_from: str | None = None
) -> FastAPI:
    """The HTTP server; `bolt` is None in Socket Mode, where Slack's traffic comes by websocket.
    `metrics_from`, in a web process of `baton serve`: the Unix socket where the main process,
    which counts for all its processes, answers /metrics."""
    app = FastAPI(title="Baton", docs_url=None, redoc_url=None, openapi_url=None)
    single_leads = intake_api.SingleLeads(services)
    app.include_router(intake_api.router(services, single_leads))
    app.add_middleware(ShortRoute, method="POST", path="/api/leads", endpoint=single_leads)
    app.include_router(hooks_api.router(services))
    app.include_router(outcomes_api.router(services))
    secret = services.config.settings.slack_signing_secret
    if bolt is not None and secret is not None:  # HTTP mode always has one (require_serving)
        slack_events = slack_http.SlackEvents(bolt, secret)
        app.include_router(slack_http.router(slack_events))
        app.add_middleware(ShortRoute, method="POST", path="/slack/events", endpoint=slack_events)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        database_ok = await run_in_threadpool(services.db.ping)
        scheduler = services.scheduler
        scheduler_ok = scheduler is not None and scheduler.running
        body = {
            "status": "ok" if database_ok and scheduler_ok else "unhealthy",
            "database": "ok" if database_ok else "unreachable",
            "scheduler": "running" if scheduler_ok else "stopped",
        }
        return JSONResponse(body, status_code=200 if database_ok and scheduler_ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        if metrics_from is None:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
        transport = httpx.AsyncHTTPTransport(uds=metrics_from)
        async with httpx.AsyncClient(transport=transport, timeout=METRICS_TIMEOUT) as client:
            counted = await client.get("http://baton/metrics")
        return Response(counted.content, media_type=CONTENT_TYPE_LATEST)

    return app
