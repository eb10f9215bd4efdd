"""The MQL upkeep job (bot.mql_upkeep): APScheduler wakes it every hour in each process; what is
due (a lead a day since it was scored, an MQL gone cold) is read from the database, so every
lead is rescored once a day and recycled once, whichever process gets there first."""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler

from bot.mql_upkeep import upkeep
from handlers import jobs
from handlers.services import Services

log = logging.getLogger(__name__)

MQL_UPKEEP_JOB_ID = "mql-upkeep"
DEFAULT_UPKEEP_SECONDS = 3600.0


def upkeep_once(services: Services) -> None:
    """Recycle and rescore everything due now, batch after batch."""
    model = services.config.rules.scoring
    assert model is not None
    while True:
        with services.unit_of_work() as session:
            done = upkeep(session, model=model, now=services.clock())
        if done.recycled or done.rescored:
            log.info("MQL upkeep: %d recycled, %d rescored", done.recycled, done.rescored)
        else:
            return


def schedule_mql_upkeep(scheduler: BaseScheduler, services: Services, *, every: float) -> None:
    """Only with a scoring model: without one no lead is an MQL."""
    if services.config.rules.scoring is None:
        return
    jobs.every(scheduler, upkeep_once, seconds=every, job_id=MQL_UPKEEP_JOB_ID, args=[services])
