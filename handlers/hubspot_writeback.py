"""The HubSpot write-back on the wire: each decision queued for the `hubspot` endpoint of the
webhook outbox (bot.hubspot) written on its contact, and the delivery settled (done, retried
with back-off or after HubSpot's Retry-After, or recorded as failed with the reason).

Exactly once without an idempotency key: every try reads the contact first and writes only
what differs (a retry after a write HubSpot made but whose answer was lost writes nothing
again), and a rejection's note is created only when no note of the contact already carries the
same lead mark and moment. A sender killed mid-write leaves its lease to run out; the next try
reads what the dead one managed and finishes the rest.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import hubspot
from bot.hubspot import RejectionNote, WriteBack
from handlers import metrics
from handlers.delivery_rounds import RoundsThread
from handlers.hubspot_api import Contact, HubSpotApi, HubSpotError
from handlers.services import Services
from handlers.webhook_delivery import lease_and_send, retry_wait
from storage import webhooks as webhook_store
from storage.models import WebhookDelivery

log = logging.getLogger(__name__)

SENDERS = 2  # write-backs in flight per process: HubSpot allows about 10 calls a second
IDLE_POLL_SECONDS = 0.25
CALLS_PER_WRITE_BACK = 6  # at most, each within the timeout: the lease covers them all
LEASE_MARGIN = timedelta(seconds=5)
# A note created before its decision (less this, for clocks that disagree) is not its note:
# looking further back through a contact's notes is not needed.
NOTE_CLOCK_MARGIN = timedelta(hours=1)
EMAIL_CACHE_SECONDS = 600.0


class Parked(Exception):
    """A write-back that cannot succeed as things are: recorded as failed with `message`
    (replayable with `baton webhooks replay` once fixed); `reason` labels it in /metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SlackEmails:
    """A Slack user's email (users.info, which needs the users:read.email scope), remembered a
    while; None for a user Slack does not know or shows no email for."""

    def __init__(self, client: WebClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._emails: dict[str, tuple[float, str | None]] = {}

    def email(self, user_id: str) -> str | None:
        now = self.clock()
        with self._lock:
            cached = self._emails.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as error:
            if error.response.get("error") != "user_not_found":
                raise HubSpotError(
                    None, f"Slack users.info: {error.response.get('error')}"
                ) from None
            user = {}
        except (SlackClientError, OSError) as error:
            raise HubSpotError(None, f"Slack users.info: {type(error).__name__}") from None
        email = (user.get("profile") or {}).get("email") or None
        with self._lock:
            self._emails[user_id] = (now + EMAIL_CACHE_SECONDS, email)
        return email


class HubSpotWriter:
    """Writes one decision on its contact (see the module docstring)."""

    def __init__(self, api: HubSpotApi, emails: SlackEmails) -> None:
        self.api = api
        self.emails = emails

    def write(self, plan: WriteBack) -> None:
        """Write what the decision says; Parked when it cannot be written (what could be was)."""
        if plan.contact is None:
            raise Parked(
                "no_contact",
                "the lead came from outside HubSpot and has no email to find its contact by",
            )
        wanted = dict(plan.properties)
        unowned = None
        if plan.owner_of is not None and plan.owner_property is not None:
            owner, unowned = self._owner(plan.owner_of)
            if owner is not None:
                wanted[plan.owner_property] = owner
        try:
            contact = self.api.contact(
                contact_id=plan.contact_id,
                email=plan.email,
                properties=list(wanted),
                with_notes=plan.note is not None,
            )
        except HubSpotError as error:
            if error.not_found:
                raise Parked("contact_not_found", f"HubSpot has no {plan.contact}") from None
            raise
        changed = {
            name: value for name, value in wanted.items() if contact.properties.get(name) != value
        }
        if changed:
            self.api.update_contact(contact.id, changed)
        if plan.note is not None:
            self._note(contact, plan.note)
        if unowned is not None:
            raise Parked("no_owner", f"{unowned}; the rest was written")

    def _owner(self, user_id: str) -> tuple[str | None, str | None]:
        """The HubSpot owner of the Slack user (by email), or why there is none."""
        email = self.emails.email(user_id)
        if email is None:
            return None, f"Slack shows no email for {user_id} (scope users:read.email)"
        owner = self.api.owner_id(email)
        if owner is None:
            return None, f"no active HubSpot owner (user) has the email {email}"
        return owner, None

    def _note(self, contact: Contact, note: RejectionNote) -> None:
        """Create the rejection's note, unless an earlier try already did."""
        for note_id in contact.note_ids:  # newest first
            stored = self.api.note(note_id)
            if hubspot.is_note_of(note, body=stored.body, timestamp=stored.timestamp):
                return
            if stored.created_at is not None and stored.created_at < note.at - NOTE_CLOCK_MARGIN:
                break
        email = self.emails.email(note.by)
        owner = self.api.owner_id(email) if email is not None else None
        self.api.create_note(
            contact_id=contact.id,
            body=hubspot.note_html(note, rep=email or f"Slack user {note.by}"),
            at=note.at,
            owner_id=owner,
        )


class HubSpotWorker:
    """Writes the decisions queued for HubSpot until stopped; a 429 holds every sender of
    this process until its Retry-After has passed (the limit is the account's)."""

    def __init__(self, services: Services, slack: WebClient, *, first_retry: float = 5.0) -> None:
        config = services.config
        assert config.settings.hubspot_access_token is not None
        self.services = services
        self.rules = config.rules.hubspot
        self.first_retry = timedelta(seconds=first_retry)
        api = HubSpotApi(
            token=config.settings.hubspot_access_token,
            url=config.settings.hubspot_api_url,
            timeout=self.rules.timeout_seconds,
        )
        self.writer = HubSpotWriter(api, SlackEmails(slack))
        self.worker_id = uuid.uuid4().hex
        self.lease = (
            timedelta(seconds=self.rules.timeout_seconds * CALLS_PER_WRITE_BACK) + LEASE_MARGIN
        )
        self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="hubspot-write")
        self._held_until = 0.0  # time.monotonic() before which nothing is sent
        self._rounds = RoundsThread(
            self.deliver_due, what="HubSpot", name="hubspot-write-back", idle_wait=self._idle_wait
        )

    def start(self) -> None:
        self._rounds.start()

    def wake(self) -> None:
        self._rounds.wake()

    def stop(self) -> None:
        self._rounds.stop()
        self._pool.shutdown(wait=True)

    def _idle_wait(self) -> float:
        return max(IDLE_POLL_SECONDS, self._held_until - time.monotonic())

    def deliver_due(self) -> int:
        """Lease up to SENDERS due write-backs (each the oldest of its lead's), write them at
        once and settle each; returns how many were leased."""
        if time.monotonic() < self._held_until:
            return 0
        return lease_and_send(
            self.services,
            [hubspot.ENDPOINT],
            lease=self.lease,
            owner=self.worker_id,
            senders=SENDERS,
            pool=self._pool,
            send=self._deliver,
        )

    def _deliver(self, row: WebhookDelivery) -> None:
        try:
            self.writer.write(hubspot.write_back(row.payload, self.rules))
        except Parked as parked:
            self._give_up(row, parked.reason, parked.message)
        except HubSpotError as error:
            self._failed(row, error)
        else:
            with self.services.db.write() as session:
                webhook_store.mark_delivered(
                    session, row, owner=self.worker_id, now=self.services.clock()
                )
            metrics.HUBSPOT_WRITES.labels(row.event_type).inc()

    def _failed(self, row: WebhookDelivery, error: HubSpotError) -> None:
        metrics.HUBSPOT_WRITE_FAILURES.labels(_reason(error)).inc()
        if error.status == 429:
            hold = error.retry_after if error.retry_after is not None else 10.0
            self._held_until = max(self._held_until, time.monotonic() + hold)
        if error.status in (401, 403):
            log.warning(
                "HubSpot refused the access token (HTTP %s): check HUBSPOT_ACCESS_TOKEN and the "
                "private app's scopes; write-backs wait and are retried",
                error.status,
            )
        now = self.services.clock()
        deadline = row.queued_at + timedelta(hours=self.rules.retry_hours)
        if not error.retryable:
            self._give_up(row, "refused", f"{error.problem}: not retried")
            return
        if now >= deadline:
            self._give_up(
                row, "retries_exhausted", f"{error.problem}: gave up after {row.attempts} tries"
            )
            return
        wait = retry_wait(self.first_retry, row.attempts, error.retry_after)
        with self.services.db.write() as session:
            webhook_store.mark_retry(
                session,
                row,
                owner=self.worker_id,
                error=error.problem,
                retry_at=min(now + wait, deadline),
            )

    def _give_up(self, row: WebhookDelivery, reason: str, message: str) -> None:
        with self.services.db.write() as session:
            webhook_store.mark_failed(
                session, row, owner=self.worker_id, error=message, now=self.services.clock()
            )
        metrics.HUBSPOT_WRITES_GIVEN_UP.labels(reason).inc()
        # The message may name a person's email: the log says only which delivery and why.
        log.warning(
            "HubSpot write-back #%d (%s of lead %s) failed: %s (`baton webhooks failed`)",
            row.id,
            row.event_type,
            row.lead_id,
            reason,
        )


def _reason(error: HubSpotError) -> str:
    return "timeout" if error.problem == "timeout" else error.problem.split(":")[0]
