"""`POST /slack/events`: Slack's HTTP requests handed to Bolt, off the event loop."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt import App, BoltRequest
from starlette.concurrency import run_in_threadpool


def router(bolt: App) -> APIRouter:
    api = APIRouter()

    @api.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8")
        bolt_request = BoltRequest(
            body=body,
            query=request.url.query,
            headers={name: [value] for name, value in request.headers.items()},
        )
        # Bolt is synchronous: run it on the thread pool so one slow request never blocks
        # the event loop (and with it every other click's acknowledgement).
        bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers={
                k: v[0] for k, v in bolt_response.headers.items() if k.lower() != "content-length"
            },
        )

    return api
