"""Slack events: App Home opened, and a user's profile changed (their time zone or status, for
routing). Events are acknowledged at once; App Home ones are deduplicated by event_id."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.home import home_opened
from handlers.roles import RoleResolver
from handlers.services import Services
from handlers.slack_directory import SlackDirectory


def register(app: App, services: Services, roles: RoleResolver, directory: SlackDirectory) -> None:
    @app.event("app_home_opened")
    def on_app_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        with services.unit_of_work() as session:
            home_opened(
                session,
                event_id=body["event_id"],
                actor=roles.actor(event["user"]),
                now=services.clock(),
            )

    @app.event("user_change")
    def on_user_change(event: dict[str, Any]) -> None:
        """A watched rep's new status or time zone counts from the next lead on (a repeat of the
        event sets the same again)."""
        user = event.get("user")
        if isinstance(user, dict) and user.get("id") in directory.watched:
            directory.learn(user)
