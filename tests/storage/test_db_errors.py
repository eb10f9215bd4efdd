"""A database error never carries a statement's parameters (lead data, typed notes) into logs."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database

SECRET_NOTE = "the rep's private note 7f3a"


def test_a_failed_statement_does_not_repeat_its_parameters(db: Database) -> None:
    with pytest.raises(DBAPIError) as failure, db.read() as session:
        session.execute(text("SELECT :note FROM no_such_table"), {"note": SECRET_NOTE})
    assert "no_such_table" in str(failure.value)
    assert SECRET_NOTE not in str(failure.value)
