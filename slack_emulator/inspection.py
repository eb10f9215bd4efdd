"""JSON endpoints under `/emulator/` for programs in another process (benchmarks): the calls the
emulator received, stamped on its own clock, and the request a user's click would send."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slack_driver import SlackUser
from slack_driver.signing import SignedRequest

if TYPE_CHECKING:
    from slack_emulator.emulator import SlackEmulator


def inspection_routes(emulator: SlackEmulator) -> list[Route]:
    def calls(request: Request) -> Response:
        """Calls from index `since` on (`next` is where the following read starts)."""
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return JSONResponse({"ok": False, "error": "since must be a number"}, 400)
        with emulator.store.lock:  # calls are never changed once logged: copy them outside
            logged = emulator.store.calls[max(0, since) :]
        found = [asdict(call) for call in logged]
        return JSONResponse({"ok": True, "calls": found, "next": max(0, since) + len(found)})

    async def click(request: Request) -> Response:
        """The body and content type of a click on a message's button, built as the user's
        Slack client would build it (fresh trigger_id and response_url), unsigned and unsent."""
        wanted = await request.json()
        user = _UnsentUser(emulator, str(wanted.get("user")))
        try:
            user.click(
                str(wanted.get("channel")),
                str(wanted.get("ts")),
                str(wanted.get("action_id")),
                value=wanted.get("value"),
            )
        except LookupError as error:
            return JSONResponse({"ok": False, "error": str(error)}, 404)
        body, content_type = user.kept
        return JSONResponse({"ok": True, "body": body, "content_type": content_type})

    return [
        Route("/emulator/calls", calls, methods=["GET"]),
        Route("/emulator/click", click, methods=["POST"]),
    ]


class _UnsentUser(SlackUser):
    """A SlackUser that keeps its request instead of sending it."""

    def __init__(self, emulator: SlackEmulator, user_id: str) -> None:
        super().__init__(emulator, user_id, "http://unsent", emulator.signing_secret)
        self.kept: tuple[str, str] = ("", "")

    def _post(self, request: SignedRequest) -> httpx.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        self.kept = (body, request.headers["Content-Type"])
        return httpx.Response(200)
