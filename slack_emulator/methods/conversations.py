"""conversations.* methods: DMs, channel info, history and thread replies."""

from typing import Any

from slack_emulator import messages
from slack_emulator.errors import Args, SlackError
from slack_emulator.methods.paging import page
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def open_dm(store: Store, args: Args) -> dict[str, Any]:
    """A DM with one user (group DMs are not emulated), stable per user."""
    channel_ref, users = args.text("channel"), args.text("users")
    already_open = False
    if channel_ref:
        channel = store.channel(channel_ref)
    elif users:
        user_ids = [user_id.strip() for user_id in users.split(",") if user_id.strip()]
        if len(user_ids) != 1:
            raise SlackError("not_supported_by_emulator", "[ERROR] only one-user DMs are emulated")
        user = store.user(user_ids[0])
        if user.deleted:
            raise SlackError("user_disabled")
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        already_open = f"D{user.id[1:]}" in store.channels
        channel = store.dm(user.id)
    else:
        raise SlackError("users_list_not_supplied")
    answer: dict[str, Any] = {
        "ok": True,
        "channel": channel.to_api() if args.flag("return_im") else {"id": channel.id},
    }
    if already_open:
        answer.update(no_op=True, already_open=True)
    return answer


def info(store: Store, args: Args) -> dict[str, Any]:
    return {"ok": True, "channel": store.channel(args.text("channel")).to_api()}


def history(store: Store, args: Args) -> dict[str, Any]:
    """Top-level messages, newest first, within `oldest`/`latest`."""
    channel = store.channel(args.text("channel"))
    oldest = _micros(args.text("oldest") or "0", "invalid_ts_oldest")
    latest = _micros(args.text("latest"), "invalid_ts_latest") if args.text("latest") else None
    inclusive = args.flag("inclusive")

    def in_range(message: dict[str, Any]) -> bool:
        ts = _micros(message["ts"], "invalid_ts_latest")
        above = ts >= oldest if inclusive else ts > oldest
        below = latest is None or (ts <= latest if inclusive else ts < latest)
        return above and below

    found = [m for m in reversed(messages.top_level(store, channel.id)) if in_range(m)]
    chunk, paging = page(found, args, default_limit=100)
    include_metadata = args.flag("include_all_metadata")
    return {
        "ok": True,
        "messages": [messages.for_api(m, include_metadata=include_metadata) for m in chunk],
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        **paging,
    }


def replies(store: Store, args: Args) -> dict[str, Any]:
    """A thread, parent first."""
    channel = store.channel(args.text("channel"))
    chunk, paging = page(messages.thread(store, channel.id, args.text("ts")), args, 1000)
    include_metadata = args.flag("include_all_metadata")
    return {
        "ok": True,
        "messages": [messages.for_api(m, include_metadata=include_metadata) for m in chunk],
        **paging,
    }


def _micros(ts: str | None, error: str) -> int:
    seconds, _, fraction = (ts or "").partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise SlackError(error)
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0")[:6] or 0)


HANDLERS: dict[str, Handler] = {
    "conversations.open": open_dm,
    "conversations.info": info,
    "conversations.history": history,
    "conversations.replies": replies,
}
