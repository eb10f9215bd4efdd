"""The demo's web client over HTTP: what it shows (files, the clock) and what it sends for a user
(slash commands with @mentions escaped as Slack's client escapes them, the host's buttons)."""

from __future__ import annotations

import io
import json
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from slack_sdk import WebClient

from slack_emulator import (
    DEFAULT_TOKEN,
    MANAGER,
    MARKETER,
    MARKETING_CHANNEL,
    REP_2,
    SALES_CHANNEL,
    FastClock,
    ManualClock,
    SlackEmulator,
)
from slack_emulator.web import SlackWebClient
from tests.slack_emulator.conftest import Receiver

MESSAGE_START = 1_800_000_000.0  # the message clock, far from the lifetimes' clock
ROOT = Path(__file__).parents[2]
EMOJI = ROOT / "slack_emulator" / "web" / "static" / "emoji"
# Symbols Baton writes that are no emoji (Unicode gives them no Extended_Pictographic, so the
# client leaves them to the text font, which has them).
TEXT_SYMBOLS = {"✓", "✗"}


@pytest.fixture
def message_clock() -> ManualClock:
    return ManualClock(start=MESSAGE_START)


@pytest.fixture
def slack(
    clock: ManualClock, message_clock: ManualClock, receiver: Receiver
) -> Iterator[SlackEmulator]:
    with SlackEmulator(
        clock=clock, message_clock=message_clock, request_url=receiver.url
    ) as emulator:
        yield emulator


@pytest.fixture
def pressed() -> list[str]:
    return []


@pytest.fixture
def web(slack: SlackEmulator, receiver: Receiver, pressed: list[str]) -> Iterator[httpx.Client]:
    def press() -> str:
        pressed.append("digest")
        return "Sent."

    controls = {"Send the digest now": press}
    with (
        SlackWebClient(slack, receiver.url, controls=controls) as client,
        httpx.Client(base_url=client.url, timeout=10) as http,
    ):
        yield http


def state(web: httpx.Client, user: str, channel: str) -> dict[str, Any]:
    response = web.get("/api/state", params={"user": user, "channel": channel})
    assert response.status_code == 200
    return response.json()


def test_typed_mentions_reach_the_app_as_slack_escapes_them(
    web: httpx.Client, receiver: Receiver
) -> None:
    typed = "/leads assign 3 @bob in #sales, not @nobody (mail bob@example.com)"
    answer = web.post("/api/command", json={"user": MANAGER, "channel": "sales", "text": typed})

    assert answer.json()["ok"] is True
    sent = receiver.received[-1].form()
    assert sent["command"] == "/leads"
    assert sent["text"] == (
        f"assign 3 <@{REP_2}|bob> in <#{SALES_CHANNEL}|sales>, not @nobody (mail bob@example.com)"
    )


def test_an_uploaded_file_shows_on_its_message_and_downloads(
    web: httpx.Client, slack: SlackEmulator
) -> None:
    bot = WebClient(base_url=slack.api_url, token=DEFAULT_TOKEN)
    channel = bot.conversations_open(users=MARKETER)["channel"]["id"]
    content = "lead_id,reason\n7,no_budget\n"
    bot.files_upload_v2(
        channel=channel,
        content=content,
        filename="baton-feedback.csv",
        title="Rejection feedback, last 30 days",
        initial_comment="Rejection feedback: 1 rejection.",
    )

    (message,) = state(web, MARKETER, MARKETER)["messages"]
    (file,) = message["files"]
    assert file["title"] == "Rejection feedback, last 30 days"
    assert (file["name"], file["size"], file["image"]) == (
        "baton-feedback.csv",
        len(content),
        False,
    )
    download = web.get(file["url"])
    assert download.status_code == 200
    assert download.text == content
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="baton-feedback.csv"'
    assert web.get("/files/F404/nothing.csv").status_code == 404


