"""What Slack says about reps, kept in memory for routing (bot.rep_directory): each pool rep's
time zone and status, read by users.info in the background and from `user_change` events, and
the Slack user of a CRM owner's email, looked up once (users.lookupByEmail) and remembered.

Routing reads only memory, except for an email never seen before: that one look-up happens
while a lead is received (never while a click waits for its acknowledgement), through a client
that gives up quickly, and its answer, found or not, is remembered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.rep_directory import SlackProfile
from bot.rules import Rules
from handlers import jobs

log = logging.getLogger(__name__)

PROFILE_REFRESH_SECONDS = 300.0
PROFILE_REFRESH_JOB_ID = "rep-profiles-refresh"
EMAIL_CACHE_SECONDS = 3600.0
UNKNOWN_EMAIL_CACHE_SECONDS = 600.0  # a new hire's account may appear soon
EMAIL_CACHE_SIZE = 10_000
QUIET_AFTER_FAILURE_SECONDS = 30.0


def profile_of(user: Mapping[str, Any]) -> SlackProfile:
    """A Slack user object's time zone and status (`status_expiration` 0: none)."""
    profile = user.get("profile") or {}
    expires = profile.get("status_expiration") or 0
    return SlackProfile(
        timezone=user.get("tz") or None,
        status_text=str(profile.get("status_text") or ""),
        status_emoji=str(profile.get("status_emoji") or ""),
        status_expires=datetime.fromtimestamp(int(expires), UTC) if expires else None,
    )


class SlackDirectory:
    """Slack's profiles of the reps routing looks at, and users found by email (see the module
    docstring). Profiles are replaced whole, so readers need no lock."""

    def __init__(
        self,
        rules: Rules,
        *,
        background: WebClient,
        quick: WebClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules
        self.background = background
        self.quick = quick
        self.clock = clock
        self._profiles: dict[str, SlackProfile] = {}
        self._lock = threading.Lock()
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._quiet_until = 0.0  # after a failed look-up, Slack is left alone until then

    @property
    def watched(self) -> set[str]:
        """The reps whose profiles are kept: every pool's, and every owner found by email."""
        reps = {rep for route in self.rules.routes for rep in route.pool}
        with self._lock:
            owners = {user for _, user in self._emails.values() if user is not None}
        return reps | owners

    def profile(self, user_id: str) -> SlackProfile | None:
        return self._profiles.get(user_id)

    def user_by_email(self, email: str) -> str | None:
        key = email.strip().casefold()
        now = self.clock()
        with self._lock:
            cached = self._emails.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if now < self._quiet_until:
            return None
        try:
            user = self.quick.users_lookupByEmail(email=email)["user"]
        except SlackApiError as error:
            if error.response.get("error") != "users_not_found":
                self._failed(str(error.response.get("error")), now)
                return None
            user = None
        except (SlackClientError, OSError) as error:
            self._failed(type(error).__name__, now)
            return None
        found = None if user is None or user.get("deleted") else str(user["id"])
        keep = EMAIL_CACHE_SECONDS if found else UNKNOWN_EMAIL_CACHE_SECONDS
        with self._lock:
            if len(self._emails) >= EMAIL_CACHE_SIZE:
                self._emails = {k: v for k, v in self._emails.items() if v[0] > now}
            if len(self._emails) >= EMAIL_CACHE_SIZE:
                self._emails.pop(next(iter(self._emails)))
            self._emails[key] = (now + keep, found)
        if user is not None and found is not None:
            self.learn(user)
        return found

    def _failed(self, why: str, now: float) -> None:
        """Not remembered: a later lead asks again, once a moment has passed, so a batch of
        leads meeting a slow or rate-limited Slack falls back at once instead of waiting on
        each look-up."""
        log.warning("cannot look up a CRM owner in Slack: %s", why)
        self._quiet_until = now + QUIET_AFTER_FAILURE_SECONDS

    def learn(self, user: Mapping[str, Any]) -> None:
        """Take a user object Slack sent (a `user_change` event, a look-up) as their profile."""
        if user.get("id"):
            self._profiles = {**self._profiles, str(user["id"]): profile_of(user)}

    def refresh(self) -> None:
        """Read every watched rep's profile from Slack, keeping the last known one of a rep
        Slack does not answer for."""
        known = dict(self._profiles)
        for rep in sorted(self.watched):
            try:
                known[rep] = profile_of(self.background.users_info(user=rep)["user"])
            except (SlackClientError, OSError) as error:
                log.warning(
                    "cannot read Slack profile of %s; its last known one stays: %s", rep, error
                )
        self._profiles = known


def schedule_profile_refresh(
    scheduler: BaseScheduler, directory: SlackDirectory, *, every: float
) -> None:
    """Refresh the reps' profiles in the background (nothing to do without routes to reps)."""
    if any(route.assigns for route in directory.rules.routes):
        jobs.every(
            scheduler, directory.refresh, seconds=every, job_id=PROFILE_REFRESH_JOB_ID, args=[]
        )
