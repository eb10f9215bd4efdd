"""The Slack emulator in a process of its own, so it does not share the server's CPU and GIL, read
over HTTP (`slack_emulator.inspection`): the calls it received, stamped on its own clock (the
wall clock of this machine), the lead cards they posted, and clicks built as Slack's client would.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection

import httpx

from slack_emulator import RateLimits, SlackEmulator, Workspace
from slack_emulator.store import Call

START_TIMEOUT = 60.0


class SlackProcess:
    """The running emulator's addresses and what a benchmark reads or builds through them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api_url = f"{url}/api/"
        self._http = httpx.Client(base_url=url, timeout=30.0, trust_env=False)

    def calls(self, since: int = 0) -> list[Call]:
        """The calls received from index `since` on, in order of arrival."""
        answer = self._http.get("/emulator/calls", params={"since": since})
        answer.raise_for_status()
        return [Call(**call) for call in answer.json()["calls"]]

    def click_request(
        self, user: str, channel: str, ts: str, action_id: str, value: str | None = None
    ) -> tuple[str, str]:
        """The body and content type of `user`'s click on a message's button, unsigned."""
        wanted = {"user": user, "channel": channel, "ts": ts, "action_id": action_id}
        answer = self._http.post("/emulator/click", json={**wanted, "value": value})
        answer.raise_for_status()
        built = answer.json()
        return built["body"], built["content_type"]

    def close(self) -> None:
        self._http.close()


class CallLog:
    """Every call read so far; `refresh` fetches only the new ones."""

    def __init__(self, slack: SlackProcess) -> None:
        self.slack = slack
        self.calls: list[Call] = []

    def refresh(self) -> list[Call]:
        new = self.slack.calls(len(self.calls))
        self.calls.extend(new)
        return new


@dataclass(frozen=True)
class Card:
    """A lead's card as posted: where, its ts, and when on the emulator's clock."""

    lead_id: int
    channel: str
    ts: str
    at: float


def posted_card(call: Call) -> Card | None:
    """The lead card a successful chat.postMessage posted (a top-level message carrying the
    lead's id in its metadata), or None for any other call."""
    if call.method != "chat.postMessage" or not call.ok or call.args.get("thread_ts"):
        return None
    metadata = call.args.get("metadata") or {}
    if isinstance(metadata, str):  # a form-encoded call sends it as JSON text
        metadata = json.loads(metadata)
    lead_id = (metadata.get("event_payload") or {}).get("lead_id")
    if lead_id is None:
        return None
    return Card(int(lead_id), call.response["channel"], call.response["ts"], call.at)


def cards_in(calls: Sequence[Call], channel: str) -> dict[int, Card]:
    """Each lead's first card posted into `channel` by these calls, by lead id."""
    found: dict[int, Card] = {}
    for call in calls:
        card = posted_card(call)
        if card is not None and card.channel == channel:
            found.setdefault(card.lead_id, card)
    return found


def _serve(workspace: Workspace, rate_limits: RateLimits | None, commands: Connection) -> None:
    with SlackEmulator(workspace=workspace, rate_limits=rate_limits) as emulator:
        commands.send(emulator.url)
        with contextlib.suppress(EOFError):  # a word, or the benchmark going away, stops it
            commands.recv()


@contextmanager
def slack_process(
    workspace: Workspace, rate_limits: RateLimits | None = None
) -> Iterator[SlackProcess]:
    """The emulator serving `workspace` in a spawned process until the block ends; with
    `rate_limits`, at Slack's pace."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve, args=(workspace, rate_limits, theirs), name="slack-emulator", daemon=True
    )
    process.start()
    slack: SlackProcess | None = None
    try:
        if not ours.poll(START_TIMEOUT):
            raise SystemExit(f"the Slack emulator did not start within {START_TIMEOUT:.0f} s")
        slack = SlackProcess(ours.recv())
        yield slack
    finally:
        if slack is not None:
            slack.close()
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
