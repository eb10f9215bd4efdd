"""The Slack app: Bolt configured for fast, inline acknowledgement, and its one error handler.

Bolt runs with process_before_response=True: a listener acks, runs one short transaction and
returns, and Bolt answers Slack with that ack; nothing waits on Bolt's ack-polling thread pool.
Everything slow (posting, updating, DMs) goes through the outbox and the delivery worker.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse

from bot import notices, outbox
from bot.errors import BatonError
from handlers import slack_actions, slack_commands, slack_events
from handlers.roles import RoleResolver
from handlers.services import Services
from handlers.slack_delivery import SlackClients

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Sorry, something went wrong on Baton's side; nothing was changed. Try again?"


def create_bolt_app(services: Services, clients: SlackClients) -> App:
    """Listeners get the fast-failing interactive client; role look-ups the retrying one."""
    settings = services.config.settings
    app = App(
        client=clients.interactive,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    roles = RoleResolver(services.config.rules, clients.api)
    slack_actions.register(app, services, roles)
    slack_commands.register(app, services, roles)
    slack_events.register(app, services, roles)

    @app.error
    def on_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Domain errors become a clear message to the user; anything else is logged, and the
        user hears only that nothing changed. Either way Slack gets a normal acknowledgement."""
        if isinstance(error, BatonError):
            text = notices.refusal(error, viewer=_user_of(body))
        else:
            log.error("unexpected error handling a Slack request", exc_info=error)
            text = GENERIC_FAILURE
        _tell(services, body, text)
        return BoltResponse(status=200, body="")

    return app


def _user_of(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id") or body.get("user_id")


def _tell(services: Services, body: dict[str, Any], text: str) -> None:
    user = _user_of(body)
    channel = (
        (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or body.get("channel_id")
    )
    if not user or not channel:
        return  # nowhere to say it (e.g. a modal): the listener answered in the modal itself
    with services.unit_of_work() as session:
        outbox.tell_user(session, user_id=user, channel=channel, text=text, now=services.clock())
