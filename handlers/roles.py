"""Who someone is in Baton's eyes: manager, marketer or rep, from the rules and Slack groups;
and whether someone may be handed a lead."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.lifecycle import Actor
from bot.rules import Rules
from bot.slack_text import mention
from handlers import jobs

log = logging.getLogger(__name__)

# How often the members of the manager user groups are read again from Slack, in the background.
GROUP_REFRESH_SECONDS = 60.0
GROUP_REFRESH_JOB_ID = "manager-groups-refresh"
USER_CACHE_SECONDS = 300
USER_CACHE_SIZE = 1000
SLACKBOT = "USLACKBOT"


class RoleResolver:
    """Builds the Actor for a Slack user from the rules and the manager user groups' members.

    A click must never wait for Slack, so the members are only read from memory here: `refresh`
    reads them from Slack once at start-up and then from a background job. A group Slack does not
    answer for keeps its last known members; one never read yet (Slack down since start-up)
    makes no one a manager, while the managers the rules name always are.
    """

    def __init__(self, rules: Rules, client: WebClient) -> None:
        self.rules = rules
        self.client = client
        self._members: dict[str, frozenset[str]] = {}  # replaced whole, so readers need no lock

    def actor(self, user_id: str) -> Actor:
        roles = self.rules.roles
        members = self._members
        is_manager = user_id in roles.managers or any(
            user_id in members.get(group, ()) for group in roles.manager_groups
        )
        return Actor(user_id, is_manager=is_manager, is_marketer=user_id in roles.marketers)

    def refresh(self) -> None:
        """Read every manager group's members from Slack, keeping the last known members of
        a group Slack does not answer for."""
        known = dict(self._members)
        for group in self.rules.roles.manager_groups:
            try:
                known[group] = frozenset(
                    self.client.usergroups_users_list(usergroup=group)["users"]
                )
            except (SlackClientError, OSError) as error:
                log.warning(
                    "cannot read Slack user group %s; its last known members stay managers: %s",
                    group,
                    error,
                )
        self._members = known


def schedule_group_refresh(scheduler: BaseScheduler, roles: RoleResolver, *, every: float) -> None:
    """Refresh the manager groups in the background (nothing to do when the rules name none)."""
    if roles.rules.roles.manager_groups:
        jobs.every(scheduler, roles.refresh, seconds=every, job_id=GROUP_REFRESH_JOB_ID, args=[])


class AssigneeCheck:
    """Says why a user cannot be handed a lead: unknown to the workspace, deactivated, a bot,
    or a marketer. Asked while the manager waits for /leads to answer, so it uses a client
    that gives up within Slack's deadline and remembers Slack's answers a while."""

    def __init__(
        self,
        roles: RoleResolver,
        client: WebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.roles = roles
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    def refusal(self, user_id: str, *, asked_by: str) -> str | None:
        """Why `user_id` may not be assigned a lead, in a line for the manager; None if they may.

        Only a manager's request is checked: anyone else is refused by the domain anyway, and
        costs no look-up.
        """
        if not self.roles.actor(asked_by).is_manager:
            return None
        who = mention(user_id)
        actor = self.roles.actor(user_id)
        if actor.is_marketer and not actor.is_manager:
            return f"{who} is a marketer; leads go to reps. Nothing was assigned."
        try:
            user = self._user(user_id)
        except SlackApiError as error:
            if error.response.get("error") == "user_not_found":
                return f"`{user_id}` is not a member of this workspace. Nothing was assigned."
            return self._unconfirmed(user_id, error.response.get("error"))
        except OSError as error:  # Slack did not answer within the client's timeout
            return self._unconfirmed(user_id, type(error).__name__)
        if user.get("deleted"):
            return f"{who} is deactivated in Slack. Nothing was assigned."
        if user.get("is_bot") or user.get("is_app_user") or user_id == SLACKBOT:
            return f"{who} is a bot; leads go to reps. Nothing was assigned."
        return None

    def _unconfirmed(self, user_id: str, reason: object) -> str:
        log.warning("cannot look up Slack user %s for an assignment: %s", user_id, reason)
        return f"Slack did not confirm {mention(user_id)} in time. Nothing was assigned; try again."

    def _user(self, user_id: str) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            cached = self._users.get(user_id)
            if cached is not None and cached[0] > now:
                return cached[1]
        user = dict(self.client.users_info(user=user_id)["user"])
        with self._lock:
            if len(self._users) >= USER_CACHE_SIZE:
                self._users = {k: v for k, v in self._users.items() if v[0] > now}
            if len(self._users) >= USER_CACHE_SIZE:
                self._users.pop(next(iter(self._users)))
            self._users[user_id] = (now + USER_CACHE_SECONDS, user)
        return user
