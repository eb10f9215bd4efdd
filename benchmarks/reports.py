"""Benchmark of the reports at scale: every `/leads` answer, each role's App Home and the digest
over a year of leads (1,000,000 by default), on SQLite and PostgreSQL.

The year is seeded once per database by SQL alone (INSERT ... SELECT over a series: a recursive
CTE on SQLite, generate_series on PostgreSQL), leads first with their report facts, then their
events (create, post, escalate, decide, contact, close) derived from them, and cached: a SQLite file
under ~/.cache/baton/benchmarks, a schema of its own in the PostgreSQL database of
BATON_TEST_POSTGRES_URL (the tests reset only `public`). Re-runs reuse it. After a new migration,
the newest cache at an older revision of the same chain is upgraded as a deployment upgrades
(`baton db upgrade`): a copy of the file on SQLite (every worktree shares the cache), the schema
in place on PostgreSQL; only a new seed version, or no cache at all, seeds again.

The real server (`BatonServer`, clock fixed at the seeded "now") runs in its own process; the
Slack emulator and the clients run here. Each answer is timed as a user waits for it: from the
signed slash command to the answer in the acknowledgement, or, when it is not ready within the
server's second, to its arrival through response_url; an App Home from `app_home_opened` to its
`views.publish`; the digest as the server computes it, and its chart as the server draws it (in a
process of its own). Then the server's memory (RSS now and peak, from /proc) and the peak of the
largest process it started (its children's VmHWM in /proc, read every few milliseconds while
they live: getrusage's figure for children counts the parent's memory up to their exec).

Run from the repository root:

    .venv/bin/python -m benchmarks.reports [--databases sqlite,postgresql] [--leads 1000000]
        [--repeat 15]

Exits 1 if an answer failed, never arrived, or the acknowledgement took longer than Slack's 3 s.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection as SqlConnection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from benchmarks.machine import database_version, machine_facts
from benchmarks.seeded_clock import NOW
from bot import report_facts
from bot.acceptance_trend import acceptance_trend_file, trend_period
from bot.digest import DIGEST_PERIOD, digest_message
from bot.notices import FAILURE
from bot.periods import parse_period
from bot.sla_policy import SlaPolicies
from handlers.config import load_config
from handlers.serve import BatonServer
from handlers.slow_answers import WORKING
from slack_driver import SlackUser
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    MANAGER,
    MARKETER,
    SlackEmulator,
    User,
    Workspace,
)
from slack_emulator.workspace import default_users
from storage import migrate, tuning_rollups
from storage.db import Database, create_db_engine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_RULES = ROOT / "baton.example.toml"
POSTGRES_URL_VARIABLE = "BATON_TEST_POSTGRES_URL"
DATABASE_KINDS = ("sqlite", "postgresql")
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "baton/benchmarks"
SEED_VERSION = 4  # bump when the seeded data changes, so caches are rebuilt
# Where pg_trgm lives in the benchmark's database (_install_pg_trgm), and the index it serves.
EXTENSIONS_SCHEMA = "benchmark_extensions"
FIND_INDEX = "ix_leads_find_trigrams"
PG_TRGM_SCHEMA = text(
    "SELECT nspname FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace"
    " WHERE extname = 'pg_trgm'"
)
YEAR = 365 * 86400
REP_COUNT = 50
REPS = tuple(f"U0REP{100000 + n}" for n in range(1, REP_COUNT + 1))
REP = REPS[0]
ACK_BUDGET = 3.0
ANSWER_TIMEOUT = 120.0
# A chart starts a process of its own, and a loaded 2-core machine starts it slowly (over 2
# minutes when that process loaded matplotlib).
SERVER_TIMEOUT = 600.0
TARGET_30D = 1.0  # `/leads stats 30d` p99
TARGET_ANY = 2.0  # any answer for 365 days


# ------------------------------------------------------------------------------ the seeded year


def _series(dialect: str) -> str:
    if dialect == "postgresql":
        return "SELECT generate_series(CAST(1 AS BIGINT), CAST(:leads AS BIGINT))"
    return "SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < :leads"


def _moment(dialect: str, seconds: str) -> str:
    """The seeded moment `seconds` after the year began, in the column's stored form."""
    begin = NOW - timedelta(seconds=YEAR)
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '{begin.isoformat()}' + ({seconds}) * INTERVAL '1 second')"
    start = begin.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', '{start}', '+' || ({seconds}) || ' seconds') || '.000000')"
    )


