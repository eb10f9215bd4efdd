"""Modals and App Home views: checks, the per-user modal stack, and answers to submissions."""

import copy
from typing import Any

from slack_emulator.blocks import SURFACE_MAX_BLOCKS, validate_blocks, with_block_ids
from slack_emulator.errors import SlackError
from slack_emulator.store import Store

MAX_STACK = 3


def check(spec: Any, kind: str) -> dict[str, Any]:
    """The view payload if Slack would accept it as a `kind` view, else `invalid_arguments`."""
    if not isinstance(spec, dict):
        raise SlackError("invalid_arguments", "[ERROR] view must be an object [json-pointer:/view]")
    problems: list[str] = []
    if spec.get("type") != kind:
        problems.append(f"[ERROR] must be {kind} [json-pointer:/view/type]")
    if kind == "modal":
        problems += _check_modal(spec)
    for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        value = spec.get(key)
        if isinstance(value, str) and len(value) > limit:
            problems.append(
                f"[ERROR] must be less than {limit + 1} characters [json-pointer:/view/{key}]"
            )
    problems += [
        problem.replace("[json-pointer:/", "[json-pointer:/view/")
        for problem in validate_blocks(spec.get("blocks"), SURFACE_MAX_BLOCKS)
    ]
    if problems:
        raise SlackError("invalid_arguments", *problems)
    return spec


def _check_modal(spec: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("title", "submit", "close"):
        value = spec.get(key)
        if value is None and key != "title":
            continue
        text = value.get("text") if isinstance(value, dict) else None
        if not isinstance(text, str) or not 0 < len(text) <= 24:
            problems.append(f"[ERROR] must be 1 to 24 characters [json-pointer:/view/{key}/text]")
    blocks = spec.get("blocks")
    has_inputs = isinstance(blocks, list) and any(
        isinstance(block, dict) and block.get("type") == "input" for block in blocks
    )
    if has_inputs and spec.get("submit") is None:
        problems.append(
            "[ERROR] must provide a submit property when using input blocks [json-pointer:/view]"
        )
    return problems


def find(
    store: Store, view_id: str | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """An open modal or a published home view, by id or external id."""
    for view in store.views.values():
        matches = view["id"] == view_id or bool(external_id and view["external_id"] == external_id)
        if matches and _is_open(store, view["id"]):
            return view
    raise SlackError("not_found")


def open_modal(store: Store, trigger_id: str | None, spec: Any) -> dict[str, Any]:
    """views.open: a new modal stack for the trigger's user, replacing any they had open."""
    check(spec, "modal")
    user_id = store.use_trigger(trigger_id)
    _check_external_id(store, spec)
    view = _build(store, spec, user_id)
    store.modal_stacks[user_id] = [view["id"]]
    return view


def push(store: Store, user_id: str, spec: Any) -> dict[str, Any]:
    """Put a modal on top of the user's stack; Slack keeps at most three."""
    check(spec, "modal")
    stack = store.modal_stacks.setdefault(user_id, [])
    if len(stack) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    _check_external_id(store, spec)
    view = _build(
        store,
        spec,
        user_id,
        previous=stack[-1] if stack else None,
        root=stack[0] if stack else None,
    )
    stack.append(view["id"])
    return view


def update(
    store: Store,
    spec: Any,
    *,
    view_id: str | None,
    external_id: str | None,
    hash_: str | None = None,
) -> dict[str, Any]:
    """Replace an open view's content in place (same id, new hash)."""
    if not view_id and not external_id:
        raise SlackError("invalid_arguments", "[ERROR] view_id or external_id is required")
    current = find(store, view_id, external_id)
    check(spec, current["type"])
    if hash_ and hash_ != current["hash"]:
        raise SlackError("hash_conflict")
    view = _build(
        store,
        {"external_id": current["external_id"], **spec},
        store.view_users[current["id"]],
        view_id=current["id"],
        previous=current.get("previous_view_id"),
        root=current.get("root_view_id"),
    )
    store.view_errors.pop(view["id"], None)
    return view


def publish(store: Store, user_id: str | None, spec: Any, hash_: str | None) -> dict[str, Any]:
    """views.publish: the user's App Home, which keeps its view id across publishes."""
    user = store.user(user_id)
    check(spec, "home")
    current_id = store.homes.get(user.id)
    if hash_ and current_id and hash_ != store.views[current_id]["hash"]:
        raise SlackError("hash_conflict")
    view = _build(store, spec, user.id, view_id=current_id)
    store.homes[user.id] = view["id"]
    return view


def close(store: Store, view_id: str, *, all_views: bool = False) -> None:
    """Close a modal and those above it, or its whole stack with `all_views`."""
    for stack in store.modal_stacks.values():
        if view_id in stack:
            del stack[0 if all_views else stack.index(view_id) :]


def answer_submission(store: Store, view_id: str, status: int, answer: Any) -> None:
    """What Slack does with the bot's reply to a view_submission."""
    if status != 200:
        return
    action = answer.get("response_action") if isinstance(answer, dict) else None
    user_id = store.view_users[view_id]
    if action == "errors":
        store.view_errors[view_id] = dict(answer.get("errors") or {})
    elif action == "update":
        update(store, answer.get("view"), view_id=view_id, external_id=None)
    elif action == "push":
        push(store, user_id, answer.get("view"))
        store.view_errors.pop(view_id, None)
    else:
        close(store, view_id, all_views=action == "clear")
        store.view_errors.pop(view_id, None)


def _is_open(store: Store, view_id: str) -> bool:
    return view_id in store.homes.values() or any(
        view_id in stack for stack in store.modal_stacks.values()
    )


def _check_external_id(store: Store, spec: dict[str, Any]) -> None:
    external_id = spec.get("external_id")
    if not external_id:
        return
    try:
        find(store, external_id=external_id)
    except SlackError:
        return
    raise SlackError("duplicate_external_id")


def _build(
    store: Store,
    spec: dict[str, Any],
    user_id: str,
    *,
    view_id: str | None = None,
    previous: str | None = None,
    root: str | None = None,
) -> dict[str, Any]:
    workspace = store.workspace
    view_id = view_id or store.new_id("V")
    view = {
        "id": view_id,
        "team_id": workspace.team.id,
        "type": spec["type"],
        "blocks": with_block_ids(copy.deepcopy(spec.get("blocks") or [])),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "external_id": spec.get("external_id", ""),
        "state": {"values": {}},
        "hash": store.new_hash(),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "root_view_id": root or view_id,
        "previous_view_id": previous,
        "app_id": workspace.bot.app_id,
        "app_installed_team_id": workspace.team.id,
        "bot_id": workspace.bot.bot_id,
    }
    for key in ("title", "submit", "close"):
        if spec.get(key) is not None:
            view[key] = copy.deepcopy(spec[key])
    store.views[view_id] = view
    store.view_users[view_id] = user_id
    return view
