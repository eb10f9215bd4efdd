"""Benchmark of the SLA sweep against a growing backlog of open leads.

For each database (SQLite in a temporary directory; PostgreSQL from BATON_TEST_POSTGRES_URL,
whose `public` schema is dropped, recreated and migrated) and each size N it:

1. fills an empty, migrated database with N open leads (status 'open', posted in the last two
   days, policy 'standard', `sla_cycle` 1) and their two SLA timers (claim_reminder,
   claim_breach one hour later), inserted with SQLAlchemy core `insert()` executemany in chunks.
   The reminders are spread evenly over the next five days, so nothing is due at the idle
   moment and about 1 % of the 2N timers (`--due-share`) is due at the sweep moment; a large
   share (0.5) models catching up after an outage. On PostgreSQL the tables
   are then ANALYZEd, as autovacuum would do after such a load;
2. times the idle sweep, the common case: the real `handlers.sla_sweep.sweep_once` (one
   `Database.write()` transaction, `SlaSweep.sweep`, `take_due`) when nothing is due, i.e.
   the cost of the due-timers query on a big table. Median of `IDLE_REPEATS` runs after
   `IDLE_WARMUPS` untimed ones;
3. times one firing sweep: `sweep_once` at the sweep moment, which fires the due timers batch
   after batch (`SWEEP_BATCH` per transaction): reminders queue a thread reply, breaches
   escalate the lead (event, cancelled timers, card redraw, thread reply).

It prints a header with machine facts, the plan of the due-timers query (captured as
`take_due` sends it, then run through EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on
SQLite) at the largest N, and per database a table with the growth from the smallest to the
largest N. With an index-backed query the idle sweep should stay flat as N grows, and the time
per fired timer should too.

Run from the repository root:

    .venv/bin/python -m benchmarks.sla_sweep [--databases sqlite,postgresql]
        [--sizes 10000,30000,100000] [--due-share 0.01]

The default run takes well under a minute on two cores (most of it loading the backlog).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, event, func, insert, select, text

from benchmarks.machine import machine_facts
from bot.rules import Rules
from bot.sla_sweep import SWEEP_BATCH
from handlers.config import Config, load_settings
from handlers.services import Services
from handlers.sla_sweep import sweep_once
from storage import migrate
from storage.db import Database
from storage.models import Lead, LeadStatus, SlaTimer, TimerKind

POSTGRES_URL_VARIABLE = "BATON_TEST_POSTGRES_URL"
DATABASE_KINDS = ("sqlite", "postgresql")
DEFAULT_SIZES = (10_000, 30_000, 100_000)
CHUNK_ROWS = 5_000
IDLE_WARMUPS = 3
IDLE_REPEATS = 25

IDLE_AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
SPREAD = timedelta(days=5)  # reminders fall evenly over the five days after IDLE_AT
POSTED_WITHIN = timedelta(days=2)  # leads were posted in the two days before IDLE_AT
REMIND_GAP = timedelta(hours=1)  # 'standard': 4 h claim window, reminder 25 % before its end
DEFAULT_DUE_SHARE = 0.01
POLICY = "standard"
SALES_CHANNEL = "C0SALES0001"
TIMER_QUERY_MARK = "FROM sla_timers"


# ------------------------------------------------------------------------------ the database


@contextmanager
def empty_database(kind: str) -> Iterator[Database]:
    """An empty, migrated database of `kind`; SQLite's lives in a temporary directory."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="baton-sla-bench-") as folder:
            db = Database.from_url(f"sqlite:///{folder}/baton.db")
            try:
                migrate.upgrade(db.engine)
                yield db
            finally:
                db.dispose()
        return
    db = Database.from_url(postgres_url())
    try:
        wipe_postgres(db.engine)
        migrate.upgrade(db.engine)
        yield db
    finally:
        wipe_postgres(db.engine)  # leave the benchmark database empty, not 100k leads full
        db.dispose()


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        sys.exit(f"{POSTGRES_URL_VARIABLE} is not set: point it at a PostgreSQL database to wipe")
    return url


def wipe_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def postgres_version() -> str:
    db = Database.from_url(postgres_url())
    try:
        with db.engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one())
    finally:
        db.dispose()


# ------------------------------------------------------------------------------ the backlog


def reminder_at(index: int, size: int) -> datetime:
    return IDLE_AT + SPREAD * ((index + 1) / size)


