"""Slash-command answers that may outlast Slack's 3-second acknowledgement.

The answer is computed on a small worker pool. Ready within `wait` seconds (about one, leaving
the network its share of Slack's three), it goes in the acknowledgement, and a failure reaches
the app's error handler as any listener's does; otherwise the command is acknowledged at once
with a short notice and the answer follows through the command's `response_url` when it is
ready, a refusal or a failure in words, so the user always gets one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack

from bot import notices
from bot.errors import BatonError
from bot.leads_command import Reply
from handlers import heap, response_urls

log = logging.getLogger(__name__)

DEFAULT_WAIT = 1.0
WORKERS = 4  # answers computed at once; more wait their turn, acknowledged meanwhile
POST_TIMEOUT = 10  # seconds
WORKING = "Working on it: the answer follows here in a moment."


def reply_body(reply: Reply) -> dict[str, Any]:
    """A reply as Slack takes it, in an acknowledgement or a response_url POST."""
    return {
        "response_type": "in_channel" if reply.in_channel else "ephemeral",
        "text": reply.message.text,
        "blocks": reply.message.blocks,
    }


class SlowAnswers:
    """Answers commands in the acknowledgement when quick, through `response_url` when not."""

    def __init__(self, *, wait: float = DEFAULT_WAIT) -> None:
        self.wait = wait
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slow-answer")

    def answer(self, ack: Ack, response_url: str | None, compute: Callable[[], Reply]) -> None:
        """Acknowledge with `compute()`'s reply, or with a notice and send the reply later."""
        pending = _Pending(response_url, late=response_url is not None and self.wait <= 0)
        self._pool.submit(pending.settle, compute)
        # Without a response_url there is nowhere to answer later: wait as Slack allows.
        outcome = pending.take(None if response_url is None else self.wait)
        if outcome is None:
            ack(response_type="ephemeral", text=WORKING)
        elif isinstance(outcome, Reply):
            ack(**reply_body(outcome))
        else:
            raise outcome

    def close(self) -> None:
        """Finish the answers under way (their users are waiting for them), then stop."""
        self._pool.shutdown(wait=True)


class _Pending:
    """One command's outcome, handed over exactly once: to the acknowledgement if it is there
    in time, else to the response_url as soon as it is computed."""

    def __init__(self, response_url: str | None, *, late: bool) -> None:
        self._response_url = response_url
        self._late = late
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: Reply | Exception | None = None

    def settle(self, compute: Callable[[], Reply]) -> None:
        """Compute the outcome and hand it over; then give the C heap back what the answer held
        (a report reads thousands of rows at 1M leads: 3 to 5 MB a server kept after one),
        once no other answer or batch of leads is under way (heap.giving_back_after)."""
        with heap.giving_back_after():
            self._settle(compute)

    def _settle(self, compute: Callable[[], Reply]) -> None:
        outcome: Reply | Exception
        try:
            outcome = compute()
        except Exception as error:
            outcome = error
        with self._lock:
            self._outcome, late = outcome, self._late
        self._done.set()
        if late:
            assert self._response_url is not None
            _post(self._response_url, _late_body(outcome))

    def take(self, timeout: float | None) -> Reply | Exception | None:
        """The outcome if it is ready within `timeout`; else None, and it will be sent later."""
        if self._late:
            return None  # sent later whatever happens: told so when it was made
        self._done.wait(timeout)
        with self._lock:
            if self._outcome is None:
                self._late = True
            return self._outcome


def _late_body(outcome: Reply | Exception) -> dict[str, Any]:
    if isinstance(outcome, Reply):
        return reply_body(outcome)
    if isinstance(outcome, BatonError):
        return {"response_type": "ephemeral", "text": notices.refusal(outcome)}
    log.error("unexpected error answering a slash command", exc_info=outcome)
    return {"response_type": "ephemeral", "text": notices.FAILURE}


def _post(response_url: str, body: dict[str, Any]) -> None:
    refused = response_urls.send(response_url, body, timeout=POST_TIMEOUT)
    if refused is not None:
        log.warning("a late slash-command answer was not delivered: %s", refused)
