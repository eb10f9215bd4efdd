"""The CPU Baton's server spends per operation, phase by phase, with delivery held back so each
phase's work is counted alone: a single lead (POST /api/leads), a lead in a batch
(POST /api/leads/batch), a delivered card, an Accept click while acknowledging, and the
delivery that click causes (the card's redraw and the owner's DM).

CPU time is read from the server's process (all its threads but the one that waits here), and on
PostgreSQL from the backends serving its database (a card's statements cost the database CPU
too), so the figures hold on a machine shared with other work, where throughput does not; the
clients and the Slack emulator run in processes of their own, as in `benchmarks.handoff`.
Delivery runs in the server's process (`inline`), posting to the emulator with no pace. Run from
the repository root:

    .venv/bin/python -m benchmarks.cpu_costs [--database sqlite|postgresql] [--leads 300]
        [--batch-leads 2000] [--clicks 300]

`--clicks 0` measures the intake alone (no card delivery, no clicks).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import text

from benchmarks import handoff
from benchmarks.machine import cpu_seconds, database_version, machine_facts
from benchmarks.slack_process import slack_process
from handlers.serve import BatonServer
from handlers.slack_delivery import DeliveryWorker
from slack_emulator import Workspace
from slack_emulator.workspace import default_users


def cpu_of(
    server: BatonServer, label: str, count: int, unit: str, work: Callable[[], object]
) -> None:
    """Run `work` and print the server's CPU per `unit`, and on PostgreSQL its database's (the
    wall time, for orientation)."""
    backends = database_backends(server)
    cpu, wall = handoff.server_use(server).cpu, time.perf_counter()
    database = {pid: cpu_seconds(pid) for pid in backends}
    work()
    cpu, wall = handoff.server_use(server).cpu - cpu, time.perf_counter() - wall
    backends |= database_backends(server)
    used = sum(cpu_seconds(pid) - database.get(pid, 0.0) for pid in backends)
    in_database = f" + {used / count * 1000:5.2f} in PostgreSQL" if backends else ""
    print(
        f"  {label:<34} {cpu / count * 1000:7.2f} ms CPU{in_database} per {unit}  "
        f"({count}, {wall:.1f} s)"
    )


def database_backends(server: BatonServer) -> set[int]:
    """The PostgreSQL backends serving the server's database now (none on SQLite)."""
    db = server.services.db
    if db.dialect != "postgresql":
        return set()
    with db.engine.connect() as connection:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        return set(connection.execute(text(query)).scalars())


def drain(server: BatonServer) -> None:
    """Deliver everything queued with a worker of its own, then stop it."""
    worker = DeliveryWorker(server.services, server.clients, post_interval=0.0)
    worker.start()
    try:
        if (
            handoff.wait_until(lambda: handoff.pending_outbox(server) == 0, timeout=900, poll=0.2)
            is None
        ):
            raise SystemExit("the outbox was not drained in 15 minutes")
    finally:
        worker.stop()


def run(
    load: ProcessPoolExecutor, server: BatonServer, calls: Sequence[handoff.HttpCall], clients: int
) -> None:
    result = load.submit(handoff.post_all, calls, clients).result()
    if result.count(lambda status: status != 200 and status != 201):
        raise SystemExit(f"some requests failed: {dict(result.statuses)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_costs", description=__doc__)
    parser.add_argument("--database", choices=handoff.DATABASE_KINDS, default="sqlite")
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--batch-leads", type=int, default=2000)
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args(argv)
    print(machine_facts(), flush=True)
    spawn = multiprocessing.get_context("spawn")
    kind, clients = options.database, options.concurrency
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as load,
        handoff.empty_database(kind) as url,
        slack_process(Workspace(users=default_users() + handoff.REPS)) as slack,
        handoff.running_baton(url, slack, "inline") as server,
    ):
        assert server.delivery is not None
        server.delivery.stop()
        print(f"{database_version(url)}, {clients} clients")
        singles = handoff.intake_calls(server.url, kind, range(options.leads))
        cpu_of(
            server,
            "single intake",
            options.leads,
            "lead",
            lambda: run(load, server, singles, clients),
        )
        batches = handoff.batch_calls(server.url, kind, options.batch_leads)
        cpu_of(
            server,
            "batch intake",
            options.batch_leads,
            "lead",
            lambda: run(load, server, batches, clients),
        )
        if not options.clicks:  # intake only: the cards stay queued
            return 0
        cards = options.leads + options.batch_leads
        cpu_of(server, "card delivery", cards, "card", lambda: drain(server))
        watch = handoff.CardWatch(slack)
        watch.count()
        chosen = {
            lead_id: watch.cards[lead_id] for lead_id in sorted(watch.cards)[: options.clicks]
        }
        calls = handoff.signed(
            handoff.accept_click_bodies(slack, chosen), f"{server.url}/slack/events"
        )
        cpu_of(
            server,
            "accept click, acknowledging",
            len(calls),
            "click",
            lambda: run(load, server, calls, clients),
        )
        cpu_of(server, "its delivery (redraw, DM)", len(calls), "click", lambda: drain(server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
