"""`baton serve`'s web processes (BATON_WEB_PROCESSES): more processes answering HTTP on the
server's port, each on a core of its own.

One Python process answers on one core (the GIL), however many requests wait. The main process
binds the listening socket and starts N-1 web processes that serve the same socket; the kernel
hands each new connection to one of them. A web process only answers: the scheduler, Slack
delivery, webhooks and HubSpot write-backs stay single, in the main process or its delivery
child. Exactly once needs nothing new: every process already claims and leases in the database.

Each web process has two pipes to the main process. Its own (the channel) carries, as lines:
an empty line after each commit, which wakes the main process's deliveries as its own commits
do; a Slack user it learned (a `user_change` event reaches one process only), which the main
process learns and passes to every web process; and its counts for /metrics. The other carries
those users to it, and its closing without a stop means the main process died: the web process
leaves at once. /metrics is answered by the main process, which counts for all: a web process
asks it on a Unix socket only they can reach. A web process that dies is logged and restarted;
SIGTERM stops them all, each finishing the requests under way.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from bot.rules import ConfigError
from handlers import heap, metrics
from handlers.child_processes import SupervisedChild, wait_stopped
from handlers.config import Config
from handlers.services import utc_now
from handlers.web_parts import SharedDirectory, build_web, refresh_facts, uvicorn_server
from storage.db import Database

log = logging.getLogger(__name__)

CHILD_ENTRY = "from handlers.web_processes import child_main; child_main()"
# How often a web process hands its counts to the main process's /metrics.
COUNTS_REPORT_SECONDS = 1.0
WAKE = b"\n"


@dataclass(frozen=True)
class WebOptions:
    """What a web process is built from (picklable: it crosses to the child)."""

    config: Config
    clock: Callable[[], datetime] = utc_now
    answer_within: float = 1.0
    refresh_groups_every: float = 60.0
    refresh_profiles_every: float = 300.0
    log_level: int = logging.INFO  # a child logs as much as its parent


def bind_listener(host: str, port: int) -> socket.socket:
    """The server's listening socket, as uvicorn binds it; ConfigError if it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(
            f"BATON_HOST/BATON_PORT: cannot listen on {host}:{port}: {error.strerror}"
        ) from None
    return listener


def process_header() -> tuple[str, str]:
    """Names the process that answered, on every response when there are several."""
    return ("X-Baton-Process", str(os.getpid()))


class WebChildren:
    """The web processes beside the main one: started on its listening socket, restarted (and
    logged) when one dies, stopped with it."""

    def __init__(
        self,
        options: WebOptions,
        *,
        wake: Callable[[], None],
        learned: Callable[[dict[str, Any]], None],
    ) -> None:
        """`wake`: a web process committed; `learned`: it learned a Slack user."""
        self._payload = pickle.dumps(options)  # fails here, not in the child, if it cannot
        self._count = options.config.settings.web_processes - 1
        self.wake = wake
        self.learned = learned
        self.stopping = threading.Event()
        self._slots: list[_WebChild] = []
        self._folder: str | None = None

    @property
    def pids(self) -> list[int]:
        return [pid for slot in self._slots if (pid := slot.pid) is not None]

    def wait_serving(self, timeout: float) -> bool:
        """Whether every web process is serving within `timeout` seconds (benchmarks measure
        from then: a process starting costs CPU)."""
        return all(slot.serving.wait(timeout) for slot in self._slots)

    def start(self, listener: socket.socket, *, log_level: str) -> socket.socket:
        """Start the processes on `listener`. Returns the Unix socket this process must serve
        too: there they ask it for /metrics."""
        self._folder = tempfile.mkdtemp(prefix="baton-web-")  # mode 0700: this user's only
        path = os.path.join(self._folder, "main.sock")
        main = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        main.bind(path)
        for _ in range(self._count):
            slot = _WebChild(self, self._payload, listener, [path, log_level])
            self._slots.append(slot)
            slot.start()
        return main

    def broadcast(self, user: dict[str, Any]) -> None:
        """Pass a Slack user the main process learned to every web process."""
        line = _line({"learn": user})
        if line is not None:
            for slot in self._slots:
                slot.send(line)

    def terminate(self) -> None:
        """Ask every web process to stop (each finishes the requests under way)."""
        self.stopping.set()
        for slot in self._slots:
            slot.terminate()

    def stop(self) -> None:
        """Stop them all and wait until they have."""
        self.terminate()
        for slot in self._slots:
            slot.join()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


