"""Where the CPU of an Accept click goes: cProfile over the click path and over the delivery the
click triggers, on one database, with nothing else running.

It starts the emulator and the real Baton server as `benchmarks.handoff` does, opens `--clicks`
leads with their cards posted, then stops the delivery worker and, in this thread under cProfile:

1. handles each signed Accept click as `POST /slack/events` does once the body is read (the
   signature check, the JSON parsing, Bolt's dispatch, the claim's transaction), one at a time;
2. drains the outbox those clicks filled (each card's redraw and its owner's DM) with a delivery
   worker of its own, its lane threads unprofiled (the CPU figure counts them), the emulator in
   its own process.

Each phase prints its CPU time per click and the functions that cost the most (cumulative), so
the costs can be compared before and after a change. Run from the repository root:

    .venv/bin/python -m benchmarks.click_profile [--database sqlite|postgresql] [--clicks 300]
        [--top 35]

`--top 0` runs without the profiler, for the CPU a click costs without the profiler's share.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks import handoff
from benchmarks.machine import database_version, machine_facts
from handlers.serve import BatonServer
from handlers.slack_delivery import DeliveryWorker
from handlers.slack_http import dispatch_verified
from handlers.slack_request import fresh_signature
from slack_emulator import Workspace
from slack_emulator.workspace import default_users


def profiled(
    label: str, clicks: int, work: Callable[[], object], top: int, dump: Path | None
) -> None:
    """Run `work` (under cProfile unless `top` is 0) and print its CPU per click and its
    costliest functions. The profiler's own cost inflates the figure: `--top 0` measures
    without it."""
    profile = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    if top:
        profile.runcall(work)
    else:
        work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"\n== {label}: {cpu / clicks * 1000:.2f} ms CPU per click"
        f"{' under the profiler' if top else ''} ({wall:.1f} s wall for {clicks})"
    )
    if not top:
        return
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(f"   {calls / clicks:,.0f} Python function calls per click (steady whatever the load)")
    if dump is not None:
        profile.dump_stats(dump.with_name(f"{dump.name}.{label.split()[-1]}"))
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


def click_all(server: BatonServer, calls: Sequence[handoff.HttpCall]) -> None:
    secret = server.services.config.settings.slack_signing_secret
    assert secret is not None
    for call in calls:
        headers = {name.lower(): value for name, value in call.headers.items()}
        timestamp, signature = fresh_signature(
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            now=time.time(),
        )
        response = dispatch_verified(
            server.bolt, secret, call.body, headers, timestamp=timestamp, signature=signature
        )
        if response.status != 200:
            raise SystemExit(f"a click was answered {response.status}: {response.body[:200]}")


def drain(server: BatonServer) -> None:
    """Deliver everything due with a worker of this process's own (the server's is stopped),
    from its lane threads: the profile shows only this thread's wait, the CPU figure all."""
    worker = DeliveryWorker(server.services, server.clients, post_interval=0.0)
    worker.start()
    try:
        handoff.wait_until(lambda: handoff.pending_outbox(server) == 0, timeout=600)
    finally:
        worker.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.click_profile", description=__doc__)
    parser.add_argument("--database", choices=handoff.DATABASE_KINDS, default="sqlite")
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", type=Path, help="also write each phase's pstats to DUMP.<phase>")
    options = parser.parse_args(argv)
    options.leads, options.concurrency = options.clicks, 8
    print(machine_facts(), flush=True)
    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as load,
        handoff.empty_database(options.database) as url,
        handoff.slack_process(Workspace(users=default_users() + handoff.REPS)) as slack,
        handoff.running_baton(url, slack, "inline") as server,
    ):
        report = handoff.DatabaseReport(options.database, database_version(url))
        handoff.measure_intake(load, server, slack, report, options)
        cards = handoff.ensure_open_leads(load, server, handoff.CardWatch(slack), report, options)
        if report.problems:
            raise SystemExit("; ".join(report.problems))
        assert server.delivery is not None
        server.delivery.stop()
        bodies = handoff.accept_click_bodies(slack, cards)
        calls = handoff.signed(bodies, f"{server.url}/slack/events")
        print(f"{report.version}, {len(calls)} clicks")
        profiled(
            "the clicks", len(calls), lambda: click_all(server, calls), options.top, options.dump
        )
        profiled("their delivery", len(calls), lambda: drain(server), options.top, options.dump)
    return 0


if __name__ == "__main__":
    sys.exit(main())
