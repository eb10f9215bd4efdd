"""The lookups `/leads show` and `find` run: case-insensitive, wildcards taken literally,
newest first, limited, and counted in full."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from storage import leads as lead_store
from storage.db import Database
from tests.factories import create_lead


def seed(db: Database) -> None:
    with db.write() as session:
        for n in range(20):
            create_lead(
                session,
                external_id=f"acme-{n}",
                name=f"Person {n}",
                company="Acme Corp",
                email=f"person{n}@acme.example",
            )
        create_lead(
            session, external_id="pct", name="100% Sure", company="Initech", email="a@i.example"
        )
        create_lead(session, external_id="underscore", name="Al", company="A_b", email=None)


def test_find_is_case_insensitive_newest_first_limited_and_counted(db: Database) -> None:
    seed(db)
    with db.read() as session:
        leads, total = lead_store.find_leads(session, "ACME", limit=15)
        assert total == 20 and len(leads) == 15
        assert [lead.name for lead in leads[:2]] == ["Person 19", "Person 18"]
        assert lead_store.find_leads(session, "person7@", limit=15)[1] == 1  # email
        assert lead_store.find_leads(session, "sure", limit=15)[1] == 1  # name


def test_find_takes_wildcards_literally(db: Database) -> None:
    seed(db)
    with db.read() as session:
        assert [lead.name for lead in lead_store.find_leads(session, "%", limit=5)[0]] == [
            "100% Sure"
        ]
        assert [lead.company for lead in lead_store.find_leads(session, "_", limit=5)[0]] == ["A_b"]


def test_email_and_company_match_whole_values_ignoring_case(db: Database) -> None:
    seed(db)
    with db.read() as session:
        (lead,), total = lead_store.list_by_email(session, "PERSON3@Acme.Example", limit=8)
        assert total == 1 and lead.name == "Person 3"
        assert lead_store.list_by_email(session, "person3@acme", limit=8)[1] == 0
        leads, total = lead_store.list_by_company(session, "acme corp", limit=8)
        assert total == 20 and len(leads) == 8
        assert lead_store.list_by_company(session, "acme", limit=8)[1] == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_find_through_the_trigram_index_finds_what_reading_every_lead_finds(db: Database) -> None:
    """At a million leads PostgreSQL answers find from the trigram index (migration 0026); with
    this handful it would read the table, so reading it is switched off to compare the two:
    mixed-case substrings of each column, wildcards taken literally, and terms too short to
    have a trigram all find the same leads, counted the same."""
    seed(db)
    terms = ("aCmE cO", "SON7@ACME.EX", "sure", "NITE", "%", "_", "ac", "7")
    with db.read() as session:
        scanned = {term: found(session, term) for term in terms}
    with db.read() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        assert "ix_leads_find_trigrams" in plan_of_find(session, "aCmE cO")
        assert {term: found(session, term) for term in terms} == scanned
    assert scanned["aCmE cO"] == ([f"acme-{n}" for n in range(19, 4, -1)], 20)
    assert scanned["SON7@ACME.EX"] == (["acme-7"], 1)
    assert scanned["NITE"] == (["pct"], 1)


def found(session: Session, term: str) -> tuple[list[str], int]:
    leads, total = lead_store.find_leads(session, term, limit=15)
    return [lead.external_id for lead in leads], total


def plan_of_find(session: Session, term: str) -> str:
    """PostgreSQL's plan for the query find runs first (the matching ids and their count)."""
    statements: list[tuple[str, Any]] = []
    connection = session.connection()

    def keep(*args: Any) -> None:
        statements.append((args[2], args[3]))  # the statement and its parameters

    event.listen(connection, "before_cursor_execute", keep)
    try:
        lead_store.find_leads(session, term, limit=15)
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    statement, parameters = statements[0]
    return "\n".join(connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
