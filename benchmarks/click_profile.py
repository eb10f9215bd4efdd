"""Where the CPU of delivering a card and of an Accept click goes: cProfile over card delivery,
the click path and the delivery the click triggers, on one database, with nothing else running.

It starts the emulator and the real Baton server as `benchmarks.handoff` does, with its delivery
worker stopped, takes in `--clicks` leads and then, under cProfile:

1. drains the outbox of their cards with a delivery worker of its own, every thread of it
   profiled (the dispatcher's rounds and each lane's sending), the emulator in its own process;
2. handles each signed Accept click as `POST /slack/events` does once the body is read (the
   signature check, the JSON parsing, Bolt's dispatch, the click's recording), one at a time,
   in this thread;
3. applies the recorded clicks (each claim's transaction: bot.received_clicks), in this thread;
4. drains the outbox those clicks filled (each card's redraw and its owner's DM) as in 1.

Each phase prints its CPU time and SQL statements per click and the functions that cost the most
(cumulative), so the costs can be compared before and after a change. Run from the repository root:

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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event

from benchmarks import handoff
from benchmarks.machine import database_version, machine_facts
from handlers.serve import BatonServer
from handlers.slack_delivery import DeliveryWorker
from handlers.slack_http import dispatch_verified
from handlers.slack_request import fresh_signature
from slack_emulator import Workspace
from slack_emulator.workspace import default_users
from storage.models import SlackOutbox

R = TypeVar("R")


class ThreadProfiles:
    """cProfile profiles of code run on any thread (one profile per thread, switched on only
    around the code given), merged when read. They count each thread's CPU time, not the wall
    clock's: waiting for Slack or for a lock costs nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._local = threading.local()
        self._lock = threading.Lock()
        self._profiles: list[cProfile.Profile] = []

    def call(self, work: Callable[[], R]) -> R:
        if not self.enabled:
            return work()
        profile: cProfile.Profile | None = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self._profiles.append(profile)
        return profile.runcall(work)

    def stats(self, stream: io.StringIO | None = None) -> pstats.Stats:
        with self._lock:
            first, *others = self._profiles
        stats = pstats.Stats(first, stream=stream)
        for other in others:
            stats.add(other)
        return stats


class ProfiledWorker(DeliveryWorker):
    """A delivery worker whose dispatcher rounds and lane sending run under `profiles`."""

    def __init__(self, server: BatonServer, profiles: ThreadProfiles) -> None:
        super().__init__(server.services, server.clients, post_interval=0.0)
        self.profiles = profiles

    def deliver_due(self) -> int:
        return self.profiles.call(super().deliver_due)

    def _serve_lane(self, lane: str, rows: Sequence[SlackOutbox]) -> None:
        self.profiles.call(lambda: super(ProfiledWorker, self)._serve_lane(lane, rows))


class StatementCount:
    """How many statements the engine sent to the database (an executemany counts once; the
    SQLite BEGIN IMMEDIATE counts, as the round trip it is), but for those of a thread that
    only watches (the polls of `drain`)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._watching = threading.local()
        event.listen(engine, "before_cursor_execute", self._counted)

    def watch(self, condition: Callable[[], bool]) -> Callable[[], bool]:
        """`condition`, its statements not counted."""

        def watched() -> bool:
            self._watching.on = True
            try:
                return condition()
            finally:
                self._watching.on = False

        return watched

    def _counted(self, *_: Any) -> None:
        if getattr(self._watching, "on", False):
            return
        with self._lock:
            self.count += 1


def profiled(
    label: str,
    count: int,
    work: Callable[[ThreadProfiles], object],
    top: int,
    dump: Path | None,
    statements: StatementCount,
    unit: str = "click",
) -> None:
    """Run `work` (under cProfile unless `top` is 0) and print its CPU and statements per
    `unit` and its costliest functions. The profiler's own cost inflates the CPU figure:
    `--top 0` measures without it."""
    profiles = ThreadProfiles(enabled=top > 0)
    sent = statements.count
    cpu, wall = time.process_time(), time.perf_counter()
    work(profiles)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"\n== {label}: {cpu / count * 1000:.2f} ms CPU per {unit}"
        f"{' under the profiler' if top else ''} ({wall:.1f} s wall for {count}); "
        f"{(statements.count - sent) / count:.1f} SQL statements per {unit}"
    )
    if not top:
        return
    calls = profiles.stats().total_calls  # type: ignore[attr-defined]
    print(f"   {calls / count:,.0f} Python function calls per {unit} (steady whatever the load)")
    if dump is not None:
        profiles.stats().dump_stats(dump.with_name(f"{dump.name}.{label.replace(' ', '_')}"))
    out = io.StringIO()
    profiles.stats(out).sort_stats("cumulative").print_stats(top)
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


def drain(server: BatonServer, profiles: ThreadProfiles, statements: StatementCount) -> None:
    """Deliver everything due with a worker of this process's own (the server's is stopped),
    its threads under `profiles`; this thread only waits (its polls are not counted)."""
    worker = ProfiledWorker(server, profiles)
    worker.start()
    try:
        handoff.wait_until(
            statements.watch(lambda: handoff.pending_outbox(server) == 0), timeout=600
        )
    finally:
        worker.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.click_profile", description=__doc__)
    parser.add_argument("--database", choices=handoff.DATABASE_KINDS, default="sqlite")
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", type=Path, help="also write each phase's pstats to DUMP.<phase>")
    options = parser.parse_args(argv)
    options.concurrency = 8
    print(machine_facts(), flush=True)
    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as load,
        handoff.empty_database(options.database) as url,
        handoff.slack_process(Workspace(users=default_users() + handoff.REPS)) as slack,
        handoff.running_baton(url, slack, "inline") as server,
    ):
        assert server.delivery is not None
        server.delivery.stop()
        server.web.clicks.stop()  # the clicks are applied in a phase of their own
        intake = handoff.intake_calls(server.url, options.database, range(options.clicks))
        run = load.submit(handoff.post_all, intake, options.concurrency).result()
        if run.count(lambda status: status not in (200, 201)):
            raise SystemExit(f"some leads were refused: {dict(run.statuses)}")
        print(f"{database_version(url)}, {options.clicks} leads and clicks")
        statements = StatementCount(server.services.db.engine)
        profiled(
            "card delivery",
            options.clicks,
            lambda profiles: drain(server, profiles, statements),
            options.top,
            options.dump,
            statements,
            unit="card",
        )
        watch = handoff.CardWatch(slack)
        watch.count()
        bodies = handoff.accept_click_bodies(slack, watch.cards)
        calls = handoff.signed(bodies, f"{server.url}/slack/events")
        profiled(
            "the clicks",
            len(calls),
            lambda profiles: profiles.call(lambda: click_all(server, calls)),
            options.top,
            options.dump,
            statements,
        )
        profiled(
            "applying them",
            len(calls),
            lambda profiles: profiles.call(server.web.clicks.apply_waiting),
            options.top,
            options.dump,
            statements,
        )
        profiled(
            "their delivery",
            len(calls),
            lambda profiles: drain(server, profiles, statements),
            options.top,
            options.dump,
            statements,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
