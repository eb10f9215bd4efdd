"""`baton serve` delivers to Slack through a child process it supervises, and `baton deliver`
runs delivery alone: real processes on one database, the Slack emulator over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from slack_emulator import SlackEmulator
from storage import outbox as outbox_store
from storage.db import Database
from tests.e2e.conftest import INTAKE_AUTH, Serve, Served, cards, eventually
from tests.factories import lead_payload

# What the child delivered shows in the server's /metrics.
POSTED_CARDS = 'baton_slack_deliveries_total{kind="post_card"}'

IN_A_CHILD = {"BATON_DELIVERY": "child"}  # what either database gets by default


def child_pids(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def send(served: Served, external_id: str) -> int:
    response = httpx.post(
        f"{served.url}/api/leads",
        json=lead_payload(external_id=external_id),
        headers=INTAKE_AUTH,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def nothing_pending(database_url: str) -> bool:
    db = Database.from_url(database_url)
    try:
        with db.read() as session:
            return outbox_store.count_pending(session) == 0
    finally:
        db.dispose()


def test_serve_delivers_through_a_child_it_restarts_when_killed_and_stops_at_shutdown(
    serve: Serve, slack: SlackEmulator, database_url: str
) -> None:
    served = serve(environment=IN_A_CHILD)
    # Started once the server is up: on a loaded 2-core machine that took more than 10 s.
    (child,) = eventually(lambda: child_pids(served.process.pid), timeout=30)
    first = send(served, "child-1")
    slack.wait_for(lambda: first in cards(slack), timeout=60)
    # Killed holding no lease: a leased row would hold its channel for the lease's 30 s.
    eventually(lambda: nothing_pending(database_url))

    os.kill(child, signal.SIGKILL)
    (restarted,) = eventually(lambda: child_pids(served.process.pid) - {child}, timeout=20)
    second = send(served, "child-2")
    slack.wait_for(lambda: second in cards(slack), timeout=60)
    assert f"delivery process {child} exited" in served.log.read_text()
    eventually(lambda: POSTED_CARDS in httpx.get(f"{served.url}/metrics", timeout=10).text)

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not running(restarted)


def test_a_killed_serve_takes_its_delivery_process_with_it(serve: Serve) -> None:
    served = serve(environment=IN_A_CHILD)
    (child,) = eventually(lambda: child_pids(served.process.pid))
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(timeout=10)
    # A child at its lower priority on a busy machine may still be starting when its parent dies.
    eventually(lambda: not running(child), timeout=60)


def test_deliver_alone_delivers_what_a_serve_without_delivery_queued(
    serve: Serve, slack: SlackEmulator, config_env: dict[str, str], tmp_path: Path
) -> None:
    served = serve("--no-delivery", environment=IN_A_CHILD)
    lead_id = send(served, "apart-1")
    assert child_pids(served.process.pid) == set()

    env = {"PATH": os.environ["PATH"], **config_env}
    with (tmp_path / "deliver.log").open("wb") as output:
        deliver = subprocess.Popen(
            [sys.executable, "-m", "bot", "deliver"],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=output,
        )
    try:
        slack.wait_for(lambda: lead_id in cards(slack), timeout=60)
        deliver.send_signal(signal.SIGTERM)
        assert deliver.wait(timeout=60) == 0
    finally:
        if deliver.poll() is None:
            deliver.kill()
            deliver.wait()
    assert len(cards(slack)) == 1
    logged = (tmp_path / "deliver.log").read_text()
    assert "baton delivering the Slack outbox" in logged
    password = make_url(config_env["DATABASE_URL"]).password
    assert password is None or f":{password}@" not in logged


def test_by_default_delivery_runs_in_a_child_on_either_database(
    serve: Serve, slack: SlackEmulator
) -> None:
    """Acknowledgements and intake get the server's CPU first: delivery has a process of its
    own, on SQLite too (its writers take turns across processes)."""
    served = serve()
    lead_id = send(served, "default-1")

    eventually(lambda: lead_id in cards(slack), timeout=60)
    assert len(child_pids(served.process.pid)) == 1


def sockets(pid: int) -> set[str]:
    """The sockets process `pid` has open, as /proc names them ("socket:[inode]")."""
    found = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            found.add(target)
    return found


def test_the_delivery_child_shares_no_connection_with_the_server(
    serve: Serve, slack: SlackEmulator
) -> None:
    """The child is forked once the server has started up: a connection to Slack or to the
    database open then and used by both would mix their requests on one socket."""
    served = serve(environment=IN_A_CHILD)
    lead_id = send(served, "sockets-1")
    eventually(lambda: lead_id in cards(slack), timeout=60)
    (child,) = child_pids(served.process.pid)
    assert sockets(served.process.pid) & sockets(child) == set()


def test_the_first_delivery_child_is_forked_from_the_started_server(
    serve: Serve, slack: SlackEmulator
) -> None:
    """Forked once start-up is done, the child shares the pages of the server's modules and of
    what start-up built (docs/performance.md): it runs the server's own command line, where a
    fresh interpreter would run handlers.delivery_process's. The server may fork only while it
    runs no other thread: a thread start-up left running (SQLite's checkpoints after its
    writes) would cost the machine a whole interpreter more."""
    served = serve(environment=IN_A_CHILD)
    lead_id = send(served, "forked-1")
    eventually(lambda: lead_id in cards(slack), timeout=60)
    (child,) = child_pids(served.process.pid)
    assert command_line(child) == command_line(served.process.pid)


def command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()
