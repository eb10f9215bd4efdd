"""`baton serve`: build every part from the configuration and run them until stopped."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Literal, NoReturn
from zoneinfo import ZoneInfo

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot import report_facts
from bot.sla_policy import SlaPolicies
from handlers import heap, kept_alive
from handlers.config import Config
from handlers.delivery_process import DeliveryChild, DeliveryOptions
from handlers.digest_job import schedule_digest
from handlers.mql_job import DEFAULT_UPKEEP_SECONDS, schedule_mql_upkeep
from handlers.roles import GROUP_REFRESH_SECONDS
from handlers.services import utc_now
from handlers.sla_sweep import schedule_sweep
from handlers.slack_delivery import DEFAULT_POST_INTERVAL, DeliveryWorker
from handlers.slack_directory import PROFILE_REFRESH_SECONDS
from handlers.slow_answers import DEFAULT_WAIT
from handlers.socket_watchdog import schedule_watchdog
from handlers.web_parts import build_web, refresh_facts, uvicorn_server
from handlers.web_processes import WebChildren, WebOptions, bind_listener, process_header
from handlers.webhook_delivery import WebhookWorker, sync_endpoints
from storage import migrate
from storage.db import Database

if TYPE_CHECKING:
    from handlers.hubspot_writeback import HubSpotWorker

log = logging.getLogger(__name__)

# Reminders must fire within 30 s of their moment; a sweep finding nothing costs one query.
DEFAULT_SWEEP_SECONDS = 5.0


# Where Slack delivery runs: a supervised child process, a thread of this process (tests that
# read the worker's state, a clock that cannot cross to a child), or nowhere (a separate
# `baton deliver` delivers).
DeliveryMode = Literal["child", "inline", "off"]


def delivery_mode(setting: str, *, in_memory: bool) -> DeliveryMode:
    """Where BATON_DELIVERY puts delivery. "auto" is a child process at a lower CPU priority
    on either database: acknowledgements and intake get the CPU first. On SQLite the child's
    writers queue with the server's (storage.turns.FileTurn); measured with
    benchmarks.handoff --delivery child|inline since clicks are recorded before they are
    applied, the child took 25-32 % of the floor's clicks a second against 18 % inline and 537
    single leads a second against 402, and batches 4,776 leads a second against 6,082
    (docs/performance.md). "inline" stays for a database in memory, which a child cannot
    open."""
    if setting == "separate":
        return "off"
    if setting == "auto":
        return "inline" if in_memory else "child"
    return "child" if setting == "child" else "inline"


class BatonServer:
    """The whole bot in one object, so `baton serve` and the end-to-end tests run the same code."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = utc_now,
        post_interval: float = DEFAULT_POST_INTERVAL,
        first_retry: float = 1.0,
        sweep_every: float = DEFAULT_SWEEP_SECONDS,
        upkeep_every: float = DEFAULT_UPKEEP_SECONDS,
        answer_within: float = DEFAULT_WAIT,
        refresh_groups_every: float = GROUP_REFRESH_SECONDS,
        refresh_profiles_every: float = PROFILE_REFRESH_SECONDS,
        delivery: DeliveryMode | None = None,
        webhook_first_retry: float = 5.0,
    ) -> None:
        """`delivery` None follows the configuration: a child process, or none."""
        settings = config.settings
        settings.require_serving()
        scheduler = BackgroundScheduler(timezone=ZoneInfo(config.rules.hours.timezone))
        db = Database.from_url(settings.database_url)
        if delivery is None:
            delivery = delivery_mode(settings.delivery, in_memory=db.in_memory)
        self.delivery: DeliveryWorker | DeliveryChild | None = None
        if delivery == "child":
            self.delivery = DeliveryChild(
                DeliveryOptions(
                    config,
                    clock=clock,
                    post_interval=post_interval,
                    first_retry=first_retry,
                    log_level=logging.getLogger().getEffectiveLevel(),
                )
            )
        elapsed = report_facts.elapsed_by(SlaPolicies(config.rules))
        migrate.ensure_current(db.engine, elapsed=elapsed)  # before Bolt asks Slack who it is
        self.web = build_web(
            config,
            db=db,
            scheduler=scheduler,
            clock=clock,
            answer_within=answer_within,
            refresh_groups_every=refresh_groups_every,
            refresh_profiles_every=refresh_profiles_every,
        )
        self.services = self.web.services
        schedule_sweep(scheduler, self.services, every=sweep_every)
        schedule_digest(scheduler, self.services)
        schedule_mql_upkeep(scheduler, self.services, every=upkeep_every)
        self.clients = self.web.clients
        if delivery == "inline":
            self.delivery = DeliveryWorker(
                self.services, self.clients, post_interval=post_interval, first_retry=first_retry
            )
        sync_endpoints(config, db)
        self.webhooks = (
            WebhookWorker(self.services, first_retry=webhook_first_retry)
            if config.rules.webhooks
            else None
        )
        self.hubspot: HubSpotWorker | None = None
        if settings.hubspot_write_back:
            # Imported here: the HubSpot client (some 5 MB) only where write-back is set up.
            from handlers.hubspot_writeback import HubSpotWorker

            self.hubspot = HubSpotWorker(
                self.services, self.clients.api, first_retry=webhook_first_retry
            )
        self.services.wake_delivery = self._wake_deliveries
        self.roles = self.web.roles
        self.directory = self.web.directory
        self.web_children = (
            WebChildren(
                WebOptions(
                    config,
                    clock=clock,
                    answer_within=answer_within,
                    refresh_groups_every=refresh_groups_every,
                    refresh_profiles_every=refresh_profiles_every,
                    log_level=logging.getLogger().getEffectiveLevel(),
                ),
                wake=self._wake_deliveries,
                learned=self.directory.learn,
            )
            if settings.web_processes > 1
            else None
        )
        if self.web_children is not None:
            self.directory.relay = self.web_children.broadcast
        self.bolt = self.web.bolt
        self.socket_mode: SocketModeHandler | None = None  # built at start: it starts threads
        self.app = self.web.app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        if isinstance(self.delivery, DeliveryChild):
            # Forked once start-up has built everything above and before a thread starts, the
            # connections start-up opened (the pool's, Slack's) closed, to be reopened on use:
            # the child shares the pages of the modules and of what start-up built.
            db.dispose()
            kept_alive.close_connections()
            self.delivery.prefork()

    def _wake_deliveries(self) -> None:
        """After a commit: whatever it queued for Slack or for webhooks goes out now."""
        if self.delivery is not None:
            self.delivery.wake()
        if self.webhooks is not None:
            self.webhooks.wake()
        if self.hubspot is not None:
            self.hubspot.wake()

    def _start_background(self) -> None:
        assert self.services.scheduler is not None
        refresh_facts(self.web)
        app_token = self.services.config.settings.slack_app_token
        if app_token is not None:
            self.socket_mode = SocketModeHandler(self.bolt, app_token)
            self.socket_mode.connect()
            schedule_watchdog(self.services.scheduler, self.socket_mode)
        self.services.scheduler.start()
        self.web.clicks.start()
        if self.delivery is not None:
            self.delivery.start()
        if self.webhooks is not None:
            self.webhooks.start()
        if self.hubspot is not None:
            self.hubspot.start()

    def _stop_background(self) -> None:
        if self.web_children is not None:  # first: what they commit last is then delivered
            self.web_children.stop()
        if self.socket_mode is not None:
            self.socket_mode.close()
        self.web.clicks.stop()  # before delivery: what the last click queued is delivered
        if self.delivery is not None:
            self.delivery.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.hubspot is not None:
            self.hubspot.stop()
        if self.services.scheduler is not None and self.services.scheduler.running:
            self.services.scheduler.shutdown(wait=True)
        if self.services.answers is not None:
            self.services.answers.close()
        self.services.db.dispose()

    def run(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM (uvicorn handles the signals)."""
        settings = self.services.config.settings
        # uvicorn stops serving at SIGINT/SIGTERM, then raises the signal again once it has
        # restored these handlers: as SystemExit, the `finally` below stops the web and
        # delivery processes and the scheduler instead of the process dying (SIGTERM) or
        # printing a traceback (SIGINT).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stopped_on_request)
        listener = bind_listener(settings.host, settings.port)
        self._start_background()
        try:
            self._serve(listener, log_level="info")
        finally:
            self._stop_background()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread (port 0 picks a free port); returns the base URL."""
        listener = bind_listener(host, port)
        self._start_background()
        self._thread = threading.Thread(
            target=self._serve, args=(listener,), kwargs={"log_level": "warning"}, daemon=True
        )
        self._thread.start()
        while self._server is None or not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server failed to start")
            threading.Event().wait(0.01)
        self.url = f"http://{host}:{listener.getsockname()[1]}"
        return self.url

    def _serve(self, listener: socket.socket, *, log_level: str) -> None:
        """Answer on `listener`, beside the web processes if there are any (they answer on
        the same socket, and ask this process for /metrics on a socket of its own)."""
        sockets = [listener]
        headers: list[tuple[str, str]] = []
        if self.web_children is not None:
            sockets.append(self.web_children.start(listener, log_level=log_level))
            headers.append(process_header())
        self._server = uvicorn_server(
            self.app, log_level=log_level, headers=headers, on_exit=self._stopping
        )
        self._server.run(sockets=sockets)

    def _stopping(self) -> None:
        """Asked to stop: the web processes stop with this one, finishing their requests."""
        if self.web_children is not None:
            self.web_children.terminate()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._stop_background()


def _stopped_on_request(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def serve(config: Config, *, delivery: bool = True) -> int:
    """`baton serve`; `delivery` False (`--no-delivery`) leaves Slack delivery to `baton
    deliver`, whatever the configuration says."""
    server = BatonServer(config, delivery=None if delivery else "off")
    heap.settle()
    log.info("baton serving on http://%s:%s", config.settings.host, config.settings.port)
    server.run()
    return 0
