"""The emulator's in-memory state, its id generators and lookups, guarded by one re-entrant lock."""

import itertools
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from slack_emulator.clock import Clock
from slack_emulator.errors import SlackError
from slack_emulator.workspace import Channel, User, Workspace

RESPONSE_URL_TTL = 30 * 60
RESPONSE_URL_USES = 5


@dataclass
class Trigger:
    user_id: str
    created: float
    used: bool = False


@dataclass
class ResponseUrl:
    """Where a response_url answers: the user and channel, and the message it came from."""

    user_id: str
    channel_id: str
    message_ts: str | None
    is_ephemeral: bool
    created: float
    uses: int = 0


@dataclass(frozen=True)
class Call:
    """One request the emulator received; `status` is None when its connection was dropped."""

    method: str
    args: dict[str, Any]
    status: int | None
    response: dict[str, Any]
    at: float

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True


class Store:
    """Everything Slack would remember. Hold `lock` (or `changed`) while reading or writing."""

    def __init__(
        self,
        workspace: Workspace,
        clock: Clock,
        trigger_ttl: float,
        message_clock: Clock | None = None,
    ) -> None:
        """`clock` times lifetimes (triggers, response URLs); `message_clock` (default: the
        same) stamps messages, so a demo's faster time shows on messages while a trigger still
        lives 3 real seconds."""
        self.workspace = workspace
        self.clock = clock
        self.message_clock = message_clock or clock
        self.trigger_ttl = trigger_ttl
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.users = {user.id: user for user in (*workspace.users, workspace.bot_user())}
        self.channels = {channel.id: channel for channel in workspace.channels}
        self.usergroups = {group.id: group for group in workspace.usergroups}
        self.messages: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_users: dict[str, str] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.view_errors: dict[str, dict[str, str]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.base_url = ""  # the server's address, known once it listens (for upload URLs)
        self.calls: list[Call] = []
        self._last_micros = 0
        self._serial = itertools.count(1)

    def next_ts(self) -> str:
        """A message ts in Slack's format, unique and increasing even within one microsecond."""
        self._last_micros = max(self._last_micros + 1, int(self.message_clock() * 1_000_000))
        seconds, micros = divmod(self._last_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial):010X}"

    def new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def user(self, user_id: str | None) -> User:
        user = self.users.get(user_id or "")
        if user is None:
            raise SlackError("user_not_found")
        return user

    def channel(self, ref: str | None) -> Channel:
        """A channel by id, by name (`#sales` or `sales`), or a user id meaning their DM."""
        ref = ref or ""
        if ref in self.channels:
            return self.channels[ref]
        if ref.startswith(("U", "W")) and ref in self.users:
            return self.dm(ref)
        if ref.startswith("D") and f"U{ref[1:]}" in self.users:
            return self.dm(f"U{ref[1:]}")
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        raise SlackError("channel_not_found")

    def dm(self, user_id: str) -> Channel:
        """The bot's DM with a user; its id is stable (`D` + the user id's tail)."""
        channel_id = f"D{user_id[1:]}"
        if channel_id not in self.channels:
            self.channels[channel_id] = Channel(channel_id, "directmessage", user=user_id)
        return self.channels[channel_id]

    def new_trigger(self, user_id: str) -> str:
        trigger_id = f"{next(self._serial)}.{self.workspace.team.id}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user_id, self.clock())
        return trigger_id

    def use_trigger(self, trigger_id: str | None) -> str:
        """Exchange a trigger once, within its lifetime; returns the user it belongs to."""
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if self.clock() - trigger.created > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        trigger.used = True
        return trigger.user_id

    def new_file(self, name: str, length: int) -> str:
        file_id = f"F{next(self._serial):09d}"
        self.files[file_id] = {
            "id": file_id,
            "name": name,
            "title": name,
            "length": length,
            "content": None,
            "channels": [],
        }
        return file_id

    def upload(self, file_id: str, content: bytes) -> bool:
        """Take an upload's bytes; False for an unknown file or a size other than announced."""
        file = self.files.get(file_id)
        if file is None or len(content) != file["length"]:
            return False
        file["content"] = content
        return True

    def file_info(self, file_id: str) -> dict[str, Any]:
        file = self.files[file_id]
        return {
            "id": file_id,
            "name": file["name"],
            "title": file["title"],
            "size": file["length"],
            "channels": list(file["channels"]),
            "url_private": f"{self.base_url}/files/{file_id}/{file['name']}",
        }

    def new_response_url(
        self, user_id: str, channel_id: str, message_ts: str | None, *, is_ephemeral: bool
    ) -> str:
        url_id = secrets.token_urlsafe(12)
        self.response_urls[url_id] = ResponseUrl(
            user_id, channel_id, message_ts, is_ephemeral, self.clock()
        )
        return url_id

    def use_response_url(self, url_id: str) -> ResponseUrl:
        """Count one use; Slack allows five within thirty minutes."""
        target = self.response_urls.get(url_id)
        if target is None:
            raise SlackError("invalid_url")
        if self.clock() - target.created > RESPONSE_URL_TTL:
            raise SlackError("expired_url")
        if target.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url")
        target.uses += 1
        return target
