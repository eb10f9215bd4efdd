"""Engines and transactions: one place that knows how SQLite and PostgreSQL must be driven."""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.checkpoints import Checkpoints
from storage.errors import DatabaseBusy
from storage.turns import FileTurn, TurnLock

# How long a transaction waits for a lock another connection holds (SQLite's write lock, a
# PostgreSQL row or table lock), for a new connection, or for a free one in the pool, before
# it fails. Someone is waiting on the other end (a webhook sender, a rep's click), and they are
# better served by "busy, retry" in seconds than by an answer after half a minute; background
# jobs simply try again on their next round.
LOCK_WAIT_SECONDS = 5
WRITE_OPTION = "baton_write"
# SQLite's page cache per connection, in KiB (its default is 2,000). A report walks far more of
# a large database than 2 MB, which the OS caches anyway, and every pooled connection of the
# server and of its delivery process kept its 2 MB filled after one: 256 KiB holds the upper
# levels of the indexes a walk goes down. Measured over the reports at 1M leads: 6 MB less in
# `baton serve`'s processes together, and no more CPU.
SQLITE_CACHE_KIB = 256
# Statements each SQLite connection keeps prepared (Python's sqlite3 keeps 128). A report's
# statement prepared holds tens of KB, and the pooled connections of the server and of its
# delivery process held 4 to 5 MB of them each after the reports at 1M leads; with 16, 1 to
# 2 MB. Preparing a statement again costs microseconds: the CPU a click, a card or a lead
# costs did not change measurably (benchmarks.cpu_costs, alternating runs).
SQLITE_CACHED_STATEMENTS = 16
# Pages a write transaction may hold dirty before SQLite spills them to the log mid-transaction
# (PRAGMA cache_spill; 2,000 pages of 4 KiB is 8 MB). Bounded by SQLITE_CACHE_KIB alone, a
# batch of a thousand leads, which dirties some MB of the table and its fifteen indexes, wrote
# pages to the log while inserting and again at the commit. Inserting a batch's leads, commit
# included, took SQLite 89 ms in an empty database and 73-77 with this; 160-172 ms in one of
# 200,000 leads and 127-128 with this (as fast as an 8 or 32 MB cache). The pages are freed once
# clean, after the commit, so only a transaction's own size is held meanwhile. Not a multiple of
# 256: SQLite also reads the number as a byte for its on/off switch, and 2,048 turns it off.
SQLITE_SPILL_PAGES = 2000


