"""The web client's page and JSON endpoints: what a user sees; their actions sent as Slack would.

Reads come straight from the emulator's state; every click, submission and command goes through
`SlackUser`, so the bot receives the same signed HTTP requests it would get from Slack.
"""

import contextlib
import copy
import mimetypes
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Self

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from slack_driver import SlackUser
from slack_emulator.clock import FastClock
from slack_emulator.emulator import SlackEmulator
from slack_emulator.errors import SlackError
from slack_emulator.serving import BackgroundServer, Service
from slack_emulator.web.composer import escape_references

STATIC = Path(__file__).parent / "static"
# What Slack's client calls itself when it reports a failed command.
SLACKBOT = "Slackbot"
Action = Callable[[dict[str, Any]], dict[str, Any]]
# Buttons a host (the demo) adds beside the conversations: label → what it does, answering one
# line to show under the button.
Controls = Mapping[str, Callable[[], str]]


class _Client:
    """Per-request work for the endpoints; `notices` are what the client itself shows a user."""

    def __init__(self, emulator: SlackEmulator, bot_url: str, controls: Controls) -> None:
        self.emulator = emulator
        self.bot_url = bot_url
        self.controls = controls
        self.notices: list[dict[str, Any]] = []
        self._notices_lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------------

    def workspace(self) -> dict[str, Any]:
        store = self.emulator.store
        with store.lock:
            bot = store.workspace.bot
            people = [user for user in store.workspace.users if not user.is_bot]
            return {
                "team": store.workspace.team.name,
                "bot": {"id": bot.user_id, "name": store.user(bot.user_id).real_name},
                "users": [
                    {
                        "id": user.id,
                        "name": user.name,
                        "real_name": user.real_name,
                        "dm": store.dm(user.id).id,
                    }
                    for user in people
                ],
                "names": {user.id: user.name for user in store.users.values()},
                "channels": [
                    {"id": channel.id, "name": channel.name}
                    for channel in store.workspace.channels
                    if not channel.is_im
                ],
                "controls": list(self.controls),
            }

    def clock(self) -> dict[str, float]:
        """The time messages are stamped with, and how fast it runs, so the page can show it
        ticking and date messages by it."""
        clock = self.emulator.store.message_clock
        speed = clock.speed if isinstance(clock, FastClock) else 1.0
        return {"now": clock(), "speed": speed}

    def state(self, user_id: str, channel: str, thread_ts: str | None) -> dict[str, Any]:
        """Everything on screen for `user_id`: the channel, an open thread, modal and App Home."""
        emulator = self.emulator
        with emulator.store.lock:
            channel_id = emulator.store.channel(channel).id
            shown = [self._message(message) for message in emulator.messages(channel_id)]
            private = [
                self._message(message, ephemeral=True)
                for message in emulator.ephemerals(user_id, channel_id)
            ]
            thread = None
            if thread_ts and any(m["ts"] == thread_ts for m in shown):
                replies = [self._message(m) for m in emulator.thread(channel_id, thread_ts)]
                thread = replies + [m for m in private if m["thread_ts"] == thread_ts]
            modals = emulator.open_views(user_id)
            modal = None
            if modals:
                modal = {**modals[-1], "errors": emulator.view_errors(modals[-1]["id"])}
            home = emulator.home(user_id)
            dm_count = len(emulator.dms(user_id))
        with self._notices_lock:
            notices = [
                notice
                for notice in self.notices
                if (notice["user"], notice["channel"]) == (user_id, channel_id)
            ]
        feed = shown + [message for message in private if not message["thread_ts"]] + notices
        return {
            "channel": channel_id,
            "messages": sorted(feed, key=lambda message: float(message["ts"])),
            "thread": thread,
            "modal": modal,
            "home": home,
            "dm_count": dm_count,
            "clock": self.clock(),
        }

    def _message(self, message: dict[str, Any], *, ephemeral: bool = False) -> dict[str, Any]:
        """The parts a client draws; an ephemeral's `user` is its recipient, so the bot wrote it."""
        store = self.emulator.store
        author = store.workspace.bot.user_id if ephemeral else message.get("user")
        thread_ts = message.get("thread_ts")
        return {
            "ts": message["ts"],
            "author": store.users[author].real_name if author in store.users else "Someone",
            "is_bot": ephemeral or "bot_id" in message,
            "text": message.get("text", ""),
            "blocks": copy.deepcopy(message.get("blocks", [])),
            "edited": "edited" in message,
            "reply_count": message.get("reply_count", 0),
            "thread_ts": thread_ts if thread_ts != message["ts"] else None,
            "ephemeral": ephemeral,
            "files": [
                {
                    "name": file["name"],
                    "title": file["title"],
                    "size": file["size"],
                    "url": f"/files/{file['id']}/{file['name']}",
                    # Slack previews an image in the message; the client does too.
                    "image": (mimetypes.guess_type(file["name"])[0] or "").startswith("image/"),
                }
                for file in message.get("files", [])
            ],
        }

    def file(self, file_id: str) -> tuple[str, bytes] | None:
        """An uploaded file's name and bytes, for its download link."""
        store = self.emulator.store
        with store.lock:
            file = store.files.get(file_id)
            if file is None or file["content"] is None:
                return None
            return file["name"], file["content"]

    # --- acting ----------------------------------------------------------------------------

    def driver(self, user_id: str) -> SlackUser:
        return self.emulator.user(user_id, bot_url=self.bot_url)

    def click(self, body: dict[str, Any]) -> dict[str, Any]:
        """A button in a message (`channel`, `ts`) or in a modal or App Home (`view_id`)."""
        user = self.driver(body["user"])
        action_id, value = body["action_id"], body.get("value")
        try:
            if body.get("view_id"):
                response = user.click_in_view(body["view_id"], action_id, value=value)
            else:
                response = user.click(body["channel"], body["ts"], action_id, value=value)
        except httpx.HTTPError as error:
            return {"ok": False, "error": _failure(error)}
        return _outcome(response)

    def pick(self, body: dict[str, Any]) -> dict[str, Any]:
        """A user picked in a message's user picker (`channel`, `ts`), sent at once as in Slack."""
        user = self.driver(body["user"])
        try:
            response = user.pick_user(
                body["channel"], body["ts"], body["action_id"], body["picked"]
            )
        except httpx.HTTPError as error:
            return {"ok": False, "error": _failure(error)}
        return _outcome(response)

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.driver(body["user"]).submit_view(body["view_id"], body["values"])
        except httpx.HTTPError as error:
            return {"ok": False, "error": _failure(error)}
        return _outcome(response)

    def close(self, body: dict[str, Any]) -> dict[str, Any]:
        # The modal is closed either way; Slack does not tell the user about view_closed.
        with contextlib.suppress(httpx.HTTPError):
            self.driver(body["user"]).close_view(body["view_id"])
        return {"ok": True}

    def command(self, body: dict[str, Any]) -> dict[str, Any]:
        """Type a slash command; when it fails, Slackbot says so to the user alone, as in Slack."""
        user_id = body["user"]
        command, _, text = body["text"].strip().partition(" ")
        channel_id = self.emulator.store.channel(body["channel"]).id
        text = self._escaped(text)
        if not command.startswith("/") or len(command) < 2:
            self._notice(user_id, channel_id, "This demo takes slash commands: try `/leads help`.")
            return {"ok": False, "error": "not_a_command"}
        try:
            response = self.driver(user_id).slash_command(command, text.strip(), channel=channel_id)
        except httpx.HTTPError as error:
            outcome = {"ok": False, "error": _failure(error)}
        else:
            outcome = _outcome(response)
        if not outcome["ok"]:
            self._notice(
                user_id, channel_id, f'{command} failed with the error "{outcome["error"]}"'
            )
        return outcome

    def _escaped(self, text: str) -> str:
        store = self.emulator.store
        with store.lock:
            users = {user.name.lower(): user.id for user in store.users.values()}
            channels = {
                channel.name.lower(): channel.id
                for channel in store.channels.values()
                if not channel.is_im
            }
        return escape_references(text, users, channels)

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        """Press one of the host's buttons."""
        act = self.controls.get(body.get("control", ""))
        if act is None:
            raise ValueError("unknown_control")
        return {"ok": True, "said": act()}

    def open_home(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return _outcome(self.driver(body["user"]).open_app_home())
        except httpx.HTTPError as error:
            return {"ok": False, "error": _failure(error)}

    def _notice(self, user_id: str, channel_id: str, text: str) -> None:
        ts = self.emulator.new_ts()  # on the clock every message is stamped with
        with self._notices_lock:
            self.notices.append(
                {
                    "ts": ts,
                    "author": SLACKBOT,
                    "is_bot": True,
                    "text": text,
                    "blocks": [],
                    "edited": False,
                    "reply_count": 0,
                    "thread_ts": None,
                    "ephemeral": True,
                    "files": [],
                    "user": user_id,
                    "channel": channel_id,
                }
            )


def _outcome(response: httpx.Response) -> dict[str, Any]:
    """Slack's names for an app's failed acknowledgement."""
    if response.status_code == 200:
        return {"ok": True, "status": 200}
    error = "http_client_error" if response.status_code < 500 else "http_service_error"
    return {"ok": False, "status": response.status_code, "error": error}


def _failure(error: httpx.HTTPError) -> str:
    return "operation_timeout" if isinstance(error, httpx.TimeoutException) else "dispatch_failed"


def _safe_filename(name: str) -> str:
    """A file name fit for a Content-Disposition header: printable ASCII, no quotes."""
    return "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_"
        for char in name
    )


