"""Benchmark of Baton's handoff path: Accept-click acknowledgements and lead intake.

For each database (SQLite in a temporary directory, PostgreSQL from BATON_TEST_POSTGRES_URL,
which is wiped and migrated) it starts the project's Slack emulator and the real Baton server
(`BatonServer` as `baton serve` runs it: its delivery worker in a child process at a lower CPU
priority; `--delivery child|inline` puts it there or in a thread of the server; `--web-processes
N` answers HTTP in N processes, as BATON_WEB_PROCESSES=N does) and measures:

1. Intake: `--leads` leads POSTed to `/api/leads` by `--concurrency` client threads; leads/s for
   the HTTP part, while delivery posts the cards at Slack's pace (a post a second per channel,
   as `baton serve` does: Slack takes no more), so delivery costs intake what it costs in
   production. Then delivery is restarted without a pace and the time until the emulator shows
   the last card in the sales channel is measured from that moment (the new delivery process's
   start included): how fast the cards queued meanwhile drain (outbox -> delivery worker ->
   chat.postMessage), and the CPU a card costs.
2. Accept-click acknowledgement latency: `--clicks` signed `block_actions` clicks on the Accept
   button of distinct open leads (each a real, successful claim), POSTed to `/slack/events`; and
   the CPU they cost per click (from /proc, which the machine's other load does not distort):
   the server process's while acknowledging and until their side effects were delivered, and
   the delivery process's.
3. Batch intake: `--batch-leads` leads POSTed to `/api/leads/batch` in batches of 1,000 by the
   same client threads, after the clicks' side effects are delivered, delivery back at Slack's
   pace; leads/s for the HTTP part (every lead of every batch must come back created).
4. The same click load against a bare slack-bolt app with one no-op `lead.accept` listener that
   only calls `ack()`, served by Bolt's Starlette adapter on uvicorn, once with Bolt's defaults
   (process_before_response=False) and once with process_before_response=True: the library's floor.

Each database is measured `--rounds` times (3), the databases in turn, so the rounds of one
fall minutes apart; every round's figures are printed, then a table of the targets' figures
per database, each judged by the median of its rounds with their range beside it
(benchmarks/handoff_rounds.py says why).

Click bodies are built by the emulator's `SlackUser` and signed before the clock starts, so signing
is not measured. The HTTP clients run in a separate process (one keep-alive connection of the
standard library's http.client per thread: httpx took as much CPU a request as the server did,
from the same two cores, which the senders' own machines pay in production), and so does the
emulator (benchmarks/slack_process.py, read over HTTP), so neither competes with the servers for
one GIL. Everything binds 127.0.0.1.

Run from the repository root:

    .venv/bin/python -m benchmarks.handoff [--databases sqlite,postgresql] [--clicks 1000]
        [--leads 5000] [--batch-leads 20000] [--concurrency 8] [--delivery child|inline]
        [--web-processes 1] [--rounds 3]

`--clicks 0` skips the clicks and the Bolt baselines (intake figures only).

Exits 1 if a click or a lead was not answered with success, a claim did not happen, or a card was
never posted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import Ack, App
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks import process_memory
from benchmarks.handoff_rounds import RoundFigures, summary
from benchmarks.machine import (
    CoreTimes,
    Use,
    batch_check_ms,
    cpu_seconds,
    database_version,
    machine_facts,
    use_of,
)
from benchmarks.slack_process import CallLog, SlackProcess, posted_card, slack_process
from bot import received_clicks
from bot.intake import MAX_BATCH
from handlers import heap
from handlers.config import load_config
from handlers.delivery_process import DeliveryChild, DeliveryOptions
from handlers.sample_leads import sample_leads
from handlers.serve import BatonServer, DeliveryMode
from handlers.slack_delivery import DEFAULT_POST_INTERVAL, DeliveryWorker
from slack_driver import Delivery
from slack_driver.signing import sign
from slack_emulator import DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN, SALES_CHANNEL, User, Workspace
from slack_emulator.serving import BackgroundServer
from slack_emulator.workspace import default_users
from storage import migrate
from storage.db import Database
from storage.models import Lead, LeadStatus, SlackOutbox

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_RULES = ROOT / "baton.example.toml"
POSTGRES_URL_VARIABLE = "BATON_TEST_POSTGRES_URL"
IDLE_SETTLE_SECONDS = 8.0  # from the server's start to its idle memory
DATABASE_KINDS = ("sqlite", "postgresql")
INTAKE_TOKEN = "benchmark-intake-token"
ACK_BUDGET = 3.0  # Slack shows the user an error when a click is not acknowledged within 3 s
CLIENT_TIMEOUT = 10.0
POLL_SECONDS = 0.01
WATCH_SECONDS = 0.25
REPS = tuple(User(f"U0BENCH{n:04d}", f"bench{n}", f"Bench Rep {n}") for n in range(20))
BASELINE_ACTION = "lead.accept"
RUNTIME_TARGET = 8 * 60  # a round's
FLOOR_LABEL = "bare Bolt, process_before_response=True"  # the library's floor, Baton's target
# Slack takes about a post a second into a channel, and `baton serve` posts no faster: while
# leads arrive, delivery costs the server's cores what it would in production.
SLACK_PACE = DEFAULT_POST_INTERVAL

log = logging.getLogger("benchmarks.handoff")


# ------------------------------------------------------------------------------ load generator


@dataclass(frozen=True)
class HttpCall:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadRun:
    """What one load run saw. `started` is a perf_counter reading in the client process; on
    Linux and macOS that clock is system-wide, so the server process can compare with it.
    `started_at` is the same moment on the wall clock, which the emulator stamps calls with."""

    started: float
    started_at: float
    elapsed: float
    latencies: list[float]
    statuses: Counter[int]  # status code -> count; 0 means no HTTP answer at all
    errors: list[str] = field(default_factory=list)

    def count(self, ok: Callable[[int], bool]) -> int:
        return sum(n for status, n in self.statuses.items() if ok(status))


def post_all(calls: Sequence[HttpCall], concurrency: int) -> LoadRun:
    """POST every call once from `concurrency` threads, each with its own keep-alive client."""
    pending: queue.SimpleQueue[HttpCall] = queue.SimpleQueue()
    for call in calls:
        pending.put(call)
    results: list[tuple[float, int]] = []
    errors: list[str] = []
    gate = threading.Barrier(concurrency + 1, timeout=60)
    threads = [
        threading.Thread(target=_client_loop, args=(pending, gate, results, errors))
        for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    started, started_at = time.perf_counter(), time.time()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return LoadRun(
        started=started,
        started_at=started_at,
        elapsed=elapsed,
        latencies=[latency for latency, _ in results],
        statuses=Counter(status for _, status in results),
        errors=errors[:5],
    )


def _client_loop(
    pending: queue.SimpleQueue[HttpCall],
    gate: threading.Barrier,
    results: list[tuple[float, int]],
    errors: list[str],
) -> None:
    """POST calls until none is left, over one keep-alive connection (opened again after an
    error). http.client, not httpx: a tenth of its CPU a request (0.2 against 1.0-1.2 ms)."""
    connection: http.client.HTTPConnection | None = None
    gate.wait()
    while True:
        try:
            call = pending.get_nowait()
        except queue.Empty:
            break
        target = urlsplit(call.url)
        if connection is None:
            connection = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=CLIENT_TIMEOUT
            )
        began = time.perf_counter()
        try:
            connection.request("POST", target.path, body=call.body, headers=call.headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            status = 0
            errors.append(repr(error))
            connection.close()
            connection = None
        results.append((time.perf_counter() - began, status))
    if connection is not None:
        connection.close()


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class AckFigures:
    label: str
    run: LoadRun

    @property
    def failures(self) -> int:
        return self.run.count(lambda status: status != 200)

    @property
    def late(self) -> int:
        return sum(1 for latency in self.run.latencies if latency > ACK_BUDGET)

    @property
    def p99(self) -> float:
        return percentiles(self.run.latencies)[1]

    @property
    def rate(self) -> float:
        """Acknowledgements a second."""
        return len(self.run.latencies) / self.run.elapsed if self.run.elapsed else 0.0

    def row(self) -> str:
        p50, p99 = percentiles(self.run.latencies)
        return (
            f"  {self.label:<44}{p50 * 1000:>9.1f}{p99 * 1000:>9.1f}"
            f"{max(self.run.latencies, default=0.0) * 1000:>9.1f}{self.rate:>9.0f}"
            f"{self.failures:>9}{self.late:>7}"
        )


@dataclass(frozen=True)
class IntakeFigures:
    leads: int
    run: LoadRun
    cpu: float  # CPU seconds the server's processes used while the leads were POSTed
    posted_meanwhile: int  # cards posted at Slack's pace before the last lead was answered
    # Seconds from delivery's restart without a pace to the last card; None: never posted.
    drain: float | None
    delivery_cpu: float | None  # CPU seconds of the delivery process, while draining

    @property
    def failures(self) -> int:
        return self.run.count(refused_lead)


@dataclass(frozen=True)
class BatchFigures:
    leads: int
    created: int  # leads stored by the run, counted in the database
    run: LoadRun
    cpu: float  # CPU seconds the server's processes used while the batches were POSTed
    faults: int  # and the memory they touched first meanwhile (minor page faults)
    # The machine's speed just before and just after (machine.batch_check_ms).
    check_ms: tuple[float, float]


@dataclass(frozen=True)
class ClickCpu:
    """CPU seconds the clicks cost: the server process while they were acknowledged, and until
    their side effects were delivered; the delivery process (None when it is the server's)."""

    during_acks: float
    server: float
    delivery: float | None

    def row(self, clicks: int) -> str:
        per_click = 1000 / clicks
        delivery = (
            "delivery in the server process"
            if self.delivery is None
            else f"delivery process {self.delivery * per_click:.1f} ms (its idle polls included)"
        )
        return (
            f"  CPU per click: server process {self.during_acks * per_click:.1f} ms while "
            f"acknowledging, {self.server * per_click:.1f} ms until delivered; {delivery}"
        )


@dataclass
class DatabaseReport:
    kind: str
    version: str
    intake: IntakeFigures | None = None
    batch: BatchFigures | None = None
    acks: list[AckFigures] = field(default_factory=list)
    claimed: int = 0
    clicks: int = 0
    # Seconds from the first click until every click was applied and the outbox was empty.
    side_effects: float | None = None
    cpu: ClickCpu | None = None
    # The server's and its processes' memory: idle once started, and the peaks under the load.
    memory: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def refused_lead(status: int) -> bool:
    """201 creates a lead, 200 returns one already stored; anything else is a refusal."""
    return status not in (200, 201)


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 (inclusive method; a single value is its own percentiles)."""
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


# ------------------------------------------------------------------------------ databases


@contextmanager
def empty_database(kind: str) -> Iterator[str]:
    """The URL of an empty database of this kind, migrated to head; SQLite lives in a temp dir."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="baton-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'baton.db'}"
            _migrate(url)
            yield url
        return
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if not url.startswith("postgresql"):
        raise SystemExit(
            f"{POSTGRES_URL_VARIABLE} must hold a PostgreSQL URL this benchmark may wipe "
            "(scripts/postgres-up prints one)"
        )
    _reset_postgres(url)
    _migrate(url)
    yield url


