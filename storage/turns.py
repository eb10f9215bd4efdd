"""Locks that let writers in one at a time: first come first served within a process
(TurnLock), and across the processes that share a SQLite file (FileTurn)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from collections.abc import Callable


class TurnLock:
    """A mutex whose waiters are let in in the order they came.

    `threading.Lock` makes no promise of order: a thread that releases and at once acquires
    again (a busy worker) can pass threads that have waited long, which gives a long tail to
    whoever waits. Here release hands the lock straight to the oldest waiter.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many threads wait for their turn."""
        with self._guard:
            return len(self._queue)

    def acquire(self, timeout: float) -> bool:
        """Wait for this thread's turn, up to `timeout` seconds; False if it did not come."""
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._queue.append(turn)
        if turn.acquire(timeout=timeout):
            return True
        with self._guard:
            if turn in self._queue:
                self._queue.remove(turn)
                return False
        return True  # handed over just as the wait ran out: the turn is ours

    def release(self) -> None:
        """Hand the lock to the oldest waiter, or free it when nobody waits."""
        with self._guard:
            if self._queue:
                self._queue.popleft().release()  # still held: now by the next in line
            else:
                self._held = False


class FileTurn:
    """An exclusive lock on a file, which the writers of every process share.

    A process that waits here blocks in the kernel, which wakes it the moment the holder lets
    go (SQLite's busy handler instead sleeps in growing steps and retries), and a process that
    dies holding it loses it with its file descriptors. The wait is bounded: the kernel's is
    not, so it runs in a thread of its own, which the next writer of this process adopts when
    one wait runs out, and which lets go at once if nobody wants the lock any longer.
    One thread of a process asks at a time (callers take a TurnLock first).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._guard = threading.Lock()
        self._held: int | None = None  # the descriptor whose lock this process holds
        self._waiting: _KernelWait | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds; False if another process kept it."""
        with self._guard:
            wait = self._waiting
            if wait is None:
                try:
                    descriptor = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                except OSError:  # a folder Baton may not write: SQLite says so when it opens
                    return True  # the database, and its busy handler guards the write lock
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    wait = self._waiting = _KernelWait(descriptor, self._locked)
                else:
                    self._held = descriptor
                    return True
            wait.wanted = True
        if wait.locked.wait(timeout):
            return True
        with self._guard:
            wait.wanted = wait.locked.is_set()  # it may have come just as the wait ran out
            return wait.wanted

    def release(self) -> None:
        """Let the next process (or this one) in: closing the descriptor unlocks it."""
        with self._guard:
            held, self._held = self._held, None
        if held is not None:
            os.close(held)

    def _locked(self, wait: _KernelWait, locked: bool) -> None:
        """The kernel gave the lock to `wait`: pass it on, or give it back if nobody waits."""
        with self._guard:
            self._waiting = None
            if locked and wait.wanted:
                self._held = wait.descriptor
                wait.locked.set()
                return
        os.close(wait.descriptor)


class _KernelWait:
    """One blocking flock, in a daemon thread (an exit never waits for another process)."""

    def __init__(self, descriptor: int, on_locked: Callable[[_KernelWait, bool], None]) -> None:
        self.descriptor = descriptor
        self.wanted = False
        self.locked = threading.Event()
        self._on_locked = on_locked
        threading.Thread(target=self._wait, name="baton-write-turn", daemon=True).start()

    def _wait(self) -> None:
        locked = False
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX)
            locked = True
        finally:  # should the kernel fail it, the next writer starts a wait of its own
            self._on_locked(self, locked)
