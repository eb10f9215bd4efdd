"""A SQLite write transaction of a batch's size keeps its pages until it commits."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage.db import Database

# Rows of 2,000 bytes: 1,500 are about 3 MB, what a batch of a thousand leads dirties, many
# times SQLite's page cache; 6,000 are about 12 MB, past the 8 MB a transaction may hold.
FILL = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) "
    "INSERT INTO pages (body) SELECT printf('%.2000c', 'x') FROM n"
)


def _empty_table(tmp_path: Path) -> tuple[Database, Path]:
    db = Database.from_url(f"sqlite:///{tmp_path / 'baton.db'}")
    with db.write() as session:
        session.execute(text("CREATE TABLE pages (body TEXT NOT NULL)"))
    return db, tmp_path / "baton.db-wal"


def test_a_batch_sized_write_reaches_the_log_once_at_its_commit(tmp_path: Path) -> None:
    """Pages spilled to the log while the transaction runs are written again at its commit:
    a batch's write would pay for its pages twice (storage.db.SQLITE_SPILL_PAGES)."""
    db, log = _empty_table(tmp_path)
    try:
        before = log.stat().st_size
        with db.write() as session:
            session.execute(FILL, {"rows": 1500})
            assert log.stat().st_size == before  # nothing written to the log yet
        assert log.stat().st_size > before + 3_000_000
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM pages")).scalar_one() == 1500
    finally:
        db.dispose()


def test_a_write_past_the_bound_spills_so_its_memory_stays_bounded(tmp_path: Path) -> None:
    """A transaction larger than SQLITE_SPILL_PAGES (a migration's backfill, say) writes pages to
    the log as it goes rather than holding them all: a threshold SQLite read as "off" (any
    multiple of 256) would hold all 12 MB here."""
    db, log = _empty_table(tmp_path)
    try:
        before = log.stat().st_size
        with db.write() as session:
            session.execute(FILL, {"rows": 6000})
            assert log.stat().st_size > before + 2_000_000  # spilled before the commit
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM pages")).scalar_one() == 6000
    finally:
        db.dispose()
