"""`baton serve` processes killed outright (SIGKILL) in the middle of posting a card: the next
process posts each card once, in order. Two processes deliver from one database before the kill,
and neither posts a card of the channel while the one before it is in flight."""

from __future__ import annotations

import signal
import time

import httpx

from slack_emulator import SALES_CHANNEL, SlackEmulator
from tests.e2e.conftest import INTAKE_AUTH, Serve, cards, eventually
from tests.factories import lead_payload

LEADS = 5


def test_a_card_in_flight_at_a_kill_is_posted_once_and_the_rest_in_order_by_the_next_process(
    serve: Serve, slack: SlackEmulator
) -> None:
    """Slack takes the first card 25 s after it is sent, after its sender was killed. The
    next process waits for the killed one's lease (30 s) to run out, then finds the card in the
    channel's history instead of posting it again, so this test takes about that long."""
    processes = [serve(), serve()]
    in_flight = slack.faults.add("chat.postMessage", delay=25)
    lead_ids = [
        httpx.post(
            f"{processes[n % 2].url}/api/leads",
            json=lead_payload(external_id=f"crash-{n}", name=f"Lead {n}"),
            headers=INTAKE_AUTH,
            timeout=10,
        ).json()["id"]
        for n in range(LEADS)
    ]
    eventually(lambda: in_flight.hits)
    time.sleep(1)  # a card posted behind the one in flight would have arrived by now
    assert cards(slack) == {}
    for process, _, _ in processes:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    serve()
    eventually(lambda: set(lead_ids) <= set(cards(slack)), timeout=90)
    time.sleep(1)  # anything posted twice would have arrived by now
    posted = [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages(SALES_CHANNEL)
    ]
    assert posted == sorted(lead_ids)
    assert slack.calls("conversations.history")  # the next process looked before posting again