def _reset_postgres(url: str) -> None:
    """Drop everything, as tests/conftest.py does, so migrations start from empty."""
    db = Database.from_url(url)
    try:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        db.dispose()


def _migrate(url: str) -> None:
    db = Database.from_url(url)
    try:
        migrate.upgrade(db.engine)
    finally:
        db.dispose()


def count_leads(server: BatonServer, *statuses: LeadStatus) -> int:
    """The leads in any of `statuses`, counted in one statement: counted one status at a time,
    a card posted between two counts moved its lead from NEW to OPEN and was counted twice."""
    with server.services.db.read() as session:
        query = (
            select(func.count())
            .select_from(Lead)
            .where(Lead.status.in_([status.value for status in statuses]))
        )
        return int(session.scalar(query) or 0)


def waiting_clicks(server: BatonServer) -> int:
    """Clicks acknowledged and not applied yet (bot.received_clicks)."""
    with server.services.db.read() as session:
        return received_clicks.count_waiting(session)


def pending_outbox(server: BatonServer) -> int:
    with server.services.db.read() as session:
        query = select(func.count()).select_from(SlackOutbox).where(SlackOutbox.done_at.is_(None))
        return int(session.scalar(query) or 0)


# ------------------------------------------------------------------------------ servers


def baton_environment(
    url: str, api_url: str, rules: Path = EXAMPLE_RULES, *, web_processes: int = 1
) -> dict[str, str]:
    """What `baton serve` reads from its environment, for a benchmark's server."""
    return {
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "BATON_INTAKE_TOKEN": INTAKE_TOKEN,
        "DATABASE_URL": url,
        "BATON_CONFIG": str(rules),
        "BATON_WEB_PROCESSES": str(web_processes),
    }


