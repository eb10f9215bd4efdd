"""Webhook delivery leases: each (endpoint, lead) lane gives out its oldest delivery only, to one
worker at a time; a worker settles only what it still holds; a disabled endpoint gets nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from storage import webhooks as webhook_store
from storage.db import Database
from tests.conftest import NOW
from tests.factories import create_lead

LEASE = timedelta(seconds=15)
ENDPOINTS = {"crm": ("https://crm.example/h", ["lead.created", "lead.posted"])}


def announce(session: Session, lead_id: int, event_type: str) -> None:
    event = webhook_store.Event(event_type, lead_id, f"msg_{lead_id}_{event_type}", {}, NOW)
    endpoints = webhook_store.subscribers(session).get(event_type, [])
    webhook_store.queue(session, [(endpoint, event) for endpoint in endpoints])


def lease(db: Database, owner: str, *, later: timedelta = timedelta(0)) -> list[tuple[int, str]]:
    with db.write() as session:
        rows = webhook_store.lease_due(
            session, endpoints=["crm"], now=NOW + later, limit=10, lease=LEASE, owner=owner
        )
        return [(row.lead_id or 0, row.event_type) for row in rows]


def test_each_leads_events_are_leased_one_at_a_time_in_order(db: Database) -> None:
    with db.write() as session:
        webhook_store.sync_endpoints(session, ENDPOINTS)
        first, second = (create_lead(session, external_id=f"w-{n}").id for n in range(2))
        announce(session, first, "lead.posted")
        announce(session, second, "lead.posted")
        announce(session, second, "lead.accepted")  # not subscribed: queues nothing
    # create_lead announced lead.created for each, before the posts.
    assert lease(db, "a") == [(first, "lead.created"), (second, "lead.created")]
    assert lease(db, "b") == []  # both lanes' heads are held by a

    with db.write() as session:
        head = webhook_store.list_deliveries(session)[0]
        assert not webhook_store.mark_delivered(session, head, owner="b", now=NOW)
        assert webhook_store.mark_delivered(session, head, owner="a", now=NOW)
    assert lease(db, "b") == [(first, "lead.posted")]
    # The leases of a and b ran out: another worker takes their rows over.
    assert lease(db, "c", later=LEASE * 2) == [(second, "lead.created"), (first, "lead.posted")]


def test_a_disabled_endpoint_is_given_nothing_and_queues_nothing(db: Database) -> None:
    with db.write() as session:
        webhook_store.sync_endpoints(session, ENDPOINTS)
        lead_id = create_lead(session, external_id="w-gone").id
        assert webhook_store.disable_endpoint(session, name="crm", reason="410", now=NOW) == 1
        announce(session, lead_id, "lead.posted")
        webhook_store.sync_endpoints(session, ENDPOINTS)  # a restart keeps it disabled
    assert lease(db, "a") == []
    with db.read() as session:
        (failed,) = webhook_store.list_failed(session, limit=10)
    assert (failed.event_type, failed.last_error) == ("lead.created", "endpoint disabled")
