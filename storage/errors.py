"""Database errors as adapters catch and show them, so no adapter needs to know SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import exc as sql_errors
from sqlalchemy.exc import DBAPIError

# The driver could not open, reach or use the database (SQLAlchemy wraps every driver's error).
DatabaseError = DBAPIError


class DatabaseBusy(Exception):
    """Other writers, of this process or another, kept SQLite's write lock past the bounded
    wait (storage.db.LOCK_WAIT_SECONDS)."""


# What a transaction raises when the database cannot serve it now (down, restarting, locked
# past the bounded wait, no connection free): unlike a constraint or a bug, a retry can succeed.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseBusy,
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.TimeoutError,
)


def describe_database_error(error: DatabaseError) -> str:
    """The driver's own words on one line (they name host and port, never the password)."""
    problem = " ".join(str(error.orig or error).split())
    if "unable to open database file" in problem:  # SQLite says no more than that
        problem += "; does its folder exist, and may Baton write there?"
    return problem
