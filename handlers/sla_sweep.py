"""The SLA sweep job: APScheduler wakes it; the due moments themselves live in the database.

Each process runs one interval job in a memory job store (never per-lead jobs in a shared
store, which run twice or not at all across processes); the job fires what is due through
the domain, which claims timers atomically, and logs and counts what fired.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler

from handlers import jobs, metrics
from handlers.services import Services

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "sla-sweep"


def sweep_once(services: Services) -> int:
    """Fire everything due now, batch after batch; returns how many moments fired."""
    total = 0
    while True:
        with services.unit_of_work() as session:
            fired = services.sla_sweep.sweep(session, now=services.clock())
        for moment in fired:
            if moment.acted:
                log.info("SLA %s fired for lead %s", moment.kind.value, moment.lead_id)
                metrics.SLA_FIRED.labels(kind=moment.kind.value).inc()
        total += len(fired)
        if not fired:
            return total


def schedule_sweep(scheduler: BaseScheduler, services: Services, *, every: float) -> None:
    jobs.every(scheduler, sweep_once, seconds=every, job_id=SWEEP_JOB_ID, args=[services])
