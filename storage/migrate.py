"""Schema migrations: Alembic, configured in code so no alembic.ini has to be found on disk.

Alembic is imported where it is used, not here: a process that finds its schema current (every
start of `baton serve` but the first after an upgrade) never loads it, and keeps some 10 MB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from storage.funnel_stages import COMPUTED, STEP_TIME_INDEX

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# A migration's `revision: str = '0026'` and `down_revision: str | None = '0025'` lines, as its
# template writes them: (name, revision), "" for None. One written otherwise (a merge's tuple of
# parents) leaves the check to Alembic.
_REVISION_LINE = re.compile(r"^(revision|down_revision)(?:: [^=]*)? = (?:None|'([^']+)')$", re.M)

# How long a lead took between two moments as its SLA policy (named) counts time: business hours
# or the clock. Only the domain knows; migrations that store such durations for past leads ask it.
Elapsed = Callable[[str | None, datetime, datetime], timedelta]

# Indexes a migration makes only where the database can have them (0026's trigrams need
# PostgreSQL's pg_trgm), so they are not in storage.models: schema comparisons leave them out.
OPTIONAL_INDEXES = frozenset({"ix_leads_find_trigrams"})
# Indexes not in storage.models: the optional ones, and those on expressions that differ by
# database (0030's funnel step times, storage.funnel_stages.step_time_indexes).
UNMODELLED_INDEXES = OPTIONAL_INDEXES | {STEP_TIME_INDEX.format(step=step) for step in COMPUTED}


def compared(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Autogenerate's `include_name`: everything in the database but the unmodelled indexes."""
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def alembic_config(engine: Engine, *, elapsed: Elapsed | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    config.attributes["elapsed"] = elapsed
    return config


def upgrade(engine: Engine, revision: str = "head", *, elapsed: Elapsed | None = None) -> None:
    """Bring the schema to `revision`; safe to run on every start (it does nothing when current).

    Without `elapsed`, a migration that must time past leads refuses rather than guess.
    """
    from alembic import command

    command.upgrade(alembic_config(engine, elapsed=elapsed), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


class SchemaNotCurrent(Exception):
    """The server database needs `baton db upgrade` before Baton can use it."""


def ensure_current(engine: Engine, *, elapsed: Elapsed | None = None) -> None:
    """Migrate the embedded SQLite database by itself; a server database must be upgraded on
    purpose (`baton db upgrade`), so a deploy never changes a shared schema by surprise."""
    if _at_the_only_head(engine):
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine, elapsed=elapsed)
        return
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        raise SchemaNotCurrent(
            f"DATABASE_URL: schema is at {current or 'nothing'}, expected {head}: "
            "run `baton db upgrade`"
        )


def _at_the_only_head(engine: Engine) -> bool:
    """The database's schema is at the head of a chain of migrations with one head: read from
    the version table and the migration files' revision lines, without Alembic. False whenever
    that cannot be told so simply (Alembic then decides, as it always did)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        lines = dict(_REVISION_LINE.findall(script.read_text()))
        if set(lines) != {"revision", "down_revision"}:
            return False
        revisions.add(lines["revision"])
        parents.add(lines["down_revision"])
    heads = revisions - parents
    if len(heads) != 1 or not inspect(engine).has_table(VERSION_TABLE):
        return False
    with engine.connect() as connection:
        stored = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        return set(stored) == heads
