"""chat.* methods: post, update, delete, ephemeral and permalinks."""

from typing import Any

from slack_emulator import messages
from slack_emulator.errors import Args, SlackError
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def _content(args: Args) -> tuple[str | None, list[Any] | None, list[Any] | None]:
    text = args.text("text")
    blocks = args.parsed("blocks", "invalid_blocks_format")
    attachments = args.parsed("attachments", "invalid_attachments")
    messages.check_content(text, blocks, attachments)
    return text, blocks, attachments


def _metadata(args: Args) -> dict[str, Any] | None:
    metadata: dict[str, Any] | None = args.parsed("metadata", "invalid_metadata_format")
    messages.check_metadata(metadata)
    return metadata


def post_message(store: Store, args: Args) -> dict[str, Any]:
    channel = store.channel(args.require("channel", "channel_not_found"))
    text, blocks, attachments = _content(args)
    metadata = _metadata(args)
    messages.check_can_post(channel)
    message = messages.post(
        store,
        channel,
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=args.text("thread_ts"),
        metadata=metadata,
    )
    return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}


def update(store: Store, args: Args) -> dict[str, Any]:
    channel = store.channel(args.require("channel", "channel_not_found"))
    ts = args.require("ts", "message_not_found")
    text, blocks, _ = _content(args)
    message = messages.update(
        store, channel.id, ts, text=text, blocks=blocks, metadata=_metadata(args)
    )
    return {
        "ok": True,
        "channel": channel.id,
        "ts": ts,
        "text": message["text"],
        "message": message,
    }


def post_ephemeral(store: Store, args: Args) -> dict[str, Any]:
    channel = store.channel(args.require("channel", "channel_not_found"))
    user = store.user(args.text("user"))
    text, blocks, _ = _content(args)
    if channel.is_archived:
        raise SlackError("is_archived")
    if not channel.has_member(user.id):
        raise SlackError("user_not_in_channel")
    ephemeral = messages.post_ephemeral(
        store, channel, user.id, text=text, blocks=blocks, thread_ts=args.text("thread_ts")
    )
    return {"ok": True, "message_ts": ephemeral["ts"]}


def delete(store: Store, args: Args) -> dict[str, Any]:
    channel = store.channel(args.require("channel", "channel_not_found"))
    ts = args.require("ts", "message_not_found")
    messages.delete(store, channel.id, ts)
    return {"ok": True, "channel": channel.id, "ts": ts}


def get_permalink(store: Store, args: Args) -> dict[str, Any]:
    channel = store.channel(args.require("channel", "channel_not_found"))
    message = messages.find(store, channel.id, args.require("message_ts", "message_not_found"))
    link = (
        f"https://{store.workspace.team.domain}.slack.com/archives/{channel.id}"
        f"/p{message['ts'].replace('.', '')}"
    )
    if message.get("thread_ts", message["ts"]) != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


HANDLERS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
