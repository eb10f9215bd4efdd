"""chat.* over real HTTP: posting, threads, edits, ephemerals, deletes and Slack's refusals."""

import json
import threading

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack_emulator import DEFAULT_TOKEN, MARKETING_CHANNEL, REP_1, SALES_CHANNEL, SlackEmulator

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument:UserWarning")


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()  # type: ignore[operator]
    return raised.value.response["error"]


def test_post_message_stores_blocks_metadata_and_increasing_ts(
    client: WebClient, emulator: SlackEmulator
) -> None:
    metadata = {"event_type": "lead_posted", "event_payload": {"lead_id": 7}}
    first = client.chat_postMessage(
        channel=SALES_CHANNEL, text="New SQL", blocks=[section("*Ada*")], metadata=metadata
    )
    second = client.chat_postMessage(channel="#sales", text="another")

    assert first["channel"] == SALES_CHANNEL
    assert float(first["ts"]) < float(second["ts"])
    stored = emulator.messages(SALES_CHANNEL)
    assert [m["text"] for m in stored] == ["New SQL", "another"]
    assert stored[0]["metadata"] == metadata
    assert stored[0]["blocks"][0]["block_id"]
    assert stored[0]["bot_id"] == emulator.workspace.bot.bot_id


def test_form_encoded_post_with_blocks_as_json_string(emulator: SlackEmulator) -> None:
    response = httpx.post(
        f"{emulator.api_url}chat.postMessage",
        data={"channel": MARKETING_CHANNEL, "blocks": json.dumps([section("hi")]), "text": "hi"},
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    )

    assert response.json()["ok"] is True
    assert emulator.messages(MARKETING_CHANNEL)[0]["blocks"][0]["text"]["text"] == "hi"


def test_posting_to_a_user_id_opens_their_dm(client: WebClient, emulator: SlackEmulator) -> None:
    response = client.chat_postMessage(channel=REP_1, text="Reminder")

    dm_id = client.conversations_open(users=REP_1)["channel"]["id"]
    assert response["channel"] == dm_id
    assert dm_id.startswith("D")
    assert [m["text"] for m in emulator.dms(REP_1)] == ["Reminder"]


def test_thread_replies_are_kept_out_of_the_channel(
    client: WebClient, emulator: SlackEmulator
) -> None:
    parent = client.chat_postMessage(channel=SALES_CHANNEL, text="card")["ts"]
    client.chat_postMessage(channel=SALES_CHANNEL, text="reminder", thread_ts=parent)

    assert [m["text"] for m in emulator.messages(SALES_CHANNEL)] == ["card"]
    thread = emulator.thread(SALES_CHANNEL, parent)
    assert [m["text"] for m in thread] == ["card", "reminder"]
    assert thread[0]["reply_count"] == 1
    assert thread[1]["thread_ts"] == parent


def test_update_replaces_given_fields_and_marks_edited(
    client: WebClient, emulator: SlackEmulator
) -> None:
    ts = client.chat_postMessage(channel=SALES_CHANNEL, text="open", blocks=[section("a")])["ts"]

    response = client.chat_update(channel=SALES_CHANNEL, ts=ts, text="claimed")

    message = emulator.message(SALES_CHANNEL, ts)
    assert response["text"] == "claimed"
    assert message["text"] == "claimed"
    assert message["blocks"][0]["text"]["text"] == "a"
    assert message["edited"]["user"] == emulator.workspace.bot.user_id


def test_ephemeral_delete_and_permalink(client: WebClient, emulator: SlackEmulator) -> None:
    ts = client.chat_postMessage(channel=SALES_CHANNEL, text="card")["ts"]
    client.chat_postEphemeral(channel=SALES_CHANNEL, user=REP_1, text="already claimed")
    link = client.chat_getPermalink(channel=SALES_CHANNEL, message_ts=ts)["permalink"]
    client.chat_delete(channel=SALES_CHANNEL, ts=ts)

    assert [e["text"] for e in emulator.ephemerals(REP_1)] == ["already claimed"]
    assert emulator.ephemerals(REP_1, SALES_CHANNEL)[0]["channel"] == SALES_CHANNEL
    assert link.endswith(f"/archives/{SALES_CHANNEL}/p{ts.replace('.', '')}")
    assert emulator.messages(SALES_CHANNEL) == []


def test_auth_errors(emulator: SlackEmulator) -> None:
    anonymous = WebClient(base_url=emulator.api_url, retry_handlers=[])
    wrong = WebClient(base_url=emulator.api_url, token="xoxb-wrong", retry_handlers=[])

    assert error_of(lambda: anonymous.chat_postMessage(channel=SALES_CHANNEL, text="x")) == (
        "not_authed"
    )
    assert error_of(lambda: wrong.auth_test()) == "invalid_auth"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOPE00000", "text": "x"}, "channel_not_found"),
        ({"channel": SALES_CHANNEL}, "no_text"),
        ({"channel": SALES_CHANNEL, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": SALES_CHANNEL, "blocks": [section("x")] * 51}, "invalid_blocks"),
        ({"channel": SALES_CHANNEL, "blocks": [section("x" * 3001)]}, "invalid_blocks"),
        (
            {"channel": SALES_CHANNEL, "metadata": {"event_type": "x"}, "text": "x"},
            "invalid_metadata_format",
        ),
    ],
)
def test_post_message_refusals(client: WebClient, kwargs: dict[str, object], error: str) -> None:
    assert error_of(lambda: client.chat_postMessage(**kwargs)) == error


def test_invalid_blocks_name_the_offending_field(client: WebClient) -> None:
    button = {"type": "button", "action_id": "accept", "text": {"type": "plain_text", "text": "A"}}
    blocks = [{"type": "actions", "elements": [{**button, "value": "v" * 2001}]}]

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=SALES_CHANNEL, blocks=blocks)

    assert raised.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/elements/0/value" in raised.value.response["response_metadata"]["messages"][0]


def test_update_delete_and_ephemeral_refusals(client: WebClient) -> None:
    assert error_of(lambda: client.chat_update(channel=SALES_CHANNEL, ts="1.000001", text="x")) == (
        "message_not_found"
    )
    assert error_of(lambda: client.chat_delete(channel=SALES_CHANNEL, ts="1.000001")) == (
        "message_not_found"
    )
    assert error_of(
        lambda: client.chat_postEphemeral(channel=SALES_CHANNEL, user="U0NOBODY000", text="x")
    ) == ("user_not_found")
    assert error_of(
        lambda: client.chat_postEphemeral(channel=f"D{REP_1[1:]}", user="U0REP000002", text="x")
    ) == ("user_not_in_channel")
    assert error_of(lambda: client.api_call("chat.nonsense")) == "unknown_method"


def test_wait_for_returns_once_a_concurrent_post_lands(
    client: WebClient, emulator: SlackEmulator
) -> None:
    poster = threading.Thread(target=lambda: client.chat_postMessage(channel=REP_1, text="hi"))
    poster.start()

    dms = emulator.wait_for(lambda: emulator.dms(REP_1), timeout=2)

    poster.join()
    assert dms[0]["text"] == "hi"
    with pytest.raises(TimeoutError):
        emulator.wait_for(lambda: emulator.messages(SALES_CHANNEL), timeout=0.05)
