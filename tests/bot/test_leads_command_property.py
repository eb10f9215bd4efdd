"""`/leads` with any text at all: a reply (a result, the help, or a refusal saying what is wrong),
never an exception; and nothing typed comes back able to ping anyone or disguise a link."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import LeadsCommand, UnclearCommand, parse_leads_command
from bot.errors import BatonError
from bot.leads_command import Reply, answer, unclear_reply
from bot.lifecycle import Actor, Lifecycle
from bot.periods import parse_period
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from tests.conftest import NOW
from tests.factories import create_lead

RULES = Rules()
LIFECYCLE = Lifecycle(SlaPolicies(RULES))
MANAGER = Actor("U0MANAGER01", is_manager=True)
REP = Actor("U0REP000001")

# Words people type, words that go wrong, and words an attacker would try.
WORDS = st.sampled_from(
    [
        *("mine", "queue", "sla", "feedback", "stats", "assign", "reopen", "help", "HELP"),
        *("show", "find", "acme", "ACME", "jane@acme.example", "%", "_", "\\"),
        *("share", "csv", "7d", "30d", "2w", "0d", "3661d", "523w", "this-week", "Last_Month"),
        *("1", "#1", "42", "0", "²", "٣", "9" * 30, "9" * 5000 + "d", "2147483648", "-1"),
        *("<!channel>", "<!here|here>", "<@U0REP000002>", "<@U0REP000002|bob>", "<@W0X>"),
        *("<https://evil.example|Claim your bonus>", "<mailto:a@b.c|x>", "&amp;", "`", "*bold*"),
        *("\u200b", "\ud800", "\x00", "\n", "\t"),
    ]
)
TEXTS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=12)), max_size=6).map(" ".join),
)
# Dates are the one Slack syntax Baton writes into replies besides mentions it means.
DATES = re.compile(r"<!date\^[0-9]+\^[^|>]*\|[^>]*>")


def assert_inert(text: str, mentions: tuple[str | None, ...] = ()) -> None:
    """No `<!channel>`, no `<https://…|disguise>`, and no `<@…>` but the people Baton means
    to name (who asked, a lead's owner, the rep a lead was just assigned to)."""
    meant = "|".join(re.escape(user) for user in mentions if user)
    own = re.compile(f"{DATES.pattern}|<@(?:{meant})>" if meant else DATES.pattern)
    assert "<" not in own.sub("", text), text[:300]


def reply_text(reply: Reply) -> str:
    return reply.message.text + json.dumps(reply.message.blocks)


@given(text=TEXTS)
@settings(max_examples=400)
def test_any_text_parses_to_a_command_or_a_clear_refusal(text: str) -> None:
    try:
        command = parse_leads_command(text)
    except UnclearCommand as unclear:  # what the handler shows with the usage
        assert len(str(unclear)) < 300
        assert_inert(reply_text(unclear_reply(unclear)))
        return
    except BatonError as refused:  # shown as is
        assert len(str(refused)) < 300
        assert_inert(str(refused))
        return
    assert isinstance(command, LeadsCommand)
    if command.period is not None:  # accepted here means the report can be computed
        parse_period(command.period, now=NOW, timezone=ZoneInfo("UTC"))
    if command.lead_id is not None:
        assert 0 <= command.lead_id < 2**31


@pytest.fixture
def seeded(db: Database) -> Iterator[Database]:
    """A waiting lead (#1) and one claimed by alice (#2), with cards and deadlines, both of the
    company `<!channel> & Acme`."""
    with db.write() as session:
        for n in (1, 2):
            lead = create_lead(
                session,
                external_id=f"property-{n}",
                company="<!channel> & Acme",
                email=f"jane{n}@acme.example",
            )
            LIFECYCLE.card_posted(
                session, lead_id=lead.id, channel="C0SALES0001", ts=f"1.000{n}", now=NOW
            )
        LIFECYCLE.accept(session, lead_id=lead.id, actor=REP, now=NOW)
    yield db


@given(text=TEXTS, actor=st.sampled_from([MANAGER, REP]))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_ends_as_a_reply_on_a_real_database(
    seeded: Database, text: str, actor: Actor
) -> None:
    """The handler's steps: what was unclear for unclear text, else the answer (which may move a
    lead, hence a write); a refusal is shown as its message."""
    command: LeadsCommand | None = None
    try:
        command = parse_leads_command(text)
    except UnclearCommand as unclear:
        reply = unclear_reply(unclear)
    except BatonError as refused:
        assert_inert(str(refused))
        return
    else:
        try:
            with seeded.write() as session:
                reply = answer(
                    session,
                    command,
                    actor=actor,
                    rules=RULES,
                    lifecycle=LIFECYCLE,
                    now=NOW + timedelta(hours=1),
                    team_domain=None,
                )
        except BatonError as refused:
            assert_inert(str(refused))
            return
    assert isinstance(reply, Reply)
    assert_inert(reply_text(reply), (actor.id, REP.id, command.assignee if command else None))
