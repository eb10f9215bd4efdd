"""Injectable clocks, so tests control trigger expiry and timestamps without sleeping."""

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told to, for tests of expiry windows."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
