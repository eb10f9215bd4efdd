"""Who someone is in Baton's eyes: manager, marketer or rep, from the rules and Slack groups."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Rules
from bot.lifecycle import Actor

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300


class RoleResolver:
    """Builds the Actor for a Slack user; manager user groups are asked of Slack, cached a while
    so a burst of clicks costs no extra API calls."""

    def __init__(self, rules: Rules, client: WebClient) -> None:
        self.rules = rules
        self.client = client
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def actor(self, user_id: str) -> Actor:
        roles = self.rules.roles
        is_manager = user_id in roles.managers or any(
            user_id in self._members(group) for group in roles.manager_groups
        )
        return Actor(user_id, is_manager=is_manager, is_marketer=user_id in roles.marketers)

    def _members(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._groups.get(group)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        try:
            members = frozenset(self.client.usergroups_users_list(usergroup=group)["users"])
        except (SlackApiError, OSError) as error:
            log.warning("cannot read Slack user group %s: %s", group, error)
            return cached[1] if cached is not None else frozenset()
        with self._lock:
            self._groups[group] = (time.monotonic() + GROUP_CACHE_SECONDS, members)
        return members
