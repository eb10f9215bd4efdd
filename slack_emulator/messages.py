"""Messages as Slack keeps them: content checks, posting, threads, edits, deletes, ephemerals."""

import copy
from typing import Any

from slack_emulator.blocks import MESSAGE_MAX_BLOCKS, validate_blocks, with_block_ids
from slack_emulator.errors import SlackError
from slack_emulator.store import Store
from slack_emulator.workspace import Channel

MAX_TEXT = 40_000


def check_content(text: str | None, blocks: Any, attachments: Any = None) -> None:
    """Refuse what Slack refuses: nothing to show, text past 40,000 chars, invalid blocks."""
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        problems = validate_blocks(blocks, MESSAGE_MAX_BLOCKS)
        if problems:
            raise SlackError("invalid_blocks", *problems)


def check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")


def check_can_post(channel: Channel) -> None:
    if channel.is_archived:
        raise SlackError("is_archived")
    if not channel.is_im and not channel.is_member:
        raise SlackError("not_in_channel")


def post(
    store: Store,
    channel: Channel,
    *,
    text: str | None,
    blocks: list[Any] | None = None,
    attachments: list[Any] | None = None,
    thread_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a bot message; a reply to a reply joins the parent's thread, as in Slack."""
    bot = store.workspace.bot
    message: dict[str, Any] = {
        "type": "message",
        "ts": store.next_ts(),
        "user": bot.user_id,
        "bot_id": bot.bot_id,
        "app_id": bot.app_id,
        "team": store.workspace.team.id,
        "text": text or "",
    }
    if blocks is not None:
        message["blocks"] = with_block_ids(blocks)
    if attachments is not None:
        message["attachments"] = attachments
    if metadata is not None:
        message["metadata"] = metadata
    parent = _thread_parent(store, channel.id, thread_ts)
    if parent is not None:
        message["thread_ts"] = parent["ts"]
        message["parent_user_id"] = parent.get("user")
    store.messages[channel.id].append(message)
    if parent is not None:
        _refresh_thread(store, channel.id, parent)
    return message


def find(store: Store, channel_id: str, ts: str | None) -> dict[str, Any]:
    for message in store.messages.get(channel_id, ()):
        if message["ts"] == ts:
            return message
    raise SlackError("message_not_found")


def update(
    store: Store,
    channel_id: str,
    ts: str | None,
    *,
    text: str | None,
    blocks: list[Any] | None,
    metadata: dict[str, Any] | None = None,
    mark_edited: bool = True,
) -> dict[str, Any]:
    """Replace what was given and keep the rest, as chat.update does."""
    message = find(store, channel_id, ts)
    if message.get("user") != store.workspace.bot.user_id:
        raise SlackError("cant_update_message")
    if text is not None:
        message["text"] = text
    if blocks is not None:
        message["blocks"] = with_block_ids(blocks)
    if metadata is not None:
        message["metadata"] = metadata
    if mark_edited:
        message["edited"] = {"user": store.workspace.bot.user_id, "ts": store.next_ts()}
    return message


def delete(store: Store, channel_id: str, ts: str | None) -> None:
    message = find(store, channel_id, ts)
    if message.get("user") != store.workspace.bot.user_id:
        raise SlackError("cant_delete_message")
    store.messages[channel_id].remove(message)
    parent_ts = message.get("thread_ts")
    if parent_ts and parent_ts != message["ts"]:
        _refresh_thread(store, channel_id, find(store, channel_id, parent_ts))


def top_level(store: Store, channel_id: str) -> list[dict[str, Any]]:
    """Messages shown in the channel itself (thread replies excluded), oldest first."""
    return [
        message
        for message in store.messages.get(channel_id, ())
        if message.get("thread_ts", message["ts"]) == message["ts"]
    ]


def thread(store: Store, channel_id: str, ts: str | None) -> list[dict[str, Any]]:
    """A message and its replies, oldest first; a reply's ts yields its whole thread."""
    try:
        message = find(store, channel_id, ts)
    except SlackError:
        raise SlackError("thread_not_found") from None
    root = message.get("thread_ts", message["ts"])
    return [
        item
        for item in store.messages[channel_id]
        if item["ts"] == root or item.get("thread_ts") == root
    ]


def for_api(message: dict[str, Any], *, include_metadata: bool) -> dict[str, Any]:
    """A copy to answer with; metadata only when the caller asked for it."""
    answer = copy.deepcopy(message)
    if not include_metadata:
        answer.pop("metadata", None)
    return answer


def post_ephemeral(
    store: Store,
    channel: Channel,
    user_id: str,
    *,
    text: str | None,
    blocks: list[Any] | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """Store a message only `user_id` sees in `channel` (the `user` key is the recipient)."""
    ephemeral: dict[str, Any] = {
        "type": "message",
        "ts": store.next_ts(),
        "channel": channel.id,
        "user": user_id,
        "text": text or "",
    }
    if blocks is not None:
        ephemeral["blocks"] = with_block_ids(blocks)
    if thread_ts:
        ephemeral["thread_ts"] = thread_ts
    store.ephemerals.append(ephemeral)
    return ephemeral


def find_ephemeral(store: Store, channel_id: str, user_id: str, ts: str | None) -> dict[str, Any]:
    for ephemeral in store.ephemerals:
        if (ephemeral["channel"], ephemeral["user"], ephemeral["ts"]) == (channel_id, user_id, ts):
            return ephemeral
    raise SlackError("message_not_found")


def _thread_parent(store: Store, channel_id: str, thread_ts: str | None) -> dict[str, Any] | None:
    if not thread_ts:
        return None
    try:
        message = find(store, channel_id, thread_ts)
    except SlackError:
        return None
    root = message.get("thread_ts", message["ts"])
    return find(store, channel_id, root)


def _refresh_thread(store: Store, channel_id: str, parent: dict[str, Any]) -> None:
    replies = [
        message
        for message in store.messages[channel_id]
        if message.get("thread_ts") == parent["ts"] and message["ts"] != parent["ts"]
    ]
    for key in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
        parent.pop(key, None)
    if not replies:
        return
    users = list(dict.fromkeys(reply.get("user") for reply in replies))
    parent.update(
        thread_ts=parent["ts"],
        reply_count=len(replies),
        reply_users=users,
        reply_users_count=len(users),
        latest_reply=replies[-1]["ts"],
    )
