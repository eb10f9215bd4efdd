"""HubSpot's limits for a private app: a rolling ten-second window, a daily count, and the
search endpoints' own per-second limit, with the headers and 429 bodies HubSpot sends."""

import math
from collections import deque
from dataclasses import dataclass, field

from hubspot_emulator.errors import HubSpotError
from slack_emulator.clock import Clock

TEN_SECONDS = 10.0
DAY = 86_400.0


@dataclass
class _Window:
    """Requests counted over the last `seconds` (rolling)."""

    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)

    def remaining(self, now: float) -> int:
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        return max(self.limit - len(self.stamps), 0)

    def retry_after(self, now: float) -> int:
        """Whole seconds until the oldest counted request leaves the window."""
        if not self.stamps:
            return 1
        return max(math.ceil(self.stamps[0] + self.seconds - now), 1)


@dataclass
class _Daily:
    """Requests counted since midnight (UTC; HubSpot uses the account's time zone)."""

    limit: int
    day: int = 0
    used: int = 0

    def remaining(self, now: float) -> int:
        today = int(now // DAY)
        if today != self.day:
            self.day, self.used = today, 0
        return max(self.limit - self.used, 0)


class RateLimits:
    def __init__(
        self, clock: Clock, per_ten_seconds: int, per_day: int, search_per_second: int
    ) -> None:
        self._clock = clock
        self._ten_seconds = _Window(per_ten_seconds, TEN_SECONDS)
        self._daily = _Daily(per_day)
        self._search = _Window(search_per_second, 1.0)

    def admit(self, *, search: bool) -> dict[str, str]:
        """Count a request, and return the headers its answer carries (none for search,
        like HubSpot); HubSpotError(429) when a limit is reached, the request uncounted."""
        now = self._clock()
        if self._daily.remaining(now) == 0:
            raise _limited("daily", "DAILY", math.ceil(DAY - now % DAY), self.headers(now))
        if self._ten_seconds.remaining(now) == 0:
            raise rate_limited(self._ten_seconds.retry_after(now), self.headers(now))
        if search and self._search.remaining(now) == 0:
            raise _limited("secondly", "SECONDLY", self._search.retry_after(now), {})
        self._ten_seconds.stamps.append(now)
        self._daily.used += 1
        if search:
            self._search.stamps.append(now)
            return {}
        return self.headers(now)

    def headers(self, now: float | None = None) -> dict[str, str]:
        now = self._clock() if now is None else now
        return {
            "X-HubSpot-RateLimit-Daily": str(self._daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self._daily.remaining(now)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(TEN_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Max": str(self._ten_seconds.limit),
            "X-HubSpot-RateLimit-Remaining": str(self._ten_seconds.remaining(now)),
        }


def rate_limited(retry_after: int, headers: dict[str, str]) -> HubSpotError:
    """The 429 HubSpot sends when the ten-second window is full."""
    return _limited("ten_secondly_rolling", "TEN_SECONDLY_ROLLING", retry_after, headers)


def _limited(limit: str, policy: str, retry_after: int, headers: dict[str, str]) -> HubSpotError:
    return HubSpotError(
        429,
        f"You have reached your {limit} limit.",
        fields={"errorType": "RATE_LIMIT", "policyName": policy},
        headers={**headers, "Retry-After": str(retry_after)},
    )
