"""`SlackEmulator`: the server on a background thread, plus what tests read and script."""

import copy
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Self

from slack_driver import SlackUser
from slack_emulator import messages, responses, views
from slack_emulator.clock import Clock
from slack_emulator.errors import SlackError
from slack_emulator.faults import Faults
from slack_emulator.inspection import inspection_routes
from slack_emulator.ratelimits import RateLimiter, RateLimits
from slack_emulator.server import build_app
from slack_emulator.serving import ServedFake
from slack_emulator.sockets import SocketHub
from slack_emulator.store import Call, ResponseUrl, Store
from slack_emulator.workspace import SALES_CHANNEL, Channel, User, Usergroup, Workspace

DEFAULT_TOKEN = "xoxb-emulator-token"
DEFAULT_APP_TOKEN = "xapp-emulator-token"
DEFAULT_SIGNING_SECRET = "emulator-signing-secret"
DEFAULT_VERIFICATION_TOKEN = "emulator-verification-token"


class SlackEmulator(ServedFake):
    """A local Slack Web API over real HTTP on 127.0.0.1, with inspectable, scriptable state.

    Accessors return copies, so a test can keep them while the bot goes on calling. With
    `rate_limits` (off by default), calls over Slack's rate limits get Slack's 429. Another
    process reads the calls and builds clicks over HTTP (`slack_emulator.inspection`).
    `trigger_ttl` and `ack_timeout` are Slack's patience with a trigger_id and an
    acknowledgement (3 s each); a test suite sharing a loaded machine may lengthen both, since
    its assertions are about what happens, not how fast (benchmarks time that).
    `message_clock` stamps messages (their ts) when it is not `clock`: a demo's faster time.
    """

    def __init__(
        self,
        *,
        workspace: Workspace | None = None,
        tokens: Sequence[str] = (DEFAULT_TOKEN,),
        app_tokens: Sequence[str] = (DEFAULT_APP_TOKEN,),
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        verification_token: str = DEFAULT_VERIFICATION_TOKEN,
        request_url: str | None = None,
        clock: Clock = time.time,
        message_clock: Clock | None = None,
        trigger_ttl: float = 3.0,
        ack_timeout: float = 3.0,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.workspace = workspace or Workspace()
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.request_url = request_url
        self.clock = clock
        self.ack_timeout = ack_timeout
        self.store = Store(self.workspace, clock, trigger_ttl, message_clock)
        self.faults = Faults(clock)
        self.sockets = SocketHub(self.workspace.bot.app_id, self.store.changed)
        limiter = None if rate_limits is None else RateLimiter(rate_limits, clock)
        app = build_app(
            self.store,
            self.faults,
            tokens,
            app_tokens,
            self.sockets,
            limiter,
            inspection_routes(self),
        )
        super().__init__(app, self.store.changed, host=host, port=port)

    def start(self) -> Self:
        super().start()
        self.store.base_url = self.url  # for the URLs it hands out (file uploads)
        return self

    @property
    def api_url(self) -> str:
        """For `WebClient(base_url=...)` and the bot's `SLACK_API_URL`."""
        return f"{self.url}/api/"

    # --- reading state ---------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages shown in a channel (id, name or user id for a DM), oldest first."""
        with self.store.lock:
            return copy.deepcopy(messages.top_level(self.store, self.store.channel(channel).id))

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self.store.lock:
            return copy.deepcopy(messages.find(self.store, self.store.channel(channel).id, ts))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The parent message and its replies, oldest first."""
        with self.store.lock:
            return copy.deepcopy(messages.thread(self.store, self.store.channel(channel).id, ts))

    def dms(self, user: str) -> list[dict[str, Any]]:
        """Messages in the bot's DM with `user`, oldest first."""
        return self.messages(user)

    def ephemerals(self, user: str, channel: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages shown to `user` (the `user` key is the recipient), oldest first."""
        with self.store.lock:
            channel_id = self.store.channel(channel).id if channel else None
            return copy.deepcopy(
                [
                    ephemeral
                    for ephemeral in self.store.ephemerals
                    if ephemeral["user"] == user and channel_id in (None, ephemeral["channel"])
                ]
            )

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for `user`."""
        with self.store.lock:
            view_id = self.store.homes.get(user)
            return copy.deepcopy(self.store.views[view_id]) if view_id else None

    def open_views(self, user: str) -> list[dict[str, Any]]:
        """The user's modal stack, root first; empty when no modal is open."""
        with self.store.lock:
            stack = self.store.modal_stacks.get(user, [])
            return copy.deepcopy([self.store.views[view_id] for view_id in stack])

    def view(self, view_id: str) -> dict[str, Any]:
        """A view as last stored, open or not."""
        with self.store.lock:
            return copy.deepcopy(self.store.views[view_id])

    def view_errors(self, view_id: str) -> dict[str, str]:
        """Errors the bot showed in a modal with `response_action: errors`, by block id."""
        with self.store.lock:
            return dict(self.store.view_errors.get(view_id, {}))

    def calls(self, method: str | None = None) -> list[Call]:
        """Requests received (`response_url` for response URLs), in order of arrival."""
        with self.store.lock:
            return [call for call in self.store.calls if method in (None, call.method)]

    # --- acting as Slack -------------------------------------------------------------------

    def new_trigger(self, user: str) -> str:
        """A trigger_id as an interaction by `user` would carry, valid for `trigger_ttl`."""
        with self.store.lock:
            return self.store.new_trigger(user)

    def new_response_url(
        self, user: str, channel: str, message_ts: str | None = None, *, is_ephemeral: bool = False
    ) -> str:
        """A response_url answering to `user` in `channel`, about the message at `message_ts`."""
        with self.store.lock:
            channel_id = self.store.channel(channel).id
            url_id = self.store.new_response_url(
                user, channel_id, message_ts, is_ephemeral=is_ephemeral
            )
        return f"{self.url}/response_url/{url_id}"

    def show_command_answer(self, user: str, channel: str, answer: Any) -> None:
        """Show a slash command's immediate HTTP answer as Slack would (ephemeral by default)."""
        with self.store.changed:
            target = ResponseUrl(user, self.store.channel(channel).id, None, False, self.clock())
            responses.respond(self.store, target, answer)
            self.store.changed.notify_all()

    def answer_submission(self, view_id: str, status: int, answer: Any) -> None:
        """Apply the bot's answer to a view_submission (`response_action` or closing the view)."""
        with self.store.changed:
            views.answer_submission(self.store, view_id, status, answer)
            self.store.changed.notify_all()

    def close_view(self, view_id: str) -> None:
        """The user dismissed a modal (and the ones above it)."""
        with self.store.changed:
            if view_id not in self.store.views:
                raise SlackError("not_found")
            views.close(self.store, view_id)
            self.store.changed.notify_all()

    def set_usergroup_members(self, group: str, users: Sequence[str]) -> None:
        """A workspace admin changes who is in a user group (creating it if new)."""
        with self.store.changed:
            known = self.store.usergroups.get(group)
            handle = known.handle if known is not None else group.lower()
            self.store.usergroups[group] = Usergroup(group, handle, tuple(users))
            self.store.changed.notify_all()

    def set_profile(
        self,
        user: str,
        *,
        status_text: str | None = None,
        status_emoji: str | None = None,
        status_expiration: int | None = None,
        tz: str | None = None,
    ) -> dict[str, Any]:
        """A user sets their status (expiring at epoch seconds, 0: never) or time zone; returns
        the user object as Slack's `user_change` event carries it."""
        with self.store.changed:
            known = self.store.user(user)
            changed = replace(
                known,
                status_text=known.status_text if status_text is None else status_text,
                status_emoji=known.status_emoji if status_emoji is None else status_emoji,
                status_expiration=(
                    known.status_expiration if status_expiration is None else status_expiration
                ),
                tz=known.tz if tz is None else tz,
            )
            self.store.users[user] = changed
            self.store.changed.notify_all()
            return changed.to_api(self.store.workspace.team.id, self.store.clock())

    # --- what Slack's client does for a user (the side a SlackUser plays against) --------

    def member(self, user: str) -> User:
        with self.store.lock:
            return self.store.user(user)

    def conversation(self, channel: str) -> Channel:
        """A channel by id or name, or a user id meaning the bot's DM with that user."""
        with self.store.lock:
            return self.store.channel(channel)

    def shown_message(self, user: str, channel: str, ts: str) -> tuple[dict[str, Any], bool]:
        """The message at `ts` in `channel` as `user` sees it, and whether it is an ephemeral
        shown to them alone; LookupError when they see none."""
        with self.store.lock:
            channel_id = self.store.channel(channel).id
            try:
                return copy.deepcopy(messages.find(self.store, channel_id, ts)), False
            except SlackError:
                pass
            try:
                found = messages.find_ephemeral(self.store, channel_id, user, ts)
            except SlackError:
                raise LookupError(f"no message {ts} in {channel_id} for {user}") from None
            return copy.deepcopy(found), True

    def shown_view(self, user: str, view_id: str) -> dict[str, Any]:
        """`user`'s open modal or App Home; LookupError when it is closed or someone else's."""
        with self.store.lock:
            try:
                view = views.find(self.store, view_id)
            except SlackError:
                raise LookupError(f"view {view_id} is not open") from None
            owner = self.store.view_users[view_id]
            if owner != user:
                raise LookupError(f"view {view_id} belongs to {owner}")
            return copy.deepcopy(view)

    def keep_state(self, view_id: str, state: dict[str, Any]) -> None:
        """Keep what a user entered in a modal as its `state`, as Slack does on submission."""
        with self.store.lock:
            self.store.views[view_id]["state"] = copy.deepcopy(state)

    def new_ts(self) -> str:
        """A fresh ts, as an action or an event carries."""
        with self.store.lock:
            return self.store.next_ts()

    def new_event_id(self) -> str:
        with self.store.lock:
            return self.store.new_id("Ev")

    def relay(self, envelope: dict[str, Any], timeout: float) -> tuple[str, Any]:
        """Send a Socket Mode envelope to the app; the connection's URL and the ack's payload."""
        connection, answer = self.sockets.deliver(envelope, timeout)
        return connection.url, answer

    # --- files and sockets -------------------------------------------------------------------

    def file_content(self, file_id: str) -> bytes | None:
        """What was uploaded as `file_id` (None until its bytes arrived)."""
        with self.store.lock:
            file = self.store.files.get(file_id)
            return None if file is None else file["content"]

    def socket_connections(self) -> int:
        """How many Socket Mode websockets are open (each envelope goes to one of them)."""
        return self.sockets.count()

    def user(
        self,
        user_id: str,
        *,
        bot_url: str | None = None,
        socket_mode: bool = False,
        signing_secret: str | None = None,
        timeout: float | None = None,
    ) -> SlackUser:
        """A driver acting as `user_id`, sending to `bot_url` (default: `request_url`).

        With `socket_mode`, requests go as envelopes over the app's Socket Mode connection.
        The user types slash commands in #sales unless a command names another channel.
        """
        if socket_mode:
            if bot_url is not None:
                raise ValueError("a user sends either to bot_url or over Socket Mode, not both")
            url = None
        else:
            url = bot_url or self.request_url
            if url is None:
                raise ValueError("give bot_url, or request_url when building the emulator")
        return SlackUser(
            self,
            user_id,
            url,
            signing_secret or self.signing_secret,
            channel=SALES_CHANNEL,
            timeout=self.ack_timeout if timeout is None else timeout,
        )
