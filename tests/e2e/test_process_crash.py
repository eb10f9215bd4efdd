"""`baton serve` killed outright (SIGKILL) with leads stored but not yet in Slack: the next
process posts each of them, once."""

from __future__ import annotations

import signal
import time

import httpx

from slack_emulator import SlackEmulator
from tests.e2e.conftest import INTAKE_AUTH, Serve, cards, eventually
from tests.factories import lead_payload

LEADS = 5


def test_leads_stored_before_a_kill_are_posted_once_by_the_next_process(
    serve: Serve, slack: SlackEmulator
) -> None:
    """The killed process held a lease on the post it was trying; the next process takes it
    over when the lease (30 s) runs out, so this test takes about that long."""
    first, url, _ = serve()
    outage = slack.faults.outage(status=503)
    lead_ids = [
        httpx.post(
            f"{url}/api/leads",
            json=lead_payload(external_id=f"crash-{n}", name=f"Lead {n}"),
            headers=INTAKE_AUTH,
            timeout=10,
        ).json()["id"]
        for n in range(LEADS)
    ]
    eventually(lambda: outage.hits >= 1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    slack.faults.remove(outage)
    time.sleep(0.5)
    assert cards(slack) == {}

    serve()
    eventually(lambda: set(lead_ids) <= set(cards(slack)), timeout=60)
    time.sleep(1)  # anything posted twice would have arrived by now
    posted = [
        (message.get("metadata") or {}).get("event_payload", {}).get("lead_id")
        for message in slack.messages("C0SALES0001")
    ]
    assert sorted(posted) == sorted(lead_ids)
