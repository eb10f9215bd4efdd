"""The weekly digest's cron job: APScheduler wakes it at the configured time in the team's zone;
the domain records the period, so with several processes one digest is sent."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.digest import queue_digest, send_digest
from handlers.services import Services

log = logging.getLogger(__name__)

DIGEST_JOB_ID = "weekly-digest"


def send_digest_now(services: Services) -> bool:
    with services.unit_of_work() as session:
        sent = send_digest(
            session, rules=services.config.rules, policies=services.policies, now=services.clock()
        )
    if sent:
        log.info("digest queued for %s", services.config.rules.digest_channel)
    return sent


def send_digest_on_request(services: Services) -> bool:
    """The digest now, though today's went out already: someone pressed for it (the demo)."""
    with services.unit_of_work() as session:
        return queue_digest(
            session, rules=services.config.rules, policies=services.policies, now=services.clock()
        )


def schedule_digest(scheduler: BaseScheduler, services: Services) -> None:
    rules = services.config.rules
    if not rules.digest.enabled or rules.digest_channel is None:
        return
    scheduler.add_job(
        send_digest_now,
        CronTrigger.from_crontab(rules.digest.cron, timezone=ZoneInfo(rules.hours.timezone)),
        args=[services],
        id=DIGEST_JOB_ID,
        replace_existing=True,
        misfire_grace_time=3600,  # a bot busy or restarting at 09:00 still sends by 10:00
        coalesce=True,
        max_instances=1,
    )