def _json_object(dialect: str, *pairs: str) -> str:
    function = "json_build_object" if dialect == "postgresql" else "json_object"
    return f"{function}({', '.join(pairs)})"


def _leads_sql(dialect: str) -> str:
    """One row per lead, its fate drawn from its id by fixed arithmetic: 1 % never decided, 19 %
    rejected, 80 % claimed (a tenth by a manager's assignment), 98 % of those contacted, 30 % of
    those closed; 30 % hot (timed on the clock), the rest business hours; 4 % breached."""

    def at(seconds: str) -> str:
        return _moment(dialect, seconds)

    rep = "'U0REP' || CAST(100000 + rep AS TEXT)"
    sources = "CASE src " + " ".join(
        f"WHEN {n} THEN '{name}'"
        for n, name in enumerate(
            ["webinar", "ads", "ebook", "events", "partner", "referral", "seo", "outbound"]
        )
    )
    reasons = "CASE why " + " ".join(
        f"WHEN {n} THEN '{code}'"
        for n, code in enumerate(
            ["no_budget", "bad_timing", "no_authority", "no_need", "not_icp", "duplicate"]
        )
    )
    empty_list = "CAST('[]' AS json)" if dialect == "postgresql" else "'[]'"
    return f"""
WITH RECURSIVE series(i) AS ({_series(dialect)}),
g0 AS (
  SELECT i, i * {YEAR} / :leads AS posted_s, (i * 7919) % 100 AS fate,
    CASE WHEN (i * 13) % 10 < 3 THEN 1 ELSE 0 END AS hot, (i * 31) % {REP_COUNT} + 1 AS rep,
    i % 8 AS src, (i / 8) % 5 AS camp, (i * 41) % 6 AS why, (i / 16) % 2 AS has_note,
    CASE WHEN (i * 17) % 100 < 2 THEN 1 ELSE 0 END AS never_contacted,
    CASE WHEN (i * 23) % 10 < 3 THEN 1 ELSE 0 END AS closes,
    CASE WHEN (i * 29) % 100 < 4 THEN 1 ELSE 0 END AS breached,
    600 + (i * 71) % 172800 AS contact_s,
    CASE WHEN (i * 13) % 10 < 3 THEN 60 + (i * 37) % 3540 ELSE 1800 + (i * 53) % 28800 END
      AS claim_s
  FROM series),
g1 AS (
  SELECT g0.*,
    CASE WHEN fate >= 1 AND posted_s + claim_s <= {YEAR} THEN 1 ELSE 0 END AS decided,
    posted_s + claim_s AS decided_s, posted_s + claim_s + contact_s AS contacted_s
  FROM g0),
g2 AS (
  SELECT g1.*,
    CASE WHEN decided = 1 AND fate < 20 THEN 1 ELSE 0 END AS rejected,
    CASE WHEN decided = 1 AND fate >= 20 THEN 1 ELSE 0 END AS claimed,
    CASE WHEN decided = 1 AND fate >= 20 AND never_contacted = 0 AND contacted_s <= {YEAR}
      THEN 1 ELSE 0 END AS contacted
  FROM g1),
g AS (
  SELECT g2.*,
    CASE WHEN contacted = 1 AND closes = 1 AND contacted_s + 604800 <= {YEAR}
      THEN 1 ELSE 0 END AS closed,
    CASE
      WHEN decided = 0 AND posted_s + 14400 <= {YEAR} THEN posted_s + 14400
      WHEN claimed = 1 AND never_contacted = 1 AND decided_s + 86400 <= {YEAR}
        THEN decided_s + 86400
      WHEN decided = 1 AND breached = 1 THEN posted_s + claim_s / 2
    END AS escalated_s
  FROM g2)
INSERT INTO leads (
  id, external_id, status, name, email, title, company, company_size, industry, country,
  segment, source, campaign, score, intent, activities, owner_id, rejected_by, reject_reason,
  reject_note, sla_policy, sla_cycle, claim_due_at, follow_up_due_at, slack_channel, slack_ts,
  created_at, updated_at, posted_at, accepted_at, rejected_at, escalated_at, contacted_at,
  closed_at, first_decision, first_decided_by, first_claimed_at, contact_credit,
  time_to_claim_us, time_to_contact_us)
SELECT
  i, 'bench-' || CAST(i AS TEXT),
  CASE
    WHEN decided = 0 THEN CASE WHEN escalated_s IS NULL THEN 'open' ELSE 'escalated' END
    WHEN rejected = 1 THEN 'rejected'
    WHEN closed = 1 THEN CASE WHEN i % 3 = 0 THEN 'won' ELSE 'lost' END
    WHEN contacted = 1 THEN 'contacted'
    WHEN escalated_s = decided_s + 86400 THEN 'escalated'
    ELSE 'accepted'
  END,
  'Prospect ' || CAST(i AS TEXT), 'prospect' || CAST(i AS TEXT) || '@example.com',
  'Head of Operations', 'Company ' || CAST(i % 5000 AS TEXT), '51-200', 'Software',
  CASE i % 4 WHEN 0 THEN 'US' WHEN 1 THEN 'DE' WHEN 2 THEN 'GB' ELSE 'FR' END,
  CASE i % 3 WHEN 0 THEN 'smb' WHEN 1 THEN 'mid_market' ELSE 'enterprise' END,
  {sources} END, {sources} END || ' campaign ' || CAST(camp AS TEXT),
  40 + i % 60, CASE WHEN hot = 1 THEN 'demo_request' ELSE 'content' END, {empty_list},
  CASE WHEN claimed = 1 THEN {rep} END,
  CASE WHEN rejected = 1 THEN {rep} END,
  CASE WHEN rejected = 1 THEN {reasons} END END,
  CASE WHEN rejected = 1 AND has_note = 1 THEN 'Note on lead ' || CAST(i AS TEXT) END,
  CASE WHEN hot = 1 THEN 'hot' ELSE 'standard' END, 1,
  CASE WHEN decided = 0 THEN {at("posted_s + 14400")} END,
  CASE WHEN claimed = 1 AND contacted = 0 THEN {at("decided_s + 86400")} END,
  'C0SALES0001', CAST(1700000000 + i AS TEXT) || '.000100',
  {at("posted_s - 2")}, {at("posted_s")}, {at("posted_s")},
  CASE WHEN claimed = 1 THEN {at("decided_s")} END,
  CASE WHEN rejected = 1 THEN {at("decided_s")} END,
  CASE WHEN escalated_s IS NOT NULL THEN {at("escalated_s")} END,
  CASE WHEN contacted = 1 THEN {at("contacted_s")} END,
  CASE WHEN closed = 1 THEN {at("contacted_s + 604800")} END,
  CASE WHEN rejected = 1 THEN 'reject' WHEN claimed = 1 AND fate < 28 THEN 'assign'
    WHEN claimed = 1 THEN 'accept' END,
  CASE WHEN decided = 1 THEN {rep} END,
  CASE WHEN claimed = 1 THEN {at("decided_s")} END,
  CASE WHEN contacted = 1 THEN {rep} END,
  CASE WHEN decided = 1 THEN claim_s * 1000000 END,
  CASE WHEN contacted = 1 THEN contact_s * 1000000 END
FROM g
"""