class _WebChild(SupervisedChild):
    """One web process and those that replace it."""

    what = "web"

    def __init__(
        self,
        children: WebChildren,
        payload: bytes,
        listener: socket.socket,
        arguments: list[str],
    ) -> None:
        super().__init__(children.stopping)
        self._children = children
        self._payload = payload
        self._listener = listener
        self._arguments = arguments
        self._control: int | None = None  # the write end of the pipe to the process
        self.serving = threading.Event()  # the current process is serving

    def send(self, line: bytes) -> None:
        """Never blocks: a process 64 KiB behind misses a user, refreshed within minutes."""
        with self._lock:
            if self._control is None:
                return
            try:
                os.write(self._control, line)
            except BlockingIOError:
                log.warning("web process %s is not reading; a learned user was dropped", self.pid)
            except OSError:
                pass  # exiting: its replacement reads the profiles from Slack

    def terminate(self) -> None:
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()

    def join(self) -> None:
        with self._lock:
            process = self._process
            if process is not None:
                wait_stopped("web", process)
            self._close_control()
        self._join_watcher()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._close_control()
            control_read, control_write = os.pipe()
            channel_read, channel_write = os.pipe()
            os.set_blocking(control_write, False)
            listener = self._listener.fileno()
            try:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        CHILD_ENTRY,
                        str(control_read),
                        str(channel_write),
                        str(listener),
                        *self._arguments,
                    ],
                    stdin=subprocess.PIPE,
                    pass_fds=(control_read, channel_write, listener),
                )
            finally:
                os.close(control_read)
                os.close(channel_write)
            assert process.stdin is not None
            with process.stdin:
                process.stdin.write(self._payload)
            self._process, self._control = process, control_write
            self.serving.clear()
        threading.Thread(
            target=self._listen, args=(channel_read,), name="web-channel", daemon=True
        ).start()
        log.info("web process %s started", process.pid)

    def _close_control(self) -> None:
        if self._control is not None:
            os.close(self._control)
            self._control = None

    def _listen(self, channel: int) -> None:
        """Act on what the process sends until it exits: wake the deliveries once for all
        the commits read at once, learn users, count its counts."""
        counted: dict[str, float] = {}
        pending = b""
        with open(channel, "rb", buffering=0, closefd=True) as lines:
            while chunk := lines.read(65536):
                *complete, pending = (pending + chunk).split(b"\n")
                woken = False
                for line in complete:
                    if not line:
                        woken = True
                        continue
                    message = json.loads(line)
                    if "learn" in message:
                        self._children.learned(message["learn"])
                    elif "serving" in message:
                        self.serving.set()
                    else:
                        metrics.add_child_totals(counted, message["counts"])
                        counted = message["counts"]
                if woken:
                    self._children.wake()


def _line(message: dict[str, Any]) -> bytes | None:
    """`message` as one line short enough to arrive whole (PIPE_BUF) beside other writers'."""
    line = json.dumps(message).encode() + b"\n"
    if len(line) > select.PIPE_BUF:
        log.warning("a message between web processes was too long to pass; dropped")
        return None
    return line


class _Channel:
    """A web process's side of its channel to the main process."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)  # a wake-up never makes a request wait
        self._fd = fd

    def wake(self) -> None:
        """A commit: a full pipe already holds a wake-up; a closed one, a main process gone."""
        with suppress(OSError):
            os.write(self._fd, WAKE)

    def learned(self, user: dict[str, Any]) -> None:
        self._send({"learn": user})

    def serving(self) -> None:
        self._send({"serving": True})

    def counts(self, totals: dict[str, float]) -> None:
        self._send({"counts": totals})

    def _send(self, message: dict[str, Any]) -> None:
        """Write the whole line, waiting while the pipe is full."""
        line = _line(message)
        while line is not None:
            select.select([], [self._fd], [], 1.0)
            try:
                os.write(self._fd, line)  # at most PIPE_BUF: all of it or nothing
                return
            except BlockingIOError:
                continue
            except OSError:
                return  # the main process is gone; the control pipe ends this process


def _report_counts(channel: _Channel, stop: threading.Event) -> None:
    reported: dict[str, float] = {}
    while True:
        stopping = stop.wait(COUNTS_REPORT_SECONDS)
        totals = metrics.child_totals()
        if totals != reported:
            channel.counts(totals)
            reported = totals
        if stopping:
            return


def _follow_main(control: int, directory: SharedDirectory) -> None:
    """Learn the users the main process passes on; leave when it is gone."""
    with open(control, "rb", closefd=True) as lines:
        for line in lines:
            directory.take(json.loads(line)["learn"])
    log.warning("baton serve is gone; its web process %s leaves too", os.getpid())
    os._exit(1)


class _Stop:
    """SIGTERM in a web process. Until it serves, nothing is under way: it leaves at once and
    quietly. While it serves, uvicorn takes SIGTERM itself, finishes the requests under way and
    raises it again as it returns: then the cleanup after it is already next, so nothing is
    raised here (a SystemExit raised from a signal lands wherever the thread is, and once landed
    in a pooled connection's close, which logged it as an error)."""

    serving = False

    def __call__(self, signum: int, frame: object) -> None:
        if not self.serving:
            os._exit(0)


def child_main() -> None:
    """A web process: leave Ctrl-C to the main process (which stops it with SIGTERM), answer
    on the shared socket until SIGTERM, finishing the requests under way."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    control, channel_fd, listener_fd = (int(arg) for arg in sys.argv[1:4])
    metrics_path, log_level = sys.argv[4:6]
    options: WebOptions = pickle.loads(sys.stdin.buffer.read())
    logging.basicConfig(
        level=options.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    channel = _Channel(channel_fd)
    scheduler = BackgroundScheduler(timezone=ZoneInfo(options.config.rules.hours.timezone))
    web = build_web(
        options.config,
        db=Database.from_url(options.config.settings.database_url),
        scheduler=scheduler,
        clock=options.clock,
        answer_within=options.answer_within,
        refresh_groups_every=options.refresh_groups_every,
        refresh_profiles_every=options.refresh_profiles_every,
        metrics_from=metrics_path,
    )
    web.services.wake_delivery = channel.wake
    web.directory.relay = channel.learned
    threading.Thread(
        target=_follow_main, args=(control, web.directory), name="web-control", daemon=True
    ).start()
    refresh_facts(web)
    scheduler.start()
    web.clicks.start()
    heap.settle()  # as the main process does before it takes work
    reporting = threading.Event()
    reporter = threading.Thread(target=_report_counts, args=(channel, reporting), daemon=True)
    reporter.start()
    server = uvicorn_server(web.app, log_level=log_level, headers=[process_header()])
    channel.serving()  # the socket listens already: connections wait for the loop
    try:
        stop.serving = True
        server.run(sockets=[socket.socket(fileno=listener_fd)])
    finally:
        web.clicks.stop()
        scheduler.shutdown(wait=True)
        if web.services.answers is not None:
            web.services.answers.close()
        web.services.db.dispose()
        reporting.set()  # the last counts
        reporter.join()
