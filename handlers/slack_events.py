"""Slack events: App Home opened. Events are acknowledged at once and deduplicated by event_id."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.home import home_opened
from handlers.roles import RoleResolver
from handlers.services import Services


def register(app: App, services: Services, roles: RoleResolver) -> None:
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
