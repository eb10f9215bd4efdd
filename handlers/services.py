"""The running bot's shared parts, built once at start-up and handed to every adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler

from bot.config import Config
from bot.sla import SlaEngine
from storage.db import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    db: Database
    sla: SlaEngine
    clock: Callable[[], datetime] = utc_now
    scheduler: BaseScheduler | None = field(default=None)
    # Called after a transaction queued Slack side effects, to deliver them without waiting.
    wake_delivery: Callable[[], None] = lambda: None
