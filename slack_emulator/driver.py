"""`SlackUser`: plays a person in Slack, sending the bot requests built from its state."""

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from slack_emulator import messages, payloads, signing, sockets, views
from slack_emulator.clock import Clock
from slack_emulator.errors import SlackError
from slack_emulator.signing import Delivery, SignedRequest
from slack_emulator.workspace import SALES_CHANNEL

if TYPE_CHECKING:
    from slack_emulator.emulator import SlackEmulator

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
    JSON is the ack's `payload`, so callers read both alike. `timeout` is how long Slack waits
    for an acknowledgement. Every method takes a `delivery` to tamper with the request.
    """

    def __init__(
        self,
        emulator: "SlackEmulator",
        user_id: str,
        bot_url: str | None,
        signing_secret: str,
        *,
        timeout: float = 3.0,
        signing_clock: Clock = time.time,
    ) -> None:
        self.emulator = emulator
        self.user_id = user_id
        self.bot_url = bot_url
        self.signing_secret = signing_secret
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
        store = self.emulator.store
        with store.lock:
            user = store.user(self.user_id)
            chan = store.channel(channel)
            message, is_ephemeral = self._find_message(chan.id, ts)
            block_id, button = payloads.find_button(message.get("blocks", []), action_id, value)
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": chan.id,
                "is_ephemeral": is_ephemeral,
            }
            if message.get("thread_ts", ts) != ts:
                container["thread_ts"] = message["thread_ts"]
            url_id = store.new_response_url(user.id, chan.id, ts, is_ephemeral=is_ephemeral)
            extra: dict[str, Any] = {
                "channel": payloads.channel_ref(chan),
                "response_url": f"{self.emulator.url}/response_url/{url_id}",
            }
            if not is_ephemeral:
                extra["message"] = copy.deepcopy(message)
            payload = payloads.block_actions(
                store.workspace,
                user,
                verification_token=self.emulator.verification_token,
                trigger_id=store.new_trigger(user.id),
                container=container,
                action=payloads.button_action(block_id, button, store.next_ts()),
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
        store = self.emulator.store
        with store.lock:
            user = store.user(self.user_id)
            view = self._own_view(view_id)
            block_id, button = payloads.find_button(view["blocks"], action_id, value)
            payload = payloads.block_actions(
                store.workspace,
                user,
                verification_token=self.emulator.verification_token,
                trigger_id=store.new_trigger(user.id),
                container={"type": "view", "view_id": view_id},
                action=payloads.button_action(block_id, button, store.next_ts()),
                extra={"view": copy.deepcopy(view)},
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
        store = self.emulator.store
        with store.lock:
            user = store.user(self.user_id)
            view = self._own_view(view_id)
            if view["type"] != "modal":
                raise LookupError(f"{view_id} is not a modal")
            view["state"] = {"values": payloads.state_values(view, values or {})}
            payload = payloads.view_submission(
                store.workspace,
                user,
                copy.deepcopy(view),
                verification_token=self.emulator.verification_token,
                trigger_id=store.new_trigger(user.id),
            )
        response = self._send("interactive", payload, delivery)
        self.emulator.answer_submission(view_id, response.status_code, _answer(response))
        return response

    def close_view(
        self, view_id: str, *, delivery: Delivery | None = None
    ) -> httpx.Response | None:
        """Dismiss a modal; the bot hears of it (view_closed) only if it asked `notify_on_close`."""
        store = self.emulator.store
        with store.lock:
            user = store.user(self.user_id)
            view = copy.deepcopy(self._own_view(view_id))
        self.emulator.close_view(view_id)
        if not view["notify_on_close"]:
            return None
        payload = payloads.view_closed(
            store.workspace, user, view, verification_token=self.emulator.verification_token
        )
        return self._send("interactive", payload, delivery)

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        channel: str = SALES_CHANNEL,
        delivery: Delivery | None = None,
    ) -> httpx.Response:
        """Type `command text` in `channel`; a non-empty 200 answer is shown as Slack would."""
        store = self.emulator.store
        with store.lock:
            user = store.user(self.user_id)
            chan = store.channel(channel)
            url_id = store.new_response_url(user.id, chan.id, None, is_ephemeral=False)
            fields = payloads.slash_command(
                store.workspace,
                user,
                chan,
                command=command,
                text=text,
                verification_token=self.emulator.verification_token,
                trigger_id=store.new_trigger(user.id),
                response_url=f"{self.emulator.url}/response_url/{url_id}",
            )
        response = self._send("slash_commands", fields, delivery)
        answer = _answer(response)
        if response.status_code == 200 and answer:
            self.emulator.show_command_answer(user.id, chan.id, answer)
        return response

    def open_app_home(self, *, delivery: Delivery | None = None) -> httpx.Response:
        """Open the app's Home tab: an `app_home_opened` event with the current home view."""
        store = self.emulator.store
        with store.lock:
            event: dict[str, Any] = {
                "type": "app_home_opened",
                "user": self.user_id,
                "channel": store.dm(self.user_id).id,
                "tab": "home",
                "event_ts": store.next_ts(),
            }
            home_id = store.homes.get(self.user_id)
            if home_id:
                event["view"] = copy.deepcopy(store.views[home_id])
        return self.send_event(event, delivery=delivery)

    def send_event(
        self, event: dict[str, Any], *, delivery: Delivery | None = None
    ) -> httpx.Response:
        """Deliver any Events API event, with a fresh `event_id`."""
        store = self.emulator.store
        with store.lock:
            payload = payloads.event_callback(
                store.workspace,
                event,
                event_id=store.new_id("Ev"),
                event_time=int(store.clock()),
                verification_token=self.emulator.verification_token,
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

    def _find_message(self, channel_id: str, ts: str) -> tuple[dict[str, Any], bool]:
        store = self.emulator.store
        try:
            return messages.find(store, channel_id, ts), False
        except SlackError:
            pass
        try:
            return messages.find_ephemeral(store, channel_id, self.user_id, ts), True
        except SlackError:
            raise LookupError(f"no message {ts} in {channel_id} for {self.user_id}") from None

    def _own_view(self, view_id: str) -> dict[str, Any]:
        store = self.emulator.store
        try:
            view = views.find(store, view_id)
        except SlackError:
            raise LookupError(f"view {view_id} is not open") from None
        if store.view_users[view_id] != self.user_id:
            raise LookupError(f"view {view_id} belongs to {store.view_users[view_id]}")
        return view

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
        connection, answer = self.emulator.sockets.deliver(envelope, self.timeout)
        request = httpx.Request("POST", connection.url)
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
    return sockets.envelope(
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
