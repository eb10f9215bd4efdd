"""Slack's cursor pagination (`limit`, `cursor`, `response_metadata.next_cursor`)."""

import base64
from typing import Any, TypeVar

from slack_emulator.errors import Args, SlackError

T = TypeVar("T")


def page(items: list[T], args: Args, default_limit: int) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` and the fields that tell the caller whether more follow."""
    limit = args.number("limit", default_limit) or default_limit
    start = _offset(args.text("cursor"))
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
    return chunk, {"has_more": more, "response_metadata": {"next_cursor": cursor}}


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor).decode().partition(":")
        if kind == "offset":
            return int(value)
    except ValueError:
        pass
    raise SlackError("invalid_cursor")
