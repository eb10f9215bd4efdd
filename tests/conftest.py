"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, schema from migrations."""

from __future__ import annotations

import functools
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from handlers.config import Config, load_config
from handlers.serve import BatonServer
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    SlackEmulator,
    User,
    Workspace,
)
from slack_emulator.workspace import default_users
from storage import migrate
from storage.db import Database
from storage.models import Base

# No deadline per example: a property test asserts what Baton does, never how fast (speed lives
# in benchmarks), and a machine busy with other work must not fail it.
settings.register_profile("baton", deadline=None)
settings.load_profile("baton")

POSTGRES_URL_VARIABLE = "BATON_TEST_POSTGRES_URL"
EXAMPLE_RULES = Path(__file__).parents[1] / "baton.example.toml"
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts as a subprocess."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n` (scripts/test), tests go to whichever worker is free, but each demo journey's
    module runs whole on one worker (tests/parallel.py)."""
    if config.getvalue("dist") != "load":
        return None  # the --dist mode asked for
    from tests.parallel import JourneysTogether

    return JourneysTogether(config, log)


def postgres_url() -> str:
    """The PostgreSQL database this test process owns: the one `BATON_TEST_POSTGRES_URL` names,
    or under pytest-xdist the worker's own `<database>_<worker>` (e.g. `baton_test_gw0`), made
    on first use, since every test empties the database it runs on."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} is not set: run the suite with scripts/test, which brings "
            "PostgreSQL up, or point the variable at a PostgreSQL database you own"
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return url if worker is None else _worker_database(url, worker)


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    shared = make_url(url)
    own = shared.set(database=f"{shared.database}_{worker}")
    _create_database(shared, own)
    return own.render_as_string(hide_password=False)


def _create_database(server: URL, wanted: URL) -> None:
    """Create `wanted`'s database on `server` unless it exists (the role needs CREATEDB, which
    scripts/postgres-up grants)."""
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": wanted.database},
            ).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{wanted.database}"'))
    except DBAPIError as error:
        pytest.fail(
            f"cannot create {wanted.database!r} for this pytest-xdist worker ({error.orig}): "
            f"grant CREATEDB to {server.username!r}, or run the tests serially (-n 0)"
        )
    finally:
        engine.dispose()


def reset_postgres(url: str) -> None:
    """Drop everything in the test database, so migrations start from empty."""
    db = Database.from_url(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_url() -> str:
    url = postgres_url()
    reset_postgres(url)
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    db.dispose()
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated once per run; each test gets a copy of the file
    (migrating a fresh one, table rebuilds included, cost every test about a second)."""
    path = tmp_path_factory.mktemp("migrated") / "baton.db"
    db = Database.from_url(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "baton.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("migrated_postgres_url")
    db = Database.from_url(url)
    migrate.upgrade(db.engine)  # a migration test may have left it elsewhere
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


EXTRA_REPS = tuple(User(f"U0REPX{n:05d}", f"rep{n}", f"Rep {n}") for n in range(10))
# Slack waits 3 s for an acknowledgement and honours a trigger_id for 3 s. Tests assert what
# happens, not how fast (benchmarks time that), and a loaded CI machine can stall a thread
# longer: the tests' Slack is patient.
PATIENT_SLACK: dict[str, float] = {"ack_timeout": 30.0, "trigger_ttl": 30.0}


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """The project's Slack API emulator, with the default users and ten more reps."""
    workspace = Workspace(users=default_users() + EXTRA_REPS)
    with SlackEmulator(workspace=workspace, **PATIENT_SLACK) as emulator:
        yield emulator


@pytest.fixture
def config_env(database_url: str, slack: SlackEmulator) -> dict[str, str]:
    """Environment for a bot under test: its own database, the emulator, the example rules."""
    return {
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "BATON_INTAKE_TOKEN": "test-intake-token",
        "DATABASE_URL": database_url,
        "BATON_CONFIG": str(EXAMPLE_RULES),
    }


@pytest.fixture
def config(config_env: dict[str, str]) -> Config:
    return load_config(config_env)


@pytest.fixture
def start_bot(config_env: dict[str, str]) -> Iterator[Callable[..., BatonServer]]:
    """Starts bots serving HTTP on free local ports, as `baton serve` runs (several, or one
    after another, on one database); all are stopped at the end of the test. Delivery runs in
    the server's process: no child to start for each test, and its log lines reach `caplog`
    (tests/e2e/test_delivery_process.py runs `baton serve` with its child)."""
    started: list[BatonServer] = []

    def start(**options: Any) -> BatonServer:
        settings: dict[str, Any] = {
            "post_interval": 0.0,
            "first_retry": 0.05,
            "delivery": "inline",
            **options,
        }
        server = BatonServer(load_config(config_env), **settings)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def bot(start_bot: Callable[..., BatonServer]) -> BatonServer:
    return start_bot()
