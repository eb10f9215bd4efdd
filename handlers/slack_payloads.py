"""What Baton reads from Slack's payloads, checked before Bolt's machinery or a listener does.

Slack never sends a click without its button or a form without its answers, but a payload that
did would crash Bolt itself (it reads `actions[0]` and `view["type"]` while preparing any
listener's arguments, even the error handler's), and the person would hear nothing or a bare
failure. `unreadable` says what is missing so they can be told plainly; the readers below never
raise, whatever the payload holds.
"""

from __future__ import annotations

from typing import Any

from bot.errors import BatonError
from bot.slack_text import is_user_id


class UnreadablePayload(BatonError):
    """A payload of a kind Baton handles lacks something its listener needs; nothing changed."""


def kind(body: dict[str, Any]) -> str:
    """`command`, `block_actions`, `view_submission`, `event_callback`, or Slack's other type."""
    if "command" in body:
        return "command"
    value = body.get("type")
    return value if isinstance(value, str) else ""


def user_of(body: dict[str, Any]) -> str | None:
    """Who acted: a slash command's `user_id`, an interaction's `user.id`."""
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return user_id if isinstance(user_id, str) and is_user_id(user_id) else None


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a click happened in (none for App Home and modals)."""
    for holder, key in (("channel", "id"), ("container", "channel_id")):
        value = body.get(holder)
        channel_id = value.get(key) if isinstance(value, dict) else None
        if isinstance(channel_id, str):
            return channel_id
    channel_id = body.get("channel_id")
    return channel_id if isinstance(channel_id, str) else None


def unreadable(body: dict[str, Any]) -> UnreadablePayload | None:
    """What a payload Baton handles lacks, as an error to show the person; None if complete."""
    check = _PROBLEMS.get(kind(body))
    problem = check(body) if check is not None else None
    return UnreadablePayload(problem) if problem else None


def _click(body: dict[str, Any]) -> str | None:
    if user_of(body) is None:
        return "Baton could not tell who clicked; nothing was changed."
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(first, dict) or not isinstance(first.get("action_id"), str):
        return "Baton could not read that click: it named no button. Nothing was changed."
    if not isinstance(first.get("value", ""), str) or not isinstance(body.get("trigger_id"), str):
        return "Baton could not read that click; nothing was changed. Please try again."
    return None


def _submission(body: dict[str, Any]) -> str | None:
    view = body.get("view")
    if not isinstance(view, dict) or not all(
        isinstance(view.get(key), str) for key in ("type", "callback_id")
    ):
        return "Baton could not read this form; nothing was changed. Please try again."
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if user_of(body) is None or not isinstance(values, dict):
        return "Baton could not read this form's answers; nothing was changed. Please try again."
    if not isinstance(view.get("private_metadata", ""), str):
        return "Baton could not tell which lead this form is about; nothing was changed."
    return None


def _command(body: dict[str, Any]) -> str | None:
    if user_of(body) is None or not isinstance(body.get("text", ""), str):
        return "Baton could not read that command; nothing was changed. Please try again."
    return None


def _event(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "an event without its event"
    if not isinstance(body.get("event_id"), str):
        return "an event without its event_id"
    if event.get("type") == "app_home_opened" and not is_user_id(str(event.get("user"))):
        return "app_home_opened without its user"
    return None


_PROBLEMS = {
    "block_actions": _click,
    "view_submission": _submission,
    "command": _command,
    "event_callback": _event,
}
# The kinds of request Baton has listeners for; Slack sends others only to apps that ask.
HANDLED = frozenset(_PROBLEMS)
