"""Block Kit's JSON as plain dicts, checked against Slack's limits as they are built.

Every click's delivery draws a card, a DM and a thread reply: slack_sdk's model objects cost a
few milliseconds of CPU each (they validate by reflection and rebuild every dict), which these
builders do not. What they build is what those models' `to_dict` gives for the same values, keys
in the same (sorted) order, so Slack receives the same JSON; a value over one of Block Kit's
limits raises `BlockKitLimitError`, as the models did, rather than reaching Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from bot.slack_text import BUTTON_TEXT_LIMIT, FIELD_LIMIT, HEADER_LIMIT, SECTION_LIMIT

Json = dict[str, Any]
ButtonStyle = Literal["primary", "danger"]

BLOCK_ID_LIMIT = 255
ACTION_ID_LIMIT = 255
BUTTON_VALUE_LIMIT = 2000
FIELDS_LIMIT = 10  # fields in one section
CONTEXT_ELEMENTS_LIMIT = 10
ACTIONS_ELEMENTS_LIMIT = 25
PLACEHOLDER_LIMIT = 150


class BlockKitLimitError(ValueError):
    """A value Slack would refuse: a bug in whatever drew it, since texts are clipped first."""


def _within(what: str, value: str | Sequence[Any], limit: int) -> None:
    if not 0 < len(value) <= limit:
        raise BlockKitLimitError(f"{what} must have 1 to {limit} items or characters: {len(value)}")


def mrkdwn(text: str) -> Json:
    _within("mrkdwn text", text, SECTION_LIMIT)
    return {"text": text, "type": "mrkdwn"}


def plain_text(text: str, *, emoji: bool | None = None) -> Json:
    _within("plain text", text, SECTION_LIMIT)
    if emoji is None:
        return {"text": text, "type": "plain_text"}
    return {"emoji": emoji, "text": text, "type": "plain_text"}


def section(
    text: str | None = None,
    *,
    block_id: str | None = None,
    fields: Sequence[str] = (),
    accessory: Json | None = None,
) -> Json:
    """A section of mrkdwn `text` and/or mrkdwn `fields` (two to a row)."""
    if text is None and not fields:
        raise BlockKitLimitError("a section needs a text or fields")
    block: Json = {}
    if accessory is not None:
        block["accessory"] = accessory
    _block_id(block, block_id)
    if fields:
        _within("a section's fields", fields, FIELDS_LIMIT)
        for field in fields:
            _within("a section field", field, FIELD_LIMIT)
        block["fields"] = [mrkdwn(field) for field in fields]
    if text is not None:
        block["text"] = mrkdwn(text)
    block["type"] = "section"
    return block


def context(texts: Sequence[str], *, block_id: str | None = None) -> Json:
    """A context block of mrkdwn `texts`."""
    _within("a context's elements", texts, CONTEXT_ELEMENTS_LIMIT)
    block: Json = {}
    _block_id(block, block_id)
    block["elements"] = [mrkdwn(text) for text in texts]
    block["type"] = "context"
    return block


def actions(elements: Sequence[Json], *, block_id: str | None = None) -> Json:
    """An actions block of buttons (and selects)."""
    _within("an actions block's elements", elements, ACTIONS_ELEMENTS_LIMIT)
    block: Json = {}
    _block_id(block, block_id)
    block["elements"] = list(elements)
    block["type"] = "actions"
    return block


def header(text: str) -> Json:
    _within("a header's text", text, HEADER_LIMIT)
    return {"text": plain_text(text), "type": "header"}


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: ButtonStyle | None = None,
    emoji: bool | None = None,
) -> Json:
    """A button whose click Baton's listener for `action_id` answers, given `value`."""
    _within("a button's text", text, BUTTON_TEXT_LIMIT)
    _within("a button's action_id", action_id, ACTION_ID_LIMIT)
    _within("a button's value", value, BUTTON_VALUE_LIMIT)
    element: Json = {"action_id": action_id}
    if style is not None:
        element["style"] = style
    element["text"] = plain_text(text, emoji=emoji)
    element["type"] = "button"
    element["value"] = value
    return element


def users_select(*, action_id: str, placeholder: str) -> Json:
    """A picker of one workspace member."""
    _within("a select's action_id", action_id, ACTION_ID_LIMIT)
    _within("a select's placeholder", placeholder, PLACEHOLDER_LIMIT)
    return {
        "action_id": action_id,
        "placeholder": plain_text(placeholder),
        "type": "users_select",
    }


def _block_id(block: Json, block_id: str | None) -> None:
    if block_id is not None:
        _within("a block_id", block_id, BLOCK_ID_LIMIT)
        block["block_id"] = block_id
