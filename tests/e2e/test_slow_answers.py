"""A `/leads` answer not ready in time for the acknowledgement arrives through response_url.

"Not ready in time" is made real by a bot that waits 0 s for its answers (`answer_within=0`)
rather than the default second: every answer then takes the late path, as a year's report on a
big database would, and the emulator shows what Slack would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handlers.serve import BatonServer
from handlers.slow_answers import WORKING
from slack_driver import SlackUser
from slack_emulator import MANAGER, REP_1, SALES_CHANNEL, SlackEmulator
from tests.e2e.conftest import card_text, slack_user


@pytest.fixture
def late(seeded: list[int], start_bot: Callable[..., BatonServer], slack: SlackEmulator) -> Any:
    """Slack users of a second bot on the seeded database that answers nothing in time."""
    patient = start_bot(answer_within=0)
    return lambda who: slack_user(slack, patient, who)


def ask_late(late: Callable[[str], SlackUser], slack: SlackEmulator, who: str, text: str) -> str:
    """Run `/leads text`: the acknowledgement says the answer is coming, and the answer follows
    through the command's response_url (on localhost it may even overtake the notice)."""
    before = len(slack.ephemerals(who))
    answered = len(slack.calls("response_url"))
    response = late(who).slash_command("/leads", text)
    assert (response.status_code, response.json()["text"]) == (200, WORKING)
    slack.wait_for(lambda: len(slack.calls("response_url")) > answered, timeout=10)
    assert [call.status for call in slack.calls("response_url")[answered:]] == [200]
    shown = [reply["text"] + " " + card_text(reply) for reply in slack.ephemerals(who)[before:]]
    assert [text.strip() for text in shown].count(WORKING) == 1
    return " ".join(text for text in shown if text.strip() != WORKING)


def test_stats_too_slow_for_the_ack_arrive_through_response_url(
    late: Callable[[str], SlackUser], slack: SlackEmulator
) -> None:
    stats = ask_late(late, slack, MANAGER, "stats 7d")
    assert "Handed off*\n4" in stats and "Accepted / rejected*\n1 / 1" in stats


def test_a_late_refusal_is_told_the_same_way(
    late: Callable[[str], SlackUser], slack: SlackEmulator
) -> None:
    assert "managers and marketers" in ask_late(late, slack, REP_1, "feedback 30d")


def test_a_late_shared_answer_is_posted_to_the_channel(
    late: Callable[[str], SlackUser], slack: SlackEmulator
) -> None:
    before = len(slack.messages(SALES_CHANNEL))
    assert ask_late(late, slack, MANAGER, "queue share") == ""  # nothing more only for them
    (shared,) = slack.messages(SALES_CHANNEL)[before:]
    assert "Waiting for a rep* (2)" in card_text(shared)