def _events_sql(dialect: str) -> list[str]:
    """Each lead's events, derived from its columns, one INSERT ... SELECT per kind; then the
    rejections and the day counts, as the transitions would have kept them."""

    def obj(*pairs: str) -> str:
        return _json_object(dialect, *pairs)

    columns = (
        "INSERT INTO lead_events (lead_id, action, from_status, to_status, actor, at, details)"
    )
    rejection = obj("'reason'", "reject_reason", "'note'", "reject_note")
    assignment = obj("'assignee'", "first_decided_by")
    decision_details = (
        f"CASE first_decision WHEN 'reject' THEN {rejection} "
        f"WHEN 'assign' THEN {assignment} ELSE {obj()} END"
    )
    day = "date(posted_at)" if dialect == "sqlite" else "CAST(timezone('UTC', posted_at) AS DATE)"
    created = obj("'source'", "source")
    posted = obj("'channel'", "slack_channel", "'ts'", "slack_ts")
    breach = obj("'breach'", "'claim'")
    outcome = obj("'outcome'", "status")
    return [
        f"{columns} SELECT id, 'create', NULL, 'new', 'baton', created_at, {created} FROM leads",
        f"{columns} SELECT id, 'post', 'new', 'open', 'baton', posted_at, {posted} FROM leads",
        f"{columns} SELECT id, 'escalate', 'open', 'escalated', 'baton', escalated_at, {breach} "
        "FROM leads WHERE escalated_at IS NOT NULL",
        f"{columns} SELECT id, first_decision, 'open', "
        "CASE first_decision WHEN 'reject' THEN 'rejected' ELSE 'accepted' END, "
        "CASE first_decision WHEN 'assign' THEN 'U0MANAGER01' ELSE first_decided_by END, "
        f"COALESCE(first_claimed_at, rejected_at), {decision_details} "
        "FROM leads WHERE first_decision IS NOT NULL",
        f"{columns} SELECT id, 'mark_contacted', 'accepted', 'contacted', contact_credit, "
        f"contacted_at, {obj()} FROM leads WHERE contacted_at IS NOT NULL",
        f"{columns} SELECT id, 'close', 'contacted', status, owner_id, closed_at, {outcome} "
        "FROM leads WHERE closed_at IS NOT NULL",
        "INSERT INTO rejections (lead_id, at, source, campaign, reason, note) SELECT id, "
        "rejected_at, source, campaign, reject_reason, reject_note FROM leads "
        "WHERE rejected_at IS NOT NULL ORDER BY rejected_at, id",
        "INSERT INTO handoff_days (day, decided_by, contact_credit, leads, claims, rejects, "
        "breached, claim_times, contact_times) "
        f"SELECT {day}, COALESCE(first_decided_by, ''), COALESCE(contact_credit, ''), count(*), "
        "count(CASE WHEN first_decision IN ('accept', 'assign') THEN 1 END), "
        "count(CASE WHEN first_decision = 'reject' THEN 1 END), count(escalated_at), "
        "count(time_to_claim_us), count(time_to_contact_us) "
        "FROM leads WHERE posted_at IS NOT NULL GROUP BY 1, 2, 3",
    ]


