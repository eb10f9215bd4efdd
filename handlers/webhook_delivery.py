"""Outbound webhooks on the wire: each queued delivery POSTed to its endpoint, signed as the
Standard Webhooks specification says, and its outcome settled (delivered, retried with
back-off, given up on, or the endpoint disabled by a 410).

One thread leases due deliveries (each the oldest of its lead's lane at its endpoint, so events
arrive in order) and a small pool sends them. Several processes may run one each: leases keep
a delivery with one sender at a time, and a sender killed mid-send leaves its lease to run out,
after which the delivery is sent again under the same `webhook-id` for the receiver to dedupe.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks.webhooks import Webhook

from bot import hubspot
from bot.webhooks import WebhookEndpoint
from handlers import metrics
from handlers.config import Config
from handlers.delivery_rounds import RoundsThread
from handlers.services import Services
from storage import webhooks as webhook_store
from storage.db import Database
from storage.models import WebhookDelivery

log = logging.getLogger(__name__)

SENDERS = 4  # deliveries in flight per process; each is the head of its own lane
IDLE_POLL_SECONDS = 0.25
DISABLED_REFRESH_SECONDS = 5.0  # how often /metrics' disabled-endpoint gauge is re-read
LEASE_MARGIN = timedelta(seconds=5)  # beyond the endpoint's timeout, for settling the outcome
BACKOFF_FACTOR = 4  # each retry waits this much longer than the one before ...
MAX_BACKOFF = timedelta(hours=2)  # ... up to this, until the endpoint's retry window ends
RETRYABLE = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
GONE = 410


@dataclass(frozen=True)
class Answer:
    """What one try got: the HTTP status (None when no answer came) and why it failed."""

    status: int | None
    problem: str | None = None  # "HTTP 503", "timeout", "connection failed"
    retry_after: float | None = None  # seconds the endpoint asked us to wait

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE


def signature(secrets: Sequence[str], *, message_id: str, at: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,` signature per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


def post(
    client: httpx.Client,
    endpoint: WebhookEndpoint,
    secrets: Sequence[str],
    *,
    message_id: str,
    payload: dict[str, object],
) -> Answer:
    """POST one event, signed now; never raises for the endpoint's behaviour."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    at = datetime.now(UTC)  # the receiver checks it against its own clock
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, message_id=message_id, at=at, body=body),
    }
    try:
        response = client.post(
            endpoint.url, content=body.encode(), headers=headers, timeout=endpoint.timeout_seconds
        )
    except httpx.TimeoutException:
        return Answer(None, "timeout")
    except httpx.HTTPError as error:
        return Answer(None, f"connection failed ({type(error).__name__})")
    if 200 <= response.status_code < 300:
        return Answer(response.status_code)
    return Answer(
        response.status_code,
        f"HTTP {response.status_code}",
        retry_after_seconds(response.headers.get("retry-after")),
    )


def retry_wait(first_retry: timedelta, attempts: int, retry_after: float | None) -> timedelta:
    """How long a delivery waits after its `attempts`-th failed try: what the receiver asked
    for, else a back-off growing BACKOFF_FACTOR times per try up to MAX_BACKOFF."""
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    backoff: timedelta = first_retry * BACKOFF_FACTOR ** (attempts - 1)
    return min(backoff, MAX_BACKOFF)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, from a number of seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def lease_and_send(
    services: Services,
    endpoints: list[str],
    *,
    lease: timedelta,
    owner: str,
    senders: int,
    pool: ThreadPoolExecutor,
    send: Callable[[WebhookDelivery], None],
) -> int:
    """Lease up to `senders` due deliveries of these endpoints (each the head of its lead's
    lane), send them at once on the pool and wait for all; returns how many were leased."""
    with services.db.write() as session:
        rows = webhook_store.lease_due(
            session,
            endpoints=endpoints,
            now=services.clock(),
            limit=senders,
            lease=lease,
            owner=owner,
        )
    for _ in pool.map(send, rows):
        pass
    return len(rows)


def sync_endpoints(config: Config, db: Database) -> None:
    """Store the configured endpoints and what they subscribe to, as every process reads them;
    with HUBSPOT_ACCESS_TOKEN set, the HubSpot write-back's too (bot.hubspot)."""
    endpoints = {
        endpoint.name: (endpoint.url, endpoint.event_types) for endpoint in config.rules.webhooks
    }
    settings = config.settings
    if settings.hubspot_write_back:
        endpoints[hubspot.ENDPOINT] = (settings.hubspot_api_url, list(hubspot.EVENT_TYPES))
    with db.write() as session:
        webhook_store.sync_endpoints(session, endpoints)


