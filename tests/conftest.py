"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, schema from migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Config, load_config
from handlers.serve import BatonServer
from storage import migrate
from storage.db import Database
from storage.models import Base

POSTGRES_URL_VARIABLE = "BATON_TEST_POSTGRES_URL"
EXAMPLE_RULES = Path(__file__).parents[1] / "baton.example.toml"
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} is not set: run the suite with scripts/test, which brings "
            "PostgreSQL up, or point the variable at a PostgreSQL database you own"
        )
    return url


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'baton.db'}"
        db = Database.from_url(url)
        migrate.upgrade(db.engine)
        db.dispose()
        return url
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


@pytest.fixture
def config_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment for a bot under test: its own database, the example rules."""
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "BATON_INTAKE_TOKEN": "test-intake-token",
        "DATABASE_URL": database_url,
        "BATON_CONFIG": str(EXAMPLE_RULES),
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }


@pytest.fixture
def config(config_env: dict[str, str]) -> Config:
    return load_config(config_env)


@pytest.fixture
def server(config: Config) -> Iterator[BatonServer]:
    """The whole bot serving HTTP on a free local port, as `baton serve` runs it."""
    baton = BatonServer(config)
    baton.start()
    yield baton
    baton.stop()
