"""Slack's rate limits, opt-in: posts paced per channel, each other method per workspace by tier.

Slack answers a call over its limit with HTTP 429, `{"ok": false, "error": "ratelimited"}` and
`Retry-After` in whole seconds, and the call has no effect. A limit reached on one channel or
method says nothing about another. Each limit here is a token bucket: `burst` calls at once, then
`per_minute` on average; a refused call does not count.
"""

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from slack_emulator.clock import Clock

POST_METHOD = "chat.postMessage"

# Slack's tier of each method the emulator answers (api.slack.com/methods, "Rate limits");
# methods left out (auth.test, chat.postMessage's own pace) have no tier limit here.
METHOD_TIERS: Mapping[str, int] = {
    "users.list": 2,
    "usergroups.users.list": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "users.lookupByEmail": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "users.info": 4,
    "files.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}


@dataclass(frozen=True)
class Rate:
    """`per_minute` calls on average after a burst of `burst` at once."""

    per_minute: float
    burst: int = 1


def _slack_tiers() -> dict[int, Rate]:
    return {2: Rate(20, burst=5), 3: Rate(50, burst=10), 4: Rate(100, burst=20)}


@dataclass(frozen=True)
class RateLimits:
    """What the emulator enforces; the defaults are Slack's published rates (the bursts are the
    emulator's guess: Slack says only that short bursts are allowed).

    `post` paces chat.postMessage per channel (DMs included); `tiers` limit each method of
    `methods` per workspace; a tier left out of `tiers` is not limited.
    """

    post: Rate = Rate(60, burst=3)
    tiers: Mapping[int, Rate] = field(default_factory=_slack_tiers)
    methods: Mapping[str, int] = field(default_factory=lambda: dict(METHOD_TIERS))


class RateLimiter:
    """Counts calls against `limits` on the emulator's clock."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, method: str, channel: str | None) -> int | None:
        """Take one call of `method` (posting into `channel`); None when it may go, else the
        whole seconds until it may, for `Retry-After`."""
        rate, key = self._rate(method, channel)
        if rate is None:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(rate, float(rate.burst), self._clock())
            wait = bucket.take(self._clock())
        return None if wait is None else max(1, math.ceil(wait))

    def _rate(self, method: str, channel: str | None) -> tuple[Rate | None, tuple[str, str]]:
        if method == POST_METHOD:
            return self._limits.post, (method, channel or "")
        tier = self._limits.methods.get(method)
        rate = None if tier is None else self._limits.tiers.get(tier)
        return rate, (method, "")


@dataclass
class _Bucket:
    rate: Rate
    tokens: float
    updated: float

    def take(self, now: float) -> float | None:
        """Spend a token if there is one; otherwise the seconds until there will be."""
        per_second = self.rate.per_minute / 60
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.rate.burst), self.tokens + elapsed * per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / per_second
