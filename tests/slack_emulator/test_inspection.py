"""What a program in another process reads and builds over HTTP: the calls on the emulator's
clock, and the request a user's click would send (which the bot then accepts as Slack's)."""

import json
import time
from urllib.parse import parse_qsl

import httpx
from slack_sdk import WebClient

from slack_driver import Delivery
from slack_driver.signing import sign
from slack_emulator import DEFAULT_SIGNING_SECRET, REP_1, SALES_CHANNEL, ManualClock, SlackEmulator
from tests.slack_emulator.conftest import Receiver
from tests.slack_emulator.test_driver import post_card


def test_calls_are_read_from_an_index_on_with_the_emulators_clock(
    client: WebClient, emulator: SlackEmulator, clock: ManualClock
) -> None:
    post_card(client)
    clock.advance(2.5)
    client.chat_postMessage(channel=SALES_CHANNEL, text="second")

    first = httpx.get(f"{emulator.url}/emulator/calls").json()
    rest = httpx.get(f"{emulator.url}/emulator/calls", params={"since": 1}).json()

    assert [call["method"] for call in first["calls"]] == ["chat.postMessage"] * 2
    assert first["next"] == 2
    assert [call["args"]["text"] for call in rest["calls"]] == ["second"]
    assert rest["calls"][0]["at"] - first["calls"][0]["at"] == 2.5
    assert rest["calls"][0]["status"] == 200
    assert rest["calls"][0]["response"]["ts"] == emulator.messages(SALES_CHANNEL)[1]["ts"]
    refused = httpx.get(f"{emulator.url}/emulator/calls", params={"since": "x"})
    assert refused.status_code == 400


def test_a_built_click_once_signed_is_the_click_the_driver_sends(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    ts = post_card(client)

    built = httpx.post(
        f"{emulator.url}/emulator/click",
        json={"user": REP_1, "channel": SALES_CHANNEL, "ts": ts, "action_id": "accept"},
    ).json()
    request = sign(
        receiver.url,
        built["body"],
        built["content_type"],
        signing_secret=DEFAULT_SIGNING_SECRET,
        now=time.time(),
        delivery=Delivery(),
    )
    httpx.post(request.url, content=request.body, headers=request.headers)

    payload = receiver.received[-1].payload()
    assert receiver.received[-1].signature_valid
    assert json.loads(dict(parse_qsl(built["body"]))["payload"]) == payload
    assert payload["user"]["id"] == REP_1
    assert payload["actions"][0]["action_id"] == "accept"
    assert payload["message"]["ts"] == ts


def test_a_click_on_a_missing_message_is_refused(emulator: SlackEmulator) -> None:
    response = httpx.post(
        f"{emulator.url}/emulator/click",
        json={"user": REP_1, "channel": SALES_CHANNEL, "ts": "1.000001", "action_id": "accept"},
    )

    assert response.status_code == 404
    assert response.json()["ok"] is False
