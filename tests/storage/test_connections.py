"""A pooled PostgreSQL connection the server ended is replaced before a unit of work uses it."""

from __future__ import annotations

import time

from sqlalchemy import text

from storage.db import Database
from tests.conftest import postgres_url

BACKEND = text("SELECT pg_backend_pid()")


def test_a_connection_the_server_ended_is_replaced_before_a_statement_fails_on_it() -> None:
    """As after a restart of PostgreSQL: the pool's idle connection is gone on the server's side,
    and the next unit of work (a rep's click) runs on a new one instead of failing."""
    db, admin = Database.from_url(postgres_url()), Database.from_url(postgres_url())
    try:
        with db.read() as session:
            ended = session.execute(BACKEND).scalar_one()  # back in the pool after this
        with admin.write() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with admin.read() as session:
                if session.execute(gone, {"pid": ended}).scalar_one() == 0:
                    break
            time.sleep(0.05)

        with db.read() as session:
            assert session.execute(BACKEND).scalar_one() != ended
        assert db.engine.pool.checkedin() == 1  # the ended one was dropped, not kept aside
    finally:
        db.dispose()
        admin.dispose()
