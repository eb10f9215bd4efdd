"""A lock that lets its waiters in first come, first served."""

from __future__ import annotations

import threading
from collections import deque


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
