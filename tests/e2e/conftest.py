"""End-to-end set-up: the real bot over HTTP, talking to the project's Slack API emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import DEFAULT_SIGNING_SECRET, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import outbox as outbox_store
from storage import received_clicks
from tests.conftest import free_port
from tests.factories import lead_payload

T = TypeVar("T")
INTAKE_AUTH = {"Authorization": "Bearer test-intake-token"}


def slack_user(slack: SlackEmulator, bot: BatonServer, user_id: str) -> SlackUser:
    """A Slack user whose clicks and submissions go to `bot`, signed as Slack signs them."""
    return slack.user(
        user_id, bot_url=f"{bot.url}/slack/events", signing_secret=DEFAULT_SIGNING_SECRET
    )


@pytest.fixture
def user(slack: SlackEmulator, bot: BatonServer) -> Callable[[str], SlackUser]:
    """Slack users of the default bot."""
    return lambda user_id: slack_user(slack, bot, user_id)


@contextmanager
def card_redraws_held(slack: SlackEmulator) -> Iterator[None]:
    """Keep Slack slow to redraw cards for a moment, so several clicks are made on the card as
    it was first seen (as when two people, or one double click, hit it in the same second)."""
    slow = [
        slack.faults.add(method, delay=1.0, times=None)
        for method in ("chat.update", "response_url")
    ]
    try:
        yield
    finally:
        for fault in slow:
            slack.faults.remove(fault)


def eventually(predicate: Callable[[], T], timeout: float = 10.0) -> T:
    """Poll until `predicate` is truthy (for state outside the emulator, e.g. the database)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


# A chart is drawn in a process of its own, which a loaded CI machine takes 20 s and more to start.
SETTLE_SECONDS = 60


def clicks_applied(bot: BatonServer) -> None:
    """Wait until every acknowledged click was applied (a click's move follows its ack)."""

    def none_waiting() -> bool:
        with bot.services.db.read() as session:
            return received_clicks.count_waiting(session) == 0

    eventually(none_waiting, timeout=SETTLE_SECONDS)


def settled(bot: BatonServer) -> None:
    """Wait until every click was applied, and every queued Slack side effect was delivered
    and recorded."""

    def nothing_pending() -> bool:
        with bot.services.db.read() as session:
            return (
                received_clicks.count_waiting(session) == 0
                and outbox_store.count_pending(session) == 0
            )

    eventually(nothing_pending, timeout=SETTLE_SECONDS)


def send_lead(bot: BatonServer, **overrides: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{bot.url}/api/leads", json=lead_payload(**overrides), headers=INTAKE_AUTH, timeout=10
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def cards(slack: SlackEmulator, channel: str = SALES_CHANNEL) -> dict[int, dict[str, Any]]:
    """The lead cards in a channel, by lead id (from the metadata Baton tags them with)."""
    found: dict[int, dict[str, Any]] = {}
    for message in slack.messages(channel):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if "lead_id" in payload:
            found[payload["lead_id"]] = message
    return found


# Patient like the tests' Slack: a loaded CI machine can stall delivery for seconds.
CARD_WAIT_SECONDS = 30


def wait_for_card(
    slack: SlackEmulator, lead_id: int, check: Callable[[dict[str, Any]], bool] = lambda _: True
) -> dict[str, Any]:
    """The lead's card once it is posted and `check` holds for it."""

    def ready() -> dict[str, Any] | None:
        card = cards(slack).get(lead_id)
        return card if card is not None and check(card) else None

    try:
        return slack.wait_for(ready, timeout=CARD_WAIT_SECONDS)
    except TimeoutError as timeout:
        card = cards(slack).get(lead_id)
        seen = "never posted" if card is None else f"last drawn as {card_text(card)!r}"
        methods = [call.method for call in slack.calls()][-20:]
        raise TimeoutError(f"lead {lead_id}'s card {seen}; last Slack calls {methods}") from timeout


def card_text(card: dict[str, Any]) -> str:
    """Everything a reader sees on a card, as one string."""
    return _texts(card.get("blocks", []))


def _texts(node: Any) -> str:
    if isinstance(node, dict):
        return " ".join(
            node[key] if key == "text" and isinstance(node[key], str) else _texts(node[key])
            for key in node
        )
    if isinstance(node, list):
        return " ".join(_texts(item) for item in node)
    return ""


def buttons(card: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in card.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


@pytest.fixture
def seeded(bot: BatonServer, slack: SlackEmulator, user: Callable[[str], SlackUser]) -> list[int]:
    """Four leads: #1 claimed by alice, #2 rejected by bob (no_budget), #3 and #4 waiting."""
    ids = []
    for n, source in enumerate(["webinar", "webinar", "ebook", "ads"], start=1):
        lead = send_lead(bot, external_id=f"seed-{n}", name=f"Lead {n}", source=source)
        ids.append(lead["id"])
        wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
    cards = {lead_id: wait_for_card(slack, lead_id) for lead_id in ids}
    user(REP_1).click(SALES_CHANNEL, cards[ids[0]]["ts"], "lead.accept")
    user(REP_2).click(SALES_CHANNEL, cards[ids[1]]["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_2).submit_view(
        modal["id"],
        {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}},
    )
    settled(bot)
    return ids


class Served(NamedTuple):
    """A `python -m bot serve` process, its base URL, and the file its output goes to."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path


Serve = Callable[..., Served]
# A fresh `python -m bot serve` imports everything before it answers; with the suite's parallel
# workers starting several at once on a loaded machine that has taken over 30 s.
SERVE_STARTUP_SECONDS = 90


@pytest.fixture
def serve(config_env: dict[str, str], tmp_path: Path) -> Iterator[Serve]:
    """Starts `python -m bot serve [ARGUMENTS]` processes, each logging to its own file, with
    `environment` added to the bot's."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*arguments: str, environment: dict[str, str] | None = None) -> Served:
        port = free_port()
        env = {
            "PATH": os.environ["PATH"],
            **config_env,
            **(environment or {}),
            "BATON_PORT": str(port),
        }
        log = tmp_path / f"serve-{len(processes)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", *arguments],
                env=env,
                cwd=tmp_path,
                stdout=output,
                stderr=output,
            )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: _healthy(url, process), timeout=SERVE_STARTUP_SECONDS)
        return Served(process, url, log)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "baton serve exited"
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
