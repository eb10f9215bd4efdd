"""What answers HTTP, built alike in `baton serve`'s main process and in each of its web
processes (handlers.web_processes): the services, Slack clients, roles, the reps' directory, the
Bolt app and the HTTP app, with the background refreshes that keep roles and profiles current."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any

import uvicorn
import uvicorn.config
from apscheduler.schedulers.base import BaseScheduler
from fastapi import FastAPI
from slack_bolt import App

from handlers.click_inbox import ClickInbox
from handlers.config import Config
from handlers.http_app import create_http_app
from handlers.roles import RoleResolver, schedule_group_refresh
from handlers.services import Services
from handlers.slack_app import create_bolt_app
from handlers.slack_delivery import SlackClients
from handlers.slack_directory import SlackDirectory, schedule_profile_refresh
from handlers.slow_answers import SlowAnswers
from storage.db import Database


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


def slim_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a Slack user object a profile is made of (profile_of), small enough to pass
    between processes in one pipe write."""
    profile = user.get("profile") or {}
    return {
        "id": user.get("id"),
        "tz": user.get("tz"),
        "profile": {
            key: profile.get(key) for key in ("status_text", "status_emoji", "status_expiration")
        },
    }


class SharedDirectory(SlackDirectory):
    """A directory whose learned profiles (a `user_change` event, an email look-up) reach the
    other web processes too: Slack sends an event to one process, and every process routes.
    `relay` passes a learned user on; `take` learns what another process relayed."""

    relay: Callable[[dict[str, Any]], None] = staticmethod(lambda user: None)

    def learn(self, user: Mapping[str, Any]) -> None:
        super().learn(user)
        if user.get("id"):
            self.relay(slim_user(user))

    def take(self, user: Mapping[str, Any]) -> None:
        super().learn(user)


@dataclass
class WebParts:
    services: Services
    clients: SlackClients
    roles: RoleResolver
    directory: SharedDirectory
    bolt: App
    app: FastAPI
    clicks: ClickInbox  # started once `refresh_facts` has run: a click is applied with roles


def build_web(
    config: Config,
    *,
    db: Database,
    scheduler: BaseScheduler,
    clock: Callable[[], datetime],
    answer_within: float,
    refresh_groups_every: float,
    refresh_profiles_every: float,
    metrics_from: str | None = None,
) -> WebParts:
    """The HTTP app and what it stands on, over `db` (which the caller has checked: a
    database problem must stop start-up before Bolt asks Slack who it is); `scheduler` gets
    the group and profile refreshes (the caller starts it once `refresh_facts` has run).
    `metrics_from`: see create_http_app."""
    settings = config.settings
    assert settings.slack_bot_token is not None
    services = Services(
        config=config,
        db=db,
        clock=clock,
        scheduler=scheduler,
        answers=SlowAnswers(wait=answer_within),
    )
    clients = SlackClients.build(settings.slack_bot_token, settings.slack_api_url)
    # Role look-ups get the retrying client: they run in the background, nobody waits.
    roles = RoleResolver(config.rules, clients.api)
    services.actor_of = roles.actor
    schedule_group_refresh(scheduler, roles, every=refresh_groups_every)
    # Reps' Slack profiles for routing: read in the background; an owner's email is looked
    # up while a lead is received, with the client that gives up quickly.
    directory = SharedDirectory(config.rules, background=clients.api, quick=clients.interactive)
    services.lifecycle.directory = directory
    schedule_profile_refresh(scheduler, directory, every=refresh_profiles_every)
    clicks = ClickInbox(services)
    bolt = create_bolt_app(services, clients, roles, directory, clicks)
    app = create_http_app(
        services, None if settings.socket_mode else bolt, metrics_from=metrics_from
    )
    return WebParts(services, clients, roles, directory, bolt, app, clicks)


def refresh_facts(web: WebParts) -> None:
    """Read roles and profiles before the first request: a click only reads what this found."""
    web.roles.refresh()
    web.directory.refresh()


class _Server(uvicorn.Server):
    """uvicorn's server, telling `on_exit` the moment a signal asks it to stop."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def uvicorn_server(
    app: FastAPI,
    *,
    log_level: str,
    headers: list[tuple[str, str]],
    on_exit: Callable[[], None] = lambda: None,
) -> uvicorn.Server:
    """A uvicorn server for sockets the caller binds (`run(sockets=...)`) that adds `headers`
    to every response. Baton serves no WebSocket, so uvicorn loads no WebSocket protocol (by
    default it would import the `websockets` package: 17 modules, about 1 MB a process)."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        log_config=uvicorn_log_config(),
        lifespan="off",
        headers=headers,
        ws="none",
    )
    return _Server(config, on_exit)
