"""`/leads` from its one table: the help lists every subcommand with its audience, the audience
is checked before anything is read or moved, and only moves and exports write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.commands import LeadsCommand, Subcommand, parse_leads_command
from bot.errors import NotAllowed
from bot.leads_command import COMMANDS, HELP_TEXT, Audience, answer, writes
from bot.lifecycle import Actor, Lifecycle
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from storage import leads as lead_store
from storage.db import Database
from storage.models import OutboxKind, SlackOutbox
from tests.conftest import NOW
from tests.factories import create_lead

RULES = Rules()
LIFECYCLE = Lifecycle(SlaPolicies(RULES))
REP = Actor("U0REP000001")
MARKETER = Actor("U0MARKETER1", is_marketer=True)
MANAGER = Actor("U0MANAGER01", is_manager=True)


def test_every_subcommand_has_one_row_and_a_help_line() -> None:
    assert set(COMMANDS) == set(Subcommand)
    for name, usage in COMMANDS.items():
        assert usage.typed.split()[0] == name
        assert usage.help_line() in HELP_TEXT
    assert "`/leads assign &lt;lead&gt; @rep`: hand a lead to a rep (managers)" in HELP_TEXT
    assert "why sales rejected leads (managers, marketers)" in HELP_TEXT


@pytest.mark.parametrize(
    ("text", "asked_by"),
    [
        ("assign 1 <@U0REP000002>", REP),
        ("assign 1 <@U0REP000002>", MARKETER),
        ("reopen 1", REP),
        ("feedback", REP),
        ("feedback 7d csv", REP),
    ],
)
def test_the_audience_is_checked_before_anything_moves(
    db: Database, text: str, asked_by: Actor
) -> None:
    with db.write() as session:
        lead = create_lead(session, external_id="audience-1")
        LIFECYCLE.card_posted(session, lead_id=lead.id, channel="C0SALES0001", ts="1.1", now=NOW)
    command = parse_leads_command(text)
    with pytest.raises(NotAllowed, match=r"is only for managers"), db.write() as session:
        answer(
            session,
            command,
            actor=asked_by,
            rules=RULES,
            lifecycle=LIFECYCLE,
            now=NOW,
            team_domain=None,
        )
    with db.read() as session:
        stored = lead_store.get_lead(session, lead.id)
        assert stored is not None and stored.status == "open" and stored.owner_id is None


@pytest.mark.parametrize(
    ("audience", "admitted"),
    [
        (Audience.EVERYONE, {REP, MARKETER, MANAGER}),
        (Audience.MANAGERS_AND_MARKETERS, {MARKETER, MANAGER}),
        (Audience.MANAGERS, {MANAGER}),
    ],
)
def test_audiences(audience: Audience, admitted: set[Actor]) -> None:
    assert {actor for actor in (REP, MARKETER, MANAGER) if audience.admits(actor)} == admitted


@pytest.mark.parametrize(
    ("text", "writing"),
    [
        ("mine", False),
        ("queue", False),
        ("sla", False),
        ("stats 7d", False),
        ("feedback 7d", False),
        ("feedback 7d csv", True),  # the export is queued in the outbox
        ("tune 7d", False),
        ("tune 7d csv", True),
        ("funnel 30d", False),  # its chart is queued after the answer (Reply.then_queue)
        ("funnel 30d csv", True),
        ("assign 1 <@U0REP000002>", True),
        ("reopen 1", True),
        ("show 1", False),
        ("find acme", False),
        ("help", False),
    ],
)
def test_only_moves_and_exports_write(text: str, writing: bool) -> None:
    assert writes(parse_leads_command(text)) is writing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feedback this_week", LeadsCommand(Subcommand.FEEDBACK, period="this_week")),
        (
            "feedback Last_Month webinar csv",
            LeadsCommand(Subcommand.FEEDBACK, period="last_month", source="webinar", as_csv=True),
        ),
        ("feedback webinar", LeadsCommand(Subcommand.FEEDBACK, source="webinar")),
        ("stats this_month", LeadsCommand(Subcommand.STATS, period="this_month")),
        ("tune 90d", LeadsCommand(Subcommand.TUNE, period="90d")),
        ("tune 30d csv", LeadsCommand(Subcommand.TUNE, period="30d", as_csv=True)),
        ("tune", LeadsCommand(Subcommand.TUNE)),
    ],
)
def test_a_period_is_read_with_the_period_grammar(text: str, expected: LeadsCommand) -> None:
    """`this_week` is a period wherever a period may stand, never a source that finds nothing."""
    assert parse_leads_command(text) == expected


def test_a_funnel_is_answered_in_a_read_and_its_chart_queued_after(db: Database) -> None:
    """A year's funnel can take seconds: computed holding SQLite's write lock, it would hold
    every click and lead back that long."""
    with db.write() as session:
        create_lead(session, external_id="funnel-1", now=NOW - timedelta(days=1))
    with db.read() as session:
        reply = answer(
            session,
            parse_leads_command("funnel 30d"),
            actor=MARKETER,
            rules=RULES,
            lifecycle=LIFECYCLE,
            now=NOW,
            team_domain=None,
        )
    assert reply.message.text.startswith("Funnel to revenue, last 30 days")
    assert _files_queued(db) == []
    assert reply.then_queue is not None
    with db.write() as session:
        reply.then_queue(session)
    assert _files_queued(db) == [(MARKETER.id, "funnel_chart")]


@pytest.mark.parametrize(("text", "counts"), [("funnel 30d", None), ("funnel 30d by source", 1)])
def test_a_grouped_funnels_chart_is_queued_with_the_answers_counts(
    db: Database, text: str, counts: int | None
) -> None:
    """The chart draws a grouped answer's numbers rather than counting them again; an answer
    for everyone leaves the chart to count by source."""
    with db.write() as session:
        create_lead(session, external_id="funnel-1", source="ads", now=NOW - timedelta(days=1))
    with db.read() as session:
        reply = answer(
            session,
            parse_leads_command(text),
            actor=MARKETER,
            rules=RULES,
            lifecycle=LIFECYCLE,
            now=NOW,
            team_domain=None,
        )
    assert reply.then_queue is not None
    with db.write() as session:
        reply.then_queue(session)
    with db.read() as session:
        (row,) = session.scalars(
            select(SlackOutbox).where(SlackOutbox.kind == OutboxKind.FEEDBACK_FILE)
        ).all()
    expected = None if counts is None else [["ads", [1, 1, 0, 0, 0, 0]]]
    assert row.payload.get("counts") == expected


def _files_queued(db: Database) -> list[tuple[str | None, str]]:
    with db.read() as session:
        rows = session.scalars(
            select(SlackOutbox).where(SlackOutbox.kind == OutboxKind.FEEDBACK_FILE)
        ).all()
        return [(row.user_id, row.payload["report"]) for row in rows]


def test_feedback_this_week_answers_for_this_week(db: Database) -> None:
    with db.read() as session:
        reply = answer(
            session,
            parse_leads_command("feedback this_week"),
            actor=MARKETER,
            rules=RULES,
            lifecycle=LIFECYCLE,
            now=NOW,
            team_domain=None,
        )
    assert reply.message.text == "Why sales rejected leads, this week"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", LeadsCommand(Subcommand.SHOW, lead_id=12)),
        ("#12 share", LeadsCommand(Subcommand.SHOW, lead_id=12, share=True)),
        ("show #12", LeadsCommand(Subcommand.SHOW, lead_id=12)),
        ("SHOW Jane@Acme.example", LeadsCommand(Subcommand.SHOW, query="Jane@Acme.example")),
        ("show Acme   Corp", LeadsCommand(Subcommand.SHOW, query="Acme Corp")),
        ("show 12 monkeys", LeadsCommand(Subcommand.SHOW, query="12 monkeys")),
        ("find acme corp", LeadsCommand(Subcommand.FIND, query="acme corp")),
        ("find 12", LeadsCommand(Subcommand.FIND, query="12")),
    ],
)
def test_a_lead_is_named_by_number_or_looked_up_by_text(text: str, expected: LeadsCommand) -> None:
    assert parse_leads_command(text) == expected
