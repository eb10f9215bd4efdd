"""`SlackUser`: plays a person in Slack, sending the bot requests built from Slack's state."""

import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from slack_driver import payloads, signing
from slack_driver.payloads import Named, WorkspaceInfo
from slack_driver.signing import Delivery, SignedRequest


class Slack(Protocol):
    """The Slack a user plays in (`SlackEmulator` is one): what it shows the user, the ids it
    mints for each request, and how it takes the app's answers. Lookups return copies and
    raise LookupError for what the user cannot see."""

    @property
    def workspace(self) -> WorkspaceInfo: ...

    @property
    def verification_token(self) -> str: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    def member(self, user: str) -> Named: ...

    def conversation(self, channel: str) -> Named: ...

    def shown_message(self, user: str, channel: str, ts: str) -> tuple[dict[str, Any], bool]: ...

    def shown_view(self, user: str, view_id: str) -> dict[str, Any]: ...

    def home(self, user: str) -> dict[str, Any] | None: ...

    def new_trigger(self, user: str) -> str: ...

    def new_response_url(
        self, user: str, channel: str, message_ts: str | None = None, *, is_ephemeral: bool = False
    ) -> str: ...

    def new_ts(self) -> str: ...

    def new_event_id(self) -> str: ...

    def keep_state(self, view_id: str, state: dict[str, Any]) -> None: ...

    def answer_submission(self, view_id: str, status: int, answer: Any) -> None: ...

    def close_view(self, view_id: str) -> None: ...

    def show_command_answer(self, user: str, channel: str, answer: Any) -> None: ...

    def relay(self, envelope: dict[str, Any], timeout: float) -> tuple[str, Any]: ...


# How each kind of request is encoded over HTTP; Socket Mode sends the payload itself.
_HTTP_BODIES: dict[str, Callable[[Any], tuple[str, str]]] = {
    "interactive": signing.payload_body,
    "slash_commands": signing.form_body,
    "events_api": signing.json_body,
}


