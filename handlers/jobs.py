"""Scheduling Baton's periodic jobs with the APScheduler settings every one of them needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.base import BaseScheduler


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
        job,
        "interval",
        seconds=seconds,
        args=args,
        id=job_id,
        replace_existing=True,
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
    )
