"""Migrations build the schema from empty on both databases, and agree with the models."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage import leads as lead_store
from storage import migrate
from storage.db import Database
from storage.models import Base
from tests.conftest import reset_postgres
from tests.factories import create_lead


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
        context = MigrationContext.configure(connection, opts={"include_name": migrate.compared})
        differences = compare_metadata(context, Base.metadata)
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


def test_a_database_behind_is_migrated_on_sqlite_and_refused_on_postgresql(
    empty_db: Database,
) -> None:
    migrate.upgrade(empty_db.engine, "0025")

    if empty_db.dialect == "sqlite":
        migrate.ensure_current(empty_db.engine)
        assert migrate.current_revision(empty_db.engine) == migrate.head_revision(empty_db.engine)
    else:
        with pytest.raises(migrate.SchemaNotCurrent, match="schema is at 0025"):
            migrate.ensure_current(empty_db.engine)


def test_a_current_schema_is_checked_without_loading_alembic(empty_db: Database) -> None:
    """Alembic costs a process some 10 MB it would keep: a server finding its schema current
    (every start but the first after an upgrade) never loads it."""
    migrate.upgrade(empty_db.engine)
    url = empty_db.engine.url.render_as_string(hide_password=False)
    check = (
        "import sys; from storage import migrate; from storage.db import create_db_engine; "
        f"migrate.ensure_current(create_db_engine({url!r})); "
        "sys.exit('alembic' in sys.modules)"
    )

    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


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
    assert {"ix_leads_lower_email", "ix_leads_lower_company"} <= lead_indexes(empty_db)
    with empty_db.engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(text("DELETE FROM leads WHERE id = 7"))  # events refer to it


def lead_indexes(db: Database) -> set[str]:
    """The names of the leads table's indexes (SQLite's expression indexes don't reflect)."""
    if db.engine.dialect.name == "postgresql":
        return {str(index["name"]) for index in inspect(db.engine).get_indexes("leads")}
    with db.engine.connect() as connection:
        return set(
            connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
            ).scalars()
        )


REPORT_INDEXES = {
    "ix_leads_report_period": "posted_at",
    "ix_leads_report_claim_times": "time_to_claim_us",
    "ix_leads_report_contact_times": "time_to_contact_us",
}


def index_conditions(db: Database) -> dict[str, str | None]:
    """Each report index's WHERE condition as the database keeps it (None for a whole index),
    lower case and without brackets."""
    if db.engine.dialect.name == "postgresql":
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'leads'"
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
    with db.engine.connect() as connection:
        definitions = dict(connection.exec_driver_sql(query).tuples().all())
    conditions = {}
    for name in REPORT_INDEXES:
        _, where, condition = definitions[name].lower().partition(" where ")
        conditions[name] = condition.strip("() ") if where else None
    return conditions


def test_report_indexes_leave_out_the_leads_they_never_serve_from_0032(
    empty_db: Database,
) -> None:
    """A new lead has no posting time nor durations: the indexes that lead with them hold only
    the leads that have them (what every report's condition asks), so intake skips them."""
    migrate.upgrade(empty_db.engine)
    assert index_conditions(empty_db) == {
        name: f"{column} is not null" for name, column in REPORT_INDEXES.items()
    }
    migrate.downgrade(empty_db.engine, "0031")
    assert index_conditions(empty_db) == dict.fromkeys(REPORT_INDEXES)


def test_find_index_comes_with_0026_on_postgresql_and_goes_with_its_downgrade(
    empty_db: Database,
) -> None:
    postgresql = empty_db.engine.dialect.name == "postgresql"
    migrate.upgrade(empty_db.engine)
    assert ("ix_leads_find_trigrams" in lead_indexes(empty_db)) is postgresql
    migrate.downgrade(empty_db.engine, "0025")
    assert migrate.current_revision(empty_db.engine) == "0025"
    assert "ix_leads_find_trigrams" not in lead_indexes(empty_db)
    migrate.upgrade(empty_db.engine)
    assert ("ix_leads_find_trigrams" in lead_indexes(empty_db)) is postgresql


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
def test_upgrade_without_leave_to_install_pg_trgm_succeeds_without_the_index_and_says_so(
    empty_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A role may not create pg_trgm (no CREATE on the database, or no contrib package): the
    upgrade completes, says why once, and find reads the table instead."""
    migrate.upgrade(empty_db.engine, "0025")
    with empty_db.engine.begin() as connection:
        database = connection.exec_driver_sql("SELECT quote_ident(current_database())").scalar()
        connection.exec_driver_sql(f"REVOKE CREATE ON DATABASE {database} FROM CURRENT_USER")
    try:
        with caplog.at_level(logging.WARNING, logger="storage.migrate"):
            migrate.upgrade(empty_db.engine)
    finally:
        with empty_db.engine.begin() as connection:
            connection.exec_driver_sql(f"GRANT CREATE ON DATABASE {database} TO CURRENT_USER")
    assert migrate.current_revision(empty_db.engine) == migrate.head_revision(empty_db.engine)
    assert "ix_leads_find_trigrams" not in lead_indexes(empty_db)
    (warning,) = [record.getMessage() for record in caplog.records]
    assert "pg_trgm could not be installed (permission denied" in warning
    with empty_db.write() as session:
        create_lead(session, company="Initech", email="peter@initech.example")
    with empty_db.read() as session:
        assert lead_store.find_leads(session, "iNiTeCh.EX", limit=5)[1] == 1
    migrate.downgrade(empty_db.engine, "0025")  # upgraded again, with the index, for the next test