@contextmanager
def running_baton(
    url: str,
    slack: SlackProcess,
    delivery: DeliveryMode | None = None,
    *,
    web_processes: int = 1,
    post_interval: float = 0.0,
) -> Iterator[BatonServer]:
    """The server as `baton serve` runs it (delivery where BATON_DELIVERY=auto puts it: a child
    process) unless told otherwise, posting every `post_interval` seconds into a channel (0:
    as fast as the emulator answers)."""
    environment = baton_environment(url, slack.api_url, web_processes=web_processes)
    server = BatonServer(load_config(environment), post_interval=post_interval, delivery=delivery)
    heap.settle()  # as `baton serve` does (handlers.serve.serve)
    try:
        server.start(host="127.0.0.1")
        if server.web_children is not None and not server.web_children.wait_serving(120):
            raise RuntimeError("the web processes did not start")
        yield server
    finally:
        server.stop()


def deliver_at_pace(server: BatonServer, post_interval: float) -> None:
    """Replace the server's delivery with one where it ran (its child process, or a thread of
    the server) posting every `post_interval` seconds into a channel. The one stopped hands
    back the rows it had leased and not started (DeliveryWorker.stop)."""
    previous = server.delivery
    assert previous is not None, "the benchmark's server delivers"
    previous.stop()
    replacement: DeliveryWorker | DeliveryChild
    if isinstance(previous, DeliveryChild):
        options = DeliveryOptions(
            server.services.config,
            post_interval=post_interval,
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        replacement = DeliveryChild(options)
    else:
        replacement = DeliveryWorker(server.services, server.clients, post_interval=post_interval)
    server.delivery = replacement  # woken after each commit, stopped with the server
    replacement.start()


def bare_bolt_app(api_url: str, *, process_before_response: bool) -> Starlette:
    """One no-op Accept listener on Bolt's Starlette adapter; auth.test is answered by the
    emulator, requests are verified with the same signing secret as Baton's."""
    bolt = App(
        client=WebClient(token=DEFAULT_TOKEN, base_url=api_url),
        signing_secret=DEFAULT_SIGNING_SECRET,
        process_before_response=process_before_response,
    )

    @bolt.action(BASELINE_ACTION)
    def accept(ack: Ack) -> None:
        ack()

    handler = SlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@contextmanager
def running_asgi(app: Starlette) -> Iterator[str]:
    """Serve on uvicorn (as BatonServer does: h11, no lifespan) on 127.0.0.1; yields the URL."""
    server = BackgroundServer(app, "127.0.0.1", 0)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


# ------------------------------------------------------------------------------ requests


def lead_payloads(kind: str, numbers: range) -> list[dict[str, Any]]:
    """Realistic leads (the demo's sample set); `external_id` differs for each, so every POST
    creates one."""
    leads = sample_leads(len(numbers), now=datetime.now(UTC))
    for n, lead in zip(numbers, leads, strict=True):
        lead["external_id"] = f"bench-{kind}-{n}"
    return leads


INTAKE_HEADERS = {"Authorization": f"Bearer {INTAKE_TOKEN}", "Content-Type": "application/json"}
BATCH_NUMBERS_FROM = 10_000_000  # batch leads' external_ids never meet the single endpoint's


def intake_calls(base_url: str, kind: str, numbers: range) -> list[HttpCall]:
    return [
        HttpCall(f"{base_url}/api/leads", json.dumps(lead).encode(), INTAKE_HEADERS)
        for lead in lead_payloads(kind, numbers)
    ]


def batch_calls(base_url: str, kind: str, count: int) -> list[HttpCall]:
    """`count` new leads in batches of MAX_BATCH, one call each."""
    leads = lead_payloads(kind, range(BATCH_NUMBERS_FROM, BATCH_NUMBERS_FROM + count))
    return [
        HttpCall(
            f"{base_url}/api/leads/batch",
            json.dumps({"leads": leads[start : start + MAX_BATCH]}).encode(),
            INTAKE_HEADERS,
        )
        for start in range(0, count, MAX_BATCH)
    ]


def accept_click_bodies(slack: SlackProcess, cards: dict[int, str]) -> list[tuple[str, str]]:
    """One Accept click per card (lead id -> ts), by reps in turn; (body, content type) each,
    built by the emulator as the end-to-end tests' SlackUser sends them."""
    return [
        slack.click_request(REPS[index % len(REPS)].id, SALES_CHANNEL, ts, "lead.accept")
        for index, ts in enumerate(cards.values())
    ]


def signed(bodies: Sequence[tuple[str, str]], url: str) -> list[HttpCall]:
    """Sign now (Slack refuses requests older than 5 minutes), just before a measurement."""
    now = time.time()
    calls = []
    for body, content_type in bodies:
        request = sign(
            url,
            body,
            content_type,
            signing_secret=DEFAULT_SIGNING_SECRET,
            now=now,
            delivery=Delivery(),
        )
        calls.append(HttpCall(request.url, request.body, request.headers))
    return calls


class CardWatch:
    """The lead cards posted in the sales channel (lead id -> ts), read from the emulator's
    calls; each `count` fetches only the calls since the last one. `last_at` is when the latest
    card was posted, on the emulator's clock (the wall clock)."""

    def __init__(self, slack: SlackProcess) -> None:
        self.log = CallLog(slack)
        self.cards: dict[int, str] = {}
        self.posted_at: list[float] = []  # each card's moment, on the emulator's clock
        self.last_at = 0.0

    def count(self) -> int:
        for call in self.log.refresh():
            card = posted_card(call)
            if card is not None and card.channel == SALES_CHANNEL:
                if self.cards.setdefault(card.lead_id, card.ts) == card.ts:
                    self.posted_at.append(card.at)
                self.last_at = max(self.last_at, card.at)
        return len(self.cards)


def wait_until(
    condition: Callable[[], bool], timeout: float, poll: float = POLL_SECONDS
) -> float | None:
    """perf_counter when `condition` first held (polled every `poll` s), or None on timeout."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(poll)
    return None


# ------------------------------------------------------------------------------ phases


def measure_intake(
    load: ProcessPoolExecutor,
    server: BatonServer,
    slack: SlackProcess,
    report: DatabaseReport,
    options: argparse.Namespace,
) -> None:
    """The leads POSTed while delivery posts at Slack's pace; then the cards queued meanwhile
    drained by a delivery without one."""
    calls = intake_calls(server.url, report.kind, range(options.leads))
    watch = CardWatch(slack)
    cpu_before = server_use(server).cpu
    run = load.submit(post_all, calls, options.concurrency).result()
    cpu_used = server_use(server).cpu - cpu_before
    meanwhile = watch.count()
    if run.count(refused_lead) == 0:
        deliver_at_pace(server, 0.0)
        delivery_pid = server.delivery.pid if isinstance(server.delivery, DeliveryChild) else None
        delivery_before = cpu_seconds(delivery_pid) if delivery_pid else 0.0
        unpaced_at = time.time()
        wait_until(  # seldom: reading the emulator costs it CPU; the card's own stamp is exact
            lambda: watch.count() >= options.leads,
            timeout=60 + options.leads / 10,  # a busy machine posts 10-20 cards/s
            poll=WATCH_SECONDS,
        )
        drain = watch.last_at - unpaced_at if watch.count() >= options.leads else None
        delivery_cpu = cpu_seconds(delivery_pid) - delivery_before if delivery_pid else None
    else:  # their cards will never come
        drain, delivery_cpu = None, None
    report.intake = IntakeFigures(options.leads, run, cpu_used, meanwhile, drain, delivery_cpu)
    if report.intake.failures:
        report.problems.append(f"{report.intake.failures} leads refused: {dict(run.statuses)}")
    elif drain is None:
        report.problems.append(f"only {watch.count()} of {options.leads} cards posted")


def measure_batch_intake(
    load: ProcessPoolExecutor,
    server: BatonServer,
    report: DatabaseReport,
    options: argparse.Namespace,
) -> None:
    calls = batch_calls(server.url, report.kind, options.batch_leads)
    deliver_at_pace(server, SLACK_PACE)  # the batches' cards are posted as in production
    before = count_leads(server, LeadStatus.NEW, LeadStatus.OPEN)
    check_before = batch_check_ms()
    use_before = server_use(server)
    run = load.submit(post_all, calls, options.concurrency).result()
    used = server_use(server) - use_before
    check_ms = (check_before, batch_check_ms())
    created = count_leads(server, LeadStatus.NEW, LeadStatus.OPEN) - before
    report.batch = BatchFigures(options.batch_leads, created, run, used.cpu, used.faults, check_ms)
    if run.count(lambda status: status != 200) or created != options.batch_leads:
        report.problems.append(
            f"batch intake stored {created} of {options.batch_leads} leads: {dict(run.statuses)}"
        )


def ensure_open_leads(
    load: ProcessPoolExecutor,
    server: BatonServer,
    watch: CardWatch,
    report: DatabaseReport,
    options: argparse.Namespace,
) -> dict[int, str]:
    """`--clicks` open leads with posted cards (topping up, untimed, if --leads was smaller)."""
    missing = options.clicks - options.leads
    if missing > 0:
        extra = intake_calls(server.url, report.kind, range(options.leads, options.clicks))
        load.submit(post_all, extra, options.concurrency).result()
    settled = wait_until(
        lambda: (
            count_leads(server, LeadStatus.OPEN) >= options.clicks and pending_outbox(server) == 0
        ),
        timeout=60 + options.clicks / 20,
    )
    if settled is None:
        report.problems.append("the leads to click were never all open with their cards posted")
    watch.count()
    cards = watch.cards
    return {lead_id: cards[lead_id] for lead_id in sorted(cards)[: options.clicks]}


# The threads of this process that are the benchmark's, not the server's: this one, which only
# waits and polls, and the one that pickles the calls for the client process (little CPU, but
# some 150 page faults a batch of 1,000 leads).
HARNESS_THREADS = frozenset({"MainThread", "QueueFeederThread"})


def server_use(server: BatonServer) -> Use:
    """What the server's threads (HTTP, scheduler, and delivery when it is inline) and its web
    processes have used so far: this process but for the harness's threads."""
    harness = [
        thread.native_id
        for thread in threading.enumerate()
        if thread.name in HARNESS_THREADS and thread.native_id is not None
    ]
    children = server.web_children.pids if server.web_children is not None else []
    return (
        use_of()
        - sum((use_of(thread=native_id) for native_id in harness), Use())
        + sum((use_of(pid) for pid in children), Use())
    )


def measure_baton_clicks(
    load: ProcessPoolExecutor,
    server: BatonServer,
    bodies: Sequence[tuple[str, str]],
    report: DatabaseReport,
    options: argparse.Namespace,
) -> None:
    before = count_leads(server, LeadStatus.ACCEPTED)
    calls = signed(bodies, f"{server.url}/slack/events")
    child = getattr(server.delivery, "pid", None)
    cpu_before = server_use(server).cpu, cpu_seconds(child) if child else 0.0
    run = load.submit(post_all, calls, options.concurrency).result()
    during_acks = server_use(server).cpu - cpu_before[0]
    report.acks.append(AckFigures(f"Baton ({report.kind})", run))
    drained = wait_until(
        lambda: waiting_clicks(server) == 0 and pending_outbox(server) == 0,
        timeout=max(120.0, len(bodies) / 5),
    )
    report.cpu = ClickCpu(
        during_acks=during_acks,
        server=server_use(server).cpu - cpu_before[0],
        delivery=cpu_seconds(child) - cpu_before[1] if child else None,
    )
    report.side_effects = None if drained is None else drained - run.started
    report.clicks = len(bodies)
    report.claimed = count_leads(server, LeadStatus.ACCEPTED) - before
    if report.claimed != len(bodies):
        report.problems.append(f"{report.claimed} of {len(bodies)} clicks claimed their lead")
    if report.side_effects is None:
        report.problems.append("card updates and DMs after the claims were not all delivered")


def measure_bolt_baselines(
    load: ProcessPoolExecutor,
    slack: SlackProcess,
    bodies: Sequence[tuple[str, str]],
    report: DatabaseReport,
    options: argparse.Namespace,
) -> None:
    for label, inline in (
        ("bare Bolt, defaults (Starlette adapter)", False),
        (FLOOR_LABEL, True),
    ):
        app = bare_bolt_app(slack.api_url, process_before_response=inline)
        with running_asgi(app) as url:
            calls = signed(bodies, f"{url}/slack/events")
            run = load.submit(post_all, calls, options.concurrency).result()
        report.acks.append(AckFigures(label, run))


@contextmanager
def server_memory(report: DatabaseReport) -> Iterator[process_memory.Peaks]:
    """The server's memory (this process's, and its children's) idle once they have started,
    then its peaks while in the block."""
    time.sleep(IDLE_SETTLE_SECONDS)  # the delivery and web children import and connect
    report.memory += process_memory.snapshot(os.getpid()).lines("idle")
    with process_memory.watching(os.getpid()) as peaks:
        yield peaks


def benchmark_database(
    load: ProcessPoolExecutor, kind: str, options: argparse.Namespace
) -> DatabaseReport:
    workspace = Workspace(users=default_users() + REPS)
    with empty_database(kind) as url, slack_process(workspace) as slack:
        report = DatabaseReport(kind, database_version(url))
        print(f"... {report.version}: intake, then clicks, then the Bolt baselines", flush=True)
        with (
            running_baton(
                url,
                slack,
                options.delivery,
                web_processes=options.web_processes,
                post_interval=SLACK_PACE,
            ) as server,
            server_memory(report) as under_load,
        ):
            measure_intake(load, server, slack, report, options)
            if report.problems:
                return report  # no cards to click: the intake failure is the finding
            if options.clicks:
                cards = ensure_open_leads(load, server, CardWatch(slack), report, options)
                bodies = accept_click_bodies(slack, cards)
                measure_baton_clicks(load, server, bodies, report, options)
            if options.batch_leads:
                measure_batch_intake(load, server, report, options)
        report.memory += under_load.lines("peak under the load")
        if options.clicks:
            measure_bolt_baselines(load, slack, bodies, report, options)
    for figures in report.acks:
        if figures.failures:
            report.problems.append(
                f"{figures.label}: {figures.failures} clicks not acknowledged with 200 "
                f"({dict(figures.run.statuses)}; {figures.run.errors[:2]})"
            )
    return report


def round_figures(report: DatabaseReport) -> RoundFigures:
    """What the targets judge in one database's round."""
    intake, batch = report.intake, report.batch
    baton = next((figures for figures in report.acks if figures.label.startswith("Baton")), None)
    floor = next((figures for figures in report.acks if figures.label == FLOOR_LABEL), None)
    ratio = share = None
    if baton is not None and floor is not None and baton.run.latencies and floor.run.latencies:
        ratio = baton.p99 / floor.p99
        share = baton.rate / floor.rate if floor.rate else None
    return RoundFigures(
        single_rate=intake.leads / intake.run.elapsed if intake and intake.run.elapsed else None,
        batch_rate=batch.created / batch.run.elapsed if batch and batch.run.elapsed else None,
        ack_p99_ratio=ratio,
        ack_rate_share=share,
        check_ms=max(batch.check_ms) if batch else None,
    )


# ------------------------------------------------------------------------------ output


def machine_header(kinds: Sequence[str], options: argparse.Namespace) -> str:
    return (
        f"{machine_facts()}\nBaton handoff benchmark: databases: {', '.join(kinds)}; "
        f"{options.clicks} clicks, {options.leads} leads, {options.batch_leads} leads in batches "
        f"of {MAX_BATCH}, {options.concurrency} client threads, {options.web_processes} web "
        f"process(es); {options.rounds} round(s), the databases in turn\n{uptime()}"
    )


def uptime() -> str:
    """The machine's load now: the figures are only as good as the cores left to them."""
    return "uptime: " + Path("/proc/loadavg").read_text().strip()


def print_report(report: DatabaseReport, options: argparse.Namespace) -> None:
    print(f"\n== {report.version} ==")
    intake = report.intake
    if intake is not None:
        p50, p99 = percentiles(intake.run.latencies)
        rate = intake.leads / intake.run.elapsed if intake.run.elapsed else 0.0
        print(
            f"  intake  {intake.leads} leads: HTTP {rate:.0f} leads/s "
            f"({intake.run.elapsed:.2f} s; p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms); "
            f"CPU {intake.cpu * 1000 / intake.leads:.2f} ms a lead in the server's processes; "
            f"{intake.posted_meanwhile} cards posted meanwhile, at Slack's pace"
        )
        drained = intake.leads - intake.posted_meanwhile
        if intake.drain is not None and drained:
            delivery_cpu = (
                ""
                if intake.delivery_cpu is None
                else f"; CPU {intake.delivery_cpu * 1000 / drained:.2f} ms a card in the "
                "delivery process"
            )
            print(
                f"          then delivery without a pace: the last of the {drained} queued cards "
                f"in Slack after {intake.drain:.2f} s ({drained / intake.drain:.0f} cards/s)"
                f"{delivery_cpu}"
            )
    batch = report.batch
    if batch is not None:
        p50, p99 = percentiles(batch.run.latencies)
        rate = batch.created / batch.run.elapsed if batch.run.elapsed else 0.0
        print(
            f"  batch intake  {batch.created} leads in {len(batch.run.latencies)} requests: "
            f"HTTP {rate:.0f} leads/s ({batch.run.elapsed:.2f} s; a request p50 "
            f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms); CPU "
            f"{batch.cpu * 1000 / max(batch.created, 1):.3f} ms a lead in the server's processes, "
            f"{batch.faults / max(batch.created, 1):.2f} page faults a lead; the fixed batch "
            f"checked in {batch.check_ms[0]:.0f} ms before, {batch.check_ms[1]:.0f} ms after"
        )
    if not report.acks:
        return _print_problems(report)
    header = f"  {'accept clicks (' + str(report.clicks) + ')':<44}"
    print(f"{header}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'acks/s':>9}{'non-200':>9}{'>3 s':>7}")
    for figures in report.acks:
        print(figures.row())
    if report.side_effects is not None:
        print(
            f"  claims: {report.claimed}/{report.clicks}; card updates and DMs all delivered "
            f"{report.side_effects:.2f} s after the first click"
        )
    if report.cpu is not None and report.clicks:
        print(report.cpu.row(report.clicks))
    for line in report.memory:
        print(line)
    _print_problems(report)


