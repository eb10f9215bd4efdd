"""conversations.*, users.*, usergroups.users.list and auth.test over real HTTP."""

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack_emulator import (
    DEFAULT_TOKEN,
    MANAGER,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SALES_REPS_GROUP,
    SlackEmulator,
    User,
    Workspace,
)
from slack_emulator.workspace import default_users

METADATA = {"event_type": "lead_posted", "event_payload": {"lead_id": 1}}


def test_auth_test_names_the_bot(client: WebClient, emulator: SlackEmulator) -> None:
    answer = client.auth_test()

    assert answer["user_id"] == emulator.workspace.bot.user_id
    assert answer["team_id"] == emulator.workspace.team.id


def test_open_dm_is_stable_per_user(client: WebClient) -> None:
    first = client.conversations_open(users=REP_1)
    again = client.conversations_open(users=REP_1, return_im=True)

    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["channel"]["is_im"] is True
    assert again["already_open"] is True
    assert client.conversations_open(users=REP_2)["channel"]["id"] != first["channel"]["id"]
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.conversations_open(users="U0NOBODY000")


def test_history_is_newest_first_paginated_and_metadata_on_request(client: WebClient) -> None:
    for index in range(3):
        client.chat_postMessage(channel=SALES_CHANNEL, text=f"m{index}", metadata=METADATA)

    first = client.conversations_history(channel=SALES_CHANNEL, limit=2)
    rest = client.conversations_history(
        channel=SALES_CHANNEL, cursor=first["response_metadata"]["next_cursor"]
    )
    with_metadata = client.conversations_history(channel=SALES_CHANNEL, include_all_metadata=True)

    assert [m["text"] for m in first["messages"]] == ["m2", "m1"]
    assert first["has_more"] is True
    assert [m["text"] for m in rest["messages"]] == ["m0"]
    assert "metadata" not in first["messages"][0]
    assert with_metadata["messages"][0]["metadata"] == METADATA


def test_history_time_window(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=SALES_CHANNEL, text=str(i))["ts"] for i in range(3)]

    answer = client.conversations_history(channel=SALES_CHANNEL, oldest=stamps[0], latest=stamps[2])

    assert [m["ts"] for m in answer["messages"]] == [stamps[1]]


def test_replies_return_the_thread_with_metadata(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=SALES_CHANNEL, text="card", metadata=METADATA)["ts"]
    client.chat_postMessage(channel=SALES_CHANNEL, text="reply", thread_ts=parent)

    answer = client.conversations_replies(
        channel=SALES_CHANNEL, ts=parent, include_all_metadata=True
    )

    assert [m["text"] for m in answer["messages"]] == ["card", "reply"]
    assert answer["messages"][0]["metadata"] == METADATA
    with pytest.raises(SlackApiError, match="thread_not_found"):
        client.conversations_replies(channel=SALES_CHANNEL, ts="1.000001")


def test_info_and_channel_errors(client: WebClient) -> None:
    assert client.conversations_info(channel=SALES_CHANNEL)["channel"]["name"] == "sales"
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.conversations_info(channel="C0NOPE00000")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.conversations_history(channel="C0NOPE00000")


def test_users_info_list_and_groups(client: WebClient) -> None:
    user = client.users_info(user=MANAGER)["user"]
    page = client.users_list(limit=2)
    rest = client.users_list(cursor=page["response_metadata"]["next_cursor"])

    assert (user["name"], user["tz"], user["is_bot"]) == ("maria", "America/New_York", False)
    assert len(page["members"]) + len(rest["members"]) == 5
    assert rest["response_metadata"]["next_cursor"] == ""
    assert client.usergroups_users_list(usergroup=SALES_REPS_GROUP)["users"] == [REP_1, REP_2]
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U0NOBODY000")
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        client.usergroups_users_list(usergroup="S0NOPE")


def test_a_deactivated_user_is_known_but_gets_no_dm() -> None:
    gone = User("U0GONE00001", "gone", "Gone Rep", deleted=True)
    with SlackEmulator(workspace=Workspace(users=(*default_users(), gone))) as emulator:
        client = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])
        assert client.users_info(user=gone.id)["user"]["deleted"] is True
        assert client.users_info(user=REP_1)["user"]["deleted"] is False
        with pytest.raises(SlackApiError, match="user_disabled"):
            client.conversations_open(users=gone.id)
        with pytest.raises(SlackApiError, match="cannot_dm_bot"):
            client.conversations_open(users=emulator.workspace.bot.user_id)