@dataclass(frozen=True)
class Seeded:
    url: str
    where: str  # the file or schema it is cached in
    leads: int
    events: int
    how: str  # cached, seeded or upgraded, and how long that took


def seed(url: str, leads: int) -> tuple[int, int]:
    """Fill an empty, migrated database with the year; returns (leads, events)."""
    db = Database.from_url(url)
    try:
        dialect = db.dialect
        with db.engine.begin() as connection:
            connection.execute(text(_leads_sql(dialect)), {"leads": leads})
            for statement in _events_sql(dialect):
                connection.execute(text(statement))
            if dialect == "postgresql":
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence('leads', 'id'), :last)"),
                    {"last": leads},
                )
            # What the transitions would have kept: the first reject's reason, the rollups.
            connection.execute(text(tuning_rollups.FIRST_REJECT_REASONS))
            with Session(bind=connection) as session:
                tuning_rollups.rebuild(session)
                session.flush()
        if dialect == "postgresql":
            _vacuum(db)
        with db.engine.connect() as connection:
            counted = connection.execute(
                text("SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM lead_events)")
            ).one()
        return int(counted[0]), int(counted[1])
    finally:
        db.dispose()


def cache_keys(leads: int) -> list[str]:
    """The names of a cached year at each revision of the schema, oldest first, the head's
    last: its size, the seed's version, the revision and a digest of the migrations up to it,
    so a cache is upgraded from an older revision of this chain only (another branch may give
    the same revision number to another migration)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(create_db_engine("sqlite://")))
    digest = hashlib.sha256()
    keys = []
    for revision in reversed(list(script.walk_revisions())):
        digest.update(Path(revision.path).read_bytes())
        keys.append(f"{leads}_v{SEED_VERSION}_r{revision.revision}_{digest.hexdigest()[:8]}")
    return keys


def cached_sqlite(leads: int) -> Seeded:
    """The year in a file of the cache: as cached at the head's revision; else a copy of the
    newest one at an older revision (every worktree on the machine shares the cache), upgraded
    as a deployment upgrades; else seeded."""
    *older, head = (CACHE_DIR / f"reports-{key}.db" for key in cache_keys(leads))
    url = f"sqlite:///{head}"
    if head.exists():
        return Seeded(url, str(head), leads, _count_events(url), "cached")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = head.with_suffix(".partial")
    for leftover in CACHE_DIR.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    base = next((path for path in reversed(older) if path.exists()), None)
    if base is None:
        _migrate(f"sqlite:///{partial}")
        _, events = seed(f"sqlite:///{partial}", leads)
    else:
        copy_sqlite(base, partial)
        _migrate(f"sqlite:///{partial}")
        events = _count_events(f"sqlite:///{partial}")
    partial.rename(head)  # only a finished cache is ever found
    return Seeded(url, str(head), leads, events, _made(base.stem if base else None, started))


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of the database file `source`, whatever its journal holds."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as copy:
        original.backup(copy)


def cached_postgres(base_url: str, leads: int) -> Seeded:
    """The year in a schema of its own: as cached at the head's revision; else the newest one
    at an older revision, upgraded in place as a deployment upgrades its database (PostgreSQL
    undoes a failed upgrade: the schema stays at its revision); else seeded."""
    *older, head = (f"reports_bench_{key}" for key in cache_keys(leads))
    _install_pg_trgm(base_url)
    with _admin(base_url) as connection:
        schemas = set(
            connection.execute(text("SELECT schema_name FROM information_schema.schemata"))
            .scalars()
            .all()
        )
    if head in schemas:
        url = _in_schema(base_url, head)
        how = "cached" + _restore_find_index(url)
        return Seeded(url, f"schema {head}", leads, _count_events(url), how)
    started = time.perf_counter()
    base = next((schema for schema in reversed(older) if schema in schemas), None)
    if base is None:
        base = f"{head}_partial"
        with _admin(base_url) as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {base} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {base}"))
        _migrate(_in_schema(base_url, base))
        _, events = seed(_in_schema(base_url, base), leads)
        how = _made(None, started)
    else:
        _migrate(_in_schema(base_url, base))
        # What autovacuum does within minutes of an upgrade that rewrote rows: the answers are
        # timed as a deployment runs them, not in the moments after its upgrade.
        db = Database.from_url(_in_schema(base_url, base))
        try:
            _vacuum(db)
        finally:
            db.dispose()
        events = _count_events(_in_schema(base_url, base))
        how = _made(base, started) + _restore_find_index(_in_schema(base_url, base))
    with _admin(base_url) as connection:
        connection.execute(text(f"ALTER SCHEMA {base} RENAME TO {head}"))
    return Seeded(_in_schema(base_url, head), f"schema {head}", leads, events, how)


def _install_pg_trgm(base_url: str) -> None:
    """pg_trgm in a schema of its own, before a year is read or migrated. Migration 0026 installs
    it in the first schema on the search path, the year's own, and dropping an older year's
    schema dropped it, with the trigram index of every year (`/leads find` read every lead); in
    `public`, the other benchmarks' wipe of `public` in the same database did. One installed
    elsewhere is installed again there: only a superuser may move it, and its indexes go with
    the old one (`_restore_find_index` makes the year's again). Where it cannot be installed,
    the migration says so and the year has no such index."""
    with suppress(DBAPIError), _admin(base_url) as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {EXTENSIONS_SCHEMA}"))
        installed = connection.execute(PG_TRGM_SCHEMA).scalar()
        if installed == EXTENSIONS_SCHEMA:
            return
        if installed is not None:
            connection.execute(text("DROP EXTENSION pg_trgm CASCADE"))
        connection.execute(text(f"CREATE EXTENSION pg_trgm SCHEMA {EXTENSIONS_SCHEMA}"))


def _restore_find_index(url: str) -> str:
    """The year's trigram index for `/leads find` (migration 0026's), made again when a cached
    year lost it with an earlier pg_trgm; what was done, for the cache's line ("" if nothing)."""
    started = time.perf_counter()
    with _admin(url) as connection:
        if connection.execute(PG_TRGM_SCHEMA).scalar() != EXTENSIONS_SCHEMA:
            return ""
        names = {index["name"] for index in inspect(connection).get_indexes("leads")}
        if FIND_INDEX in names:
            return ""
        opclass = f"{EXTENSIONS_SCHEMA}.gin_trgm_ops"
        columns = ", ".join(f"{column} {opclass}" for column in ("name", "company", "email"))
        connection.execute(text(f"CREATE INDEX {FIND_INDEX} ON leads USING gin ({columns})"))
    seconds = time.perf_counter() - started
    return f"; its find index made again in {seconds:.0f} s, lost with an earlier pg_trgm"