class SlackUser:
    """Clicks, submits, types commands and opens App Home as `user_id`, like Slack's client.

    Requests are signed with `signing_secret` at `signing_clock` time (wall clock by default,
    since the bot checks freshness against its own clock) and POSTed to `bot_url`; with no
    `bot_url` they go as Socket Mode envelopes, and the ack comes back as a 200 response whose
    JSON is the ack's `payload`, so callers read both alike. `channel` is where slash commands
    are typed unless one is named. `timeout` is how long Slack waits for an acknowledgement.
    Every method takes a `delivery` to tamper with the request.
    """

    def __init__(
        self,
        slack: Slack,
        user_id: str,
        bot_url: str | None,
        signing_secret: str,
        *,
        channel: str | None = None,
        timeout: float = 3.0,
        signing_clock: Callable[[], float] = time.time,
    ) -> None:
        self.slack = slack
        self.user_id = user_id
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.channel = channel
        self.timeout = timeout
        self.signing_clock = signing_clock
        self.last_request: SignedRequest | None = None
        self.last_envelope: dict[str, Any] | None = None

    def click(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        value: str | None = None,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Click a button in a message (channel, thread, DM, or an ephemeral shown to this user).

        `value` picks among buttons sharing an `action_id`. Raises LookupError when there is no
        such message or button.
        """
        message, _ = self.slack.shown_message(self.user_id, self.slack.conversation(channel).id, ts)
        block_id, button = payloads.find_button(message.get("blocks", []), action_id, value)
        action = payloads.button_action(block_id, button, self.slack.new_ts())
        return self._act_in_message(channel, ts, action, delivery)

    def pick_user(
        self,
        channel: str,
        ts: str,
        action_id: str,
        picked: str,
        *,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Pick `picked` in a user picker (users_select) of a message, as Slack sends it at once.

        Raises LookupError when there is no such message or picker.
        """
        message, _ = self.slack.shown_message(self.user_id, self.slack.conversation(channel).id, ts)
        blocks = message.get("blocks", [])
        block_id, element = payloads.find_element(blocks, action_id, None, kind="users_select")
        action = payloads.user_picked(block_id, element, picked, self.slack.new_ts())
        return self._act_in_message(channel, ts, action, delivery)

    def _act_in_message(
        self, channel: str, ts: str, action: dict[str, Any], delivery: Delivery | None
    ) -> httpx.Response:
        slack = self.slack
        user = slack.member(self.user_id)
        chan = slack.conversation(channel)
        message, is_ephemeral = slack.shown_message(user.id, chan.id, ts)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": chan.id,
            "is_ephemeral": is_ephemeral,
        }
        if message.get("thread_ts", ts) != ts:
            container["thread_ts"] = message["thread_ts"]
        extra: dict[str, Any] = {
            "channel": payloads.channel_ref(chan),
            "response_url": slack.new_response_url(user.id, chan.id, ts, is_ephemeral=is_ephemeral),
        }
        if not is_ephemeral:
            extra["message"] = message
        payload = payloads.block_actions(
            slack.workspace,
            user,
            verification_token=slack.verification_token,
            trigger_id=slack.new_trigger(user.id),
            container=container,
            action=action,
            extra=extra,
        )
        return self._send("interactive", payload, delivery)

    def click_in_view(
        self,
        view_id: str,
        action_id: str,
        *,
        value: str | None = None,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Click a button in an open modal or in this user's App Home."""
        view = self.slack.shown_view(self.slack.member(self.user_id).id, view_id)
        block_id, button = payloads.find_button(view["blocks"], action_id, value)
        action = payloads.button_action(block_id, button, self.slack.new_ts())
        return self._act_in_view(view, action, delivery)

    def choose_in_view(
        self, view_id: str, block_id: str, value: str, *, delivery: Delivery | None = None
    ) -> httpx.Response:
        """Pick option `value` in a select of an open modal whose input dispatches its changes."""
        view = self.slack.shown_view(self.slack.member(self.user_id).id, view_id)
        action = payloads.select_action(view["blocks"], block_id, value, self.slack.new_ts())
        return self._act_in_view(view, action, delivery)

    def _act_in_view(
        self, view: dict[str, Any], action: dict[str, Any], delivery: Delivery | None
    ) -> httpx.Response:
        slack = self.slack
        user = slack.member(self.user_id)
        payload = payloads.block_actions(
            slack.workspace,
            user,
            verification_token=slack.verification_token,
            trigger_id=slack.new_trigger(user.id),
            container={"type": "view", "view_id": view["id"]},
            action=action,
            extra={"view": view},
        )
        return self._send("interactive", payload, delivery)

    def submit_view(
        self,
        view_id: str,
        values: dict[str, dict[str, Any]] | None = None,
        *,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Submit an open modal with `{block_id: {action_id: value}}` (option values for selects).

        The bot's answer is applied to the modal stack as Slack would: `errors` keep the modal
        open (see `emulator.view_errors`), `update`/`push`/`clear`, and an empty 200 closes it.
        """
        slack = self.slack
        user = slack.member(self.user_id)
        view = slack.shown_view(user.id, view_id)
        if view["type"] != "modal":
            raise LookupError(f"{view_id} is not a modal")
        view["state"] = {"values": payloads.state_values(view, values or {})}
        slack.keep_state(view_id, view["state"])
        payload = payloads.view_submission(
            slack.workspace,
            user,
            view,
            verification_token=slack.verification_token,
            trigger_id=slack.new_trigger(user.id),
        )
        response = self._send("interactive", payload, delivery)
        slack.answer_submission(view_id, response.status_code, _answer(response))
        return response

    def close_view(
        self, view_id: str, *, delivery: Delivery | None = None
    ) -> httpx.Response | None:
        """Dismiss a modal; the bot hears of it (view_closed) only if it asked `notify_on_close`."""
        slack = self.slack
        user = slack.member(self.user_id)
        view = slack.shown_view(user.id, view_id)
        slack.close_view(view_id)
        if not view["notify_on_close"]:
            return None
        payload = payloads.view_closed(
            slack.workspace, user, view, verification_token=slack.verification_token
        )
        return self._send("interactive", payload, delivery)

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        channel: str | None = None,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Type `command text` in `channel` (default: the user's own `channel`); a non-empty 200
        answer is shown as Slack would."""
        where = channel or self.channel
        if where is None:
            raise ValueError("name the channel the command is typed in")
        slack = self.slack
        user = slack.member(self.user_id)
        chan = slack.conversation(where)
        fields = payloads.slash_command(
            slack.workspace,
            user,
            chan,
            command=command,
            text=text,
            verification_token=slack.verification_token,
            trigger_id=slack.new_trigger(user.id),
            response_url=slack.new_response_url(user.id, chan.id),
        )
        response = self._send("slash_commands", fields, delivery)
        answer = _answer(response)
        if response.status_code == 200 and answer:
            slack.show_command_answer(user.id, chan.id, answer)
        return response

    def open_app_home(self, *, delivery: Delivery | None = None) -> httpx.Response:
        """Open the app's Home tab: an `app_home_opened` event with the current home view."""
        slack = self.slack
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": self.user_id,
            "channel": slack.conversation(self.user_id).id,
            "tab": "home",
            "event_ts": slack.new_ts(),
        }
        home = slack.home(self.user_id)
        if home is not None:
            event["view"] = home
        return self.send_event(event, delivery=delivery)

    def send_event(
        self, event: dict[str, Any], *, delivery: Delivery | None = None
    ) -> httpx.Response:
        """Deliver any Events API event, with a fresh `event_id`."""
        slack = self.slack
        payload = payloads.event_callback(
            slack.workspace,
            event,
            event_id=slack.new_event_id(),
            event_time=int(slack.clock()),
            verification_token=slack.verification_token,
        )
        return self._send("events_api", payload, delivery)

    def replay(self) -> httpx.Response:
        """Send the previous request again, byte for byte (same timestamp and signature).

        In Socket Mode, the same envelope again, envelope_id included.
        """
        if self.bot_url is None and self.last_envelope is not None:
            return self._relay(self.last_envelope)
        if self.last_request is None:
            raise LookupError("nothing sent yet")
        return self._post(self.last_request)

    def _send(self, kind: str, payload: Any, delivery: Delivery | None) -> httpx.Response:
        """Deliver a request of `kind` (a Socket Mode envelope type) over HTTP or the socket."""
        delivery = delivery or Delivery()
        if self.bot_url is None:
            return self._relay(_envelope(kind, payload, delivery))
        request = signing.sign(
            self.bot_url,
            *_HTTP_BODIES[kind](payload),
            signing_secret=self.signing_secret,
            now=self.signing_clock(),
            delivery=delivery,
        )
        self.last_request = request
        return self._post(request)

    def _relay(self, envelope: dict[str, Any]) -> httpx.Response:
        """Send an envelope to the app and wait for its ack, as Slack waits for an HTTP answer."""
        self.last_envelope = envelope
        url, answer = self.slack.relay(envelope, self.timeout)
        request = httpx.Request("POST", url)
        if answer is None:
            return httpx.Response(200, request=request)
        return httpx.Response(200, json=answer, request=request)

    def _post(self, request: SignedRequest) -> httpx.Response:
        return httpx.post(
            request.url, content=request.body, headers=request.headers, timeout=self.timeout
        )


def _envelope(kind: str, payload: Any, delivery: Delivery) -> dict[str, Any]:
    """Wrap a payload as Slack does in Socket Mode, where nothing is signed."""
    if delivery.bad_signature or delivery.age:
        raise ValueError("Socket Mode envelopes are not signed: no bad_signature or age")
    return payloads.envelope(
        kind,
        payload,
        accepts_response_payload=kind == "slash_commands"
        or payload.get("type") == "view_submission",
        retry_attempt=delivery.retry_num or 0,
        retry_reason=delivery.retry_reason if delivery.retry_num else "",
    )


def _answer(response: httpx.Response) -> Any:
    """The bot's acknowledgement body: JSON when it is JSON, else text (empty: None)."""
    if not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text
