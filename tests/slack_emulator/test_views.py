"""views.* over real HTTP: triggers and their expiry, the modal stack, hashes, App Home."""

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack_emulator import REP_1, ManualClock, SlackEmulator


def modal(title: str = "Reject lead", **extra: Any) -> dict[str, Any]:
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "Why?"}}]
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "blocks": blocks,
        **extra,
    }


def home(text: str = "Your leads") -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def test_open_with_a_fresh_trigger(client: WebClient, emulator: SlackEmulator) -> None:
    view = client.views_open(
        trigger_id=emulator.new_trigger(REP_1), view=modal(private_metadata="lead-7")
    )["view"]

    assert view["id"].startswith("V")
    assert view["private_metadata"] == "lead-7"
    assert [v["id"] for v in emulator.open_views(REP_1)] == [view["id"]]


def test_trigger_expires_after_three_seconds_and_is_single_use(
    client: WebClient, emulator: SlackEmulator, clock: ManualClock
) -> None:
    late = emulator.new_trigger(REP_1)
    used = emulator.new_trigger(REP_1)
    client.views_open(trigger_id=used, view=modal())
    clock.advance(3.01)

    for trigger_id, error in [
        (late, "expired_trigger_id"),
        ("123.456.nope", "invalid_trigger_id"),
        (emulator.new_trigger(REP_1), None),
    ]:
        if error is None:
            client.views_open(trigger_id=trigger_id, view=modal())
            continue
        with pytest.raises(SlackApiError, match=error):
            client.views_open(trigger_id=trigger_id, view=modal())
    clock.advance(-3.01)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id=used, view=modal())


def test_invalid_view_is_refused(client: WebClient, emulator: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id=emulator.new_trigger(REP_1), view=modal("x" * 25))

    assert raised.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in raised.value.response["response_metadata"]["messages"][0]


def test_update_by_id_or_external_id_checks_the_hash(
    client: WebClient, emulator: SlackEmulator
) -> None:
    opened = client.views_open(
        trigger_id=emulator.new_trigger(REP_1), view=modal(external_id="reject-7")
    )["view"]

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Step 2"))[
        "view"
    ]
    client.views_update(external_id="reject-7", view=modal("Step 3", external_id="reject-7"))

    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert emulator.view(opened["id"])["title"]["text"] == "Step 3"
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id="V0NOPE", view=modal())


def test_push_stacks_up_to_three(client: WebClient, emulator: SlackEmulator) -> None:
    root = client.views_open(trigger_id=emulator.new_trigger(REP_1), view=modal())["view"]
    for _ in range(2):
        client.views_push(trigger_id=emulator.new_trigger(REP_1), view=modal("More"))

    stack = emulator.open_views(REP_1)
    assert [v["root_view_id"] for v in stack] == [root["id"]] * 3
    assert stack[2]["previous_view_id"] == stack[1]["id"]
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        client.views_push(trigger_id=emulator.new_trigger(REP_1), view=modal())


def test_publish_home_keeps_its_id(client: WebClient, emulator: SlackEmulator) -> None:
    first = client.views_publish(user_id=REP_1, view=home())["view"]
    second = client.views_publish(user_id=REP_1, view=home("2 open leads"), hash=first["hash"])[
        "view"
    ]

    assert second["id"] == first["id"]
    assert emulator.home(REP_1)["blocks"][0]["text"]["text"] == "2 open leads"  # type: ignore[index]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_publish(user_id=REP_1, view=home(), hash=first["hash"])
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.views_publish(user_id="U0NOBODY000", view=home())
    many = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id=REP_1, view=many)
