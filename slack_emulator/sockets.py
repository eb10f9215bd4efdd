"""Socket Mode: connection URLs, the apps' websockets, and envelopes relayed to them and acked."""

import asyncio
import json
import secrets
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

# What Slack puts in `debug_info`; apps only log it.
_DEBUG_INFO = {"host": "slack-emulator", "build_number": 1, "approximate_connection_time": 18060}


@dataclass(eq=False)
class Connection:
    """One app websocket, and the event loop its sends must run on."""

    url: str
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop


class SocketHub:
    """Slack's Socket Mode service: each envelope goes to ONE open connection, in turn.

    The server's event loop owns the websockets; a driver on another thread hands envelopes
    over with `deliver` and blocks until the app acknowledges them. `changed` is the store's
    condition, so `SlackEmulator.wait_for` also wakes when an app connects or leaves.
    """

    def __init__(self, app_id: str, changed: threading.Condition) -> None:
        self.app_id = app_id
        self._tickets: set[str] = set()
        self._connections: list[Connection] = []
        self._turn = 0
        self._acks: dict[str, Future[dict[str, Any]]] = {}
        self._changed = changed

    def issue_url(self, base: str) -> str:
        """A URL for `apps.connections.open`; the websocket endpoint accepts only issued ones."""
        ticket = secrets.token_urlsafe(12)
        with self._changed:
            self._tickets.add(ticket)
        return f"{base}/socket/{ticket}"

    def count(self) -> int:
        with self._changed:
            return len(self._connections)

    async def serve(self, websocket: WebSocket) -> None:
        """Say hello, then take acks (pings are answered by the websocket layer)."""
        with self._changed:
            issued = websocket.path_params["ticket"] in self._tickets
        if not issued:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = Connection(str(websocket.url), websocket, asyncio.get_running_loop())
        with self._changed:
            count = len(self._connections) + 1
        await websocket.send_json(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": _DEBUG_INFO,
                "connection_info": {"app_id": self.app_id},
            }
        )
        with self._changed:  # only now may envelopes follow the hello
            self._connections.append(connection)
            self._changed.notify_all()
        try:
            while True:
                self._acknowledge(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._changed.notify_all()

    def _acknowledge(self, text: str) -> None:
        try:
            ack = json.loads(text)
        except json.JSONDecodeError:
            return
        if not isinstance(ack, dict):
            return
        with self._changed:
            future = self._acks.get(ack.get("envelope_id", ""))
        if future is not None and not future.done():
            future.set_result(ack)

    def deliver(self, envelope: dict[str, Any], timeout: float) -> tuple[Connection, Any]:
        """Send `envelope` to the next connection and return it with the ack's `payload`.

        Waits up to `timeout` for a connection (an app may be reconnecting) and as long again
        for the ack; raises TimeoutError when either does not come, as Slack gives up.
        """
        envelope_id = envelope["envelope_id"]
        future: Future[dict[str, Any]] = Future()
        with self._changed:
            if not self._changed.wait_for(lambda: self._connections, timeout):
                raise TimeoutError(f"no Socket Mode connection within {timeout} s")
            connection = self._connections[self._turn % len(self._connections)]
            self._turn += 1
            self._acks[envelope_id] = future
        try:
            sent = asyncio.run_coroutine_threadsafe(
                connection.websocket.send_text(json.dumps(envelope)), connection.loop
            )
            sent.result(timeout)
            ack = future.result(timeout)
        except TimeoutError:
            raise TimeoutError(
                f"envelope {envelope_id} not acknowledged within {timeout} s"
            ) from None
        finally:
            with self._changed:
                self._acks.pop(envelope_id, None)
        return connection, ack.get("payload")
