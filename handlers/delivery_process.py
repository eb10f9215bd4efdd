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

`baton serve` forks its first child instead (`DeliveryChild.prefork`), once it has imported its
modules and built its parts (the schema checked, the web app, Bolt), before it runs a thread and
with its pooled connections closed: the two processes share those pages until either writes to
them, some 50 MB the machine holds once rather than twice (PSS; each process's RSS still counts
them). Forked before the server built its parts, the server's writes while building them left
8 MB more of the child's pages its own. The forked child waits, with the options it
was forked with, until `start()`. A child that replaces one that died is a fresh interpreter: a
process running threads must not fork (another thread may hold a lock the copy would find taken
for ever).
"""

from __future__ import annotations

import ctypes
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
from typing import IO, NoReturn, TextIO

from apscheduler.schedulers.background import BackgroundScheduler

from handlers import heap, metrics
from handlers.child_processes import ChildProcess, ForkedProcess, SupervisedChild, wait_stopped
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
# The child's name in /proc/PID/comm (what ps and top show), forked or not.
PROCESS_NAME = b"baton-delivery"
_PR_SET_NAME = 15  # prctl's option (linux/prctl.h)


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
        self._options = options
        self._payload = pickle.dumps(options)  # fails here, not in the child, if it cannot
        self._wake_fd: int | None = None
        self._forked: _ForkedWaiting | None = None

    def prefork(self) -> None:
        """Fork the first child now if this process runs no other thread (see the module
        docstring); it waits for `start()`. Otherwise `start()` starts a fresh interpreter."""
        if threading.active_count() != 1:
            return
        heap.settle()  # first: the collector then never writes to the pages both processes map
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would write out what this process had buffered
        start_read, start_write = os.pipe()
        counts_read, counts_write = os.pipe()
        wake_read, wake_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            for parents_end in (start_write, counts_read, wake_write):
                os.close(parents_end)
            _forked_main(self._options, start_read, counts_write, wake_read)
        for childs_end in (start_read, counts_write, wake_read):
            os.close(childs_end)
        os.set_blocking(wake_write, False)
        process = ForkedProcess(pid, os.fdopen(counts_read, "rb"))
        self._forked = _ForkedWaiting(process, start_write, wake_write)

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
            if self._forked is not None:  # never started: it leaves when its start pipe closes
                os.close(self._forked.start_fd)
                os.close(self._forked.wake_fd)
                wait_stopped("delivery", self._forked.process)
                self._forked = None
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
            if self._forked is not None:
                forked, self._forked = self._forked, None
                os.write(forked.start_fd, b"\0")
                os.close(forked.start_fd)
                process: ChildProcess = forked.process
                counts = forked.process.stdout
                self._wake_fd = forked.wake_fd
            else:
                started, self._wake_fd = self._started()
                assert started.stdout is not None
                process, counts = started, started.stdout
            self._process = process
        threading.Thread(
            target=_count_reported, args=(counts,), name="delivery-metrics", daemon=True
        ).start()
        log.info("delivery process %s started", process.pid)

    def _started(self) -> tuple[subprocess.Popen[bytes], int]:
        """A child in a fresh interpreter, and the write end of its wake pipe."""
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
        return process, wake_write

    def _close_wake(self) -> None:
        if self._wake_fd is not None:
            os.close(self._wake_fd)
            self._wake_fd = None


@dataclass(frozen=True)
class _ForkedWaiting:
    """A child forked by `prefork`, waiting for a byte on `start_fd`; `wake_fd` wakes it."""

    process: ForkedProcess
    start_fd: int
    wake_fd: int


def _count_reported(counts: IO[bytes]) -> None:
    """Count in this process's metrics what the child reports delivering, until it exits."""
    previous: dict[str, float] = {}
    with counts:
        for line in counts:
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
    """A child in a fresh interpreter: its options pickled on standard input, its wake pipe's
    descriptor the first argument."""
    _deliver_as_child(int(sys.argv[1]), lambda: pickle.loads(sys.stdin.buffer.read()))


def _forked_main(options: DeliveryOptions, start_fd: int, counts_fd: int, wake_fd: int) -> NoReturn:
    """A child `prefork` forked: its counts go out on `counts_fd` (as its standard output);
    it starts delivering at a byte on `start_fd`, or leaves when that pipe closes first. It
    never returns into the parent's code, and runs none of the parent's exit handlers."""
    code = 1
    try:
        os.dup2(counts_fd, sys.stdout.fileno())
        os.close(counts_fd)
        _deliver_as_child(wake_fd, lambda: options if os.read(start_fd, 1) else None)
        code = 0
    except SystemExit as exiting:
        code = exiting.code if isinstance(exiting.code, int) else 1
    except BaseException:
        log.exception("the delivery process failed")
    finally:
        os._exit(code)


def _deliver_as_child(wake_fd: int, started: Callable[[], DeliveryOptions | None]) -> None:
    """The child: leave Ctrl-C to the parent (which stops it with SIGTERM), lower its own
    priority, wait for its options (None: the parent left first), deliver, and wake on each
    byte from the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _stop_on(signal.SIGTERM)
    os.nice(DELIVERY_NICENESS)
    _name_process()
    options = started()
    if options is None:
        return
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


def _name_process() -> None:
    """PROCESS_NAME in /proc/PID/comm (on Linux; elsewhere nothing)."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_NAME, PROCESS_NAME, 0, 0, 0)


def _wake_on_bytes(fd: int, worker: DeliveryWorker, stop: threading.Event) -> None:
    while os.read(fd, 4096):
        worker.wake()
    if not stop.is_set():
        log.warning("baton serve is gone; its delivery process leaves too")
        os._exit(1)
