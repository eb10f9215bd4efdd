"""Outbox leases: a worker sends only rows it still holds, so two workers never send one row."""

from __future__ import annotations

from datetime import timedelta

from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboxKind
from tests.conftest import NOW

LEASE = timedelta(seconds=30)


def test_a_row_taken_over_after_its_lease_ran_out_is_no_longer_the_first_workers(
    db: Database,
) -> None:
    with db.write() as session:
        row_id = outbox_store.add(session, kind=OutboxKind.DM, user_id="U1", now=NOW).id
        (leased,) = outbox_store.lease_due(session, now=NOW, limit=10, lease=LEASE, owner="a")
    assert leased.id == row_id

    later = NOW + timedelta(minutes=1)  # worker a is slow: its lease ran out
    with db.write() as session:
        (taken,) = outbox_store.lease_due(session, now=later, limit=10, lease=LEASE, owner="b")
    assert taken.id == row_id and taken.attempts == 2

    with db.write() as session:
        assert not outbox_store.renew_lease(
            session, row_id=row_id, owner="a", now=later, lease=LEASE
        )
        assert outbox_store.renew_lease(session, row_id=row_id, owner="b", now=later, lease=LEASE)


def test_a_leased_row_is_not_leased_again_while_its_lease_runs(db: Database) -> None:
    with db.write() as session:
        outbox_store.add(session, kind=OutboxKind.DM, user_id="U1", now=NOW)
        assert len(outbox_store.lease_due(session, now=NOW, limit=10, lease=LEASE, owner="a")) == 1
    with db.write() as session:
        soon = NOW + timedelta(seconds=10)
        assert outbox_store.lease_due(session, now=soon, limit=10, lease=LEASE, owner="b") == []
