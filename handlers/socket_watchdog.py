"""A watchdog on the Socket Mode connection: it can go silent after a reconnect while looking
connected (python-slack-sdk#1701, bolt-python#1529), and then no click would ever arrive."""

from __future__ import annotations

import logging
import time

from apscheduler.schedulers.base import BaseScheduler
from slack_bolt.adapter.socket_mode import SocketModeHandler

from handlers import jobs

log = logging.getLogger(__name__)

WATCHDOG_JOB_ID = "socket-mode-watchdog"
WATCH_SECONDS = 10.0
STALE_PINGS = 4  # pongs missed before the connection counts as dead, as slack_sdk's own check


def needs_reconnect(
    *, connected: bool, last_pong: float | None, ping_interval: float, now: float
) -> bool:
    """Dead when the client says so, or when the server has not answered a ping for a while."""
    if not connected:
        return True
    return last_pong is not None and now - last_pong > ping_interval * STALE_PINGS


def check_connection(handler: SocketModeHandler) -> bool:
    """Reconnect when the connection looks dead; returns whether it did."""
    client = handler.client
    session = getattr(client, "current_session", None)
    if not needs_reconnect(
        connected=client.is_connected(),
        last_pong=getattr(session, "last_ping_pong_time", None),
        ping_interval=float(getattr(client, "ping_interval", 5)),
        now=time.time(),
    ):
        return False
    log.warning("Socket Mode connection looks dead; reconnecting")
    client.connect_to_new_endpoint(force=True)
    return True


def schedule_watchdog(scheduler: BaseScheduler, handler: SocketModeHandler) -> None:
    jobs.every(
        scheduler, check_connection, seconds=WATCH_SECONDS, job_id=WATCHDOG_JOB_ID, args=[handler]
    )