def build_web_app(
    emulator: SlackEmulator, bot_url: str, controls: Controls | None = None
) -> Starlette:
    """The client's ASGI app; `bot_url` is where Slack sends the app's requests."""
    client = _Client(emulator, bot_url, controls or {})

    def guarded(act: Action) -> Callable[[Request], Awaitable[Response]]:
        """Run an action on a JSON body, off the event loop since the driver waits on the bot.

        A message, button or view that vanished since the page drew it answers 409.
        """

        async def endpoint(request: Request) -> Response:
            body = await request.json()
            if body.get("user") not in emulator.store.users:
                return JSONResponse({"ok": False, "error": "user_not_found"}, 400)
            try:
                return JSONResponse(await run_in_threadpool(act, body))
            except LookupError as error:
                return JSONResponse({"ok": False, "error": str(error)}, 409)
            except ValueError as error:
                return JSONResponse({"ok": False, "error": str(error)}, 400)

        return endpoint

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def workspace(request: Request) -> Response:
        return JSONResponse(client.workspace())

    def state(request: Request) -> Response:
        query = request.query_params
        try:
            shown = client.state(query["user"], query["channel"], query.get("thread") or None)
        except SlackError as error:
            return JSONResponse(error.body(), 404)
        return JSONResponse(shown)

    def download(request: Request) -> Response:
        found = client.file(request.path_params["file_id"])
        if found is None:
            return JSONResponse({"ok": False, "error": "file_not_found"}, 404)
        name, content = found
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(
            content,
            media_type=kind,
            headers={"Content-Disposition": f'attachment; filename="{_safe_filename(name)}"'},
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/workspace", workspace),
            Route("/api/state", state),
            Route("/api/click", guarded(client.click), methods=["POST"]),
            Route("/api/pick", guarded(client.pick), methods=["POST"]),
            Route("/api/submit", guarded(client.submit), methods=["POST"]),
            Route("/api/close", guarded(client.close), methods=["POST"]),
            Route("/api/command", guarded(client.command), methods=["POST"]),
            Route("/api/home", guarded(client.open_home), methods=["POST"]),
            Route("/api/control", guarded(client.control), methods=["POST"]),
            Route("/files/{file_id}/{name}", download),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


class SlackWebClient(Service):
    """The web client on its own port (127.0.0.1, any free one by default), on a thread;
    `controls` are the host's buttons beside the conversations."""

    def __init__(
        self,
        emulator: SlackEmulator,
        bot_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        controls: Controls | None = None,
    ) -> None:
        self._server = BackgroundServer(build_web_app(emulator, bot_url, controls), host, port)

    @property
    def url(self) -> str:
        return f"{self._server.url}/"

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