def lead_row(index: int, size: int) -> dict[str, Any]:
    breach = reminder_at(index, size) + REMIND_GAP
    posted = IDLE_AT - POSTED_WITHIN * ((index * 7919 % size) / size)
    return {
        "id": index + 1,
        "external_id": f"bench-{index:07d}",
        "status": LeadStatus.OPEN.value,
        "name": f"Prospect {index}",
        "email": f"prospect{index}@example.com",
        "title": "Head of Operations",
        "company": f"Company {index % 5000}",
        "company_size": "51-200",
        "industry": "Software",
        "country": ("US", "DE", "GB", "FR")[index % 4],
        "segment": ("smb", "mid_market", "enterprise")[index % 3],
        "source": "webinar",
        "campaign": "q4-launch",
        "score": 40 + index % 60,
        "intent": "whitepaper",
        "activities": [],
        "sla_policy": POLICY,
        "sla_cycle": 1,
        "claim_due_at": breach,
        "slack_channel": SALES_CHANNEL,
        "slack_ts": f"{int(posted.timestamp())}.{index % 1_000_000:06d}",
        "created_at": posted - timedelta(seconds=2),
        "updated_at": posted,
        "posted_at": posted,
    }


def timer_rows(index: int, size: int) -> list[dict[str, Any]]:
    remind = reminder_at(index, size)
    lead_id = index + 1
    return [
        {"lead_id": lead_id, "kind": TimerKind.CLAIM_REMINDER.value, "cycle": 1, "due_at": remind},
        {
            "lead_id": lead_id,
            "kind": TimerKind.CLAIM_BREACH.value,
            "cycle": 1,
            "due_at": remind + REMIND_GAP,
        },
    ]


def fill(db: Database, size: int) -> float:
    """Insert `size` open leads and their timers in chunks; returns the seconds it took."""
    started = time.perf_counter()
    with db.engine.begin() as connection:
        for first in range(0, size, CHUNK_ROWS):
            chunk = range(first, min(first + CHUNK_ROWS, size))
            connection.execute(insert(Lead.__table__), [lead_row(i, size) for i in chunk])
            timers = [row for i in chunk for row in timer_rows(i, size)]
            connection.execute(insert(SlaTimer.__table__), timers)
        if db.dialect == "postgresql":
            # The leads got explicit ids: move the sequence past them, as a real load would.
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('leads', 'id'), :last)"),
                {"last": size},
            )
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE leads, sla_timers"))
    return time.perf_counter() - started


def sweep_moment(due_share: float) -> datetime:
    """The moment at which about `due_share` of the 2N timers is due.

    At IDLE_AT + d, reminders due are d / SPREAD of N and breaches (d - REMIND_GAP) / SPREAD of
    N; their sum is `due_share` of 2N when d = due_share * SPREAD + REMIND_GAP / 2.
    """
    return IDLE_AT + SPREAD * due_share + REMIND_GAP / 2


def count_due(db: Database, moment: datetime) -> int:
    with db.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(SlaTimer)
                .where(
                    SlaTimer.fired_at.is_(None),
                    SlaTimer.cancelled_at.is_(None),
                    SlaTimer.due_at <= moment,
                )
            )
            or 0
        )


# ------------------------------------------------------------------------------ the sweeps


def services_for(db: Database) -> Services:
    """What `sweep_once` needs: the database, the default rules, a clock (set per measurement)."""
    config = Config(load_settings({"DATABASE_URL": db.engine.url.render_as_string()}), Rules())
    return Services(config=config, db=db, clock=lambda: IDLE_AT)


def time_idle_sweeps(services: Services) -> list[float]:
    """Seconds per idle `sweep_once` (nothing due), after a few untimed warm-up runs."""
    services.clock = lambda: IDLE_AT
    timings = []
    for run in range(IDLE_WARMUPS + IDLE_REPEATS):
        started = time.perf_counter()
        fired = sweep_once(services)
        elapsed = time.perf_counter() - started
        if fired:
            raise AssertionError(f"the idle sweep fired {fired} timers")
        if run >= IDLE_WARMUPS:
            timings.append(elapsed)
    return timings


def time_firing_sweep(services: Services, moment: datetime) -> tuple[int, float]:
    """Fire everything due at `moment` through `sweep_once`; (timers fired, seconds)."""
    services.clock = lambda: moment
    started = time.perf_counter()
    fired = sweep_once(services)
    return fired, time.perf_counter() - started


