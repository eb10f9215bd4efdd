"""Schema migrations: Alembic, configured in code so no alembic.ini has to be found on disk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# How long a lead took between two moments as its SLA policy (named) counts time: business hours
# or the clock. Only the domain knows; migrations that store such durations for past leads ask it.
Elapsed = Callable[[str | None, datetime, datetime], timedelta]

# Indexes a migration makes only where the database can have them (0026's trigrams need
# PostgreSQL's pg_trgm), so they are not in storage.models: schema comparisons leave them out.
OPTIONAL_INDEXES = frozenset({"ix_leads_find_trigrams"})


def compared(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Autogenerate's `include_name`: everything in the database but the optional indexes."""
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def alembic_config(engine: Engine, *, elapsed: Elapsed | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    config.attributes["elapsed"] = elapsed
    return config


def upgrade(engine: Engine, revision: str = "head", *, elapsed: Elapsed | None = None) -> None:
    """Bring the schema to `revision`; safe to run on every start (it does nothing when current).

    Without `elapsed`, a migration that must time past leads refuses rather than guess.
    """
    command.upgrade(alembic_config(engine, elapsed=elapsed), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


class SchemaNotCurrent(Exception):
    """The server database needs `baton db upgrade` before Baton can use it."""


def ensure_current(engine: Engine, *, elapsed: Elapsed | None = None) -> None:
    """Migrate the embedded SQLite database by itself; a server database must be upgraded on
    purpose (`baton db upgrade`), so a deploy never changes a shared schema by surprise."""
    if engine.dialect.name == "sqlite":
        upgrade(engine, elapsed=elapsed)
        return
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        raise SchemaNotCurrent(
            f"DATABASE_URL: schema is at {current or 'nothing'}, expected {head}: "
            "run `baton db upgrade`"
        )
