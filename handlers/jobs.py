"""Scheduling Baton's periodic jobs with the APScheduler settings every one of them needs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from storage.errors import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)


def every(
    scheduler: BaseScheduler,
    job: Callable[..., Any],
    *,
    seconds: float,
    job_id: str,
    args: list[Any],
) -> None:
    """Run `job` every `seconds` in this process's memory job store.

    A fixed id with replace_existing keeps restarts from adding copies; a run that starts late
    still runs (APScheduler's default grace of 1 s would skip it with only a warning); piled-up
    runs collapse into one, and never two at once.
    """
    scheduler.add_job(
        _waiting_out_outages(job, job_id),
        "interval",
        seconds=seconds,
        args=args,
        id=job_id,
        replace_existing=True,
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
    )


def _waiting_out_outages(job: Callable[..., Any], job_id: str) -> Callable[..., Any]:
    """While the database is unavailable a run fails, and the next one tries again: say so once
    when it goes and once when it is back, rather than a traceback every run."""
    database_down = False

    @functools.wraps(job)
    def run(*args: Any) -> Any:
        nonlocal database_down
        try:
            result = job(*args)
        except UNAVAILABLE_ERRORS as error:
            if not database_down:
                log.warning(
                    "database unavailable (%s): job %s waits for it", type(error).__name__, job_id
                )
                database_down = True
            return None
        if database_down:
            log.info("database answers again: job %s runs again", job_id)
            database_down = False
        return result

    return run
