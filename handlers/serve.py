"""`baton serve`: build every part from the configuration and run them until stopped."""

from __future__ import annotations

import copy
import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any, Literal, NoReturn
from zoneinfo import ZoneInfo

import uvicorn
import uvicorn.config
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot import report_facts
from handlers import heap
from handlers.config import Config
from handlers.delivery_process import DeliveryChild, DeliveryOptions
from handlers.digest_job import schedule_digest
from handlers.http_app import create_http_app
from handlers.hubspot_writeback import HubSpotWorker
from handlers.mql_job import DEFAULT_UPKEEP_SECONDS, schedule_mql_upkeep
from handlers.roles import GROUP_REFRESH_SECONDS, RoleResolver, schedule_group_refresh
from handlers.services import Services, utc_now
from handlers.sla_sweep import schedule_sweep
from handlers.slack_app import create_bolt_app
from handlers.slack_delivery import DEFAULT_POST_INTERVAL, DeliveryWorker, SlackClients
from handlers.slack_directory import (
    PROFILE_REFRESH_SECONDS,
    SlackDirectory,
    schedule_profile_refresh,
)
from handlers.slow_answers import DEFAULT_WAIT, SlowAnswers
from handlers.socket_watchdog import schedule_watchdog
from handlers.webhook_delivery import WebhookWorker, sync_endpoints
from storage import migrate
from storage.db import Database

log = logging.getLogger(__name__)

# Reminders must fire within 30 s of their moment; a sweep finding nothing costs one query.
DEFAULT_SWEEP_SECONDS = 5.0


class PathOnlyAccessLog(logging.Filter):
    """Cuts the query string from uvicorn's access log lines: a query can carry a token (a
    sender that put the intake token in its URL) or a person's data, and logs are kept and
    shared. Every argument is cut at `?`: none but the request's target holds one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up, with the access log reduced to method, path and status."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"path_only": {"()": PathOnlyAccessLog}}
    config["loggers"]["uvicorn.access"]["filters"] = ["path_only"]
    return config


# Where Slack delivery runs: a supervised child process, a thread of this process (tests that
# read the worker's state, a clock that cannot cross to a child), or nowhere (a separate
# `baton deliver` delivers).
DeliveryMode = Literal["child", "inline", "off"]


def delivery_mode(setting: str, dialect: str) -> DeliveryMode:
    """Where BATON_DELIVERY puts delivery. "auto" is a child process on PostgreSQL, whose
    writers work side by side, and the server's own process on SQLite: SQLite has one writer,
    and though a child's writers queue with the server's (storage.turns.FileTurn), a child
    made more of intake's batches wait past the 5-second turn and be answered 503 (measured
    with benchmarks.handoff --delivery child|inline; README)."""
    if setting == "separate":
        return "off"
    if setting == "auto":
        return "inline" if dialect == "sqlite" else "child"
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
        assert settings.slack_bot_token is not None
        db = Database.from_url(settings.database_url)
        scheduler = BackgroundScheduler(timezone=ZoneInfo(config.rules.hours.timezone))
        self.services = Services(
            config=config,
            db=db,
            clock=clock,
            scheduler=scheduler,
            answers=SlowAnswers(wait=answer_within),
        )
        migrate.ensure_current(db.engine, elapsed=report_facts.elapsed_by(self.services.policies))
        schedule_sweep(scheduler, self.services, every=sweep_every)
        schedule_digest(scheduler, self.services)
        schedule_mql_upkeep(scheduler, self.services, every=upkeep_every)
        self.clients = SlackClients.build(settings.slack_bot_token, settings.slack_api_url)
        if delivery is None:
            delivery = delivery_mode(settings.delivery, db.dialect)
        self.delivery: DeliveryWorker | DeliveryChild | None = None
        if delivery == "inline":
            self.delivery = DeliveryWorker(
                self.services, self.clients, post_interval=post_interval, first_retry=first_retry
            )
        elif delivery == "child":
            self.delivery = DeliveryChild(
                DeliveryOptions(
                    config,
                    clock=clock,
                    post_interval=post_interval,
                    first_retry=first_retry,
                    log_level=logging.getLogger().getEffectiveLevel(),
                )
            )
        sync_endpoints(config, db)
        self.webhooks = (
            WebhookWorker(self.services, first_retry=webhook_first_retry)
            if config.rules.webhooks
            else None
        )
        self.hubspot = (
            HubSpotWorker(self.services, self.clients.api, first_retry=webhook_first_retry)
            if settings.hubspot_write_back
            else None
        )
        self.services.wake_delivery = self._wake_deliveries
        # Role look-ups get the retrying client: they run in the background, nobody waits.
        self.roles = RoleResolver(config.rules, self.clients.api)
        self.services.actor_of = self.roles.actor
        schedule_group_refresh(scheduler, self.roles, every=refresh_groups_every)
        # Reps' Slack profiles for routing: read in the background; an owner's email is looked
        # up while a lead is received, with the client that gives up quickly.
        self.directory = SlackDirectory(
            config.rules, background=self.clients.api, quick=self.clients.interactive
        )
        self.services.lifecycle.directory = self.directory
        schedule_profile_refresh(scheduler, self.directory, every=refresh_profiles_every)
        self.bolt = create_bolt_app(self.services, self.clients, self.roles, self.directory)
        self.socket_mode: SocketModeHandler | None = None  # built at start: it starts threads
        self.app = create_http_app(self.services, None if settings.socket_mode else self.bolt)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

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
        self.roles.refresh()  # before the first request: a click only reads what this found
        self.directory.refresh()
        app_token = self.services.config.settings.slack_app_token
        if app_token is not None:
            self.socket_mode = SocketModeHandler(self.bolt, app_token)
            self.socket_mode.connect()
            schedule_watchdog(self.services.scheduler, self.socket_mode)
        self.services.scheduler.start()
        if self.delivery is not None:
            self.delivery.start()
        if self.webhooks is not None:
            self.webhooks.start()
        if self.hubspot is not None:
            self.hubspot.start()

    def _stop_background(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.close()
        if self.delivery is not None:
            self.delivery.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.hubspot is not None:
            self.hubspot.stop()
        if self.services.scheduler is not None and self.services.scheduler.running:
            self.services.scheduler.shutdown(wait=True)
        self.services.answers.close()
        self.services.db.dispose()

    def run(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM (uvicorn handles the signals)."""
        settings = self.services.config.settings
        # uvicorn stops serving at SIGINT/SIGTERM, then raises the signal again once it has
        # restored these handlers: as SystemExit, the `finally` below stops the delivery
        # process and the scheduler instead of the process dying (SIGTERM) or printing a
        # traceback (SIGINT).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stopped_on_request)
        self._start_background()
        try:
            uvicorn.run(
                self.app,
                host=settings.host,
                port=settings.port,
                log_level="info",
                log_config=uvicorn_log_config(),
            )
        finally:
            self._stop_background()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread (port 0 picks a free port); returns the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", log_config=uvicorn_log_config(), lifespan="off"
            )
        )
        self._start_background()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server failed to start")
            threading.Event().wait(0.01)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        return self.url

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
