"""A SQLite write transaction of a batch's size keeps its pages until it commits."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage.db import Database

# About 3 MB of rows: what a batch of a thousand leads dirties, many times SQLite's page cache.
FILL = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
    "INSERT INTO pages (body) SELECT printf('%.2000c', 'x') FROM n"
)


def test_a_batch_sized_write_reaches_the_log_once_at_its_commit(tmp_path: Path) -> None:
    """Pages spilled to the log while the transaction runs are written again at its commit:
    a batch's write would pay for its pages twice (storage.db.SQLITE_SPILL_PAGES)."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'baton.db'}")
    log = tmp_path / "baton.db-wal"
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE pages (body TEXT NOT NULL)"))
        before = log.stat().st_size
        with db.write() as session:
            session.execute(FILL)
            assert log.stat().st_size == before  # nothing written to the log yet
        assert log.stat().st_size > before + 3_000_000
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM pages")).scalar_one() == 1500
    finally:
        db.dispose()
