"""Delivers the Slack outbox in lanes: renders each side effect from stored state and sends it,
retrying until Slack takes it (429 with Retry-After, 5xx, timeouts, restarts), posting each card
once, and recording as failed what Slack refuses for good.

Slack limits posting per channel (about one a second) and every other method per tier, so one
queue would make a card redraw or a DM wait behind a busy channel. Each channel's posts are one
ordered, paced lane; each other kind of side effect (what a person's click causes) is a lane of
its own, leased first. A 429 holds only the lane it came from, for its Retry-After; a small pool
of threads serves the lanes, one row at a time per lane. A card clicked in place is redrawn
through the click's response_url, which no tier limits; chat.update redraws it when Slack
refuses that URL, and every other change.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.orm import Session

from bot import cards, channel_posts, lead_history, lead_messages, outbox
from bot.chart_files import chart_file
from bot.funnel import funnel_rows
from bot.funnel_chart import funnel_chart_file
from bot.home import home_view
from bot.lifecycle import Actor
from bot.periods import Period
from bot.reports import feedback_rows
from bot.rules import Rules
from bot.tuning import TUNING_COLUMNS, tuning_report, tuning_rows
from handlers import delivery_reads, metrics, response_urls
from handlers.delivery_reads import Read
from handlers.delivery_rounds import run_rounds
from handlers.exports import feedback_csv, funnel_file, write_csv
from handlers.kept_alive import KeptAliveWebClient
from handlers.services import Services
from handlers.slack_errors import PERMANENT_ERRORS, TOKEN_ERRORS
from storage import lead_messages as message_store
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage.errors import UNAVAILABLE_ERRORS
from storage.models import Lead, OutboxKind, SlackOutbox

log = logging.getLogger(__name__)

CARD_EVENT_TYPE = "baton_lead_card"
# Slack takes about one message per second per channel; posting faster only earns 429s.
DEFAULT_POST_INTERVAL = 1.0
LEASE = timedelta(seconds=30)
BATCH = 10  # rows leased at once for one method lane
LANE_THREADS = 8  # lanes served at once; a paced or held lane occupies no thread
BURST_CARDS = 60  # more cards than this queued for one channel: a minute's worth at 1/s
IDLE_POLL_SECONDS = 0.25
# The least time from one round to the next that commits start (a lane that finishes starts
# its next round at once). Each round routes and leases in a transaction, on SQLite a turn on
# the one write lock: woken by every commit, the delivery process took a turn after each group
# of single leads and each click, and the server's next write waited for it (see
# docs/performance.md). A person's action is delivered at most this much later.
COMMIT_GATHER_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 300
EPHEMERAL_ATTEMPTS = 5  # an ephemeral reply is worthless once the moment has passed
EPHEMERAL_EXPIRED = "retries_exhausted"
CARD_NEVER_POSTED = "card_not_posted"  # a thread reply whose card Slack refused
HISTORY_PAGES = 5
INTERACTIVE_TIMEOUT_SECONDS = 2
RESPONSE_URL_TIMEOUT_SECONDS = 5  # one quick chance: chat.update is the fallback

# The lanes of what a person's action causes, one per Slack method (tier) it waits on.
METHOD_LANES: dict[str, str] = {
    OutboxKind.REPLACE_CARD: "response_url",
    OutboxKind.UPDATE_CARD: "chat.update",
    OutboxKind.REDRAW_MESSAGES: "chat.update:messages",
    OutboxKind.EPHEMERAL: "chat.postEphemeral",
    OutboxKind.DM: "dm",
    OutboxKind.PUBLISH_HOME: "views.publish",
    OutboxKind.FEEDBACK_FILE: "files",
}
CHANNEL_LANE = "channel:"


@dataclass(frozen=True)
class SlackClients:
    """Clients over one token and URL, differing only in what they may retry by themselves;
    each keeps its connections alive (handlers.kept_alive).

    `api` retries everything (rate limits, 5xx, connection errors): right for listeners' calls
    that are safe to repeat. The delivery lanes retry no 429 inside a call, which would hold
    the thread for the Retry-After: the lane sees it and holds only itself. `delivery` retries
    5xx and dropped connections of calls safe to repeat (chat.update, conversations.open...);
    `poster` retries nothing: a 5xx or a dropped connection after chat.postMessage may mean
    the message was posted, and the outbox decides by looking for it before posting again.
    `interactive` serves listeners while Slack waits for the acknowledgement (views.open with
    a 3-second trigger_id): it never retries and gives up quickly, so a slow Slack costs a
    clear message, not a missed acknowledgement.
    """

    api: WebClient
    delivery: WebClient
    poster: WebClient
    interactive: WebClient

    @classmethod
    def build(cls, token: str, base_url: str, *, timeout: int = 10) -> SlackClients:
        def client(*handlers: Any, seconds: int = timeout) -> WebClient:
            return KeptAliveWebClient(
                token=token, base_url=base_url, timeout=seconds, retry_handlers=list(handlers)
            )

        return cls(
            api=client(
                RateLimitErrorRetryHandler(max_retry_count=2),
                ServerErrorRetryHandler(max_retry_count=2),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ),
            delivery=client(
                ServerErrorRetryHandler(max_retry_count=2),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ),
            poster=client(),
            interactive=client(seconds=INTERACTIVE_TIMEOUT_SECONDS),
        )


def lane_of(row: SlackOutbox) -> str:
    """A post goes in its channel's lane; anything else in its method's."""
    return METHOD_LANES.get(row.kind) or CHANNEL_LANE + (row.channel or "")


class Lanes:
    """Which lanes this process is serving now, and which must wait until when (the pace of a
    channel, a Retry-After). Thread-safe; forgets a lane once its wait is over."""

    def __init__(self, post_interval: float) -> None:
        self.post_interval = post_interval
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._ready_at: dict[str, float] = {}

    def unavailable(self) -> set[str]:
        """Lanes serving a row now, or waiting out a pace or a Retry-After."""
        now = time.monotonic()
        with self._lock:
            self._ready_at = {lane: at for lane, at in self._ready_at.items() if at > now}
            return self._busy | set(self._ready_at)

    def busy_count(self) -> int:
        with self._lock:
            return len(self._busy)

    def seconds_to_next(self) -> float | None:
        """How long until the first waiting lane may go again; None if none waits."""
        with self._lock:
            if not self._ready_at:
                return None
            return max(0.0, min(self._ready_at.values()) - time.monotonic())

    def start(self, lane: str) -> None:
        with self._lock:
            self._busy.add(lane)

    def finish(self, lane: str, *, hold: float | None) -> None:
        """The lane's turn is over; a channel waits out its pace (counted from now, so Slack
        never sees two posts into it closer than the interval), any lane a Retry-After."""
        wait = max(hold or 0.0, self.post_interval if lane.startswith(CHANNEL_LANE) else 0.0)
        with self._lock:
            self._busy.discard(lane)
            if wait > 0:
                ready = time.monotonic() + wait
                self._ready_at[lane] = max(self._ready_at.get(lane, 0.0), ready)


class RetryLater(Exception):
    """Not deliverable yet (e.g. a thread reply before its card exists); not an error."""


class DeliveryWorker:
    """Drains the outbox in lanes: one dispatcher thread routes and leases, a pool of
    `LANE_THREADS` sends. Several processes may run one each on one database."""

    def __init__(
        self,
        services: Services,
        clients: SlackClients,
        *,
        post_interval: float = DEFAULT_POST_INTERVAL,
        first_retry: float = 1.0,
    ) -> None:
        self.services = services
        self.clients = clients
        self.first_retry = first_retry
        self.post_interval = post_interval
        self.worker_id = uuid.uuid4().hex  # names this worker's leases
        self.lanes = Lanes(post_interval)
        self._wake = threading.Event()
        # Set when something may have been queued that needs routing (a commit woke us); a
        # lane that finishes wakes the dispatcher without it: its rows queue no posts.
        self._queued = threading.Event()
        self._routed_at = -math.inf  # monotonic; a poll routes what other processes queued
        self._round_at = -math.inf  # monotonic: when the latest round began
        self._lane_freed = threading.Event()  # a lane finished since that round began
        # What a row's sender draws from (its row id -> handlers.delivery_reads.Read), read in
        # the transaction that leased or renewed the row instead of in one of its own.
        self._reads: dict[int, Read] = {}
        # The row a lane thread sends next, whose lease the transaction that finishes the row
        # before it renews (see `_finish`), and the outcome of renewals made so (row id -> mine).
        self._lane = threading.local()
        self._renewed: dict[int, bool] = {}
        # Each user's DM channel, as conversations.open gave it: the same channel whenever it
        # is asked (the call is idempotent), so a DM is one Slack call once its channel is known.
        self._dm_channels: dict[str, str] = {}
        # When each channel's latest burst notice was queued, as routing last learned it.
        self._notices: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._senders: dict[str, Callable[[SlackOutbox], None]] = {
            OutboxKind.POST_CARD: self._post_card,
            OutboxKind.UPDATE_CARD: self._update_card,
            OutboxKind.REPLACE_CARD: self._replace_card,
            OutboxKind.REDRAW_MESSAGES: self._redraw_messages,
            OutboxKind.DM: self._direct_message,
            OutboxKind.EPHEMERAL: self._ephemeral,
            OutboxKind.THREAD_REPLY: self._thread_reply,
            OutboxKind.CHANNEL_MESSAGE: self._channel_message,
            OutboxKind.BURST_NOTICE: self._burst_notice,
            OutboxKind.PUBLISH_HOME: self._publish_home,
            OutboxKind.FEEDBACK_FILE: self._feedback_file,
            OutboxKind.CHANNEL_CHART: self._channel_chart,
        }

    @property
    def rules(self) -> Rules:
        return self.services.config.rules

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(LANE_THREADS, thread_name_prefix="slack-lane")
        self._thread = threading.Thread(target=self._run, name="slack-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # lanes hand back what they have not started

    def wake(self) -> None:
        """Something was just queued in this process: deliver it now, not at the next poll."""
        self._queued.set()
        self._wake.set()

    def _run(self) -> None:
        run_rounds(
            self.deliver_due,
            what="Slack",
            stop=self._stop,
            wake=self._wake,
            idle_wait=self._idle_wait,
            gather=self.gather,
        )

    def gather(self) -> float:
        """Seconds a woken round waits: none when a lane finished (its next row is due now),
        else what is left of COMMIT_GATHER_SECONDS since the latest round began, so a stream
        of commits is routed and leased in a few rounds, not one round (and one turn on the
        write lock) each."""
        if self._lane_freed.is_set():
            return 0.0
        return max(0.0, self._round_at + COMMIT_GATHER_SECONDS - time.monotonic())

    def _idle_wait(self) -> float:
        """Until the next poll, or sooner when a paced or held lane may go again."""
        next_lane = self.lanes.seconds_to_next()
        return IDLE_POLL_SECONDS if next_lane is None else min(next_lane, IDLE_POLL_SECONDS)

    def deliver_due(self) -> int:
        """Route new posts, lease the due rows of every lane this process can serve now (the
        lanes of people's actions first, then the head of each channel) and hand each lane to
        the pool. Returns how many rows were leased (and burst notices queued) when another
        round at once may lease more (a lane's batch, the routing or the threads ran out; a
        notice was queued ahead of a card handed back), else 0: the next round waits for a
        wake-up (a lane that finished; a commit, then `gather`) or the poll, and an idle
        channel costs no empty round after each card.

        Routing runs only when a commit woke the worker or at the poll (for what other
        processes queued): half of an empty round's CPU went to finding nothing to route."""
        self._round_at = time.monotonic()
        self._lane_freed.clear()
        free = LANE_THREADS - self.lanes.busy_count()
        if free <= 0:
            return 0
        unavailable = self.lanes.unavailable()
        now = self.services.clock()
        route = self._queued.is_set() or time.monotonic() - self._routed_at >= IDLE_POLL_SECONDS
        if route:
            self._queued.clear()
            self._routed_at = time.monotonic()
        try:
            routes: list[channel_posts.Route] = []
            if route:
                with self.services.db.read() as session:
                    routes = channel_posts.plan_routes(session, rules=self.rules)
            with self.services.db.write() as session:
                channel_posts.route_queued(session, routes)
                leased, bursts = self._lease_lanes(
                    session, now=now, free=free, unavailable=unavailable
                )
        except BaseException:
            if route:  # what it would have routed waits for the next round, not the poll
                self._queued.set()
            raise
        self._notices.update(bursts.latest)  # committed
        for rows in leased:
            lane = lane_of(rows[0])
            self.lanes.start(lane)
            assert self._pool is not None
            self._pool.submit(self._serve_lane, lane, rows)
        more_to_route = len(routes) >= channel_posts.ROUTE_BATCH
        if more_to_route:
            self._queued.set()
        more = (
            more_to_route
            or bool(bursts.announced)  # their notices are due now, ahead of the cards handed back
            or len(leased) >= free
            or any(len(rows) >= BATCH for rows in leased)
        )
        return sum(len(rows) for rows in leased) + len(bursts.announced) if more else 0

    def _lease_lanes(
        self, session: Session, *, now: datetime, free: int, unavailable: set[str]
    ) -> tuple[list[Sequence[SlackOutbox]], channel_posts.Bursts]:
        """Lease the rows of up to `free` lanes, none of the `unavailable` ones: each method
        lane's due rows (a batch), then the head of each channel. A card about to be posted
        into a channel that a burst crowds is handed back, and the burst's notice queued
        ahead of it (`channel_posts.announce_bursts`)."""
        leased: list[Sequence[SlackOutbox]] = []
        due = outbox_store.due_kinds(
            session,
            now=now,
            kinds=[kind for kind, lane in METHOD_LANES.items() if lane not in unavailable],
        )
        for kind in METHOD_LANES:
            if kind not in due or len(leased) >= free:
                continue
            rows = outbox_store.lease_due(
                session, now=now, limit=BATCH, lease=LEASE, owner=self.worker_id, kind=kind
            )
            if kind == OutboxKind.DM:  # sent without renewing their fresh leases (_still_mine)
                for row in rows:
                    self._read_for(session, row)
            if rows:
                leased.append(rows)
        heads = outbox_store.lease_channel_heads(
            session,
            now=now,
            limit=free - len(leased),
            lease=LEASE,
            owner=self.worker_id,
            skip_channels=[
                lane.removeprefix(CHANNEL_LANE)
                for lane in unavailable
                if lane.startswith(CHANNEL_LANE)
            ],
        )
        bursts = channel_posts.announce_bursts(
            session,
            channels=sorted(
                {
                    head.channel
                    for head in heads
                    if head.kind == OutboxKind.POST_CARD and head.channel
                }
            ),
            burst_after=BURST_CARDS,
            seconds_per_card=self.post_interval,
            now=now,
            known=self._notices,
        )
        held_back = [head for head in heads if head.channel in bursts.announced]
        outbox_store.release(session, row_ids=[head.id for head in held_back], owner=self.worker_id)
        for head in heads:
            if head not in held_back:
                self._read_for(session, head)
                leased.append([head])
        return leased, bursts

    def _read_for(self, session: Session, row: SlackOutbox) -> None:
        """Read in this transaction what the row's sender draws from (see `_read`)."""
        read = delivery_reads.read_for(session, row)
        if read is not None:
            self._reads[row.id] = read

    def _serve_lane(self, lane: str, rows: Sequence[SlackOutbox]) -> None:
        """Send a lane's leased rows in order; a Retry-After holds the lane and hands the rest
        back. Then the dispatcher is woken to lease the lane's next rows."""
        hold: float | None = None
        try:
            for index, row in enumerate(rows):
                if self._stop.is_set() or hold is not None:
                    self._release([later.id for later in rows[index:]])
                    break
                self._lane.following = rows[index + 1] if index + 1 < len(rows) else None
                if self._still_mine(row):
                    hold = self._deliver(row)
                else:  # hand back a redraw that must wait for another (a no-op if taken over)
                    self._release([row.id])
        except UNAVAILABLE_ERRORS:
            pass  # the rows stay leased and are retried after the outage, which the round reports
        except Exception:
            log.exception("slack delivery lane %s failed; its rows are retried", lane)
        finally:
            self._lane.following = None
            for row in rows:
                self._reads.pop(row.id, None)
                self._renewed.pop(row.id, None)
            self.lanes.finish(lane, hold=hold)
            self._lane_freed.set()
            self._wake.set()

    def _release(self, row_ids: list[int]) -> None:
        with self.services.db.write() as session:
            outbox_store.release(session, row_ids=row_ids, owner=self.worker_id)

    def _still_mine(self, row: SlackOutbox) -> bool:
        """Renew the row's lease before sending it: a row that waited behind a slow Slack can
        outlast the lease it started with, a row another worker took over is theirs, and a
        redraw waits while another redraw of its card may be on its way.

        A post whose lease has more than half its time to run is still mine without asking the
        database (nobody takes over an unexpired lease; posts have no redraw to wait for): a
        write transaction saved per card; so is one per row that follows another in its lane,
        renewed when the one before it was finished."""
        renewed = self._renewed.pop(row.id, None)
        if renewed is not None:
            return renewed
        now = self.services.clock()
        if not self._needs_renewal(row, now):
            return True
        with self.services.db.write() as session:
            return self._renew(session, row, now=now)

    def _needs_renewal(self, row: SlackOutbox, now: datetime) -> bool:
        fresh = row.locked_until is not None and row.locked_until - now > LEASE / 2
        return not fresh or row.kind in outbox_store.REDRAWS

    def _renew(self, session: Session, row: SlackOutbox, *, now: datetime) -> bool:
        """Renew the row's lease in this transaction and read what its sender needs."""
        renewed = outbox_store.renew_lease(
            session, row_id=row.id, owner=self.worker_id, now=now, lease=LEASE
        )
        if renewed:
            self._read_for(session, row)
        return renewed

    def _deliver(self, row: SlackOutbox) -> float | None:
        """Send one row and settle it; returns Slack's Retry-After when it answered 429."""
        retry_after: float | None = None
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
                return None
            retry_after = _retry_after(response.headers) if response.status_code == 429 else None
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
        return retry_after

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
        """Mark the row delivered and, unless another worker already had, run `after` in the
        same transaction; so is the lease of the row its lane sends next renewed, if it needs
        it (`_still_mine`), as it would be a moment later in a transaction of its own."""
        following: SlackOutbox | None = getattr(self._lane, "following", None)
        with self.services.db.write() as session:
            now = self.services.clock()
            if outbox_store.finish(session, row_id=row.id, kind=row.kind, now=now) and after:
                after(session)
            if following is not None and self._needs_renewal(following, now):
                renewed = self._renew(session, following, now=now)
            else:
                following = None
        if following is not None:  # committed: the renewal holds
            self._renewed[following.id] = renewed

    def _lead(self, row: SlackOutbox) -> Lead:
        return self._read(row).lead

    def _read(self, row: SlackOutbox) -> Read:
        """What the row's sender draws from, as read when the row was leased or its lease
        renewed, just before sending (handlers.delivery_reads says why that is fresh enough),
        else as it stands now."""
        read = self._reads.pop(row.id, None)
        if read is None:
            with self.services.db.read() as session:
                read = delivery_reads.read_for(session, row)
        if read is None:
            raise RetryLater(f"lead {row.lead_id} not found")
        return read

    def _backoff(self, attempts: int) -> float:
        """Exponential, capped, with jitter so rows failing together do not retry together."""
        base: float = min(self.first_retry * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
        return base * random.uniform(0.8, 1.2)

    # ----------------------------------------------------------------------- senders

    def _post_card(self, row: SlackOutbox) -> None:
        lead = self._lead(row)
        if lead.slack_ts:
            self._finish(row)
            return
        channel = row.channel
        assert channel is not None  # routed before it was leased
        lifecycle, now = self.services.lifecycle, self.services.clock()
        # A first try goes straight to posting; after a try whose outcome is unknown, look first.
        found, drawn = None, None
        if row.attempts > 1:
            found = self._find_posted(channel, since=row.created_at, is_it=_card_of(lead.id))
        if found is None:
            # Drawn as the lead will be once posted (open, its claim window running from now),
            # so the card needs no redraw right after it appears.
            posted_as = lifecycle.as_posted(lead, now=now)
            drawn, message = cards.card_facts(posted_as), self._card(posted_as)
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
            lifecycle.card_posted(
                session,
                lead_id=lead.id,
                channel=posted_channel,
                ts=ts,
                now=now,
                still_drawn=None
                if drawn is None
                else lambda written: cards.card_facts(written) == drawn,
            )

        self._finish(row, record)

    def _find_posted(
        self, channel: str, *, since: datetime, is_it: Callable[[dict[str, Any]], bool]
    ) -> tuple[str, str] | None:
        """Look in the channel for a message (a card, a chart) an earlier, unconfirmed attempt
        may have posted: its channel and ts, or None."""
        oldest = f"{(since - timedelta(minutes=1)).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = self.clients.delivery.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
            )
            messages: list[dict[str, Any]] = page.get("messages", [])
            for message in messages:
                if is_it(message):
                    return channel, message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _card(self, lead: Lead) -> cards.Message:
        """The lead's channel card as every way of drawing it (post, update, replace) draws it."""
        return cards.lead_card(lead, reasons=self.rules.reasons, emojis=self.rules.policy_emojis)

    def _update_card(self, row: SlackOutbox) -> None:
        lead = self._lead(row)
        if lead.slack_ts and lead.slack_channel:
            message = self._card(lead)
            self.clients.delivery.chat_update(
                channel=lead.slack_channel,
                ts=lead.slack_ts,
                text=message.text,
                blocks=message.blocks,
            )
        self._finish(row)  # without a card yet, the coming post renders the current state

    def _replace_card(self, row: SlackOutbox) -> None:
        """Redraw a clicked card through the click's response_url, from the state now; if
        Slack refuses it (used five times, over 30 minutes old, unreachable), the row becomes
        a chat.update, unless a newer redraw already waits to draw the same state."""
        lead = self._lead(row)
        message = self._card(lead)
        body = {"replace_original": True, "text": message.text, "blocks": message.blocks}
        url = row.payload.get("response_url")
        refused = (
            response_urls.send(url, body, timeout=RESPONSE_URL_TIMEOUT_SECONDS)
            if url
            else "no response_url"
        )
        if refused is None:
            self._finish(row)
            return
        log.info("response_url refused for lead %s (%s): chat.update redraws it", lead.id, refused)
        now = self.services.clock()
        with self.services.db.write() as session:
            stored = outbox_store.get(session, row.id)
            if stored is None or stored.done_at is not None:
                return
            if outbox_store.has_pending_redraw(session, lead_id=lead.id):
                outbox_store.mark_done(session, stored, now=now)
            else:
                outbox_store.redraw_by_update(session, stored, now=now)

    def _direct_message(self, row: SlackOutbox) -> None:
        assert row.user_id is not None
        kind = outbox.dm_kind(row.payload)
        lead, message = self._draw(self._read(row), kind, row.payload, viewer=row.user_id)
        channel = self._dm_channel(row.user_id)
        try:
            response = self.clients.poster.chat_postMessage(
                channel=channel, text=message.text, blocks=message.blocks, unfurl_links=False
            )
        except SlackApiError:
            self._dm_channels.pop(row.user_id, None)  # the next try asks Slack again
            raise
        self._finish_drawn(row, lead, kind, channel=channel, ts=response["ts"])

    def _dm_channel(self, user_id: str) -> str:
        """The user's DM channel: opened once per process, then remembered (see
        `_dm_channels`); forgotten when Slack refuses a message into it."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            opened = self.clients.delivery.conversations_open(users=user_id)
            channel = self._dm_channels[user_id] = str(opened["channel"]["id"])
        return channel

    def _draw(
        self, read: Read, kind: outbox.DmKind, payload: dict[str, Any], viewer: str | None
    ) -> tuple[Lead, cards.Message]:
        """A message about a lead (bot.lead_messages) as `read` found it, for `viewer`; an
        escalation read away from the card (a DM) links to it."""
        lead = read.lead
        away = kind == outbox.DmKind.ESCALATION and viewer is not None
        drawing = lead_messages.Drawing(
            kind=kind,
            payload=payload,
            viewer=viewer,
            last_event=read.newest_event,
            now=self.services.clock(),
            undo_window=self.rules.undo_window,
            reasons=self.rules.reasons,
            emojis=self.rules.policy_emojis,
            card_link=self._card_link(lead) if away else None,
        )
        return lead, lead_messages.draw(lead, drawing)

    def _card_link(self, lead: Lead) -> str | None:
        """The card's permalink, as Slack gives it, for a message read away from the card."""
        if not (lead.slack_channel and lead.slack_ts):
            return None
        found = self.clients.delivery.chat_getPermalink(
            channel=lead.slack_channel, message_ts=lead.slack_ts
        )
        return str(found["permalink"])

    def _finish_drawn(
        self, row: SlackOutbox, lead: Lead, kind: outbox.DmKind, *, channel: str, ts: str
    ) -> None:
        """Settle a message drawn from the lead; one that offers buttons is remembered, and
        redrawn at once if the lead moved on while it was being posted."""
        if kind not in lead_messages.REMEMBERED:
            self._finish(row)
            return

        def remember(session: Any) -> None:
            now = self.services.clock()
            outbox.remember_message(
                session,
                lead_id=lead.id,
                kind=kind,
                user_id=row.user_id,
                channel=channel,
                ts=ts,
                payload=row.payload,
                now=now,
            )
            current = lead_store.get_lead(session, lead.id)
            if current is not None and current.updated_at != lead.updated_at:
                outbox.messages_changed(session, lead_id=lead.id, now=now)

        self._finish(row, remember)

    def _redraw_messages(self, row: SlackOutbox) -> None:
        """Redraw every message remembered about the lead from its current state."""
        assert row.lead_id is not None
        with self.services.db.read() as session:
            remembered = [
                (m.kind, m.payload, m.user_id, m.channel, m.ts)
                for m in message_store.list_for_lead(session, row.lead_id)
            ]
            read = delivery_reads.drawn_from(session, row.lead_id)
        if read is None:
            raise RetryLater(f"lead {row.lead_id} not found")
        for kind, payload, viewer, channel, ts in remembered:
            _, message = self._draw(read, outbox.DmKind(kind), payload, viewer=viewer)
            self.clients.delivery.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        self._finish(row)

    def _ephemeral(self, row: SlackOutbox) -> None:
        assert row.channel is not None and row.user_id is not None
        self.clients.delivery.chat_postEphemeral(
            channel=row.channel, user=row.user_id, text=row.payload["text"]
        )
        self._finish(row)

    def _thread_reply(self, row: SlackOutbox) -> None:
        read = self._read(row)
        lead = read.lead
        if not (lead.slack_ts and lead.slack_channel):
            self._without_card(row)
            return
        channel, card_ts = lead.slack_channel, lead.slack_ts
        drawn_as = outbox.drawn_kind(row.payload)
        blocks = None
        text = row.payload.get("text")
        if drawn_as is not None:  # an escalation, drawn as it stands now (bot.lead_messages)
            lead, message = self._draw(read, drawn_as, row.payload, viewer=None)
            blocks = message.blocks
        elif text is None:  # a move's line, drawn from its stored event (outbox.history_reply)
            if read.told_event is None:
                raise LookupError(f"event {row.payload['event_id']} is not stored")
            text = lead_history.event_reply(
                read.told_event, rules=self.rules, now=self.services.clock()
            )
        response = self.clients.poster.chat_postMessage(
            channel=channel,
            thread_ts=card_ts,
            text=text,
            blocks=blocks,
            reply_broadcast=bool(row.payload.get("broadcast")),
        )
        if drawn_as is None:
            self._finish(row)
        else:
            self._finish_drawn(row, lead, drawn_as, channel=channel, ts=response["ts"])

    def _without_card(self, row: SlackOutbox) -> None:
        """A reply waits for its card; if the card was given up, so is the reply (waiting
        forever at the head of its channel would hold every card behind it)."""
        assert row.lead_id is not None
        with self.services.db.read() as session:
            waiting = outbox_store.card_undelivered(session, lead_id=row.lead_id)
        if waiting:
            raise RetryLater("the card is not posted yet")
        self._give_up(row, CARD_NEVER_POSTED)

    def _channel_message(self, row: SlackOutbox) -> None:
        assert row.channel is not None
        self.clients.poster.chat_postMessage(
            channel=row.channel,
            text=row.payload["text"],
            blocks=row.payload.get("blocks"),
            unfurl_links=False,
        )
        self._finish(row)

    def _burst_notice(self, row: SlackOutbox) -> None:
        assert row.channel is not None
        with self.services.db.read() as session:
            text = channel_posts.burst_notice(
                session, channel=row.channel, seconds_per_card=self.post_interval
            )
        if text is not None:
            self.clients.poster.chat_postMessage(channel=row.channel, text=text)
        self._finish(row)

    def _publish_home(self, row: SlackOutbox) -> None:
        assert row.user_id is not None
        if row.payload.get("manager") is None:  # queued where the roles were not known
            actor = self.services.actor_of(row.user_id)
        else:
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
                directory=self.services.lifecycle.directory,
            )
        self.clients.delivery.views_publish(user_id=row.user_id, view=view)
        self._finish(row)

    def _feedback_file(self, row: SlackOutbox) -> None:
        """A report's export as a file in the asker's DMs (the rejection feedback unless the
        row names another report; CSV unless it says JSON)."""
        assert row.user_id is not None
        payload = row.payload
        period = outbox.queued_period(payload)
        report = outbox.ExportedReport(payload.get("report", outbox.ExportedReport.FEEDBACK))
        if report == outbox.ExportedReport.FUNNEL_CHART:
            self._funnel_chart(row, period)
            return
        with self.services.db.read() as session:
            if report == outbox.ExportedReport.FUNNEL:
                zone = ZoneInfo(self.rules.hours.timezone)
                rows = funnel_rows(session, period=period, timezone=zone)
                content, title = funnel_file(rows, payload.get("format", "csv")), "Funnel"
                summary = f"everyone and {len(rows) - 1} sources, campaigns, segments and months."
            elif report == outbox.ExportedReport.TUNING:
                tuned = tuning_report(
                    session, period=period, model=self.rules.scoring, reasons=self.rules.reasons
                )
                rows = tuning_rows(tuned)
                content, title = write_csv(TUNING_COLUMNS, rows), "Score tuning"
                summary = f"{len(rows)} bands, rules and sources."
            else:
                rows = feedback_rows(
                    session, period=period, reasons=self.rules.reasons, source=payload["source"]
                )
                content, title = feedback_csv(rows), "Rejection feedback"
                summary = f"{len(rows)} rejections."
        channel = self._dm_channel(row.user_id)
        days = f"{period.start.date().isoformat()}_{period.end.date().isoformat()}"
        self.clients.poster.files_upload_v2(
            channel=channel,
            content=content,
            filename=f"baton-{report.value}-{days}.{payload.get('format', 'csv')}",
            title=f"{title}, {period.label}",
            initial_comment=f"{title}, {period.label}: {summary}",
        )
        self._finish(row)

    def _funnel_chart(self, row: SlackOutbox, period: Period) -> None:
        """`/leads funnel`'s chart as a PNG file in the asker's DMs (nothing when no lead
        entered in the period)."""
        assert row.user_id is not None
        with self.services.db.read() as session:
            drawn = funnel_chart_file(
                session,
                period=period,
                timezone=ZoneInfo(self.rules.hours.timezone),
                by=row.payload.get("by"),
                counts=row.payload.get("counts"),
            )
        if drawn is not None:
            channel = self._dm_channel(row.user_id)
            self.clients.poster.files_upload_v2(
                channel=channel,
                content=drawn.png,
                filename=drawn.name,
                title=drawn.title,
                initial_comment=drawn.comment,
            )
        self._finish(row)

    def _channel_chart(self, row: SlackOutbox) -> None:
        """A chart as a PNG file in the row's channel, drawn now from the stored leads (nothing
        is sent when there is nothing to draw). The file's name carries the row's id, so a
        retry after an attempt whose outcome is unknown looks for it before uploading again."""
        assert row.channel is not None
        with self.services.db.read() as session:
            drawn = chart_file(
                session,
                chart=outbox.Chart(row.payload["chart"]),
                period=outbox.queued_period(row.payload),
                timezone=ZoneInfo(self.rules.hours.timezone),
            )
        if drawn is not None:
            name = f"{drawn.name.removesuffix('.png')}-{row.id}.png"
            posted = row.attempts > 1 and self._find_posted(
                row.channel, since=row.created_at, is_it=_sharing(name)
            )
            if not posted:
                self.clients.poster.files_upload_v2(
                    channel=row.channel,
                    content=drawn.png,
                    filename=name,
                    title=drawn.title,
                    initial_comment=drawn.comment,
                )
        self._finish(row)


def _card_of(lead_id: int) -> Callable[[dict[str, Any]], bool]:
    """Whether a message is the lead's card, by the metadata it was posted with."""

    def is_card(message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return metadata.get("event_type") == CARD_EVENT_TYPE and payload.get("lead_id") == lead_id

    return is_card


def _sharing(file_name: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a message shares the file named `file_name`."""
    return lambda message: any(file.get("name") == file_name for file in message.get("files", []))


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
