"""Injectable clocks, so tests control trigger expiry and timestamps without sleeping."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class FastClock:
    """Epoch seconds running `speed` times faster than the wall clock from `start` (now by
    default), for a demo where a 15-minute window passes in 15 s at 60. Read off the wall
    clock, so every copy of it (another thread or process) tells the same time."""

    speed: float = 1.0
    start: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.start + (time.time() - self.start) * self.speed
