"""Scripted failures: 429 with Retry-After, 5xx, latency, outages, and dropped connections."""

import time
from urllib.error import URLError

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from slack_emulator import (
    DEFAULT_TOKEN,
    MARKETING_CHANNEL,
    SALES_CHANNEL,
    ManualClock,
    SlackEmulator,
)

NO_WAIT = FixedValueRetryIntervalCalculator(0.0)


def test_rate_limit_is_honoured_by_the_retry_handler(emulator: SlackEmulator) -> None:
    fault = emulator.faults.add("chat.postMessage", status=429, retry_after=0)
    client = WebClient(
        base_url=emulator.api_url,
        token=DEFAULT_TOKEN,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )

    client.chat_postMessage(channel=SALES_CHANNEL, text="card")

    assert fault.hits == 1
    assert [c.status for c in emulator.calls("chat.postMessage")] == [429, 200]
    assert len(emulator.messages(SALES_CHANNEL)) == 1


def test_rate_limit_answer_carries_retry_after(emulator: SlackEmulator) -> None:
    emulator.faults.add("chat.*", status=429, retry_after=7)

    response = httpx.post(
        f"{emulator.api_url}chat.update", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"ok": False, "error": "ratelimited"}


def test_server_errors_are_retried_and_change_nothing(emulator: SlackEmulator) -> None:
    emulator.faults.add("chat.postMessage", status=500)
    emulator.faults.add("chat.postMessage", status=503)
    plain = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])
    retrying = WebClient(
        base_url=emulator.api_url,
        token=DEFAULT_TOKEN,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=NO_WAIT)],
    )

    with pytest.raises(SlackApiError):
        plain.chat_postMessage(channel=SALES_CHANNEL, text="card")
    retrying.chat_postMessage(channel=SALES_CHANNEL, text="card")

    assert [c.status for c in emulator.calls()] == [500, 503, 200]
    assert len(emulator.messages(SALES_CHANNEL)) == 1


def test_error_fault_answers_ok_false(client: WebClient, emulator: SlackEmulator) -> None:
    emulator.faults.add("auth.test", error="ratelimited")

    with pytest.raises(SlackApiError, match="ratelimited"):
        client.auth_test()
    client.auth_test()


def test_outage_fails_every_method_until_it_ends(
    client: WebClient, emulator: SlackEmulator, clock: ManualClock
) -> None:
    emulator.faults.outage(seconds=60)

    for call in (client.auth_test, lambda: client.users_info(user="U0REP000001")):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response.status_code == 503
    clock.advance(61)

    assert client.auth_test()["ok"] is True


def test_removing_an_open_ended_fault(client: WebClient, emulator: SlackEmulator) -> None:
    fault = emulator.faults.outage()
    with pytest.raises(SlackApiError):
        client.auth_test()
    emulator.faults.remove(fault)

    assert client.auth_test()["ok"] is True


def test_delay_makes_the_answer_late(emulator: SlackEmulator) -> None:
    emulator.faults.add("auth.test", delay=0.3)
    impatient = WebClient(
        base_url=emulator.api_url, token=DEFAULT_TOKEN, timeout=0.1, retry_handlers=[]
    )

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.auth_test()

    assert time.monotonic() - started < 0.3


def test_accepted_then_dropped_post_is_stored_once_without_retries(
    emulator: SlackEmulator,
) -> None:
    emulator.faults.add("chat.postMessage", apply=True, drop=True)
    client = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])

    with pytest.raises((URLError, ConnectionError)):
        client.chat_postMessage(channel=SALES_CHANNEL, text="card")

    assert [c.status for c in emulator.calls("chat.postMessage")] == [None]
    assert len(emulator.messages(SALES_CHANNEL)) == 1


def test_default_connection_retry_turns_a_drop_into_a_duplicate(emulator: SlackEmulator) -> None:
    """A connection dropped after Slack took a post, retried blindly, posts twice: what the
    bot guards against by finding its card by metadata before posting again."""
    emulator.faults.add("chat.postMessage", apply=True, drop=True)
    retry = ConnectionErrorRetryHandler(interval_calculator=NO_WAIT)
    client = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[retry])

    client.chat_postMessage(channel=SALES_CHANNEL, text="card")

    assert len(emulator.messages(SALES_CHANNEL)) == 2


def test_a_fault_for_one_channel_leaves_other_channels_alone(emulator: SlackEmulator) -> None:
    limited = emulator.faults.add("chat.postMessage", status=429, channel=SALES_CHANNEL, times=None)
    client = WebClient(base_url=emulator.api_url, token=DEFAULT_TOKEN, retry_handlers=[])

    client.chat_postMessage(channel=MARKETING_CHANNEL, text="elsewhere")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=SALES_CHANNEL, text="card")

    assert refused.value.response.status_code == 429
    assert limited.hits == 1
    assert [m["text"] for m in emulator.messages(MARKETING_CHANNEL)] == ["elsewhere"]
    assert emulator.messages(SALES_CHANNEL) == []
