"""Migrations build the schema from empty on both databases, and agree with the models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.db import Database
from storage.models import Base
from tests.conftest import reset_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of each kind with nothing in it: no tables, no alembic_version."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("migrated_postgres_url")
        reset_postgres(url)
    db = Database.from_url(url)
    yield db
    if request.param == "postgresql":
        migrate.upgrade(db.engine)  # leave the shared test database migrated for other tests
    db.dispose()


def test_upgrade_from_empty_to_head_creates_every_table(empty_db: Database) -> None:
    assert migrate.current_revision(empty_db.engine) is None
    migrate.upgrade(empty_db.engine)
    assert migrate.current_revision(empty_db.engine) == migrate.head_revision(empty_db.engine)
    tables = set(inspect(empty_db.engine).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables


def test_models_and_migrations_agree(empty_db: Database) -> None:
    migrate.upgrade(empty_db.engine)
    with empty_db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_downgrade_to_base_and_back(empty_db: Database) -> None:
    migrate.upgrade(empty_db.engine)
    migrate.downgrade(empty_db.engine, "base")
    assert not {t.name for t in Base.metadata.sorted_tables} & set(
        inspect(empty_db.engine).get_table_names()
    )
    migrate.upgrade(empty_db.engine)
    assert migrate.current_revision(empty_db.engine) == migrate.head_revision(empty_db.engine)


def test_upgrade_is_a_no_op_when_current(db: Database) -> None:
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == before == migrate.head_revision(db.engine)


def test_upgrading_a_database_with_leads_keeps_them_and_their_history(
    empty_db: Database,
) -> None:
    """0011 rebuilds the leads table on SQLite (its status CHECK changes) while events refer
    to the leads: nothing is lost, the references hold, and lookups keep their indexes."""
    migrate.upgrade(empty_db.engine, "0010")
    with empty_db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO leads (id, external_id, status, name, email, activities,"
                " sla_cycle, created_at, updated_at)"
                " VALUES (7, 'crm-7', 'contacted', 'Ada', 'ada@example.com', '[]', 0, :at, :at)"
            ),
            {"at": datetime(2026, 11, 2, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO lead_events (lead_id, action, to_status, actor, at, details)"
                " VALUES (7, 'create', 'new', 'baton', :at, '{}')"
            ),
            {"at": datetime(2026, 11, 2, tzinfo=UTC)},
        )
    migrate.upgrade(empty_db.engine)
    with empty_db.engine.begin() as connection:
        connection.execute(text("UPDATE leads SET status = 'opportunity' WHERE id = 7"))
        assert connection.execute(text("SELECT count(*) FROM lead_events")).scalar() == 1
    indexes = {index["name"] for index in inspect(empty_db.engine).get_indexes("leads")}
    if empty_db.engine.dialect.name == "postgresql":  # SQLite's expression indexes don't reflect
        assert {"ix_leads_lower_email", "ix_leads_lower_company"} <= indexes
    else:
        with empty_db.engine.connect() as connection:
            names = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
            ).scalars()
            assert {"ix_leads_lower_email", "ix_leads_lower_company"} <= set(names)
    with empty_db.engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(text("DELETE FROM leads WHERE id = 7"))  # events refer to it
