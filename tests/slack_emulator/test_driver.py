"""The Slack-user driver: signed payloads as Slack sends them, and Slack's side of the answers."""

import httpx
import pytest
from slack_sdk import WebClient
from starlette.responses import Response

from slack_driver import Delivery
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from tests.slack_emulator.conftest import Receiver

BUTTONS = [
    {
        "type": "actions",
        "block_id": "lead_7",
        "elements": [
            {
                "type": "button",
                "action_id": "accept",
                "text": {"type": "plain_text", "text": "Accept"},
                "value": "7",
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": "7",
            },
        ],
    }
]
REASON = {
    "type": "input",
    "block_id": "reason",
    "label": {"type": "plain_text", "text": "Reason"},
    "element": {
        "type": "static_select",
        "action_id": "code",
        "options": [
            {"text": {"type": "plain_text", "text": "No budget"}, "value": "no_budget"},
            {"text": {"type": "plain_text", "text": "Other"}, "value": "other"},
        ],
    },
}
NOTE = {
    "type": "input",
    "block_id": "note",
    "optional": True,
    "label": {"type": "plain_text", "text": "Note"},
    "element": {"type": "plain_text_input", "action_id": "text"},
}
REJECT_MODAL = {
    "type": "modal",
    "callback_id": "reject",
    "private_metadata": "7",
    "title": {"type": "plain_text", "text": "Reject lead"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [REASON, NOTE],
}


def post_card(client: WebClient, channel: str = SALES_CHANNEL) -> str:
    return client.chat_postMessage(channel=channel, text="New SQL", blocks=BUTTONS)["ts"]


def open_modal(client: WebClient, emulator: SlackEmulator, user: str = REP_1) -> str:
    return client.views_open(trigger_id=emulator.new_trigger(user), view=REJECT_MODAL)["view"]["id"]


def test_click_sends_a_signed_block_actions_payload(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    ts = post_card(client)

    response = emulator.user(REP_1).click(SALES_CHANNEL, ts, "accept")

    assert response.status_code == 200
    received = receiver.received[-1]
    assert received.signature_valid
    payload = received.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": REP_1,
        "username": "alice",
        "name": "alice",
        "team_id": "T0BATON0001",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": SALES_CHANNEL,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": SALES_CHANNEL, "name": "sales"}
    assert payload["message"]["blocks"] == emulator.message(SALES_CHANNEL, ts)["blocks"]
    assert payload["response_url"].startswith(emulator.url)
    assert payload["enterprise"] is None
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == ("accept", "lead_7", "7")
    assert action["type"] == "button"
    assert action["text"]["text"] == "Accept"


def test_the_click_trigger_opens_a_modal_only_within_its_lifetime(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    emulator.user(REP_1).click(SALES_CHANNEL, post_card(client), "reject")
    trigger_id = receiver.received[-1].payload()["trigger_id"]

    view = client.views_open(trigger_id=trigger_id, view=REJECT_MODAL)["view"]

    assert emulator.open_views(REP_1)[0]["id"] == view["id"]


def test_click_without_such_button_or_message_raises(
    client: WebClient, emulator: SlackEmulator
) -> None:
    ts = post_card(client)
    rep = emulator.user(REP_1)

    with pytest.raises(LookupError):
        rep.click(SALES_CHANNEL, ts, "reassign")
    with pytest.raises(LookupError):
        rep.click(SALES_CHANNEL, "1.000001", "accept")


def test_click_in_a_dm_and_in_an_ephemeral(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    dm_ts = post_card(client, channel=REP_2)
    ephemeral_ts = client.chat_postEphemeral(
        channel=SALES_CHANNEL, user=REP_2, text="x", blocks=BUTTONS
    )["message_ts"]
    rep = emulator.user(REP_2)

    rep.click(REP_2, dm_ts, "accept")
    in_dm = receiver.received[-1].payload()
    rep.click(SALES_CHANNEL, ephemeral_ts, "accept")
    in_ephemeral = receiver.received[-1].payload()

    assert in_dm["channel"]["name"] == "directmessage"
    assert in_dm["container"]["channel_id"].startswith("D")
    assert in_ephemeral["container"]["is_ephemeral"] is True
    assert "message" not in in_ephemeral
    with pytest.raises(LookupError):
        emulator.user(REP_1).click(SALES_CHANNEL, ephemeral_ts, "accept")


def test_response_url_replaces_answers_and_deletes(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    ts = post_card(client)
    emulator.user(REP_1).click(SALES_CHANNEL, ts, "accept")
    url = receiver.received[-1].payload()["response_url"]

    httpx.post(url, json={"replace_original": True, "text": "Claimed by alice"})
    httpx.post(url, json={"text": "You claimed it"})
    httpx.post(url, json={"response_type": "in_channel", "text": "alice is on it"})

    assert [m["text"] for m in emulator.messages(SALES_CHANNEL)] == [
        "Claimed by alice",
        "alice is on it",
    ]
    assert [e["text"] for e in emulator.ephemerals(REP_1)] == ["You claimed it"]
    assert httpx.post(url, json={"delete_original": True}).status_code == 200
    assert [m["text"] for m in emulator.messages(SALES_CHANNEL)] == ["alice is on it"]
    httpx.post(url, json={"text": "fifth use"})
    used_up = httpx.post(url, json={"text": "sixth use"})
    assert (used_up.status_code, used_up.json()["error"]) == (404, "used_url")
    assert [c.status for c in emulator.calls("response_url")] == [200] * 5 + [404]


def test_submit_view_with_errors_keeps_the_modal_open(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    view_id = open_modal(client, emulator)
    receiver.answer_json({"response_action": "errors", "errors": {"note": "Say why"}})

    emulator.user(REP_1).submit_view(view_id, {"reason": {"code": "other"}})

    payload = receiver.received[-1].payload()
    assert payload["type"] == "view_submission"
    assert payload["view"]["callback_id"] == "reject"
    assert payload["view"]["private_metadata"] == "7"
    assert payload["view"]["state"]["values"] == {
        "reason": {
            "code": {
                "type": "static_select",
                "selected_option": REASON["element"]["options"][1],  # type: ignore[index]
            }
        },
        "note": {"text": {"type": "plain_text_input", "value": None}},
    }
    assert emulator.view_errors(view_id) == {"note": "Say why"}
    assert [v["id"] for v in emulator.open_views(REP_1)] == [view_id]


def test_submit_view_answers_update_push_and_close(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    rep = emulator.user(REP_1)
    values = {"reason": {"code": "no_budget"}, "note": {"text": "too small"}}
    view_id = open_modal(client, emulator)
    done = {"type": "modal", "title": {"type": "plain_text", "text": "Done"}, "blocks": []}

    receiver.answer_json({"response_action": "update", "view": done})
    rep.submit_view(view_id, values)
    assert emulator.open_views(REP_1)[0]["title"]["text"] == "Done"

    receiver.answer_json({"response_action": "push", "view": REJECT_MODAL})
    client.views_update(view_id=view_id, view=REJECT_MODAL)
    rep.submit_view(view_id, values)
    assert len(emulator.open_views(REP_1)) == 2

    receiver.answer = lambda _: Response(status_code=200)
    rep.submit_view(emulator.open_views(REP_1)[1]["id"], values)
    assert [v["id"] for v in emulator.open_views(REP_1)] == [view_id]

    receiver.answer_json({"response_action": "clear"})
    rep.submit_view(view_id, values)
    assert emulator.open_views(REP_1) == []


def test_submit_refuses_what_slack_would_not_send(
    client: WebClient, emulator: SlackEmulator
) -> None:
    view_id = open_modal(client, emulator)
    rep = emulator.user(REP_1)

    with pytest.raises(ValueError, match="required"):
        rep.submit_view(view_id, {"note": {"text": "x"}})
    with pytest.raises(ValueError, match="no option"):
        rep.submit_view(view_id, {"reason": {"code": "nope"}})
    with pytest.raises(LookupError):
        emulator.user(REP_2).submit_view(view_id, {"reason": {"code": "other"}})


def test_slash_command_payload_and_answers(emulator: SlackEmulator, receiver: Receiver) -> None:
    manager = emulator.user(MANAGER)
    receiver.answer_json({"text": "3 leads in queue"})

    manager.slash_command("/leads", "queue")
    receiver.answer_json({"response_type": "in_channel", "text": "Weekly stats"})
    manager.slash_command("/leads", "stats")

    form = receiver.received[0].form()
    assert receiver.received[0].signature_valid
    assert {k: form[k] for k in ("command", "text", "user_id", "channel_id", "channel_name")} == {
        "command": "/leads",
        "text": "queue",
        "user_id": MANAGER,
        "channel_id": SALES_CHANNEL,
        "channel_name": "sales",
    }
    assert form["trigger_id"] and form["response_url"].startswith(emulator.url)
    assert [e["text"] for e in emulator.ephemerals(MANAGER)] == ["3 leads in queue"]
    assert [m["text"] for m in emulator.messages(SALES_CHANNEL)] == ["Weekly stats"]


def test_app_home_opened_event(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    rep = emulator.user(REP_1)
    rep.open_app_home()
    home = {"type": "home", "blocks": BUTTONS}
    view_id = client.views_publish(user_id=REP_1, view=home)["view"]["id"]
    rep.open_app_home()
    rep.click_in_view(view_id, "accept")

    first, second, click = (r.payload() for r in receiver.received)
    assert first["type"] == "event_callback"
    assert first["event"]["type"] == "app_home_opened"
    assert first["event"]["user"] == REP_1
    assert first["event_id"] != second["event_id"]
    assert "view" not in first["event"] and second["event"]["view"]["id"] == view_id
    assert click["container"] == {"type": "view", "view_id": view_id}
    assert click["view"]["id"] == view_id


def test_tampered_stale_replayed_and_retried_requests(
    emulator: SlackEmulator, receiver: Receiver
) -> None:
    rep = emulator.user(REP_1)

    assert rep.open_app_home(delivery=Delivery(bad_signature=True)).status_code == 401
    assert rep.open_app_home(delivery=Delivery(age=301)).status_code == 401
    rep.open_app_home(delivery=Delivery(retry_num=1, retry_reason="http_timeout"))
    rep.replay()

    bad, stale, retried, replayed = receiver.received
    assert not bad.signature_valid and not stale.signature_valid
    assert retried.headers["x-slack-retry-num"] == "1"
    assert retried.headers["x-slack-retry-reason"] == "http_timeout"
    assert replayed.body == retried.body
    assert replayed.headers["x-slack-signature"] == retried.headers["x-slack-signature"]
    assert replayed.signature_valid


def test_closing_a_modal_notifies_only_when_asked(
    client: WebClient, emulator: SlackEmulator, receiver: Receiver
) -> None:
    rep = emulator.user(REP_1)
    quiet = open_modal(client, emulator)
    assert rep.close_view(quiet) is None
    noisy = client.views_open(
        trigger_id=emulator.new_trigger(REP_1), view={**REJECT_MODAL, "notify_on_close": True}
    )["view"]["id"]

    rep.close_view(noisy)

    assert [r.payload()["type"] for r in receiver.received] == ["view_closed"]
    assert emulator.open_views(REP_1) == []
