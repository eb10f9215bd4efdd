"""What `baton serve` does alike for each child process it supervises (delivery, web):
restart one that dies, and stop one without waiting forever."""

from __future__ import annotations

import logging
import subprocess
import threading

log = logging.getLogger(__name__)

# A child that keeps dying is restarted no faster than this, so a broken set-up does not spin.
RESTART_PAUSE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 20.0


class SupervisedChild:
    """A child process, and those that replace it when it dies (logged) until `stopping` is
    set. Subclasses start each one in `_spawn`, setting `_process` under `_lock`."""

    what = "child"  # names it in log lines

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
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


def wait_stopped(what: str, process: subprocess.Popen[bytes]) -> None:
    """Wait for a process asked to stop; kill it if it has not within STOP_TIMEOUT_SECONDS."""
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("%s process %s did not stop; killed", what, process.pid)
        process.kill()
        process.wait()
