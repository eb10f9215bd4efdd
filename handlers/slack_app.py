"""The Slack app: Bolt configured for fast, inline acknowledgement, the gate every request passes
before Bolt reads it, and the one error handler.

Bolt runs with process_before_response=True: a listener acks, runs one short transaction and
returns, and Bolt answers Slack with that ack; nothing waits on Bolt's ack-polling thread pool.
A card button's click is only recorded before the ack, and applied after it (handlers.click_inbox).
Everything slow (posting, updating, DMs) goes through the outbox and the delivery worker.

Requests reach Bolt already verified: over HTTP, `slack_http` checks the signature on the raw
bytes (Bolt's own check is off: it logs the bodies it refuses); Socket Mode traffic comes over the
app's authenticated websocket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot import notices
from bot.errors import BatonError
from handlers import slack_actions, slack_commands, slack_events, slack_payloads
from handlers.click_inbox import ClickInbox
from handlers.roles import AssigneeCheck, RoleResolver
from handlers.services import Services
from handlers.slack_delivery import SlackClients
from handlers.slack_directory import SlackDirectory
from handlers.slack_outage import answer_without_database
from handlers.slack_replies import tell
from handlers.slack_workspace import ServedWorkspace
from storage.errors import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

# What a person hears when Slack sends something Baton has no listener for (e.g. a button of a
# card drawn by another version of Baton), by the kind of request.
UNKNOWN = {
    "block_actions": "Baton does not know this button; nothing was changed.",
    "view_submission": "Baton does not know this form; nothing was changed.",
    "command": "Baton does not know this command; nothing was changed.",
}


class Gate(Middleware):
    """Runs before authorization, and before Bolt prepares any listener's arguments (which
    crashes on a click without actions, a view without a type…): refuses requests for another
    workspace, acknowledges kinds Baton does not handle, and answers unreadable payloads."""

    def __init__(self, services: Services, workspace: ServedWorkspace) -> None:
        self.services = services
        self.workspace = workspace

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body = req.body
        refusal = self.workspace.refusal(body)
        if refusal is not None:
            log.warning("refused a Slack request: it %s", refusal)
            return BoltResponse(status=403, body="")
        kind = slack_payloads.kind(body)
        if kind not in slack_payloads.HANDLED and body.get("type") != "url_verification":
            log.info("ignored a Slack request of kind %.40r", kind)
            return BoltResponse(status=200, body="")
        unreadable = slack_payloads.unreadable(body)
        if unreadable is not None:
            return tell(self.services, body, str(unreadable))
        return next()


def create_bolt_app(
    services: Services,
    clients: SlackClients,
    roles: RoleResolver,
    directory: SlackDirectory,
    clicks: ClickInbox,
) -> App:
    """Listeners get the fast-failing interactive client.

    The token is checked once, by auth.test through the retrying client (a busy Slack at
    start-up is not a failed start); Bolt is handed that answer as its authorization, instead
    of calling auth.test itself through the fast-failing client.
    """
    identity = clients.api.auth_test()
    authorization = AuthorizeResult.from_auth_test_response(
        auth_test_response=identity, bot_token=clients.interactive.token
    )
    app = App(
        client=WebClient(  # tokenless: Bolt gives each request's copy the authorized token
            base_url=clients.interactive.base_url,
            timeout=clients.interactive.timeout,
            retry_handlers=clients.interactive.retry_handlers,
        ),
        authorize=lambda: authorization,
        request_verification_enabled=False,
        before_authorize=Gate(services, ServedWorkspace.of_identity(identity)),
        process_before_response=True,
        raise_error_for_unhandled_request=True,  # answered by on_error, without Bolt's warning
    )
    assignees = AssigneeCheck(roles, clients.interactive)  # answers within Slack's 3 s
    slack_actions.register(app, services, roles, assignees, clicks)
    slack_commands.register(app, services, roles, assignees)
    slack_events.register(app, services, roles, directory)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], context: BoltContext) -> BoltResponse:
        """Domain errors become a clear message to the person; anything else is logged, and they
        hear only that nothing changed. A request Bolt never authorized is answered to no one."""
        if context.authorize_result is None:
            log.warning("refused a Slack request before authorization: %s", type(error).__name__)
            return BoltResponse(status=400, body="")
        if isinstance(error, UNAVAILABLE_ERRORS):
            return answer_without_database(body, clients.interactive)
        kind = slack_payloads.kind(body)
        if isinstance(error, BoltUnhandledRequestError):
            log.info("no listener for a Slack request of kind %.40r", kind)
            if kind not in UNKNOWN:  # an event: nobody is waiting for an answer
                return BoltResponse(status=200, body="")
            text = UNKNOWN[kind]
        elif isinstance(error, BatonError):
            # A form shows mention syntax raw: there the refusal names people in plain words.
            viewer = slack_payloads.user_of(body)
            text = notices.refusal(error, viewer=viewer, in_modal=kind == "view_submission")
        else:
            log.error("unexpected error handling a Slack request", exc_info=error)
            text = notices.FAILURE
        return tell(services, body, text)

    return app
