"""A webhook receiver for the tests: a real HTTP server on a free local port that verifies every
delivery with the Standard Webhooks reference implementation (`standardwebhooks`), records
what it took, and answers as a test scripts it (an outage, a 429 with Retry-After, a 410)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


@dataclass(frozen=True)
class Received:
    """One verified request: its headers' id, and the event it carried."""

    webhook_id: str
    type: str
    data: dict[str, Any]
    signatures: tuple[str, ...]
    at: float  # time.monotonic() when it arrived

    @property
    def lead_id(self) -> int | None:
        return (self.data.get("lead") or {}).get("id")


@dataclass
class Script:
    """The next `times` requests get `status` (after `delay` seconds), with Retry-After."""

    status: int
    times: int | None = 1  # None: every request until removed
    retry_after: str | None = None
    delay: float = 0.0
    hits: int = 0
    taken: list[str] = field(default_factory=list)  # the webhook-ids it answered


@dataclass
class WebhookReceiver:
    secret: str = SECRET
    received: list[Received] = field(default_factory=list)  # answered 2xx, in arrival order
    refused: list[Received] = field(default_factory=list)  # answered otherwise by a script
    unverified: int = 0
    _scripts: list[Script] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/baton"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, headers = receiver._take(body, dict(self.headers.items()))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def answer(self, status: int, **options: Any) -> Script:
        """Script the next answers; scripts apply in the order they were added."""
        script = Script(status, **options)
        with self._lock:
            self._scripts.append(script)
        return script

    def stop_answering(self, script: Script) -> None:
        with self._lock:
            self._scripts.remove(script)

    def _take(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            event = Webhook(self.secret).verify(body, lowered)
        except WebhookVerificationError:
            with self._lock:
                self.unverified += 1
            return 401, {}
        received = Received(
            webhook_id=lowered["webhook-id"],
            type=event["type"],
            data=event["data"],
            signatures=tuple(lowered["webhook-signature"].split()),
            at=time.monotonic(),
        )
        assert set(event) == {"type", "timestamp", "data"}, event
        with self._lock:
            script = next(iter(self._scripts), None)
            if script is not None:
                script.hits += 1
                script.taken.append(received.webhook_id)
                if script.times is not None and script.hits >= script.times:
                    self._scripts.remove(script)
        if script is not None:
            time.sleep(script.delay)
            if not 200 <= script.status < 300:
                with self._lock:
                    self.refused.append(received)
                retry = {"retry-after": script.retry_after} if script.retry_after else {}
                return script.status, retry
        with self._lock:
            self.received.append(received)
        return 204, {}

    def events(self) -> list[Received]:
        """What a deduplicating receiver processes: each webhook-id once, first arrival."""
        seen: set[str] = set()
        unique = []
        for received in list(self.received):
            if received.webhook_id not in seen:
                seen.add(received.webhook_id)
                unique.append(received)
        return unique

    def types_by_lead(self) -> dict[int | None, list[str]]:
        """Each lead's event types, in the order they were processed."""
        by_lead: dict[int | None, list[str]] = {}
        for received in self.events():
            by_lead.setdefault(received.lead_id, []).append(received.type)
        return by_lead

    def duplicates(self) -> list[str]:
        ids = [received.webhook_id for received in self.received]
        return sorted({webhook_id for webhook_id in ids if ids.count(webhook_id) > 1})


def webhook_toml(url: str, *, events: str = '["lead.*", "sla.*"]', **extra: Any) -> str:
    """A `[[webhooks]]` entry for the receiver at `url`, its secret in RECEIVER_SECRET."""
    lines = [
        "",
        "[[webhooks]]",
        'name = "crm"',
        f'url = "{url}"',
        f"events = {events}",
        'secret_env = "RECEIVER_SECRET"',
        *(f"{key} = {json.dumps(value)}" for key, value in extra.items()),
        "",
    ]
    return "\n".join(lines)
