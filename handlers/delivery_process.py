"""The Slack delivery worker in a process of its own: `baton deliver`, and the child process
`baton serve` starts, restarts and stops.

Rendering and sending what a click causes (the card redraw, the owner's DM...) costs more CPU
than acknowledging the click; run beside the web server they would share its GIL, and a burst of
clicks would wait behind its own deliveries. In a child at a lower CPU priority the
acknowledgements win the cores in a burst, and deliveries drain right after. Exactly once across
processes holds as it always did: every delivery process leases the rows it sends.

The parent hands the child its options (pickled, on standard input) and keeps the write end of
a pipe: a byte on it wakes the child after a commit, so nothing waits for the next poll; the
pipe closing without a stop means the parent died, and the child leaves at once, as after any
crash (its leases run out and another process delivers what it held). The child writes its
delivery counts to its standard output, and the parent adds them to its own /metrics.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler

from handlers import heap, metrics
from handlers.child_processes import SupervisedChild, wait_stopped
from handlers.config import Config, redact_url
from handlers.services import Services, utc_now
from handlers.slack_delivery import DEFAULT_POST_INTERVAL, DeliveryWorker, SlackClients
from handlers.slack_directory import (
    PROFILE_REFRESH_SECONDS,
    SlackDirectory,
    schedule_profile_refresh,
)
from storage.db import Database

log = logging.getLogger(__name__)

# Added to the delivery process's niceness: in a burst the acknowledgements get the cores first.
DELIVERY_NICENESS = 5
# How often the child hands its delivery counts to the parent's /metrics.
METRICS_REPORT_SECONDS = 1.0
CHILD_ENTRY = "from handlers.delivery_process import child_main; child_main()"


@dataclass(frozen=True)
class DeliveryOptions:
    """What a delivery process is built from (picklable: it crosses to the child)."""

    config: Config
    clock: Callable[[], datetime] = utc_now
    post_interval: float = DEFAULT_POST_INTERVAL
    first_retry: float = 1.0
    log_level: int = logging.INFO  # a child logs as much as its parent


@contextmanager
def delivering(options: DeliveryOptions, *, check_schema: bool) -> Iterator[DeliveryWorker]:
    """A delivery worker on the configured database, running while the block runs; the schema
    checked (SQLite's migrated) first unless the caller did it."""
    settings = options.config.settings
    assert settings.slack_bot_token is not None
    services = Services(
        config=options.config, db=Database.from_url(settings.database_url), clock=options.clock
    )
    try:
        if check_schema:
            # Imported here: alembic costs a process some 10 MB, and `baton serve`'s child
            # leaves the schema to the server, which checked it before starting it.
            from bot import report_facts
            from storage import migrate

            migrate.ensure_current(
                services.db.engine, elapsed=report_facts.elapsed_by(services.policies)
            )
        clients = SlackClients.build(settings.slack_bot_token, settings.slack_api_url)
        worker = DeliveryWorker(
            services, clients, post_interval=options.post_interval, first_retry=options.first_retry
        )
        # The managers' App Homes it draws say what Slack says of reps: kept as the server does.
        directory = SlackDirectory(
            options.config.rules, background=clients.api, quick=clients.interactive
        )
        services.lifecycle.directory = directory
        scheduler = BackgroundScheduler()
        schedule_profile_refresh(scheduler, directory, every=PROFILE_REFRESH_SECONDS)
        directory.refresh()
        heap.settle()  # as `baton serve` does before it takes work
        scheduler.start()
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()
            scheduler.shutdown(wait=True)
    finally:
        services.db.dispose()


def deliver(options: DeliveryOptions) -> int:
    """`baton deliver`: deliver the outbox until SIGINT or SIGTERM."""
    stop = _stop_on(signal.SIGINT, signal.SIGTERM)
    with delivering(options, check_schema=True):
        url = redact_url(options.config.settings.database_url)
        log.info("baton delivering the Slack outbox of %s", url)
        _wait(stop)
    return 0


def _stop_on(*signums: int) -> threading.Event:
    stop = threading.Event()
    for signum in signums:
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _wait(stop: threading.Event) -> None:
    """Wait in short steps: the main thread must wake to run a signal handler."""
    while not stop.wait(1.0):
        pass


class DeliveryChild(SupervisedChild):
    """The delivery process `baton serve` starts: restarted (and logged) if it dies, woken
    after each commit, stopped at shutdown."""

    what = "delivery"

    def __init__(self, options: DeliveryOptions) -> None:
        super().__init__(threading.Event())
        self._payload = pickle.dumps(options)  # fails here, not in the child, if it cannot
        self._wake_fd: int | None = None

    def wake(self) -> None:
        """Something was committed: the child delivers it now. Never blocks: a full pipe
        already holds a wake-up."""
        fd = self._wake_fd
        if fd is None:
            return
        with suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(fd, b"\0")

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()
                wait_stopped("delivery", process)
            self._close_wake()
        self._join_watcher()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._close_wake()
            wake_read, wake_write = os.pipe()
            os.set_blocking(wake_write, False)
            try:
                process = subprocess.Popen(
                    [sys.executable, "-c", CHILD_ENTRY, str(wake_read)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    pass_fds=(wake_read,),
                )
            finally:
                os.close(wake_read)
            assert process.stdin is not None
            with process.stdin:
                process.stdin.write(self._payload)
            self._process, self._wake_fd = process, wake_write
        threading.Thread(
            target=_count_reported, args=(process,), name="delivery-metrics", daemon=True
        ).start()
        log.info("delivery process %s started", process.pid)

    def _close_wake(self) -> None:
        if self._wake_fd is not None:
            os.close(self._wake_fd)
            self._wake_fd = None


def _count_reported(process: subprocess.Popen[bytes]) -> None:
    """Count in this process's metrics what the child reports delivering, until it exits."""
    assert process.stdout is not None
    previous: dict[str, float] = {}
    with process.stdout:
        for line in process.stdout:
            current = json.loads(line)
            metrics.add_child_totals(previous, current)
            previous = current


def _report_counts(output: TextIO, stop: threading.Event) -> None:
    """Hand the parent this process's delivery counts whenever they changed, one JSON line
    each (a line is shorter than PIPE_BUF, so it arrives whole)."""
    reported: dict[str, float] = {}
    while True:
        stopping = stop.wait(METRICS_REPORT_SECONDS)
        totals = metrics.child_totals()
        if totals != reported:
            output.write(json.dumps(totals) + "\n")
            output.flush()
            reported = totals
        if stopping:
            return


def child_main() -> None:
    """The child: leave Ctrl-C to the parent (which stops it with SIGTERM), lower its own
    priority, deliver, and wake on each byte from the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _stop_on(signal.SIGTERM)
    os.nice(DELIVERY_NICENESS)
    wake_fd = int(sys.argv[1])
    options: DeliveryOptions = pickle.loads(sys.stdin.buffer.read())
    logging.basicConfig(
        level=options.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Standard output carries the counts to the parent; anything else printed goes to stderr.
    counts = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    reporting = threading.Event()
    reporter = threading.Thread(target=_report_counts, args=(counts, reporting), daemon=True)
    reporter.start()
    with delivering(options, check_schema=False) as worker:
        threading.Thread(
            target=_wake_on_bytes, args=(wake_fd, worker, stop), name="delivery-wake", daemon=True
        ).start()
        _wait(stop)
    reporting.set()  # the last counts, those of the rows finished while stopping
    reporter.join()


def _wake_on_bytes(fd: int, worker: DeliveryWorker, stop: threading.Event) -> None:
    while os.read(fd, 4096):
        worker.wake()
    if not stop.is_set():
        log.warning("baton serve is gone; its delivery process leaves too")
        os._exit(1)
