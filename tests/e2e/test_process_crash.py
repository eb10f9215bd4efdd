"""`baton serve` killed outright (SIGKILL) with leads stored but not yet in Slack: the next
process posts each of them, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from slack_emulator import SlackEmulator
from tests.conftest import free_port
from tests.e2e.conftest import INTAKE_AUTH, cards, eventually
from tests.factories import lead_payload

LEADS = 5


Serve = Callable[[], tuple[subprocess.Popen[bytes], str]]


@pytest.fixture
def serve(config_env: dict[str, str], tmp_path: Path) -> Iterator[Serve]:
    """Starts `python -m bot serve` processes; returns (process, base URL) for each."""
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = {"PATH": os.environ["PATH"], **config_env, "BATON_PORT": str(port)}
        log = (tmp_path / f"serve-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path, stdout=log, stderr=log
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: _healthy(url, process), timeout=30)
        return process, url

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "baton serve exited"
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_leads_stored_before_a_kill_are_posted_once_by_the_next_process(
    serve: Serve, slack: SlackEmulator
) -> None:
    """The killed process held a lease on the post it was trying; the next process takes it
    over when the lease (30 s) runs out, so this test takes about that long."""
    first, url = serve()
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
