"""Database errors as adapters catch and show them, so no adapter needs to know SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# The driver could not open, reach or use the database (SQLAlchemy wraps every driver's error).
DatabaseError = DBAPIError


def describe_database_error(error: DatabaseError) -> str:
    """The driver's own words on one line (they name host and port, never the password)."""
    problem = " ".join(str(error.orig or error).split())
    if "unable to open database file" in problem:  # SQLite says no more than that
        problem += "; does its folder exist, and may Baton write there?"
    return problem
