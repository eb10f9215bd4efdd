"""Slack calls over kept-alive connections (handlers.kept_alive) behave as the SDK's own: a
connection the server closed while idle costs no call, 429s and errors reach the SDK's retry
handlers and Baton as they always did. Against a small HTTP/1.1 server that counts its
connections and answers as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from handlers import response_urls
from handlers.kept_alive import KeptAliveWebClient


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released as the server closes each connection
        self.requests: list[dict[str, object]] = []
        self.close_after_answer = False  # closes silently, as an idle timeout does
        self.answers: list[tuple[int, dict[str, str]]] = []  # status and headers, then 200s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()  # the socket is closed now, not only its handler finished


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
        status, headers = self.server.answers.pop(0) if self.server.answers else (200, {})
        body = json.dumps(
            {"ok": True, "ts": "1.000100", "channel": "C1"}
            if status == 200
            else {"ok": False, "error": "ratelimited"}
        ).encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.server.close_after_answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def test_calls_share_one_connection(server: Server) -> None:
    client = KeptAliveWebClient(token="xoxb-test", base_url=server.url)
    for n in range(3):
        assert client.chat_postMessage(channel="C1", text=f"card {n}")["ts"] == "1.000100"
    assert [request["text"] for request in server.requests] == ["card 0", "card 1", "card 2"]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_costs_no_call(server: Server) -> None:
    server.close_after_answer = True
    client = KeptAliveWebClient(token="xoxb-test", base_url=server.url, retry_handlers=[])
    for n in range(3):  # as Baton's poster: no retries to hide a failed call
        assert client.chat_postMessage(channel="C1", text=f"card {n}")["ok"]
        assert server.closed.acquire(timeout=30)  # idle, and closed by the server
    assert len(server.requests) == 3  # each sent once
    assert server.connections == 3


def test_a_429_reaches_the_caller_with_its_retry_after(server: Server) -> None:
    server.answers = [(429, {"Retry-After": "7"})]
    client = KeptAliveWebClient(token="xoxb-test", base_url=server.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="card")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C1", text="again")["ok"]  # the connection lives on


def test_the_rate_limit_handler_retries_on_the_same_client(server: Server) -> None:
    server.answers = [(429, {"Retry-After": "0"})]
    client = KeptAliveWebClient(
        token="xoxb-test", base_url=server.url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    assert client.chat_update(channel="C1", ts="1.000100", text="redrawn")["ok"]
    assert len(server.requests) == 2


def test_a_response_url_takes_a_redraw_or_says_why_not(server: Server) -> None:
    url = f"{server.url}response/T1/abc"
    assert response_urls.send(url, {"text": "claimed"}, timeout=5) is None
    server.answers = [(404, {})]
    assert response_urls.send(url, {"text": "claimed"}, timeout=5) == "HTTP 404"
    assert server.requests[0] == {"text": "claimed"}