class WebhookWorker:
    """Delivers the webhook outbox of the configured endpoints until stopped."""

    def __init__(self, services: Services, *, first_retry: float = 5.0) -> None:
        self.services = services
        self.first_retry = timedelta(seconds=first_retry)
        self.endpoints = {endpoint.name: endpoint for endpoint in services.config.rules.webhooks}
        self.secrets = services.config.webhook_secrets
        self.worker_id = uuid.uuid4().hex  # names this worker's leases
        self.lease = (
            max(
                (timedelta(seconds=e.timeout_seconds) for e in self.endpoints.values()),
                default=timedelta(0),
            )
            + LEASE_MARGIN
        )
        self._client = httpx.Client(follow_redirects=False)  # a 3xx is a failure
        self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send")
        self._rounds = RoundsThread(
            self.deliver_due,
            what="webhook",
            name="webhook-delivery",
            idle_wait=lambda: IDLE_POLL_SECONDS,
        )
        self._disabled_read_at = 0.0

    def start(self) -> None:
        self._rounds.start()

    def wake(self) -> None:
        self._rounds.wake()

    def stop(self) -> None:
        self._rounds.stop()
        self._pool.shutdown(wait=True)
        self._client.close()

    def deliver_due(self) -> int:
        """Lease the due heads of up to SENDERS lanes, send them at once and settle each;
        returns how many were leased."""
        self._refresh_disabled_gauge()
        return lease_and_send(
            self.services,
            list(self.endpoints),
            lease=self.lease,
            owner=self.worker_id,
            senders=SENDERS,
            pool=self._pool,
            send=self._deliver,
        )

    def _deliver(self, row: WebhookDelivery) -> None:
        endpoint = self.endpoints[row.endpoint]
        answer = post(
            self._client,
            endpoint,
            self.secrets[row.endpoint],
            message_id=row.message_id,
            payload=row.payload,
        )
        self._settle(row, endpoint, answer)

    def _settle(self, row: WebhookDelivery, endpoint: WebhookEndpoint, answer: Answer) -> None:
        now = self.services.clock()
        owner = self.worker_id
        name = endpoint.name
        with self.services.db.write() as session:
            if answer.delivered:
                webhook_store.mark_delivered(session, row, owner=owner, now=now)
                metrics.WEBHOOK_DELIVERIES.labels(name).inc()
                return
            assert answer.problem is not None
            metrics.WEBHOOK_DELIVERY_FAILURES.labels(name, answer.problem).inc()
            if answer.status == GONE:
                webhook_store.mark_failed(
                    session, row, owner=owner, error="HTTP 410: endpoint disabled", now=now
                )
                given_up = webhook_store.disable_endpoint(
                    session, name=name, reason=f"answered 410 Gone to {row.message_id}", now=now
                )
                metrics.WEBHOOK_DELIVERIES_GIVEN_UP.labels(name, "endpoint_disabled").inc(
                    given_up + 1
                )
                metrics.WEBHOOK_ENDPOINT_DISABLED.labels(name).set(1)
                log.warning(
                    "webhook endpoint %s answered 410 Gone: disabled, %d waiting deliveries "
                    "recorded as failed (`baton webhooks enable %s` to resume)",
                    name,
                    given_up,
                    name,
                )
                return
            deadline = row.queued_at + timedelta(hours=endpoint.retry_hours)
            if not answer.retryable or now >= deadline:
                reason = "refused" if not answer.retryable else "retries_exhausted"
                error = (
                    f"{answer.problem}: not retried"
                    if not answer.retryable
                    else f"{answer.problem}: gave up after {row.attempts} tries"
                )
                webhook_store.mark_failed(session, row, owner=owner, error=error, now=now)
                metrics.WEBHOOK_DELIVERIES_GIVEN_UP.labels(name, reason).inc()
                log.warning("webhook delivery %d to %s failed: %s", row.id, name, error)
                return
            wait = retry_wait(self.first_retry, row.attempts, answer.retry_after)
            webhook_store.mark_retry(
                session,
                row,
                owner=owner,
                error=answer.problem,
                retry_at=min(now + wait, deadline),
            )

    def _refresh_disabled_gauge(self) -> None:
        """Keep /metrics' disabled-endpoint gauge true to the database, whichever process
        disabled the endpoint or enabled it again; and settle as failed what a move queued for
        an endpoint it still saw enabled while another transaction disabled it."""
        if time.monotonic() - self._disabled_read_at < DISABLED_REFRESH_SECONDS:
            return
        self._disabled_read_at = time.monotonic()
        with self.services.db.read() as session:
            disabled = set(webhook_store.disabled_endpoints(session))
        for name in self.endpoints:
            metrics.WEBHOOK_ENDPOINT_DISABLED.labels(name).set(1 if name in disabled else 0)
        for name in sorted(disabled & set(self.endpoints)):
            with self.services.db.write() as session:
                late = webhook_store.fail_waiting(session, names=[name], now=self.services.clock())
            if late:
                metrics.WEBHOOK_DELIVERIES_GIVEN_UP.labels(name, "endpoint_disabled").inc(late)
                log.warning("webhook endpoint %s disabled: %d late deliveries failed", name, late)
