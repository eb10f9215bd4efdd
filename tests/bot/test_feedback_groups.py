"""Rejection feedback with more source, campaign and reason groups than one statement reads
notes for: every group still gets its own newest notes, and nothing else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.lifecycle import Actor, Lifecycle
from bot.periods import Period
from bot.reports import rejection_feedback, rejections_in
from bot.rules import DEFAULT_REASONS, Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from storage.reports import GROUPS_PER_STATEMENT
from tests.factories import create_lead

POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
REP = Actor("U0REPA00001")
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
SOURCES = GROUPS_PER_STATEMENT + 1


def notes_for(n: int) -> list[str]:
    """Every tenth source gets four notes (the oldest must be left out), the others one."""
    return ["oldest", "older", "newer", "newest"] if n % 10 == 0 else ["only"]


def test_every_group_gets_its_newest_notes(db: Database) -> None:
    with db.write() as session:
        for n in range(SOURCES):
            for k, note in enumerate(notes_for(n)):
                at = START + timedelta(minutes=n * 10 + k)
                lead = create_lead(session, external_id=f"F{n}-{k}", source=f"s{n:03d}", now=at)
                LIFECYCLE.card_posted(session, lead_id=lead.id, channel="C1", ts=f"{n}.{k}", now=at)
                LIFECYCLE.reject(
                    session,
                    lead_id=lead.id,
                    actor=REP,
                    reason="no_need",
                    note=f"{note} of s{n:03d}",
                    reasons=DEFAULT_REASONS,
                    now=at,
                )
    period = Period(start=START, end=START + timedelta(days=2), label="two days")
    with db.read() as session:
        groups = {g.source: g for g in rejection_feedback(session, period=period, reasons={})}
        total = rejections_in(session, period=period)
    assert len(groups) == SOURCES
    assert total == sum(len(notes_for(n)) for n in range(SOURCES))
    for n in range(SOURCES):
        name = f"s{n:03d}"
        (reason,) = groups[name].reasons
        newest = [f"{note} of {name}" for note in reversed(notes_for(n))][:3]
        assert (reason.code, reason.count, reason.example_notes) == (
            "no_need",
            len(notes_for(n)),
            newest,
        )
