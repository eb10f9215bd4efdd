"""Two transactions routing a pool's very first lead at once (bot.pools over
storage.routing.pointers): the second waits for the first's pointers instead of finding none
and picking the same rep."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.pools import Pool
from bot.rep_directory import NoDirectory
from bot.rules import Route
from slack_emulator import REP_1, REP_2, SALES_CHANNEL
from storage.db import Database
from tests.conftest import NOW
from tests.e2e.conftest import eventually

ROUTE = Route(name="inbound", channel=SALES_CHANNEL, mode="offer", pool=[REP_1, REP_2])


def pick(db: Database) -> str | None:
    """Route one lead through the pool in a transaction of its own: the rep the rotation picks."""
    with db.write() as session:
        return picked_in(session)


def picked_in(session: Session) -> str | None:
    pool = Pool(session, ROUTE, directory=NoDirectory(), team_timezone="America/New_York", now=NOW)
    decision = pool.choose(verb="offered to")
    pool.save()
    return decision.assignee


def waiting_for_a_lock(db: Database) -> bool:
    with db.engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return waiting > 0


# SQLite has one writer at a time: two routings cannot overlap there, so PostgreSQL alone.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_transactions_routing_a_pools_first_lead_pick_different_reps(db: Database) -> None:
    picked: list[str | None] = []
    with db.write() as first:
        picked.append(picked_in(first))  # the pool's rows written and locked, not committed
        second = threading.Thread(target=lambda: picked.append(pick(db)))
        second.start()
        # Before the first commits, the second has either finished (it did not wait: the bug)
        # or is waiting for the first's rows.
        eventually(lambda: not second.is_alive() or waiting_for_a_lock(db))
    second.join()
    assert picked == [REP_1, REP_2]
    assert pick(db) == REP_1  # and the rotation goes on from both