def test_an_uploaded_image_is_shown_as_one(web: httpx.Client, slack: SlackEmulator) -> None:
    bot = WebClient(base_url=slack.api_url, token=DEFAULT_TOKEN)
    picture = io.BytesIO()
    Image.new("RGB", (4, 3), "#4e79a7").save(picture, format="PNG")
    bot.files_upload_v2(
        channel=MARKETING_CHANNEL, content=picture.getvalue(), filename="chart.png", title="Chart"
    )

    (message,) = state(web, MARKETER, MARKETING_CHANNEL)["messages"]
    (file,) = message["files"]
    assert file["image"] is True
    shown = web.get(file["url"])
    assert shown.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(shown.content)).size == (4, 3)


def test_messages_and_the_clients_notices_are_stamped_by_the_message_clock(
    web: httpx.Client, slack: SlackEmulator, message_clock: ManualClock
) -> None:
    message_clock.advance(90)
    bot = WebClient(base_url=slack.api_url, token=DEFAULT_TOKEN)
    posted = bot.chat_postMessage(channel=SALES_CHANNEL, text="New SQL")
    web.post("/api/command", json={"user": MANAGER, "channel": "sales", "text": "hello"})

    shown = state(web, MANAGER, "sales")
    assert [float(m["ts"]) // 1 for m in shown["messages"]] == [MESSAGE_START + 90] * 2
    assert shown["messages"][0]["ts"] == posted["ts"]
    assert shown["messages"][1]["author"] == "Slackbot"  # "This demo takes slash commands"
    assert shown["clock"] == {"now": MESSAGE_START + 90, "speed": 1.0}


def test_a_fast_clock_says_how_fast_it_runs(receiver: Receiver) -> None:
    clock = FastClock(60, start=time.time() - 10)  # started 10 s ago: 10 minutes have passed
    with (
        SlackEmulator(message_clock=clock, request_url=receiver.url) as slack,
        SlackWebClient(slack, receiver.url) as client,
    ):
        shown = httpx.get(
            f"{client.url}api/state", params={"user": MANAGER, "channel": "sales"}
        ).json()
    assert shown["clock"]["speed"] == 60
    assert shown["clock"]["now"] >= clock.start + 600


def test_the_hosts_buttons_are_listed_and_pressed(web: httpx.Client, pressed: list[str]) -> None:
    assert web.get("/api/workspace").json()["controls"] == ["Send the digest now"]

    answer = web.post("/api/control", json={"user": MARKETER, "control": "Send the digest now"})
    assert answer.json() == {"ok": True, "said": "Sent."}
    assert pressed == ["digest"]

    unknown = web.post("/api/control", json={"user": MARKETER, "control": "Format the disk"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_control")
    assert pressed == ["digest"]


def test_every_emoji_baton_writes_has_a_bundled_image() -> None:
    """The demo draws these from images (no emoji font needed): a new emoji in a message, as a
    character or as `:name:`, needs its image in slack_emulator/web/static/emoji."""
    shortcodes = json.loads((EMOJI / "shortcodes.json").read_text())
    written: set[str] = set()
    named: set[str] = set()
    for source in [*ROOT.glob("bot/*.py"), *ROOT.glob("handlers/*.py")]:
        text = source.read_text()
        written |= {char for char in text if unicodedata.category(char) == "So"} - TEXT_SYMBOLS
        named |= set(re.findall(r":([a-z][a-z0-9_+]*):", text))
    assert "🔥" in written and "inbox_tray" in named  # the scan sees what the card writes

    assert not named - set(shortcodes), "name them in shortcodes.json, with their images"
    assert not written - set(map(unqualified, shortcodes.values())), "add them to shortcodes.json"
    for emoji in shortcodes.values():
        assert (EMOJI / f"{image_name(emoji)}.svg").is_file(), emoji


def unqualified(emoji: str) -> str:
    return emoji.replace("\ufe0f", "")


def image_name(emoji: str) -> str:
    """Twemoji's file name: the code points in hex, without the variation selector."""
    return "-".join(f"{ord(char):x}" for char in unqualified(emoji))
