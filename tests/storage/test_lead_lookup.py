"""The lookups `/leads show` and `find` run: case-insensitive, wildcards taken literally,
newest first, limited, and counted in full."""

from __future__ import annotations

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
