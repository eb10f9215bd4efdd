"""Message responses as Slack applies them: from a response_url or a slash command's answer."""

from typing import Any

from slack_emulator import messages
from slack_emulator.errors import SlackError
from slack_emulator.store import ResponseUrl, Store


def respond(store: Store, target: ResponseUrl, answer: Any) -> None:
    """Post, replace or delete as the answer says; plain text becomes an ephemeral message."""
    if isinstance(answer, str):
        answer = {"text": answer}
    if not isinstance(answer, dict):
        raise SlackError("invalid_payload")
    channel = store.channel(target.channel_id)
    text, blocks = answer.get("text"), answer.get("blocks")
    if answer.get("delete_original") and target.message_ts:
        _delete_original(store, target)
    elif answer.get("replace_original") and target.message_ts:
        messages.check_content(text, blocks)
        _replace_original(store, target, text, blocks)
    else:
        messages.check_content(text, blocks)
        if answer.get("response_type") == "in_channel":
            messages.post(
                store, channel, text=text, blocks=blocks, thread_ts=answer.get("thread_ts")
            )
        else:
            messages.post_ephemeral(
                store,
                channel,
                target.user_id,
                text=text,
                blocks=blocks,
                thread_ts=answer.get("thread_ts"),
            )


def _replace_original(
    store: Store, target: ResponseUrl, text: str | None, blocks: list[Any] | None
) -> None:
    if target.is_ephemeral:
        ephemeral = messages.find_ephemeral(
            store, target.channel_id, target.user_id, target.message_ts
        )
        ephemeral["text"] = text or ""
        if blocks is not None:
            ephemeral["blocks"] = blocks
        else:
            ephemeral.pop("blocks", None)
        return
    messages.update(
        store,
        target.channel_id,
        target.message_ts,
        text=text or "",
        blocks=blocks or [],
        mark_edited=False,
    )


def _delete_original(store: Store, target: ResponseUrl) -> None:
    if target.is_ephemeral:
        store.ephemerals.remove(
            messages.find_ephemeral(store, target.channel_id, target.user_id, target.message_ts)
        )
    else:
        messages.delete(store, target.channel_id, target.message_ts)
