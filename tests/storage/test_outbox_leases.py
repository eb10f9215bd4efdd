"""Outbox leases: a worker sends only rows it still holds, so two workers never send one row;
a channel's posts are leased one at a time, in order, by whichever worker gets there first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboxKind
from tests.conftest import NOW
from tests.factories import create_lead

LEASE = timedelta(seconds=30)
DM = OutboxKind.DM
SALES, EU = "C0SALES0001", "C0SALESEU01"


def test_a_row_taken_over_after_its_lease_ran_out_is_no_longer_the_first_workers(
    db: Database,
) -> None:
    with db.write() as session:
        row_id = outbox_store.add(session, kind=OutboxKind.DM, user_id="U1", now=NOW).id
        (leased,) = outbox_store.lease_due(
            session, now=NOW, limit=10, lease=LEASE, owner="a", kind=DM
        )
    assert leased.id == row_id

    later = NOW + timedelta(minutes=1)  # worker a is slow: its lease ran out
    with db.write() as session:
        (taken,) = outbox_store.lease_due(
            session, now=later, limit=10, lease=LEASE, owner="b", kind=DM
        )
    assert taken.id == row_id and taken.attempts == 2

    with db.write() as session:
        assert not outbox_store.renew_lease(
            session, row_id=row_id, owner="a", now=later, lease=LEASE
        )
        assert outbox_store.renew_lease(session, row_id=row_id, owner="b", now=later, lease=LEASE)


def test_a_leased_row_is_not_leased_again_while_its_lease_runs(db: Database) -> None:
    with db.write() as session:
        outbox_store.add(session, kind=OutboxKind.DM, user_id="U1", now=NOW)
        assert (
            len(outbox_store.lease_due(session, now=NOW, limit=10, lease=LEASE, owner="a", kind=DM))
            == 1
        )
    with db.write() as session:
        soon = NOW + timedelta(seconds=10)
        assert (
            outbox_store.lease_due(session, now=soon, limit=10, lease=LEASE, owner="b", kind=DM)
            == []
        )


def post(session: Session, channel: str, kind: str = OutboxKind.CHANNEL_MESSAGE) -> int:
    return outbox_store.add(session, kind=kind, channel=channel, now=NOW).id


def heads(
    session: Session, owner: str, *, now: datetime = NOW, skip: Sequence[str] = ()
) -> list[int]:
    leased = outbox_store.lease_channel_heads(
        session, now=now, limit=10, lease=LEASE, owner=owner, skip_channels=skip
    )
    return [row.id for row in leased]


def test_a_channels_next_post_waits_until_the_one_before_it_is_delivered(db: Database) -> None:
    with db.write() as session:
        first, second = post(session, SALES), post(session, SALES)
        elsewhere = post(session, EU)
    with db.write() as session:
        assert heads(session, "a", skip=[EU]) == [first]
    with db.write() as session:
        assert heads(session, "b") == [elsewhere]  # not `second`: `first` is leased by a
    with db.write() as session:
        outbox_store.mark_done(session, outbox_store.get(session, first), now=NOW)
    with db.write() as session:
        assert heads(session, "b") == [second]


def test_a_post_backing_off_holds_its_channel_in_order(db: Database) -> None:
    with db.write() as session:
        first, _second = post(session, SALES), post(session, SALES)
    with db.write() as session:
        assert heads(session, "a") == [first]
        row = outbox_store.get(session, first)
        outbox_store.mark_failed(session, row, error="429", retry_at=NOW + timedelta(seconds=30))
    with db.write() as session:
        assert heads(session, "b", now=NOW + timedelta(seconds=1)) == []
    with db.write() as session:
        assert heads(session, "b", now=NOW + timedelta(seconds=31)) == [first]


def test_a_burst_notice_goes_ahead_of_the_channels_queued_cards(db: Database) -> None:
    with db.write() as session:
        post(session, SALES)
        notice = post(session, SALES, kind=OutboxKind.BURST_NOTICE)
    with db.write() as session:
        assert heads(session, "a") == [notice]


# SQLite has one writer at a time: two leases cannot overlap there, so PostgreSQL alone.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_leasing_at_once_never_take_a_channels_next_post(db: Database) -> None:
    with db.write() as session:
        first, _second = post(session, SALES), post(session, SALES)
        elsewhere = post(session, EU)
    with db.write() as holding:
        assert heads(holding, "a", skip=[EU]) == [first]  # locked, not yet committed
        with db.write() as session:
            assert heads(session, "b") == [elsewhere]


# ------------------------------------------------------------ a card's redraws, one at a time


def redraw(session: Session, lead_id: int, kind: str) -> int:
    return outbox_store.add(session, kind=kind, lead_id=lead_id, now=NOW).id


def leased_ids(session: Session, owner: str, kind: str) -> list[int]:
    rows = outbox_store.lease_due(session, now=NOW, limit=10, lease=LEASE, owner=owner, kind=kind)
    return [row.id for row in rows]


def leased_ids_now(db: Database, owner: str) -> list[int]:
    with db.write() as session:
        return leased_ids(session, owner, OutboxKind.REPLACE_CARD)


def test_a_cards_redraw_waits_while_another_redraw_of_it_is_leased(db: Database) -> None:
    """The chat.update and response_url lanes never send one card's redraws side by side: the
    later could land first, and the older state stay on the card."""
    with db.write() as session:
        card, other_card = create_lead(session).id, create_lead(session, external_id="x").id
        update = redraw(session, card, OutboxKind.UPDATE_CARD)
        replace = redraw(session, card, OutboxKind.REPLACE_CARD)
        elsewhere = redraw(session, other_card, OutboxKind.REPLACE_CARD)
    with db.write() as session:
        assert leased_ids(session, "a", OutboxKind.UPDATE_CARD) == [update]
    with db.write() as session:
        assert leased_ids(session, "b", OutboxKind.REPLACE_CARD) == [elsewhere]
    with db.write() as session:
        outbox_store.mark_done(session, outbox_store.get(session, update), now=NOW)
    with db.write() as session:
        assert leased_ids(session, "b", OutboxKind.REPLACE_CARD) == [replace]


# SQLite has one writer at a time: two leases cannot overlap there, so PostgreSQL alone.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_redraws_of_a_card_leased_at_once_are_not_both_sent(db: Database) -> None:
    with db.write() as session:
        card = create_lead(session).id
        update = redraw(session, card, OutboxKind.UPDATE_CARD)
        replace = redraw(session, card, OutboxKind.REPLACE_CARD)
    with db.write() as holding:
        assert leased_ids(holding, "a", OutboxKind.UPDATE_CARD) == [update]  # not committed
        with db.write() as session:
            assert leased_ids(session, "b", OutboxKind.REPLACE_CARD) == [replace]

    def renew(row_id: int, owner: str) -> bool:
        with db.write() as session:
            return outbox_store.renew_lease(
                session, row_id=row_id, owner=owner, now=NOW, lease=LEASE
            )

    assert not renew(replace, "b") and not renew(update, "a")  # each waits for the other
    with db.write() as session:
        outbox_store.release(session, row_ids=[replace], owner="b")
    assert renew(update, "a")
    assert leased_ids_now(db, "b") == []  # and the released one waits for it
    with db.write() as session:
        outbox_store.mark_done(session, outbox_store.get(session, update), now=NOW)
    assert leased_ids_now(db, "b") == [replace]
