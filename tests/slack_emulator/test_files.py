"""File uploads, as slack_sdk's files_upload_v2 performs them against Slack."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack_emulator import REP_1, SlackEmulator


def test_upload_to_a_dm_posts_the_file_with_its_comment(
    emulator: SlackEmulator, client: WebClient
) -> None:
    dm = client.conversations_open(users=REP_1)["channel"]["id"]
    response = client.files_upload_v2(
        channel=dm,
        content="a,b\n1,2\n",
        filename="feedback.csv",
        title="Feedback",
        initial_comment="Here it is",
    )
    file = response["file"]
    assert (file["name"], file["title"], file["size"]) == ("feedback.csv", "Feedback", 8)
    assert emulator.file_content(file["id"]) == b"a,b\n1,2\n"
    (message,) = emulator.dms(REP_1)
    assert message["text"] == "Here it is" and message["files"][0]["id"] == file["id"]


def test_completing_an_unknown_or_unfinished_upload_fails(client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_completeUploadExternal(files=[{"id": "F404", "title": "x"}])
    pending = client.files_getUploadURLExternal(filename="x.csv", length=3)["file_id"]
    with pytest.raises(SlackApiError, match="file_upload_not_complete"):
        client.files_completeUploadExternal(files=[{"id": pending, "title": "x"}])