def _prepare_sqlite(engine: Engine) -> None:
    """Take over BEGIN from the sqlite3 driver, as SQLAlchemy's SQLite docs recommend.

    Transactions that write start with BEGIN IMMEDIATE: in WAL mode a read-then-write
    transaction fails at once ("database is locked") when another writer got there first,
    whatever the busy timeout; taking the write lock up front makes writers queue instead.
    No commit checkpoints the log: Database has a thread do it (storage.checkpoints).
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA cache_spill = {SQLITE_SPILL_PAGES}")
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def url_problem(url: str) -> str | None:
    """What is wrong with DATABASE_URL, found before any connection is tried (None: nothing):
    a URL no installed driver can use, or one that does not parse."""
    if not re.match(r"^(sqlite(\+pysqlite)?|postgres(ql)?(\+psycopg)?)://", url):
        return "must be a sqlite:/// or postgresql:// URL"
    try:
        make_url(url)
    except ValueError:  # a port that is not a number, an unclosed [IPv6] host
        return "is not a valid URL (check its host and port)"
    return None


def create_db_engine(url: str) -> Engine:
    """Build an engine for DATABASE_URL, with the per-dialect settings Baton relies on.

    `hide_parameters`: a database error's message never carries the statement's parameters
    (lead data, notes people typed) into a log line."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql" or parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        in_memory = _in_memory(parsed)  # one connection, no pool to wait on
        engine = create_engine(
            parsed,
            connect_args={
                "check_same_thread": False,
                "timeout": LOCK_WAIT_SECONDS,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
            hide_parameters=True,
            **({} if in_memory else {"pool_timeout": LOCK_WAIT_SECONDS}),
        )
        _prepare_sqlite(engine)
        return engine
    engine = create_engine(
        parsed,
        connect_args=_postgres_waits(parsed),
        pool_size=10,
        max_overflow=20,
        pool_timeout=LOCK_WAIT_SECONDS,
        hide_parameters=True,
    )
    _replace_ended_connections(engine)
    return engine


def _replace_ended_connections(engine: Engine) -> None:
    """A pooled PostgreSQL connection the server has ended (a restart, a crash, an
    administrator's terminate) is replaced as it leaves the pool, before a statement fails on it.

    In place of `pool_pre_ping`, whose SELECT cost every unit of work (every click) a round
    trip: an idle connection has nothing to read unless the server said goodbye (the FATAL
    message and end of stream a restart sends), so a socket with something to read, or one
    libpq knows is broken, is judged ended without asking the server; the pool connects anew.
    """

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed:
            raise DisconnectionError("the connection is closed")
        readable = select.poll()
        readable.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR)
        if readable.poll(0):
            raise DisconnectionError("the server ended the connection")


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _postgres_waits(url: URL) -> dict[str, Any]:
    """libpq settings bounding the waits for a connection and for locks; what DATABASE_URL
    sets itself is kept (its `options` come first, ours are added)."""
    lock_timeout = f"-c lock_timeout={LOCK_WAIT_SECONDS * 1000}"
    given = url.query.get("options")
    given_options = given if isinstance(given, str) else " ".join(given or ())
    return {
        "connect_timeout": url.query.get("connect_timeout", LOCK_WAIT_SECONDS),
        "options": f"{given_options} {lock_timeout}".strip(),
    }


class Database:
    """Hands out sessions whose transaction is committed when the unit of work ends.

    Domain code flushes but never commits; the request or job that called it commits here.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        # SQLite lets one writer in at a time, and its busy handler sleeps in growing steps, so
        # writers queued inside it get a long, unfair tail (a burst of 32 saw 5 s waits). This
        # process's writers wait their turn here instead, first come first served, and then
        # the processes' turn, a lock on a file beside the database (none for one in memory,
        # which no other process sees); the busy timeout is left for writers outside Database
        # (migrations).
        self._turns: list[TurnLock | FileTurn] = []  # PostgreSQL locks rows: no queue
        self._checkpoints: Checkpoints | None = None
        if self.dialect == "sqlite":
            self._turns.append(TurnLock())
            if not _in_memory(engine.url):
                path = os.path.abspath(str(engine.url.database))
                self._turns.append(FileTurn(path + "-writers"))
                self._checkpoints = Checkpoints(engine)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_db_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def in_memory(self) -> bool:
        """A SQLite database in memory: no other process can open it."""
        return self.dialect == "sqlite" and _in_memory(self.engine.url)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write: committed on success, rolled back on any error."""
        with self._turn_to_write(), self._write() as session, session.begin():
            yield session
        if self._checkpoints is not None:
            self._checkpoints.after_write()

    @contextmanager
    def _turn_to_write(self) -> Iterator[None]:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        with ExitStack() as taken:
            for turn in self._turns:
                if not turn.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise DatabaseBusy(f"no turn to write within {LOCK_WAIT_SECONDS} s")
                taken.callback(turn.release)
            yield

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; it never takes SQLite's write lock."""
        with self._read() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """True when the database answers a trivial query (for /healthz)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        """Close the pooled connections and stop the checkpoints' thread (a later write
        starts it again)."""
        if self._checkpoints is not None:
            self._checkpoints.stop()
        self.engine.dispose()


def add_unless_duplicate(session: Session, row: object) -> bool:
    """Insert `row`; False when a unique key says it is already there.

    The database decides, so two racing inserts cannot both succeed; the savepoint keeps the
    caller's transaction usable either way.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True
