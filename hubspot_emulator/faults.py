"""Scripted failures for HubSpot requests, on the Slack emulator's fault machinery.

A fault matches `"METHOD /path"` globs such as `"PATCH /crm/v3/objects/contacts/*"` (`*`
for all). `status` 429 answers HubSpot's rate-limit body with `Retry-After`; any other
non-200 status answers an error body. `delay` holds the answer back after the request took
effect, so a client with a shorter timeout gives up on a change HubSpot made; `apply` lets a
failing request take effect first (HubSpot did the work, the gateway answered 502).
"""

from slack_emulator.clock import Clock
from slack_emulator.faults import Fault, Faults


class HubSpotFaults:
    def __init__(self, clock: Clock) -> None:
        self._faults = Faults(clock)

    def add(
        self,
        route: str = "*",
        *,
        status: int = 200,
        retry_after: int = 1,
        delay: float = 0.0,
        times: int | None = 1,
        apply: bool = False,
        seconds: float | None = None,
    ) -> Fault:
        """Fail (or delay) the next `times` matching requests (None: until removed or
        `seconds` pass on the emulator's clock); the Fault counts its `hits`."""
        return self._faults.add(
            route,
            status=status,
            retry_after=retry_after,
            delay=delay,
            times=times,
            apply=apply,
            seconds=seconds,
        )

    def outage(self, *, status: int = 503, seconds: float | None = None) -> Fault:
        """HubSpot is down: every request fails until the fault is removed or `seconds` pass."""
        return self._faults.outage(status=status, seconds=seconds)

    def remove(self, fault: Fault) -> None:
        self._faults.remove(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, route: str) -> Fault | None:
        return self._faults.take(route)
