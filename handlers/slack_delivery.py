"""Delivers the Slack outbox: renders each side effect from stored state and sends it, retrying
until Slack takes it (429 with Retry-After, 5xx, timeouts, restarts), posting each card once,
and recording as failed what Slack refuses for good."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot import cards, outbox, routing
from bot.home import home_view
from bot.lifecycle import Actor
from bot.periods import Period
from bot.reports import feedback_rows
from bot.rules import Rules
from handlers import metrics
from handlers.exports import feedback_csv
from handlers.services import Services
from handlers.slack_errors import PERMANENT_ERRORS, TOKEN_ERRORS
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage.errors import UNAVAILABLE_ERRORS
from storage.models import Lead, OutboxKind, SlackOutbox

log = logging.getLogger(__name__)

CARD_EVENT_TYPE = "baton_lead_card"
LEASE = timedelta(seconds=30)
BATCH = 10
IDLE_POLL_SECONDS = 0.25
DATABASE_RETRY_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300
EPHEMERAL_ATTEMPTS = 5  # an ephemeral reply is worthless once the moment has passed
EPHEMERAL_EXPIRED = "retries_exhausted"
HISTORY_PAGES = 5
INTERACTIVE_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class SlackClients:
    """Two clients over one token and URL, differing only in what they may retry by themselves.

    `api` retries everything (rate limits, 5xx, connection errors): right for calls that are
    safe to repeat. `poster` retries only 429s, which Slack did not act on: a 5xx or a dropped
    connection after chat.postMessage may mean the message was posted, and the outbox decides
    by looking for it before posting again. `interactive` serves listeners while Slack waits
    for the acknowledgement (views.open with a 3-second trigger_id): it never retries and
    gives up quickly, so a slow Slack costs a clear message, not a missed acknowledgement.
    """

    api: WebClient
    poster: WebClient
    interactive: WebClient

    @classmethod
    def build(cls, token: str, base_url: str, *, timeout: int = 10) -> SlackClients:
        def client(*handlers: Any, seconds: int = timeout) -> WebClient:
            return WebClient(
                token=token, base_url=base_url, timeout=seconds, retry_handlers=list(handlers)
            )

        return cls(
            api=client(
                RateLimitErrorRetryHandler(max_retry_count=2),
                ServerErrorRetryHandler(max_retry_count=2),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ),
            poster=client(RateLimitErrorRetryHandler(max_retry_count=2)),
            interactive=client(seconds=INTERACTIVE_TIMEOUT_SECONDS),
        )


class ChannelPacer:
    """Spaces posts into one channel (Slack allows about one message per second per channel).

    The gap counts from when the previous post finished, so however the network delays a
    request, Slack never sees two posts into one channel closer than the interval.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}

    @contextmanager
    def slot(self, channel: str) -> Iterator[None]:
        delay = self._next.get(channel, 0.0) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            yield
        finally:
            self._next[channel] = max(
                self._next.get(channel, 0.0), time.monotonic() + self.interval
            )

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said Retry-After: nothing more goes to this channel until then."""
        self._next[channel] = max(self._next.get(channel, 0.0), time.monotonic() + seconds)


class RetryLater(Exception):
    """Not deliverable yet (e.g. a thread reply before its card exists); not an error."""


class DeliveryWorker:
    """Drains the outbox from a background thread; several processes may run one each."""

    def __init__(
        self,
        services: Services,
        clients: SlackClients,
        *,
        post_interval: float = 1.0,
        first_retry: float = 1.0,
    ) -> None:
        self.services = services
        self.clients = clients
        self.first_retry = first_retry
        self.worker_id = uuid.uuid4().hex  # names this worker's leases
        self.pacer = ChannelPacer(post_interval)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: dict[str, Callable[[SlackOutbox], None]] = {
            OutboxKind.POST_CARD: self._post_card,
            OutboxKind.UPDATE_CARD: self._update_card,
            OutboxKind.DM: self._direct_message,
            OutboxKind.EPHEMERAL: self._ephemeral,
            OutboxKind.THREAD_REPLY: self._thread_reply,
            OutboxKind.CHANNEL_MESSAGE: self._channel_message,
            OutboxKind.PUBLISH_HOME: self._publish_home,
            OutboxKind.FEEDBACK_FILE: self._feedback_file,
        }

    @property
    def rules(self) -> Rules:
        return self.services.config.rules

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="slack-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def wake(self) -> None:
        """Something was just queued in this process: deliver it now, not at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        database_down = False
        while not self._stop.is_set():
            try:
                worked = self.deliver_due()
            except UNAVAILABLE_ERRORS as error:
                if not database_down:
                    log.warning(
                        "database unavailable (%s): Slack delivery paused until it answers",
                        type(error).__name__,
                    )
                    database_down = True
                self._stop.wait(DATABASE_RETRY_SECONDS)
                continue
            except Exception:
                log.exception("outbox delivery round failed; retrying")
                worked = 0
            if database_down:
                log.info("database answers again: Slack delivery resumed")
                database_down = False
            if not worked:
                self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()

    def deliver_due(self) -> int:
        """Lease due rows and deliver them in order; returns how many were attempted."""
        with self.services.db.write() as session:
            rows = outbox_store.lease_due(
                session, now=self.services.clock(), limit=BATCH, lease=LEASE, owner=self.worker_id
            )
        for index, row in enumerate(rows):
            if self._stop.is_set():
                self._release([later.id for later in rows[index:]])
                break
            if self._still_mine(row):
                self._deliver(row)
        return len(rows)

    def _release(self, row_ids: list[int]) -> None:
        with self.services.db.write() as session:
            outbox_store.release(session, row_ids=row_ids, owner=self.worker_id)

    def _still_mine(self, row: SlackOutbox) -> bool:
        """Renew the row's lease before sending it: a batch paced behind a slow Slack can
        outlast the lease it started with, and a row another worker took over is theirs."""
        with self.services.db.write() as session:
            return outbox_store.renew_lease(
                session,
                row_id=row.id,
                owner=self.worker_id,
                now=self.services.clock(),
                lease=LEASE,
            )

    def _deliver(self, row: SlackOutbox) -> None:
        try:
            self._senders[row.kind](row)
        except RetryLater as wait:
            self._settle_failure(row, str(wait), retry_in=self.first_retry)
        except SlackApiError as error:
            response = error.response
            code = str(response.get("error") or "")
            metrics.SLACK_DELIVERY_FAILURES.labels(kind=row.kind).inc()
            if code in PERMANENT_ERRORS:
                self._give_up(row, code)
                return
            retry_after = _retry_after(response.headers) if response.status_code == 429 else None
            if retry_after is not None and row.channel:
                self.pacer.hold(row.channel, retry_after)
            message = f"{response.status_code} {code}".strip()
            log.log(
                logging.ERROR if code in TOKEN_ERRORS else logging.WARNING,
                "slack %s for outbox row %s (lead %s): %s",
                row.kind,
                row.id,
                row.lead_id,
                message,
            )
            self._settle_failure(row, message, retry_in=retry_after)
        except UNAVAILABLE_ERRORS:
            raise  # the database, not Slack: the row stays leased and is retried after the outage
        except Exception as error:  # timeouts, refused connections: Slack may or may not have it
            metrics.SLACK_DELIVERY_FAILURES.labels(kind=row.kind).inc()
            log.warning("slack %s for outbox row %s failed: %r", row.kind, row.id, error)
            self._settle_failure(row, repr(error), retry_in=None)
        else:
            metrics.SLACK_DELIVERIES.labels(kind=row.kind).inc()

    def _settle_failure(self, row: SlackOutbox, error: str, *, retry_in: float | None) -> None:
        now = self.services.clock()
        with self.services.db.write() as session:
            stored = outbox_store.get(session, row.id)
            if stored is None or stored.done_at is not None:
                return
            expired = row.kind == OutboxKind.EPHEMERAL and stored.attempts >= EPHEMERAL_ATTEMPTS
            if expired:
                outbox_store.mark_given_up(session, stored, reason=f"given up: {error}", now=now)
            else:
                delay = retry_in if retry_in is not None else self._backoff(stored.attempts)
                outbox_store.mark_failed(
                    session, stored, error=error, retry_at=now + timedelta(seconds=delay)
                )
        if expired:
            _count_given_up(row, EPHEMERAL_EXPIRED)

    def _give_up(self, row: SlackOutbox, code: str) -> None:
        """Slack refused it for good: record it as failed with Slack's reason, retry no more."""
        with self.services.db.write() as session:
            stored = outbox_store.get(session, row.id)
            if stored is None or stored.done_at is not None:
                return
            outbox_store.mark_given_up(session, stored, reason=code, now=self.services.clock())
        _count_given_up(row, code)

    def _finish(self, row: SlackOutbox, after: Callable[[Any], None] | None = None) -> None:
        with self.services.db.write() as session:
            stored = outbox_store.get(session, row.id)
            if stored is None or stored.done_at is not None:
                return
            if after is not None:
                after(session)
            outbox_store.mark_done(session, stored, now=self.services.clock())

    def _lead(self, lead_id: int | None) -> Lead:
        with self.services.db.read() as session:
            lead = lead_store.get_lead(session, lead_id) if lead_id is not None else None
            if lead is None:
                raise RetryLater(f"lead {lead_id} not found")
            return lead

    def _backoff(self, attempts: int) -> float:
        """Exponential, capped, with jitter so rows failing together do not retry together."""
        base: float = min(self.first_retry * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
        return base * random.uniform(0.8, 1.2)

    # ----------------------------------------------------------------------- senders

    def _post_card(self, row: SlackOutbox) -> None:
        lead = self._lead(row.lead_id)
        if lead.slack_ts:
            self._finish(row)
            return
        channel = routing.channel_for(lead, self.rules)
        row.channel = channel
        # A first try goes straight to posting; after a try whose outcome is unknown, look first.
        found = None
        if row.attempts > 1:
            found = self._find_posted_card(channel, lead.id, since=row.created_at)
        if found is None:
            message = cards.lead_card(lead, reasons=self.rules.reasons)
            with self.pacer.slot(channel):
                response = self.clients.poster.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    metadata={"event_type": CARD_EVENT_TYPE, "event_payload": {"lead_id": lead.id}},
                    unfurl_links=False,
                )
            found = (response["channel"], response["ts"])
        posted_channel, ts = found

        def record(session: Any) -> None:
            self.services.lifecycle.card_posted(
                session, lead_id=lead.id, channel=posted_channel, ts=ts, now=self.services.clock()
            )

        self._finish(row, record)

    def _find_posted_card(
        self, channel: str, lead_id: int, *, since: datetime
    ) -> tuple[str, str] | None:
        """Look in the channel for a card an earlier, unconfirmed attempt may have posted."""
        oldest = f"{(since - timedelta(minutes=1)).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = self.clients.api.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
            )
            messages: list[dict[str, Any]] = page.get("messages", [])
            for message in messages:
                metadata = message.get("metadata") or {}
                if (
                    metadata.get("event_type") == CARD_EVENT_TYPE
                    and (metadata.get("event_payload") or {}).get("lead_id") == lead_id
                ):
                    return channel, message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _update_card(self, row: SlackOutbox) -> None:
        lead = self._lead(row.lead_id)
        if lead.slack_ts and lead.slack_channel:
            message = cards.lead_card(lead, reasons=self.rules.reasons)
            self.clients.api.chat_update(
                channel=lead.slack_channel,
                ts=lead.slack_ts,
                text=message.text,
                blocks=message.blocks,
            )
        self._finish(row)  # without a card yet, the coming post renders the current state

    def _direct_message(self, row: SlackOutbox) -> None:
        lead = self._lead(row.lead_id)
        assert row.user_id is not None
        kind = outbox.dm_kind(row.payload)
        message = cards.lead_dm(lead, kind=kind, reasons=self.rules.reasons)
        channel = self.clients.api.conversations_open(users=row.user_id)["channel"]["id"]
        self.clients.poster.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks, unfurl_links=False
        )
        self._finish(row)

    def _ephemeral(self, row: SlackOutbox) -> None:
        assert row.channel is not None and row.user_id is not None
        self.clients.api.chat_postEphemeral(
            channel=row.channel, user=row.user_id, text=row.payload["text"]
        )
        self._finish(row)

    def _thread_reply(self, row: SlackOutbox) -> None:
        lead = self._lead(row.lead_id)
        if not (lead.slack_ts and lead.slack_channel):
            raise RetryLater("the card is not posted yet")
        row.channel = lead.slack_channel
        with self.pacer.slot(lead.slack_channel):
            self.clients.poster.chat_postMessage(
                channel=lead.slack_channel,
                thread_ts=lead.slack_ts,
                text=row.payload["text"],
                reply_broadcast=bool(row.payload.get("broadcast")),
            )
        self._finish(row)

    def _channel_message(self, row: SlackOutbox) -> None:
        assert row.channel is not None
        with self.pacer.slot(row.channel):
            self.clients.poster.chat_postMessage(
                channel=row.channel,
                text=row.payload["text"],
                blocks=row.payload.get("blocks"),
                unfurl_links=False,
            )
        self._finish(row)

    def _publish_home(self, row: SlackOutbox) -> None:
        assert row.user_id is not None
        actor = Actor(
            row.user_id,
            is_manager=bool(row.payload.get("manager")),
            is_marketer=bool(row.payload.get("marketer")),
        )
        with self.services.db.read() as session:
            view = home_view(
                session,
                actor=actor,
                rules=self.rules,
                policies=self.services.policies,
                now=self.services.clock(),
            )
        self.clients.api.views_publish(user_id=row.user_id, view=view)
        self._finish(row)

    def _feedback_file(self, row: SlackOutbox) -> None:
        assert row.user_id is not None
        payload = row.payload
        period = Period(
            start=datetime.fromisoformat(payload["start"]),
            end=datetime.fromisoformat(payload["end"]),
            label=payload["label"],
        )
        with self.services.db.read() as session:
            rows = feedback_rows(
                session, period=period, reasons=self.rules.reasons, source=payload["source"]
            )
        channel = self.clients.api.conversations_open(users=row.user_id)["channel"]["id"]
        days = f"{period.start.date().isoformat()}_{period.end.date().isoformat()}"
        self.clients.poster.files_upload_v2(
            channel=channel,
            content=feedback_csv(rows),
            filename=f"baton-feedback-{days}.csv",
            title=f"Rejection feedback, {period.label}",
            initial_comment=f"Rejection feedback, {period.label}: {len(rows)} rejections.",
        )
        self._finish(row)


def _count_given_up(row: SlackOutbox, reason: str) -> None:
    metrics.SLACK_DELIVERIES_GIVEN_UP.labels(kind=row.kind, reason=reason).inc()
    log.error(
        "slack %s for lead %s failed for good (%s): recorded as failed, not retried "
        "(outbox row %s)",
        row.kind,
        row.lead_id,
        reason,
        row.id,
    )


def _retry_after(headers: Any) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            values = value if isinstance(value, list) else [value]
            try:
                return float(values[0])
            except (TypeError, ValueError):
                return None
    return None
