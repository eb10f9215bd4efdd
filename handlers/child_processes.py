"""What `baton serve` does alike for each child process it supervises (delivery, web):
restart one that dies, and stop one without waiting forever."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from typing import IO, Protocol

log = logging.getLogger(__name__)

# A child that keeps dying is restarted no faster than this, so a broken set-up does not spin.
RESTART_PAUSE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 20.0
FORKED_POLL_SECONDS = 0.1  # how often a wait for a forked child looks whether it has ended


class ChildProcess(Protocol):
    """What a supervisor uses of a child: subprocess.Popen's, or a ForkedProcess's."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class ForkedProcess:
    """A child this process forked (os.fork), waited for as subprocess.Popen waits for the
    processes it starts: `returncode` is the exit status, or minus the signal that ended it.
    Waits look every FORKED_POLL_SECONDS, so that two threads waiting at once never race to
    reap it (the one that did not would find no child)."""

    def __init__(self, pid: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._reaping = threading.Lock()

    def poll(self) -> int | None:
        with self._reaping:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: gone, its status unknown (as Popen)
                    pid, status = self.pid, 0
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"forked process {self.pid}", timeout or 0.0)
            time.sleep(FORKED_POLL_SECONDS)
        return code

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        with self._reaping:
            if self.returncode is None:  # not reaped: the pid is still this child's
                os.kill(self.pid, signum)


class SupervisedChild:
    """A child process, and those that replace it when it dies (logged) until `stopping` is
    set. Subclasses start each one in `_spawn`, setting `_process` under `_lock`."""

    what = "child"  # names it in log lines

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._lock = threading.Lock()
        self._process: ChildProcess | None = None
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None else process.pid

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name=f"{self.what}-child", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        raise NotImplementedError

    def _join_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.join(timeout=STOP_TIMEOUT_SECONDS)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            log.warning(
                "%s process %s exited (status %s); restarting", self.what, process.pid, code
            )
            self._stopping.wait(RESTART_PAUSE_SECONDS)
            self._spawn()


def wait_stopped(what: str, process: ChildProcess) -> None:
    """Wait for a process asked to stop; kill it if it has not within STOP_TIMEOUT_SECONDS."""
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("%s process %s did not stop; killed", what, process.pid)
        process.kill()
        process.wait()
