"""Scripted failures: rate limits, server errors, latency, outages and dropped connections."""

import fnmatch
import threading
from dataclasses import dataclass
from typing import Any

from slack_emulator.clock import Clock

_ERRORS = {429: "ratelimited", 503: "service_unavailable"}


@dataclass(eq=False)
class Fault:
    """One scripted failure for calls whose method matches `method` (a glob, `*` for all) and
    whose `channel` argument matches `channel` (a glob; `*` also matches calls without one).

    `status` other than 200 (or an `error`) makes the call fail; 429 carries `Retry-After`.
    `delay` answers late. `apply` lets the call take effect before failing, and `drop` closes
    the connection without any answer: with both, Slack "accepted the post, then the
    connection dropped". `times` is how many calls it hits (None: until removed or
    `until`, a moment on the emulator's clock). `hits` counts the calls it hit.
    """

    method: str = "*"
    status: int = 200
    error: str | None = None
    retry_after: int = 1
    delay: float = 0.0
    times: int | None = 1
    apply: bool = False
    drop: bool = False
    until: float | None = None
    channel: str = "*"
    hits: int = 0

    def matches(self, method: str, channel: str | None) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and (
            self.channel == "*" or fnmatch.fnmatchcase(channel or "", self.channel)
        )

    @property
    def fails(self) -> bool:
        return self.status != 200 or self.error is not None

    @property
    def blocks_effect(self) -> bool:
        return (self.fails or self.drop) and not self.apply

    def answer(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, body and headers of the failure."""
        error = self.error or _ERRORS.get(self.status, "internal_error")
        headers = {"Retry-After": str(self.retry_after)} if self.status == 429 else {}
        return self.status, {"ok": False, "error": error}, headers


class Faults:
    """The active faults; the first one matching a call is used (and counted) for it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str = "*",
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int = 1,
        delay: float = 0.0,
        times: int | None = 1,
        apply: bool = False,
        drop: bool = False,
        seconds: float | None = None,
        channel: str = "*",
    ) -> Fault:
        until = None if seconds is None else self._clock() + seconds
        fault = Fault(method, status, error, retry_after, delay, times, apply, drop, until, channel)
        with self._lock:
            self._faults.append(fault)
        return fault

    def outage(self, *, status: int = 503, seconds: float | None = None) -> Fault:
        """Slack is down: every call fails until the fault is removed or `seconds` pass."""
        return self.add("*", status=status, times=None, seconds=seconds)

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, channel: str | None = None) -> Fault | None:
        now = self._clock()
        with self._lock:
            self._faults = [f for f in self._faults if f.until is None or now < f.until]
            for fault in self._faults:
                if fault.matches(method, channel):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None
