"""SQLite's log reaches the database file through a thread of Database's, never inside a commit:
a commit that checkpoints holds every writer queued behind it (a rep's click) for 7-30 ms."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import checkpoints
from storage.db import Database
from tests.e2e.conftest import eventually

# Past the 1,000 pages of log after which SQLite's own checkpoint would run in a commit.
ROWS = 600
ROW_BYTES = 8 * 1024


@pytest.fixture
def sqlite_file(migrated_sqlite_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "baton.db"
    shutil.copyfile(migrated_sqlite_file, path)
    return path


@pytest.fixture
def db(sqlite_file: Path) -> Iterator[Database]:
    database = Database.from_url(f"sqlite:///{sqlite_file}")
    with database.write() as session:
        session.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB)"))
    yield database
    database.dispose()


INSERT_ROW = text("INSERT INTO scratch (body) VALUES (randomblob(:n))")


def write_rows(db: Database) -> None:
    for _ in range(ROWS):
        with db.write() as session:
            session.execute(INSERT_ROW, {"n": ROW_BYTES})


def rows_in_the_file_alone(path: Path, tmp_path: Path) -> int:
    """The rows the database file holds without its log: what checkpoints have copied."""
    copy = tmp_path / "file-alone.db"
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        found = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'scratch'"
        ).fetchone()[0]
        return int(connection.execute("SELECT count(*) FROM scratch").fetchone()[0]) if found else 0
    finally:
        connection.close()
        copy.unlink()


def checkpoint_threads(path: Path) -> list[threading.Thread]:
    """The threads checkpointing the file at `path` (other tests' files have theirs)."""
    name = checkpoints.thread_name(str(path))
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_commits_leave_their_pages_in_the_log(
    db: Database, sqlite_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held back, the thread copies nothing, and no commit copied anything in its place."""
    db.dispose()  # the fixture's thread, which was not held back
    monkeypatch.setattr(checkpoints, "PACE_SECONDS", 3600.0)
    write_rows(db)
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM scratch")).scalar_one() == ROWS
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    assert rows_in_the_file_alone(sqlite_file, tmp_path) == 0


def test_the_thread_copies_the_writes_into_the_database_file(
    db: Database, sqlite_file: Path, tmp_path: Path
) -> None:
    write_rows(db)

    def copied() -> bool:
        try:
            return rows_in_the_file_alone(sqlite_file, tmp_path) == ROWS
        except sqlite3.DatabaseError:  # copied while a checkpoint wrote to it: look again
            return False

    eventually(copied, timeout=30)


def test_disposing_ends_the_thread_and_the_next_write_starts_it_again(
    db: Database, sqlite_file: Path
) -> None:
    """`baton serve` disposes of its database before it forks its delivery child, which it
    may only do while it runs no other thread."""
    assert len(checkpoint_threads(sqlite_file)) == 1  # the fixture's write started it
    db.dispose()
    assert checkpoint_threads(sqlite_file) == []
    with db.write() as session:
        session.execute(text("INSERT INTO scratch (body) VALUES (x'00')"))
    assert len(checkpoint_threads(sqlite_file)) == 1


def test_an_idle_thread_leaves(
    db: Database, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.dispose()
    monkeypatch.setattr(checkpoints, "IDLE_SECONDS", 0.05)
    with db.write() as session:
        session.execute(text("INSERT INTO scratch (body) VALUES (x'00')"))
    eventually(lambda: checkpoint_threads(sqlite_file) == [], timeout=30)