@contextmanager
def captured_timer_query(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Records the statements and parameters the driver receives for the due-timers query."""
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_rest: Any
    ) -> None:
        if TIMER_QUERY_MARK in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def explain(db: Database, statement: str, parameters: Any) -> list[str]:
    """The plan of `statement` as sent by `take_due`, in a transaction that is rolled back."""
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            ).all()
            lines = [str(row[0]) for row in rows]
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            lines = [str(row[-1]) for row in rows]
        connection.rollback()
    return lines


# ------------------------------------------------------------------------------ one run


@dataclass(frozen=True)
class SizeResult:
    size: int
    timers: int
    load_seconds: float
    idle: list[float]
    due: int
    fired: int
    escalated: int
    fire_seconds: float

    @property
    def idle_median(self) -> float:
        return statistics.median(self.idle)

    @property
    def per_timer(self) -> float:
        return self.fire_seconds / self.fired if self.fired else 0.0

    @property
    def fired_per_second(self) -> float:
        return self.fired / self.fire_seconds if self.fire_seconds else 0.0


def count_escalated(db: Database) -> int:
    with db.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Lead)
                .where(Lead.status == LeadStatus.ESCALATED.value)
            )
            or 0
        )


def run_size(kind: str, size: int, *, moment: datetime, show_plan: bool) -> SizeResult:
    with empty_database(kind) as db:
        progress(f"{kind}: loading {size:,} leads and {2 * size:,} timers")
        load_seconds = fill(db, size)
        services = services_for(db)
        with captured_timer_query(db.engine) as seen:
            idle = time_idle_sweeps(services)
        due = count_due(db, moment)
        if show_plan and seen:
            print_plan(kind, size, explain(db, *seen[0]))
        progress(f"{kind}: firing {due:,} due timers")
        fired, fire_seconds = time_firing_sweep(services, moment)
        return SizeResult(
            size=size,
            timers=2 * size,
            load_seconds=load_seconds,
            idle=idle,
            due=due,
            fired=fired,
            escalated=count_escalated(db),
            fire_seconds=fire_seconds,
        )


# ------------------------------------------------------------------------------ output


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def run_facts(kinds: Sequence[str]) -> str:
    pg = postgres_version() if "postgresql" in kinds else "not run"
    return f"{machine_facts()}, PostgreSQL {pg}"


def print_plan(kind: str, size: int, lines: list[str]) -> None:
    how = "EXPLAIN (ANALYZE, BUFFERS)" if kind == "postgresql" else "EXPLAIN QUERY PLAN"
    print(f"\n{kind}: {how} of take_due's query, idle moment, N={size:,}")
    for line in lines:
        print(f"    {line}")


def print_table(kind: str, results: Sequence[SizeResult]) -> None:
    print(f"\n{kind}")
    print(
        f"  {'leads N':>9}{'timers':>9}{'load s':>8}{'idle ms':>9}{'idle min':>9}"
        f"{'due':>7}{'fired':>7}{'escal.':>7}{'fire s':>8}{'fired/s':>9}{'ms/timer':>9}"
    )
    for r in results:
        print(
            f"  {r.size:>9,}{r.timers:>9,}{r.load_seconds:>8.1f}{r.idle_median * 1000:>9.2f}"
            f"{min(r.idle) * 1000:>9.2f}{r.due:>7,}{r.fired:>7,}{r.escalated:>7,}"
            f"{r.fire_seconds:>8.2f}{r.fired_per_second:>9.0f}{r.per_timer * 1000:>9.2f}"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(
            f"  growth N x{large.size / small.size:.1f}: idle sweep x"
            f"{large.idle_median / small.idle_median:.2f}, firing sweep x"
            f"{large.fire_seconds / small.fire_seconds:.2f} for x"
            f"{large.fired / max(small.fired, 1):.1f} timers, time per fired timer x"
            f"{large.per_timer / small.per_timer:.2f}"
        )


# ------------------------------------------------------------------------------ entry point


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default=",".join(DATABASE_KINDS))
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument(
        "--due-share",
        type=float,
        default=DEFAULT_DUE_SHARE,
        help="share of the timers due at the sweep moment (0.5: catching up after an outage)",
    )
    args = parser.parse_args(argv)
    if not 0.005 <= args.due_share <= 0.99:
        parser.error("--due-share must be between 0.005 and 0.99")
    args.databases = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    unknown = set(args.databases) - set(DATABASE_KINDS)
    if unknown:
        parser.error(f"unknown database {sorted(unknown)[0]!r} (use {', '.join(DATABASE_KINDS)})")
    try:
        args.sizes = sorted(int(size) for size in args.sizes.split(","))
    except ValueError:
        parser.error("--sizes takes positive integers separated by commas")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes takes positive integers separated by commas")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    moment = sweep_moment(args.due_share)
    started = time.perf_counter()
    print(run_facts(args.databases))
    print(
        f"Backlog: N open leads, 2N timers, {args.due_share:.1%} of them due at the sweep moment; "
        f"idle sweep = median of {IDLE_REPEATS} sweep_once runs with nothing due; "
        f"{SWEEP_BATCH} timers per sweep transaction"
    )
    for kind in args.databases:
        results = [
            run_size(kind, size, moment=moment, show_plan=size == args.sizes[-1])
            for size in args.sizes
        ]
        print_table(kind, results)
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
