"""The JSON Slack sends to an app: block_actions, view_submission, view_closed, commands, events,
and the envelopes that carry them over Socket Mode."""

import secrets
from typing import Any, Protocol


class Named(Protocol):
    """A user or a channel, as payloads name it."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


class TeamInfo(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def domain(self) -> str: ...


class AppInfo(Protocol):
    """The app a request is for, and its bot user."""

    @property
    def app_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...


class WorkspaceInfo(Protocol):
    """The workspace a request comes from, and the app installed in it."""

    @property
    def team(self) -> TeamInfo: ...

    @property
    def bot(self) -> AppInfo: ...


_VALUE_KEYS = {
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}


def user_ref(user: Named, workspace: WorkspaceInfo) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team.id}


def team_ref(workspace: WorkspaceInfo) -> dict[str, str]:
    return {"id": workspace.team.id, "domain": workspace.team.domain}


def channel_ref(channel: Named) -> dict[str, str]:
    return {"id": channel.id, "name": channel.name}


def find_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None
) -> tuple[str, dict[str, Any]]:
    """The block id and the button with `action_id` (and `value`, when given)."""
    return find_element(blocks, action_id, value, kind="button")


def find_element(
    blocks: list[dict[str, Any]], action_id: str, value: str | None, *, kind: str
) -> tuple[str, dict[str, Any]]:
    """The block id and the interactive element of type `kind` with `action_id` (and
    `value`, when given)."""
    for block in blocks:
        if block.get("type") == "actions":
            elements = block.get("elements", [])
        else:
            elements = [block["accessory"]] if "accessory" in block else []
        for element in elements:
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            if element.get("type") != kind:
                raise LookupError(f"{action_id} is a {element.get('type')}, not a {kind}")
            return block["block_id"], element
    raise LookupError(f"no {kind} {action_id!r} (value {value!r}) in these blocks")


def user_picked(
    block_id: str, element: dict[str, Any], user_id: str, action_ts: str
) -> dict[str, Any]:
    """The action of a users_select in a message once someone is picked in it."""
    return {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": "users_select",
        "selected_user": user_id,
        "action_ts": action_ts,
    }


def select_action(
    blocks: list[dict[str, Any]], block_id: str, value: str, action_ts: str
) -> dict[str, Any]:
    """Choosing `value` in the static select of input `block_id`; Slack sends it as an action
    only when the input asks to (`dispatch_action`), which a LookupError reports otherwise."""
    for block in blocks:
        if block.get("type") == "input" and block.get("block_id") == block_id:
            if not block.get("dispatch_action"):
                raise LookupError(f"input {block_id!r} does not dispatch its changes")
            element = block["element"]
            return {
                "action_id": element["action_id"],
                "block_id": block_id,
                "type": element["type"],
                "selected_option": _option(element, value),
                "action_ts": action_ts,
            }
    raise LookupError(f"no input {block_id!r} in these blocks")


def button_action(block_id: str, button: dict[str, Any], action_ts: str) -> dict[str, Any]:
    action = {
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": button["text"],
        "type": "button",
        "action_ts": action_ts,
    }
    for key in ("value", "style", "url"):
        if key in button:
            action[key] = button[key]
    return action


def block_actions(
    workspace: WorkspaceInfo,
    user: Named,
    *,
    verification_token: str,
    trigger_id: str,
    container: dict[str, Any],
    action: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """A click; `extra` carries channel/message/response_url or view, by surface."""
    return {
        "type": "block_actions",
        "user": user_ref(user, workspace),
        "api_app_id": workspace.bot.app_id,
        "token": verification_token,
        "container": container,
        "trigger_id": trigger_id,
        "team": team_ref(workspace),
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        **extra,
        "actions": [action],
    }


def state_values(
    view: dict[str, Any], values: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`view.state.values` for the given `{block_id: {action_id: value}}`, in Slack's shapes.

    Raises ValueError where Slack's client would not submit: an unknown input, an option
    the select does not offer, or an empty required input.
    """
    state: dict[str, dict[str, Any]] = {}
    inputs = {b["block_id"]: b for b in view.get("blocks", []) if b.get("type") == "input"}
    unknown = set(values) - set(inputs)
    if unknown:
        raise ValueError(f"no input blocks {sorted(unknown)} in view {view['id']}")
    for block_id, block in inputs.items():
        element = block["element"]
        action_id = element.get("action_id", "")
        given = values.get(block_id, {})
        if set(given) - {action_id}:
            raise ValueError(f"input {block_id} has action_id {action_id!r}, not {sorted(given)}")
        value = given.get(action_id)
        if value in (None, "", []) and not block.get("optional", False):
            raise ValueError(f"required input {block_id} is empty; Slack would not submit")
        state[block_id] = {action_id: _element_state(element, value)}
    return state


def _element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element["type"]
    key = _VALUE_KEYS.get(kind, "value")
    if key == "selected_option":
        value = None if value is None else _option(element, value)
    elif key == "selected_options":
        value = [_option(element, item) for item in value or []]
    return {"type": kind, key: value}


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options: list[dict[str, Any]] = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options += group.get("options", [])
    for option in options:
        if option.get("value") == value:
            return option
    raise ValueError(f"{element.get('action_id')} offers no option {value!r}")


def view_submission(
    workspace: WorkspaceInfo,
    user: Named,
    view: dict[str, Any],
    *,
    verification_token: str,
    trigger_id: str,
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": team_ref(workspace),
        "user": user_ref(user, workspace),
        "api_app_id": workspace.bot.app_id,
        "token": verification_token,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed(
    workspace: WorkspaceInfo, user: Named, view: dict[str, Any], *, verification_token: str
) -> dict[str, Any]:
    return {
        "type": "view_closed",
        "team": team_ref(workspace),
        "user": user_ref(user, workspace),
        "api_app_id": workspace.bot.app_id,
        "token": verification_token,
        "view": view,
        "is_cleared": False,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def slash_command(
    workspace: WorkspaceInfo,
    user: Named,
    channel: Named,
    *,
    command: str,
    text: str,
    verification_token: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    """The form fields of a slash command."""
    return {
        "token": verification_token,
        "team_id": workspace.team.id,
        "team_domain": workspace.team.domain,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": workspace.bot.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def event_callback(
    workspace: WorkspaceInfo,
    event: dict[str, Any],
    *,
    event_id: str,
    event_time: int,
    verification_token: str,
) -> dict[str, Any]:
    """An Events API delivery wrapping `event`."""
    return {
        "token": verification_token,
        "team_id": workspace.team.id,
        "api_app_id": workspace.bot.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": workspace.team.id,
                "user_id": workspace.bot.user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event_id}",
    }


def envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    accepts_response_payload: bool,
    retry_attempt: int = 0,
    retry_reason: str = "",
) -> dict[str, Any]:
    """An envelope as Slack wraps a request; only events carry the retry fields."""
    wrapped: dict[str, Any] = {
        "envelope_id": secrets.token_hex(16),
        "type": kind,
        "payload": payload,
        "accepts_response_payload": accepts_response_payload,
    }
    if kind == "events_api":
        wrapped["retry_attempt"] = retry_attempt
        wrapped["retry_reason"] = retry_reason
    return wrapped
