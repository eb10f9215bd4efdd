"""Socket Mode: apps.connections.open, the websocket, envelopes relayed and acked, round-robin."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from slack_driver import Delivery
from slack_emulator import DEFAULT_APP_TOKEN, DEFAULT_TOKEN, REP_1, SALES_CHANNEL, SlackEmulator
from tests.slack_emulator.test_driver import BUTTONS, open_modal, post_card

Answer = Callable[[SocketModeRequest], dict[str, Any] | None]


class App:
    """An app on Socket Mode: records what arrives and acks envelopes with `answer`'s payload."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[SocketModeRequest] = []
        self.answer: Answer | None = lambda _: None
        self.client = SocketModeClient(
            app_token=DEFAULT_APP_TOKEN,
            web_client=WebClient(base_url=emulator.api_url),
            auto_reconnect_enabled=False,
        )
        self.client.message_listeners.append(lambda _, message, __: self.messages.append(message))
        self.client.socket_mode_request_listeners.append(self._handle)

    def _handle(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        self.requests.append(request)
        if self.answer is None:  # never acks
            return
        payload = self.answer(request)
        client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload))


@pytest.fixture
def connect(emulator: SlackEmulator) -> Iterator[Callable[[], App]]:
    """Connects apps to the emulator (waiting until it counts them); closes them afterwards."""
    apps: list[App] = []

    def start() -> App:
        app = App(emulator)
        apps.append(app)
        app.client.connect()
        expected = len(apps)
        emulator.wait_for(lambda: emulator.socket_connections() == expected)
        return app

    yield start
    for app in apps:
        app.client.close()


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll the client's side, which `emulator.wait_for` is not woken by."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


def test_connections_open_takes_only_an_app_token(emulator: SlackEmulator) -> None:
    api = WebClient(base_url=emulator.api_url)

    url = api.apps_connections_open(app_token=DEFAULT_APP_TOKEN)["url"]

    assert url.startswith(f"ws://127.0.0.1:{emulator.url.rsplit(':', 1)[1]}/socket/")
    assert api.apps_connections_open(app_token=DEFAULT_APP_TOKEN)["url"] != url
    errors = {}
    for token in (DEFAULT_TOKEN, "xapp-1-unknown"):
        with pytest.raises(SlackApiError) as raised:
            api.apps_connections_open(app_token=token)
        errors[token] = raised.value.response["error"]
    assert errors == {DEFAULT_TOKEN: "not_allowed_token_type", "xapp-1-unknown": "invalid_auth"}
    with pytest.raises(SlackApiError) as refused:
        WebClient(base_url=emulator.api_url, token=DEFAULT_APP_TOKEN).auth_test()
    assert refused.value.response["error"] == "not_allowed_token_type"


def test_an_app_is_greeted_with_hello_and_its_pings_are_answered(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()

    wait_until(lambda: app.messages)
    hello = app.messages[0]
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": emulator.workspace.bot.app_id}
    assert "debug_info" in hello
    session = app.client.current_session
    assert session is not None
    wait_until(lambda: session.last_ping_pong_time is not None)


def test_only_issued_socket_urls_connect(emulator: SlackEmulator) -> None:
    app = App(emulator)
    app.client.wss_uri = emulator.url.replace("http", "ws") + "/socket/not-issued"
    try:
        app.client.connect()
        assert not app.client.is_connected()
        assert emulator.socket_connections() == 0
    finally:
        app.client.close()


def test_a_click_arrives_as_an_interactive_envelope_and_is_acked(
    client: WebClient, emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()
    ts = post_card(client)

    response = emulator.user(REP_1, socket_mode=True).click(SALES_CHANNEL, ts, "accept")

    assert response.status_code == 200 and not response.content
    (request,) = app.requests
    assert request.type == "interactive"
    assert request.accepts_response_payload is False
    assert request.payload["type"] == "block_actions"
    assert request.payload["actions"][0]["action_id"] == "accept"
    assert request.payload["message"]["blocks"] == BUTTONS


def test_a_submission_ack_payload_is_applied_to_the_modal(
    client: WebClient, emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()
    view_id = open_modal(client, emulator)
    app.answer = lambda _: {"response_action": "errors", "errors": {"note": "Say why"}}
    rep = emulator.user(REP_1, socket_mode=True)

    refused = rep.submit_view(view_id, {"reason": {"code": "other"}})

    assert refused.json() == {"response_action": "errors", "errors": {"note": "Say why"}}
    assert app.requests[-1].accepts_response_payload is True
    assert emulator.view_errors(view_id) == {"note": "Say why"}
    app.answer = lambda _: None
    rep.submit_view(view_id, {"reason": {"code": "other"}, "note": {"text": "Student"}})
    assert emulator.open_views(REP_1) == []


def test_a_slash_command_is_the_plain_dict_and_its_answer_is_shown(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()
    app.answer = lambda _: {"text": "Usage: /leads mine"}

    emulator.user(REP_1, socket_mode=True).slash_command("/leads", "help")

    (request,) = app.requests
    assert request.type == "slash_commands" and request.accepts_response_payload is True
    assert (request.payload["command"], request.payload["text"]) == ("/leads", "help")
    assert request.payload["user_id"] == REP_1
    assert [e["text"] for e in emulator.ephemerals(REP_1, SALES_CHANNEL)] == ["Usage: /leads mine"]


def test_events_carry_retries_and_a_replay_resends_the_envelope(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()
    rep = emulator.user(REP_1, socket_mode=True)

    rep.open_app_home()
    rep.open_app_home(delivery=Delivery(retry_num=1, retry_reason="timeout"))
    rep.replay()

    first, retried, replayed = app.requests
    assert first.type == "events_api" and first.payload["event"]["type"] == "app_home_opened"
    assert (first.retry_attempt, retried.retry_attempt, retried.retry_reason) == (0, 1, "timeout")
    assert replayed.envelope_id == retried.envelope_id
    assert replayed.payload == retried.payload
    with pytest.raises(ValueError):
        rep.open_app_home(delivery=Delivery(bad_signature=True))


def test_each_envelope_goes_to_one_connection_in_turn(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    first, second = connect(), connect()
    rep = emulator.user(REP_1, socket_mode=True)

    for _ in range(4):
        rep.open_app_home()

    sent = sorted(r.payload["event_id"] for r in first.requests + second.requests)
    assert [r.payload["event_id"] for r in first.requests] == sent[0::2]
    assert [r.payload["event_id"] for r in second.requests] == sent[1::2]
    assert second.messages[0]["num_connections"] == 2


def test_without_an_ack_or_a_connection_the_driver_times_out(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    rep = emulator.user(REP_1, socket_mode=True, timeout=0.3)
    with pytest.raises(TimeoutError, match="no Socket Mode connection"):
        rep.open_app_home()

    app = connect()
    app.answer = None
    with pytest.raises(TimeoutError, match="not acknowledged"):
        rep.open_app_home()
    assert len(app.requests) == 1


def test_concurrent_deliveries_are_each_acked(
    emulator: SlackEmulator, connect: Callable[[], App]
) -> None:
    app = connect()
    codes: list[int] = []

    def home() -> None:
        codes.append(emulator.user(REP_1, socket_mode=True).open_app_home().status_code)

    threads = [threading.Thread(target=home) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert codes == [200] * 8
    assert len(app.requests) == 8