def _print_problems(report: DatabaseReport) -> None:
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")


# ------------------------------------------------------------------------------ main


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handoff", description=__doc__)
    parser.add_argument("--databases", default=",".join(DATABASE_KINDS))
    parser.add_argument("--clicks", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--batch-leads", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times each database is measured, in turn; the targets are judged by the median (3)",
    )
    parser.add_argument(
        "--delivery",
        choices=("child", "inline"),
        default=None,
        help="where Baton delivers: by default where `baton serve` does (a child process at a "
        "lower CPU priority); or there, or in a thread of the server",
    )
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="processes answering HTTP, as BATON_WEB_PROCESSES (1)",
    )
    options = parser.parse_args(argv)
    options.kinds = [kind.strip() for kind in options.databases.split(",") if kind.strip()]
    unknown = set(options.kinds) - set(DATABASE_KINDS)
    if unknown or not options.kinds:
        parser.error(f"--databases takes a list of {', '.join(DATABASE_KINDS)}")
    if (
        min(options.leads, options.concurrency, options.web_processes, options.rounds) < 1
        or min(options.clicks, options.batch_leads) < 0
    ):
        parser.error(
            "--leads, --concurrency, --web-processes and --rounds must be at least 1, --clicks and "
            "--batch-leads 0"
        )
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(machine_header(options.kinds, options), flush=True)
    began = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as load:
        load.submit(post_all, [], 1).result()  # start the client process before measuring
        reports: dict[str, list[DatabaseReport]] = {kind: [] for kind in options.kinds}
        for round_number in range(1, options.rounds + 1):
            for kind in options.kinds:
                print(f"\n-- round {round_number} of {options.rounds}, {time.strftime('%H:%M')}")
                cores_before = CoreTimes.now()
                report = benchmark_database(load, kind, options)
                print_report(report, options)
                print(f"  during it {CoreTimes.now().stolen_since(cores_before)}")
                reports[kind].append(report)
    table = [(runs[0].version, [round_figures(run) for run in runs]) for runs in reports.values()]
    print("\n".join(summary(table)))
    total = time.perf_counter() - began
    print(f"\ntotal run time {total:.0f} s; {uptime()}")
    if total > RUNTIME_TARGET * options.rounds:
        target = RUNTIME_TARGET * options.rounds // 60
        print(f"NOTE: longer than the {target}-minute target; lower the defaults")
    failed = any(report.problems for runs in reports.values() for report in runs)
    if failed:
        print("FAILED: see the PROBLEM lines above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
