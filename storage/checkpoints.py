"""SQLite's write-ahead log copied back into the database by a thread of its own, after writes.

Left to itself, SQLite checkpoints inside the commit that takes its log past 1,000 pages: that
commit copies some 4 MB into the database and waits for the disk twice, 7 to 30 ms where a
commit takes a few hundredths of a millisecond, and every writer queued behind it for its
turn (storage.turns: a rep's click among them) waits as long. Baton's connections have those
automatic checkpoints off (storage.db), and each process's Database wakes a Checkpoints after
its writes: a PASSIVE checkpoint, which waits for no reader or writer and which no writer waits
for, at most every PACE_SECONDS, on a connection of the pool (one of its own would parse the
schema again, some 0.4 MB a process).

The thread starts at the first write and leaves after IDLE_SECONDS without one, or when the
Database is disposed of (a process must run no other thread when it forks its delivery child).
What a migration writes outside Database is copied at the next write, or when the last
connection to the file closes, as SQLite always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Writes are gathered this long before a checkpoint copies them: at 700 commits a second, a
# checkpoint every quarter of a second copies a few MB and waits for the disk twice.
PACE_SECONDS = 0.25
# A thread without a write this long leaves (a process that writes again starts another).
IDLE_SECONDS = 30.0


class Checkpoints:
    """Checkpoints of one SQLite file, run off the writers' path (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._due = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def thread_name(self) -> str:
        return thread_name(str(self._engine.url.database))

    def after_write(self) -> None:
        """A write committed: a checkpoint follows within PACE_SECONDS."""
        self._due.set()
        if self._thread is not None:
            return
        with self._guard:
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name=self.thread_name, daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """End the thread, if one runs, and wait for it (a checkpoint under way finishes)."""
        with self._guard:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            self._due.set()
            thread.join()

    def _run(self, stop: threading.Event) -> None:
        while self._wait_for_a_write(stop) and not stop.wait(PACE_SECONDS):
            self._due.clear()  # before: a write during the checkpoint asks for another
            try:
                self._checkpoint()
            except (sqlite3.Error, SQLAlchemyError) as error:  # the next one copies it all
                log.warning("SQLite checkpoint failed: %s", type(error).__name__)

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint on a pooled connection, outside any transaction (the driver's
        connection itself: SQLAlchemy's would begin one)."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()

    def _wait_for_a_write(self, stop: threading.Event) -> bool:
        """True once a write asks for a checkpoint; False when this thread is to leave: it was
        stopped, or it waited IDLE_SECONDS for nothing."""
        # Stopped first: a stop just before `_run` cleared `_due` left it cleared.
        while not stop.is_set() and not self._due.wait(IDLE_SECONDS):
            with self._guard:
                if self._due.is_set():
                    break
                if self._thread is threading.current_thread():
                    self._thread = None
                return False
        return not stop.is_set()


def thread_name(path: str) -> str:
    """The name of the thread that checkpoints the SQLite file at `path`."""
    return f"sqlite-checkpoints {path}"
