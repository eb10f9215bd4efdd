"""Benchmark of `baton serve`'s memory through a busy day's intake and then the reports at
1,000,000 leads: every process it runs (the server, its delivery child, each chart's drawing
process), RSS and PSS from /proc.

benchmarks.reports times the answers with the server in a process of the benchmark's own, its
delivery inline: fine for latency, but that process holds the benchmark's modules too and no
delivery child. Here `baton serve` runs as a deployment runs it (BatonServer, heap.settle, the
delivery child at its own priority; only its clock is fixed at the seeded "now"), on a copy of
the year benchmarks.reports seeds and caches (the cache stays as seeded: a copy of its file on
SQLite, a database made from the cache's as a template on PostgreSQL). First a webinar's leads
arrive as in benchmarks.handoff (`--single-leads` leads POSTed one by one, then `--batch-leads`
in batches of 1,000, from 8 senders); then the same slash commands and App Home openings as
benchmarks.reports times are sent to it, `--repeat` times each. A process of its own
(benchmarks.process_memory) reads every process of the tree every 50 ms and keeps each one's
peak and the peak of their sum.

It prints, per database, the tree's memory idle, after the intake and after the reports; for
each of the two, the peak of the summed RSS and of the summed PSS with what each process held
at that moment and each process's own peak; then the day's peaks beside the target (under 200
MB for the whole tree). The summed PSS is what the
tree costs the machine; the summed RSS also counts once per process the pages they share (see
benchmarks.process_memory).

Run from the repository root:

    .venv/bin/python -m benchmarks.serve_memory [--databases sqlite,postgresql]
        [--leads 1000000] [--repeat 2] [--single-leads 3000] [--batch-leads 20000]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from benchmarks import handoff, process_memory
from benchmarks.machine import database_version, machine_facts
from benchmarks.reports import (
    POSTGRES_URL_VARIABLE,
    REP,
    REPS,
    ROOT,
    Timing,
    _environment,
    cached_postgres,
    cached_sqlite,
    copy_sqlite,
    forget_slack_events,
    time_command,
    time_home,
    year_options,
)
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    MANAGER,
    MARKETER,
    SlackEmulator,
    User,
    Workspace,
)
from slack_emulator.workspace import default_users

SAMPLE_SECONDS = 0.05
START_TIMEOUT = 120.0
# `baton serve` as handlers.serve.serve runs it, its clock at the end of the seeded year.
SERVER = (
    "import logging; from benchmarks.seeded_clock import now; from handlers import heap; "
    "from handlers.config import load_config; from handlers.serve import BatonServer; "
    "logging.basicConfig(level=logging.WARNING); "
    "server = BatonServer(load_config(), clock=now); heap.settle(); server.run()"
)
COMMANDS = (
    *((f"stats {period}", MANAGER) for period in ("7d", "30d", "90d", "365d")),
    *((f"feedback {period}", MARKETER) for period in ("7d", "30d", "90d", "365d")),
    *((f"tune {period}", MARKETER) for period in ("7d", "30d", "90d", "365d")),
    ("stats 30d", REP),
    ("queue", MANAGER),
    ("sla", MANAGER),
    ("mine", REP),
    ("mql", MARKETER),
    ("find Company 4242", REP),
    ("funnel 30d", MARKETER),
    ("funnel 365d", MARKETER),
    ("funnel 365d by source", MARKETER),
)
HOMES = (REP, MANAGER, MARKETER)
CHARTS_DRAWN = 3.0  # seconds left after the last answer for the charts it queued
TARGET_MB = 200  # issue 12: the memory of `baton serve` through all of it
SENDERS = 8  # as benchmarks.handoff sends leads


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def baton_serve(url: str, api_url: str) -> Iterator[tuple[str, int]]:
    """A `baton serve` on `url` until the block ends: its base URL and process id."""
    port = _free_port()
    environment = {**os.environ, **_environment(url, api_url), "BATON_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("baton serve did not start")
            time.sleep(0.2)
        yield base, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def working_copy(cached_url: str) -> Iterator[str]:
    """A copy of the cached year for one run to write a busy day's leads to: the cache stays as
    seeded. On SQLite a copy of its file; on PostgreSQL a database made from the cache's as a
    template (a file copy: seconds for a few GB), dropped after."""
    cached = make_url(cached_url)
    if cached.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="baton-day-") as directory:
            copy = Path(directory) / "year.db"
            copy_sqlite(Path(str(cached.database)), copy)
            yield f"sqlite:///{copy}"
        return
    name = f"{cached.database}_busy_day"
    server = create_engine(cached.set(database="postgres", query={}), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(
                text(f'CREATE DATABASE "{name}" TEMPLATE "{cached.database}" STRATEGY FILE_COPY')
            )
        try:
            yield cached.set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()


def busy_intake(base: str, kind: str, singles: int, batched: int) -> list[str]:
    """A webinar's leads, sent as benchmarks.handoff sends them: `singles` one by one, then
    `batched` in batches, from SENDERS at once. Lines to print."""
    lines = []
    for label, calls, leads, answered in (
        ("single", handoff.intake_calls(base, kind, range(singles)), singles, 201),
        ("batched", handoff.batch_calls(base, kind, batched), batched, 200),
    ):
        if not leads:
            continue
        run = handoff.post_all(calls, SENDERS)
        lines.append(f"  {leads} {label} leads from {SENDERS} senders: {leads / run.elapsed:.0f}/s")
        if any(status != answered for status in run.statuses):
            lines.append(f"  PROBLEM {label} leads: {dict(run.statuses)} {run.errors[:1]}")
    return lines


def measure(url: str, kind: str, options: argparse.Namespace) -> list[str]:
    """Serve, let the delivery child start, take in the day's leads, then send every answer
    `options.repeat` times: lines to print."""
    forget_slack_events(url)
    users = default_users() + tuple(User(rep, f"rep{n}", f"Rep {n}") for n, rep in enumerate(REPS))
    lines = [f"\n== {database_version(url)} =="]
    with (
        SlackEmulator(workspace=Workspace(users=users)) as emulator,
        baton_serve(url, emulator.api_url) as (base, pid),
    ):
        time.sleep(3)  # the delivery child's start-up
        lines += process_memory.snapshot(pid).lines("idle")
        with process_memory.watching(pid, every=SAMPLE_SECONDS) as intake_peaks:
            lines += busy_intake(base, kind, options.single_leads, options.batch_leads)
        lines += process_memory.snapshot(pid).lines("after the intake")
        lines += intake_peaks.lines("at the intake's peak")
        people = {
            who: emulator.user(
                who, bot_url=f"{base}/slack/events", signing_secret=DEFAULT_SIGNING_SECRET
            )
            for who in {MANAGER, MARKETER, REP}
        }
        timings = []
        with process_memory.watching(pid, every=SAMPLE_SECONDS) as report_peaks:
            for text_, who in COMMANDS:
                timing = Timing(f"/leads {text_}")
                for _ in range(options.repeat):
                    time_command(emulator, people[who], text_, timing)
                timings.append(timing)
            for who in HOMES:
                timing = Timing(f"App Home {who}")
                for _ in range(options.repeat):
                    time_home(emulator, people[who], timing)
                timings.append(timing)
            time.sleep(CHARTS_DRAWN)
        lines += process_memory.snapshot(pid).lines("after the reports")
        lines += report_peaks.lines("at the reports' peak")
    rss = max(intake_peaks.rss_sum, report_peaks.rss_sum)
    pss = max(intake_peaks.pss_sum, report_peaks.pss_sum)
    lines.append(
        f"  target under {TARGET_MB} MB for the whole tree through the day: peak sum RSS "
        f"{rss:.0f} MB ({_verdict(rss)}), peak sum PSS {pss:.0f} MB ({_verdict(pss)})"
    )
    slowest = max(timings, key=lambda timing: max(timing.seconds, default=0.0))
    lines.append(
        f"  {sum(len(t.seconds) for t in timings)} answers; slowest {slowest.label} "
        f"{max(slowest.seconds, default=0.0):.1f} s"
    )
    lines += [f"  PROBLEM {t.label}: {p}" for t in timings for p in t.problems[:1]]
    return lines


def _verdict(mb: float) -> str:
    return "met" if mb < TARGET_MB else f"over by {mb - TARGET_MB:.0f}"


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    def day(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--single-leads", type=int, default=3000, help="sent one by one")
        parser.add_argument("--batch-leads", type=int, default=20_000, help="sent in batches")

    return year_options(argv, prog="benchmarks.serve_memory", doc=__doc__, repeat=2, more=day)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print(machine_facts(), flush=True)
    problems = False
    for kind in options.kinds:
        if kind == "sqlite":
            seeded = cached_sqlite(options.leads)
        else:
            base = os.environ.get(POSTGRES_URL_VARIABLE, "")
            if not base.startswith("postgresql"):
                raise SystemExit(f"{POSTGRES_URL_VARIABLE} must hold a PostgreSQL URL")
            seeded = cached_postgres(base, options.leads)
        with working_copy(seeded.url) as url:
            lines = measure(url, kind, options)
        problems |= any("PROBLEM" in line for line in lines)
        print("\n".join(lines), flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
