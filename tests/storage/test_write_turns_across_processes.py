"""Writers of several processes on one SQLite file take turns by a lock on a file beside it
(storage.turns.FileTurn): they wait in the kernel, not in SQLite's busy handler, none fails with
"database is locked", the wait stays bounded, and a process killed with the turn frees it.

SQLite only: PostgreSQL locks rows, and its writers take no turn."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import db as db_module
from storage.db import Database
from storage.errors import DatabaseBusy
from tests.storage.writing_process import WRITES

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite_file: Path) -> Iterator[str]:
    path = tmp_path / "baton.db"
    shutil.copyfile(migrated_sqlite_file, path)
    url = f"sqlite:///{path}"
    db = Database.from_url(url)
    with db.write() as session:
        session.execute(text("CREATE TABLE writes (writer TEXT NOT NULL)"))
    db.dispose()
    yield url


def start(url: str, mode: str, name: str) -> subprocess.Popen[str]:
    """A writing process (tests/storage/writing_process.py), once it says it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.writing_process", url, mode, name],
        cwd=REPOSITORY,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() in ("ready\n", "holding\n")
    return process


def writes_by(url: str) -> dict[str, int]:
    db = Database.from_url(url)
    with db.read() as session:
        rows = session.execute(text("SELECT writer, count(*) FROM writes GROUP BY writer"))
        counts = {writer: count for writer, count in rows}
    db.dispose()
    return counts


def write_in_thread(db: Database, outcome: list[str]) -> threading.Thread:
    def write() -> None:
        with db.write() as session:
            session.execute(text("INSERT INTO writes (writer) VALUES ('test')"))
        outcome.append("written")

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_writers_of_two_processes_all_get_through_under_contention(sqlite_url: str) -> None:
    writers = [start(sqlite_url, "write", name) for name in ("server", "delivery")]
    for writer in writers:  # both start together, 4 threads each
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()

    results = [json.loads(writer.communicate(timeout=120)[0]) for writer in writers]

    assert results == [{"written": WRITES, "errors": []}] * 2
    assert writes_by(sqlite_url) == {"server": WRITES, "delivery": WRITES}


def test_a_writer_waits_while_another_process_has_the_turn_and_goes_in_after(
    sqlite_url: str,
) -> None:
    holder = start(sqlite_url, "hold", "holder")  # the turn only: SQLite's lock is free
    db = Database.from_url(sqlite_url)
    outcome: list[str] = []

    writer = write_in_thread(db, outcome)
    writer.join(timeout=1)
    assert writer.is_alive() and outcome == []
    holder.communicate(timeout=10)  # its input closes: it commits and lets go
    writer.join(timeout=10)

    assert outcome == ["written"]
    assert writes_by(sqlite_url) == {"test": 1}
    db.dispose()


def test_a_process_killed_in_the_middle_of_writing_leaves_the_turn_to_the_next(
    sqlite_url: str,
) -> None:
    holder = start(sqlite_url, "hold-writing", "killed")
    db = Database.from_url(sqlite_url)
    outcome: list[str] = []

    writer = write_in_thread(db, outcome)
    holder.kill()
    holder.wait(timeout=10)
    writer.join(timeout=10)

    assert outcome == ["written"]
    assert writes_by(sqlite_url) == {"test": 1}  # the killed process's row was never committed
    db.dispose()


def test_a_writer_kept_out_past_the_wait_is_told_busy_and_the_turn_works_after(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "LOCK_WAIT_SECONDS", 0.2)
    holder = start(sqlite_url, "hold", "holder")
    db = Database.from_url(sqlite_url)

    for _ in range(2):  # the second writer takes over the first one's wait in the kernel
        with pytest.raises(DatabaseBusy), db.write() as session:
            session.execute(text("INSERT INTO writes (writer) VALUES ('too late')"))
    holder.communicate(timeout=10)
    with db.write() as session:
        session.execute(text("INSERT INTO writes (writer) VALUES ('test')"))

    assert writes_by(sqlite_url) == {"test": 1}
    db.dispose()


def test_a_database_in_a_folder_that_does_not_exist_fails_as_sqlite_says(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path}/missing/baton.db")

    with (
        pytest.raises(OperationalError, match="unable to open database file"),
        db.write() as session,
    ):
        session.execute(text("SELECT 1"))
