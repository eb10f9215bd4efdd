"""Alembic environment: runs migrations on the engine Baton hands over (never a URL from a file).

On SQLite, a migration that changes a table's constraints rebuilds it (batch mode: copy, drop,
rename); with foreign keys enforced, dropping a table other tables refer to would fail. As SQLite
prescribes for such changes, enforcement is off while migrating, the whole database is checked
before the commit, and enforcement is back on before the connection returns to the pool.
"""

from alembic import context
from sqlalchemy import Connection

from storage.migrate import compared
from storage.models import Base

engine = context.config.attributes["engine"]


def check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration broke {len(broken)} foreign key reference(s)")


def enforce_foreign_keys(connection: Connection, enforce: bool) -> None:
    """On the driver's connection: SQLAlchemy would begin a transaction first, in which SQLite
    ignores this pragma."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys = {'ON' if enforce else 'OFF'}")


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        enforce_foreign_keys(connection, False)
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_name=compared,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                check_foreign_keys(connection)
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            enforce_foreign_keys(connection, True)
