"""Fixtures: a started emulator on a manual clock, a WebClient for it, and a bot stand-in."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from slack_emulator import DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN, ManualClock, SlackEmulator
from slack_emulator.serving import BackgroundServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def payload(self) -> dict[str, Any]:
        """An interaction's `payload` field, or an event's JSON body."""
        if self.headers["content-type"].startswith("application/json"):
            return json.loads(self.body)
        return json.loads(self.form()["payload"])


class Receiver:
    """A tiny bot endpoint: verifies signatures as Bolt does, records, answers as scripted."""

    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.received: list[Received] = []
        self.answer: Callable[[Received], Response] = lambda _: Response(status_code=200)
        app = Starlette(routes=[Route("/slack/events", self.endpoint, methods=["POST"])])
        self.server = BackgroundServer(app)
        self.url = f"{self.server.url}/slack/events"

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        received = Received(headers, body, self.verifier.is_valid_request(body, headers))
        self.received.append(received)
        if not received.signature_valid:
            return Response(status_code=401)
        return self.answer(received)

    def answer_json(self, body: dict[str, Any]) -> None:
        self.answer = lambda _: Response(json.dumps(body), media_type="application/json")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_700_000_000.0)


@pytest.fixture(scope="session")
def _running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(DEFAULT_SIGNING_SECRET)
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def receiver(_running_receiver: Receiver) -> Receiver:
    """The shared bot stand-in, emptied and answering an empty 200 again."""
    _running_receiver.received.clear()
    _running_receiver.answer = lambda _: Response(status_code=200)
    return _running_receiver


@pytest.fixture
def emulator(clock: ManualClock, receiver: Receiver) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock, request_url=receiver.url) as emulator:
        yield emulator


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])
