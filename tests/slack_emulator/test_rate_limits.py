"""Slack's rate limits, when asked for: posts paced per channel, other methods per tier, 429 with
Retry-After and no effect; off by default. Time moves on the emulator's manual clock."""

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient

from slack_emulator import (
    DEFAULT_TOKEN,
    MARKETING_CHANNEL,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    ManualClock,
    Rate,
    RateLimits,
    SlackEmulator,
)

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def call(emulator: SlackEmulator, method: str, **args: object) -> httpx.Response:
    return httpx.post(f"{emulator.api_url}{method}", json=args, headers=AUTH)


def post(emulator: SlackEmulator, channel: str, text: str = "card") -> httpx.Response:
    return call(emulator, "chat.postMessage", channel=channel, text=text)


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[SlackEmulator]:
    """Posts: 2 at once, then one a second; Tier 3: 1 at once, then 6 a minute; Tier 4 open."""
    limits = RateLimits(post=Rate(60, burst=2), tiers={3: Rate(6, burst=1)})
    with SlackEmulator(clock=clock, rate_limits=limits) as emulator:
        yield emulator


def test_without_rate_limits_every_call_goes_through(emulator: SlackEmulator) -> None:
    statuses = [post(emulator, SALES_CHANNEL).status_code for _ in range(30)]

    assert statuses == [200] * 30
    assert len(emulator.messages(SALES_CHANNEL)) == 30


def test_posts_beyond_a_channels_burst_get_429_with_retry_after_and_post_nothing(
    limited: SlackEmulator,
) -> None:
    assert [post(limited, SALES_CHANNEL, f"card {n}").status_code for n in range(2)] == [200, 200]

    refused = post(limited, SALES_CHANNEL, "card 2")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {"ok": False, "error": "ratelimited"}
    assert [m["text"] for m in limited.messages(SALES_CHANNEL)] == ["card 0", "card 1"]
    assert [c.status for c in limited.calls("chat.postMessage")] == [200, 200, 429]


def test_a_channel_at_its_limit_holds_no_other_channel_or_dm(limited: SlackEmulator) -> None:
    for _ in range(3):
        post(limited, SALES_CHANNEL)

    assert post(limited, MARKETING_CHANNEL).status_code == 200
    assert post(limited, REP_1).status_code == 200
    assert post(limited, "#sales").status_code == 429  # a channel's name is the same channel


def test_the_pace_returns_as_time_passes(limited: SlackEmulator, clock: ManualClock) -> None:
    for _ in range(3):
        post(limited, SALES_CHANNEL)

    clock.advance(1.0)
    assert post(limited, SALES_CHANNEL).status_code == 200
    assert post(limited, SALES_CHANNEL).status_code == 429
    clock.advance(10.0)  # the burst refills, no further
    statuses = [post(limited, SALES_CHANNEL).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_tiered_method_is_limited_per_workspace_and_has_no_effect_when_refused(
    limited: SlackEmulator, clock: ManualClock
) -> None:
    ts = post(limited, SALES_CHANNEL, "open").json()["ts"]
    assert call(limited, "chat.update", channel=SALES_CHANNEL, ts=ts, text="taken").is_success

    refused = call(limited, "chat.update", channel=MARKETING_CHANNEL, ts=ts, text="again")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"  # 6 a minute
    assert limited.messages(SALES_CHANNEL)[0]["text"] == "taken"
    clock.advance(10.0)
    assert call(limited, "chat.update", channel=SALES_CHANNEL, ts=ts, text="again").is_success


def test_a_method_at_its_limit_says_nothing_of_another(limited: SlackEmulator) -> None:
    ts = post(limited, SALES_CHANNEL).json()["ts"]
    updates = [call(limited, "chat.update", channel=SALES_CHANNEL, ts=ts, text="x") for _ in "ab"]

    opened = call(limited, "conversations.open", users=REP_2)  # Tier 3 too, its own budget
    told = {
        call(
            limited, "chat.postEphemeral", channel=SALES_CHANNEL, user=REP_1, text="hi"
        ).status_code
        for _ in range(20)
    }

    assert [update.status_code for update in updates] == [200, 429]
    assert opened.status_code == 200
    assert told == {200}  # Tier 4 is not limited in this configuration


def test_slacks_own_rates_take_a_tier_3_burst_then_pace(clock: ManualClock) -> None:
    with SlackEmulator(clock=clock, rate_limits=RateLimits()) as emulator:
        client = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])
        opened = [call(emulator, "conversations.open", users=REP_1) for _ in range(11)]
        posts = [post(emulator, SALES_CHANNEL).status_code for _ in range(4)]
        client.users_info(user=REP_1)  # Tier 4: a budget of its own

    assert [r.status_code for r in opened] == [200] * 10 + [429]
    assert opened[-1].headers["Retry-After"] == "2"  # 50 a minute: one every 1.2 s
    assert posts == [200, 200, 200, 429]


def test_the_command_line_flag_turns_slacks_pace_on() -> None:
    command = [sys.executable, "-m", "slack_emulator", "--rate-limits"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            api_url = process.stdout.readline().strip().removeprefix("SLACK_API_URL=")
            statuses = [
                httpx.post(
                    f"{api_url}chat.postMessage",
                    json={"channel": SALES_CHANNEL, "text": "card"},
                    headers=AUTH,
                ).status_code
                for _ in range(8)
            ]
        finally:
            process.terminate()

    # A burst of 3, then about one a second: on a busy machine a second may pass between two of
    # these posts and let one more through, never all of them.
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
