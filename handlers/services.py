"""The running bot's shared parts, built once at start-up and handed to every adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.lifecycle import Actor, Lifecycle
from bot.sla_policy import SlaPolicies
from bot.sla_sweep import SlaSweep
from handlers.config import Config
from storage.db import Database

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from handlers.slow_answers import SlowAnswers


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    db: Database
    clock: Callable[[], datetime] = utc_now
    scheduler: BaseScheduler | None = field(default=None)
    # Wakes the delivery worker; `unit_of_work` calls it after every commit.
    wake_delivery: Callable[[], None] = lambda: None
    # Slash-command answers: in the acknowledgement when quick, through response_url when not.
    # A web process's alone (web_parts gives it one): what they import (Bolt, the reports)
    # would cost a delivery process or a CLI command memory for nothing.
    answers: SlowAnswers | None = None
    # Who someone is (roles), for what is drawn for them later; serve binds it to the roles.
    actor_of: Callable[[str], Actor] = Actor
    # The domain bound to the rules once: adapters call these, and never pass the rules on.
    policies: SlaPolicies = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    sla_sweep: SlaSweep = field(init=False)

    def __post_init__(self) -> None:
        self.policies = SlaPolicies(self.config.rules)
        self.lifecycle = Lifecycle(self.policies)
        self.sla_sweep = SlaSweep(self.lifecycle)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One write transaction, as every change is made: committed on success, then the
        delivery worker is woken to send what it queued now rather than at its next poll.
        After a rollback nothing was queued, and nobody is woken."""
        with self.db.write() as session:
            yield session
        self.wake_delivery()
