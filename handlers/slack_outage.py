"""Answering Slack while the database is unavailable: the request is acknowledged and the
person told that nothing changed and to try again, by ways that need no database (the
command's answer, the form's errors, the click's response_url), each bounded in time."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands import lead_number
from bot.errors import InvalidInput, LeadNotFound
from handlers import response_urls
from handlers.slack_payloads import kind, user_of
from handlers.slack_replies import answer_in_acknowledgement

log = logging.getLogger(__name__)

TRY_AGAIN = (
    "Baton could not reach its database, so that did not take: nothing changed. "
    "Please try again in a minute."
)
TRY_CLICK_AGAIN = (
    "Baton could not reach its database, so your click on lead #{lead} did not take: nothing "
    "changed. Please try again in a minute."
)
RESPONSE_URL_TIMEOUT_SECONDS = 2  # within Slack's 3 s, with the failed transaction before it


def answer_without_database(body: dict[str, Any], client: WebClient) -> BoltResponse:
    """Tell whoever sent `body` that it did not take; Slack gets its acknowledgement either way."""
    log.warning(
        "database unavailable: told the sender of a Slack %.40s to try again", kind(body) or "?"
    )
    answer = answer_in_acknowledgement(body, TRY_AGAIN)
    if answer is not None:
        return answer
    text = try_again(body)
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        _respond(response_url, text)
    else:
        _direct_message(client, user_of(body), text)
    return BoltResponse(status=200, body="")


def try_again(body: dict[str, Any]) -> str:
    """The notice for a click: it names the lead by the number its button carries (its name is
    in the database), or says what did not take."""
    actions = body.get("actions")
    clicked = actions[0] if isinstance(actions, list) and actions else None
    value = clicked.get("value") if isinstance(clicked, dict) else None
    try:
        lead = lead_number(value) if isinstance(value, str) else None
    except (InvalidInput, LeadNotFound):
        lead = None
    return TRY_AGAIN if lead is None else TRY_CLICK_AGAIN.format(lead=lead)


def _respond(response_url: str, text: str) -> None:
    """An ephemeral message beside what was clicked; Slack's response_url needs no token."""
    message = {"response_type": "ephemeral", "replace_original": False, "text": text}
    refused = response_urls.send(response_url, message, timeout=RESPONSE_URL_TIMEOUT_SECONDS)
    if refused is not None:
        log.warning("could not answer through response_url: %s", refused)


def _direct_message(client: WebClient, user_id: str | None, text: str) -> None:
    """A click in App Home has no response_url: say it in the person's DM with the bot."""
    if user_id is None:
        return  # an event: nobody is waiting for an answer
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, OSError) as error:
        log.warning("could not tell a Slack user to try again: %s", type(error).__name__)
