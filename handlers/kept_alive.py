"""Keep-alive HTTP for the Slack SDK's clients (WebClient, and WebhookClient for response_urls).

The SDK sends every call through `urllib.request.urlopen`, which opens a new connection each
time (a DNS look-up, a TCP and TLS handshake) and asks the server to close it: half the CPU a
Slack call cost the delivery worker. These clients send through one persistent connection per
thread and host instead, and keep everything else of the SDK: its request building, its retry
handlers (429 with Retry-After, 5xx, dropped connections) and its responses, because the
transport fails as urllib does: `HTTPError` for an answer outside 2xx, `URLError` for a
request that could not be sent, the connection's own error for an answer that never came.

A connection the server closed while idle is noticed before it is used (it reads as ready:
the server's FIN) and replaced; a request that could not be written on a reused connection is
sent once more on a new one (Slack cannot have acted on a request it never read). A request
sent whose answer never came is not repeated here: for a post, the outbox looks for it first.
"""

from __future__ import annotations

import http.client
import io
import logging
import select
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import SplitResult, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

# The SDK formats its debug lines (every request body: lead data) whenever its logger's own
# level is unset, whatever the handlers let through; a request body never goes to a log.
SDK_LOG = logging.getLogger("handlers.slack_sdk")
SDK_LOG.setLevel(logging.INFO)

_threads = threading.local()


@dataclass(frozen=True)
class Answer:
    """A 2xx answer, read whole (the connection is then free for the next request)."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes


def send(request: Request, *, timeout: float, context: ssl.SSLContext | None) -> Answer:
    """Send `request` on this thread's connection to its host, as `urlopen` would."""
    url = urlsplit(request.full_url)
    key = (url.scheme, url.hostname, url.port)
    connections: dict[tuple[Any, ...], http.client.HTTPConnection] = _threads.__dict__.setdefault(
        "connections", {}
    )
    connection = connections.get(key)
    reused = connection is not None and _still_open(connection)
    if connection is None or not reused:
        if connection is not None:
            connection.close()
        connection = connections[key] = _connect(url, timeout, context)
    target = url.path + (f"?{url.query}" if url.query else "")
    headers = dict(request.header_items())
    try:
        try:
            connection.request(request.get_method(), target, request.data, headers)
        except OSError as error:
            if not reused:
                raise URLError(error) from error
            connection.close()  # closed under us: Slack read none of it; once more, anew
            try:
                connection.request(request.get_method(), target, request.data, headers)
            except OSError as again:
                raise URLError(again) from again
        response = connection.getresponse()
        body = response.read()
    except BaseException:
        connection.close()
        raise
    if response.will_close:
        connection.close()
    if not 200 <= response.status < 300:
        raise HTTPError(
            request.full_url, response.status, response.reason, response.headers, io.BytesIO(body)
        )
    return Answer(response.status, response.headers, body)


def close_connections() -> None:
    """Close this thread's connections (the next request opens one): before a fork, whose
    child would otherwise send on the same socket as its parent."""
    connections = _threads.__dict__.pop("connections", {})
    for connection in connections.values():
        connection.close()


def _connect(
    url: SplitResult, timeout: float, context: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    host = url.hostname or ""
    if url.scheme == "https":
        return http.client.HTTPSConnection(
            host, url.port, timeout=timeout, context=context or ssl.create_default_context()
        )
    return http.client.HTTPConnection(host, url.port, timeout=timeout)


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Connected, and nothing to read while idle (a closed connection reads as ready)."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return not readable


def _decoded(answer: Answer) -> str:
    return answer.body.decode(answer.headers.get_content_charset() or "utf-8")


class KeptAliveWebClient(WebClient):
    """A WebClient whose calls go through `send` (through urllib when a proxy is set)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(logger=SDK_LOG, **options)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        answer = send(req, timeout=self.timeout, context=self.ssl)
        gzipped = answer.headers.get_content_type() == "application/gzip"
        body: bytes | str = answer.body if gzipped else _decoded(answer)
        return {"status": answer.status, "headers": answer.headers, "body": body}


class KeptAliveWebhookClient(WebhookClient):
    """A WebhookClient (a response_url) whose posts go through `send`."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, logger=SDK_LOG, **options)

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None or not url.lower().startswith("http"):
            response: WebhookResponse = super()._perform_http_request_internal(url, req)
            return response
        answer = send(req, timeout=self.timeout, context=self.ssl)
        return WebhookResponse(
            url=url,
            status_code=answer.status,
            body=_decoded(answer),
            headers=answer.headers,  # type: ignore[arg-type]  # as the SDK passes them
        )
