"""`baton serve` killed outright (SIGKILL) in the middle of posting a card, beside a second process
delivering from the same database: the survivor posts each card once, in order."""

from __future__ import annotations

import signal
import time

import httpx

from slack_emulator import SALES_CHANNEL, SlackEmulator
from tests.e2e.conftest import INTAKE_AUTH, Serve, cards, eventually
from tests.factories import lead_payload

LEADS = 5


def test_a_card_in_flight_at_a_kill_is_posted_once_and_the_rest_in_order_by_the_other_process(
    serve: Serve, slack: SlackEmulator
) -> None:
    """Slack takes the first card 25 s after it is sent, after its sender was killed. The
    killed process held the lease on it; the other process posts no card of the channel
    behind it until the lease (30 s) runs out, then finds it in the channel's history instead
    of posting it again, so this test takes about that long."""
    first, url, _ = serve()
    in_flight = slack.faults.add("chat.postMessage", delay=25)
    lead_ids = [
        httpx.post(
            f"{url}/api/leads",
            json=lead_payload(external_id=f"crash-{n}", name=f"Lead {n}"),
            headers=INTAKE_AUTH,
            timeout=10,
        ).json()["id"]
        for n in range(LEADS)
    ]
    eventually(lambda: in_flight.hits)
    serve()
    assert cards(slack) == {}  # the second process posts nothing behind the card in flight
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    eventually(lambda: set(lead_ids) <= set(cards(slack)), timeout=60)
    time.sleep(1)  # anything posted twice would have arrived by now
    posted = [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages(SALES_CHANNEL)
    ]
    assert posted == sorted(lead_ids)
    assert slack.calls("conversations.history")  # the survivor looked before posting again
