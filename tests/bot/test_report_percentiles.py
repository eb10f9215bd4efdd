"""Medians and 90th percentiles as the database ranks them, with every answer known in advance.

Times are minutes on the clock ("hot" leads, intent demo_request) unless a test says otherwise;
the leads are decided in an order unrelated to their times, so nothing rests on insertion order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.lifecycle import Actor, Lifecycle
from bot.periods import Period
from bot.reports import handoff_stats
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from tests.factories import create_lead

POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
REP = Actor("U0REPA00001")
NY = ZoneInfo("America/New_York")
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
PERIOD = Period(start=START, end=START + timedelta(days=1), label="that Monday")


def scrambled(count: int) -> list[int]:
    """1..count in a fixed shuffled order (the same on every run)."""
    values = list(range(1, count + 1))
    random.Random(7).shuffle(values)
    return values


def claimed_after(db: Database, minutes: list[int]) -> None:
    """One hot lead per entry, posted a second apart and accepted that many minutes later."""
    with db.write() as session:
        for n, wait in enumerate(minutes):
            posted = START + timedelta(seconds=n)
            lead = create_lead(session, external_id=f"P{n}", intent="demo_request", now=posted)
            LIFECYCLE.card_posted(
                session, lead_id=lead.id, channel="C0SALES0001", ts=f"{n}.0", now=posted
            )
            LIFECYCLE.accept(
                session,
                lead_id=lead.id,
                actor=REP,
                now=posted + timedelta(minutes=wait),
            )


@pytest.mark.parametrize(
    ("count", "median", "p90"),
    [
        (1, 1, 1),
        (2, 1, 2),  # even count: the lower middle value
        (4, 2, 4),
        (10, 5, 9),
        (11, 6, 10),  # ⌈9.9⌉
        # 0.9 × 70 is 63.000000000000014 in floating point: a float rank would read the 64th.
        (70, 35, 63),
    ],
)
def test_median_and_p90_of_the_time_to_claim(
    db: Database, count: int, median: int, p90: int
) -> None:
    claimed_after(db, scrambled(count))
    with db.read() as session:
        stats = handoff_stats(session, period=PERIOD, policies=POLICIES)
    assert stats.handed_off == stats.accepted == count
    assert (stats.median_time_to_claim, stats.p90_time_to_claim) == (
        timedelta(minutes=median),
        timedelta(minutes=p90),
    )


def test_a_period_ranks_only_its_own_leads(db: Database) -> None:
    claimed_after(db, scrambled(10))
    # The first five posted (a second apart) were claimed after 9, 4, 2, 5 and 8 minutes.
    first_five = Period(start=START, end=START + timedelta(seconds=5), label="five")
    with db.read() as session:
        stats = handoff_stats(session, period=first_five, policies=POLICIES)
    assert stats.handed_off == 5
    assert (stats.median_time_to_claim, stats.p90_time_to_claim) == (
        timedelta(minutes=5),
        timedelta(minutes=9),
    )


def test_time_to_contact_counts_business_hours_for_standard_leads(db: Database) -> None:
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=NY)
    monday = datetime(2026, 11, 9, 9, 0, tzinfo=NY)
    # Claimed Friday 16:00; contacted Monday 09:00 + k hours: 1, 2, 3, 4 and 5 working hours.
    with db.write() as session:
        for k in range(5):
            lead = create_lead(session, external_id=f"S{k}", intent="content", now=START)
            LIFECYCLE.card_posted(
                session, lead_id=lead.id, channel="C0SALES0001", ts=f"{k}.0", now=START
            )
            LIFECYCLE.accept(session, lead_id=lead.id, actor=REP, now=friday)
            contact = monday + timedelta(hours=(3 * k) % 5)
            LIFECYCLE.mark_contacted(session, lead_id=lead.id, actor=REP, now=contact)
    with db.read() as session:
        stats = handoff_stats(session, period=PERIOD, policies=POLICIES)
    assert (stats.median_time_to_contact, stats.p90_time_to_contact) == (
        timedelta(hours=3),
        timedelta(hours=5),
    )
    # Monday 09:00 to Friday 16:00 that week is 4 days and 7 hours of 8-hour days.
    assert stats.median_time_to_claim == timedelta(hours=4 * 8 + 7)