@contextmanager
def _admin(url: str) -> Iterator[SqlConnection]:
    """A connection to the database of `url`, in a transaction committed at the end."""
    db = Database.from_url(url)
    try:
        with db.engine.begin() as connection:
            yield connection
    finally:
        db.dispose()


def _made(base: str | None, started: float) -> str:
    seconds = time.perf_counter() - started
    return (
        f"seeded in {seconds:.0f} s" if base is None else f"upgraded from {base} in {seconds:.0f} s"
    )


def _in_schema(url: str, schema: str) -> str:
    parsed = make_url(url)
    with_path = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return with_path.render_as_string(hide_password=False)


def _migrate(url: str) -> None:
    """Upgrade to the head as `baton db upgrade` does, timing past leads by the example rules."""
    rules = load_config(_environment(url, "http://127.0.0.1:1")).rules
    db = Database.from_url(url)
    try:
        migrate.upgrade(db.engine, elapsed=report_facts.elapsed_by(SlaPolicies(rules)))
    finally:
        db.dispose()


def _vacuum(db: Database) -> None:
    """Mark the rows visible to all and refresh the planner's statistics (VACUUM ANALYZE)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def _count_events(url: str) -> int:
    db = Database.from_url(url)
    try:
        with db.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM lead_events")).scalar_one())
    finally:
        db.dispose()


# ------------------------------------------------------------------------------ the server


def _environment(url: str, api_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "BATON_INTAKE_TOKEN": "benchmark-intake-token",
        "DATABASE_URL": url,
        "BATON_CONFIG": str(EXAMPLE_RULES),
    }


def serve(url: str, api_url: str, commands: Connection) -> None:
    """The server process: Baton with its clock at the seeded now, until told to stop. Asked,
    it times the digest as its cron job computes it, and the digest's chart as its delivery
    draws it (in a process started for it, bot.charts)."""
    server = BatonServer(
        load_config(_environment(url, api_url)), clock=lambda: NOW, delivery="inline"
    )
    commands.send(server.start())
    services = server.services
    zone = ZoneInfo(services.config.rules.hours.timezone)
    period = parse_period(DIGEST_PERIOD, now=NOW, timezone=zone)
    while (request := commands.recv()) != "stop":
        started = time.perf_counter()
        with services.db.read() as session:
            if request == "digest":
                digest_message(
                    session,
                    period=period,
                    rules=services.config.rules,
                    policies=services.policies,
                )
            else:
                assert request == "chart"
                acceptance_trend_file(session, period=trend_period(period.end), timezone=zone)
        commands.send(time.perf_counter() - started)
    server.stop()
    commands.send("stopped")


@contextmanager
def baton_process(url: str, api_url: str) -> Iterator[tuple[str, Connection, int]]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    # Not a daemon: a daemonic process may start none, and the server starts one per chart or
    # file it draws (bot.charts); the `finally` below ends it instead.
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(url, api_url, theirs)
    )
    process.start()
    try:
        if not ours.poll(120):
            raise SystemExit("the Baton server did not start within 2 minutes")
        assert process.pid is not None
        yield ours.recv(), ours, process.pid
        ours.send("stop")
        ours.poll(30)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@contextmanager
def children_peak(pid: int, every: float = 0.01) -> Iterator[dict[int, float]]:
    """The peak memory (VmHWM, MB) of each process `pid` starts, and theirs, while in the block:
    the last reading before each ends (one taken before its exec is the parent's)."""
    peaks: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(every):
            for child in _descendants(pid):
                with suppress(OSError, KeyError):  # ended, or a zombie without memory
                    peaks[child] = memory_mb(child)[1]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        done.set()
        watcher.join()


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


# ------------------------------------------------------------------------------ measuring


@dataclass
class Timing:
    label: str
    seconds: list[float] = field(default_factory=list)
    late: int = 0  # answers that came through response_url
    problems: list[str] = field(default_factory=list)

    def summary(self) -> tuple[float, float, float, float]:
        """First (cold), then p50, p99 and max of the runs after it (nearest rank)."""
        first, *rest = self.seconds
        ordered = sorted(rest or [first])

        def rank(p: int) -> float:
            return ordered[max(1, -(-p * len(ordered) // 100)) - 1]

        return first, rank(50), rank(99), ordered[-1]


EXPECTED = {  # how each answer's text begins
    "stats": ("Handoff numbers", "Your numbers"),
    "feedback": ("Why sales rejected leads",),
    "queue": ("Lead queue",),
    "sla": ("SLA health",),
    "mine": ("Your open leads",),
    "funnel": ("Funnel to revenue",),
    "tune": ("Tuning the score from sales' answers",),
    "mql": ("MQLs:",),
    "find": ("Leads matching",),
}


def time_command(emulator: SlackEmulator, user: SlackUser, text: str, timing: Timing) -> None:
    answered = len(emulator.calls("response_url"))
    started = time.perf_counter()
    try:
        response = user.slash_command("/leads", text)
    except httpx.TimeoutException:
        timing.problems.append(f"no acknowledgement within Slack's {ACK_BUDGET:.0f} s")
        return
    acknowledged = time.perf_counter() - started
    body = response.json() if response.content else {}
    if body.get("text") == WORKING:
        try:
            emulator.wait_for(
                lambda: len(emulator.calls("response_url")) > answered, timeout=ANSWER_TIMEOUT
            )
        except TimeoutError:
            timing.problems.append(f"no answer through response_url in {ANSWER_TIMEOUT:.0f} s")
            return
        timing.seconds.append(time.perf_counter() - started)
        timing.late += 1
        body = emulator.calls("response_url")[answered].args["body"]
    else:
        timing.seconds.append(acknowledged)
    answer = str(body.get("text", ""))
    if (
        response.status_code != 200
        or answer == FAILURE
        or not answer.startswith(EXPECTED[text.split()[0]])
    ):
        timing.problems.append(f"unexpected answer {answer[:80]!r} (HTTP {response.status_code})")


def time_home(emulator: SlackEmulator, user: SlackUser, timing: Timing) -> None:
    def published() -> int:
        return sum(
            1 for c in emulator.calls("views.publish") if c.args.get("user_id") == user.user_id
        )

    before = published()
    started = time.perf_counter()
    try:
        user.open_app_home()
    except httpx.TimeoutException:
        timing.problems.append("the app_home_opened event was not acknowledged in time")
        return
    try:
        emulator.wait_for(lambda: published() > before, timeout=ANSWER_TIMEOUT)
    except TimeoutError:
        timing.problems.append(f"no views.publish within {ANSWER_TIMEOUT:.0f} s")
        return
    timing.seconds.append(time.perf_counter() - started)


@dataclass
class DatabaseReport:
    kind: str
    version: str
    seeded: Seeded
    timings: list[Timing] = field(default_factory=list)
    memory: tuple[float, float] = (0.0, 0.0)
    children_peak: float = 0.0  # MB, the largest of the processes the server started


def forget_slack_events(url: str) -> None:
    """A new emulator numbers its events from the start again: forget the ones an earlier run
    delivered, or the server would take its App Home events for Slack's retries."""
    db = Database.from_url(url)
    try:
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM slack_events_seen"))
    finally:
        db.dispose()


def measure(kind: str, seeded: Seeded, repeat: int) -> DatabaseReport:
    forget_slack_events(seeded.url)
    report = DatabaseReport(kind, database_version(seeded.url), seeded)
    users = default_users() + tuple(User(rep, f"rep{n}", f"Rep {n}") for n, rep in enumerate(REPS))
    with (
        SlackEmulator(workspace=Workspace(users=users)) as emulator,
        baton_process(seeded.url, emulator.api_url) as (url, digests, pid),
        children_peak(pid) as children,
    ):
        for label, run in cases(emulator, url, digests):
            timing = Timing(label)
            for _ in range(repeat + 1):  # the first run is reported apart, as "first"
                run(timing)
            report.timings.append(timing)
            p99 = _ms(timing.summary()[2]) if timing.seconds else "-"
            print(f"  .. {label}: p99 {p99} ms", file=sys.stderr, flush=True)
        report.memory = memory_mb(pid)
        report.children_peak = max(children.values(), default=0.0)
    return report


def cases(
    emulator: SlackEmulator, url: str, digests: Connection
) -> list[tuple[str, Callable[[Timing], None]]]:
    """Every answer to time: a label and how to run it once."""

    def person(user_id: str) -> SlackUser:
        return emulator.user(
            user_id, bot_url=f"{url}/slack/events", signing_secret=DEFAULT_SIGNING_SECRET
        )

    manager, marketer, rep = person(MANAGER), person(MARKETER), person(REP)
    found = [
        (f"/leads {name} {period} ({role})", _command(emulator, who, f"{name} {period}"))
        for name, who, role in (
            ("stats", manager, "manager"),
            ("feedback", marketer, "marketer"),
            ("tune", marketer, "marketer"),
        )
        for period in ("7d", "30d", "90d", "365d")
    ]
    return [
        *found,
        ("/leads stats 30d (rep)", _command(emulator, rep, "stats 30d")),
        ("/leads queue (manager)", _command(emulator, manager, "queue")),
        ("/leads sla (manager)", _command(emulator, manager, "sla")),
        ("/leads mine (rep)", _command(emulator, rep, "mine")),
        ("/leads mql (marketer)", _command(emulator, marketer, "mql")),
        ("/leads find (rep)", _command(emulator, rep, "find Company 4242")),
        ("/leads funnel 30d (marketer)", _command(emulator, marketer, "funnel 30d")),
        ("/leads funnel 365d (marketer)", _command(emulator, marketer, "funnel 365d")),
        (
            "/leads funnel 365d by source (marketer)",
            _command(emulator, marketer, "funnel 365d by source"),
        ),
        ("App Home (rep)", lambda t: time_home(emulator, rep, t)),
        ("App Home (manager)", lambda t: time_home(emulator, manager, t)),
        ("App Home (marketer)", lambda t: time_home(emulator, marketer, t)),
        ("digest (7d, computed)", lambda t: t.seconds.append(_ask(digests, "digest"))),
        ("digest chart (drawn)", lambda t: t.seconds.append(_ask(digests, "chart"))),
    ]


def _command(emulator: SlackEmulator, user: SlackUser, text: str) -> Callable[[Timing], None]:
    return lambda timing: time_command(emulator, user, text, timing)


def _ask(server: Connection, request: str) -> float:
    server.send(request)
    if not server.poll(SERVER_TIMEOUT):
        raise SystemExit(f"the Baton server did not answer {request!r} in {SERVER_TIMEOUT:.0f} s")
    return float(server.recv())


# ------------------------------------------------------------------------------ output


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def print_report(report: DatabaseReport) -> bool:
    """Print one database's figures; True when every answer arrived and the targets held."""
    seeded = report.seeded
    print(
        f"\n== {report.version}: {seeded.leads:,} leads, {seeded.events:,} events "
        f"({seeded.how}, {seeded.where}) =="
    )
    print(f"  {'answer':<32}{'first ms':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  via")
    ok = True
    for timing in report.timings:
        if not timing.seconds:
            print(f"  {timing.label:<32}{'-':>10}")
        else:
            first, p50, p99, top = timing.summary()
            via = f"response_url {timing.late}/{len(timing.seconds)}" if timing.late else "ack"
            if timing.label.startswith(("App Home", "digest")):
                via = ""
            figures = f"{_ms(first):>10}{_ms(p50):>9}{_ms(p99):>9}{_ms(top):>9}"
            print(f"  {timing.label:<32}{figures}  {via}")
        for problem in timing.problems[:3]:
            print(f"    PROBLEM: {problem}")
            ok = False
    rss, peak = report.memory
    print(
        f"  server memory: RSS {rss:.0f} MB after the runs, peak {peak:.0f} MB; its largest "
        f"child (a chart drawn apart) peaked at {report.children_peak:.0f} MB"
    )
    for timing in report.timings:
        if not timing.seconds:
            continue
        _, _, p99, top = timing.summary()
        if timing.label.startswith("/leads stats 30d (manager)") and p99 > TARGET_30D:
            print(f"  MISSES the target: stats 30d p99 {_ms(p99)} ms > {_ms(TARGET_30D)} ms")
            ok = False
        if "365d" in timing.label and top > TARGET_ANY:
            print(f"  MISSES the target: {timing.label} max {_ms(top)} ms > {_ms(TARGET_ANY)} ms")
            ok = False
    return ok


# ------------------------------------------------------------------------------ main


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    return year_options(argv, prog="benchmarks.reports", doc=__doc__, repeat=15)


def year_options(
    argv: Sequence[str] | None,
    *,
    prog: str,
    doc: str | None,
    repeat: int,
    more: Callable[[argparse.ArgumentParser], object] | None = None,
) -> argparse.Namespace:
    """The options of a benchmark over the seeded year: `--databases`, `--leads`, `--repeat`
    (runs of each answer, `repeat` by default), checked; `more` adds the benchmark's own."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc)
    if more is not None:
        more(parser)
    parser.add_argument("--databases", default=",".join(DATABASE_KINDS))
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in the year")
    parser.add_argument("--repeat", type=int, default=repeat, help="runs of each answer")
    options = parser.parse_args(argv)
    options.kinds = [kind.strip() for kind in options.databases.split(",") if kind.strip()]
    if set(options.kinds) - set(DATABASE_KINDS) or not options.kinds:
        parser.error(f"--databases takes a list of {', '.join(DATABASE_KINDS)}")
    if options.leads < 1000 or options.repeat < 1:
        parser.error("--leads must be at least 1000 and --repeat at least 1")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print(machine_facts(), flush=True)
    ok = True
    for kind in options.kinds:
        print(f"... {kind}: the seeded year (built once, then cached)", file=sys.stderr, flush=True)
        if kind == "sqlite":
            seeded = cached_sqlite(options.leads)
        else:
            base = os.environ.get(POSTGRES_URL_VARIABLE, "")
            if not base.startswith("postgresql"):
                raise SystemExit(f"{POSTGRES_URL_VARIABLE} must hold a PostgreSQL URL")
            seeded = cached_postgres(base, options.leads)
        ok &= print_report(measure(kind, seeded, options.repeat))
    if not ok:
        print("FAILED: see the PROBLEM and MISSES lines above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
