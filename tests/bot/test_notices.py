"""Refusals, reminders and escalations in words; mentions only where Slack renders them."""

from __future__ import annotations

import re

import pytest

from bot import notices
from bot.errors import AlreadyClaimed, InvalidInput, InvalidTransition, NotAllowed
from bot.outbox import DmKind
from bot.slack_text import lead_label
from storage.models import Lead, LeadStatus
from tests.conftest import NOW

OWNER = "U0REP000001"
RAW_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")


LEAD = Lead(id=7, name="Jane Doe", company="Acme & Sons")


def claimed(status: LeadStatus = LeadStatus.ACCEPTED) -> AlreadyClaimed:
    return AlreadyClaimed(lead_id=7, lead=lead_label(LEAD), status=status.value, owner_id=OWNER)


def test_a_refusal_in_a_message_names_the_lead_and_mentions_who_decided_first() -> None:
    expected = f"Acme &amp; Sons · Jane Doe (#7) was already claimed by <@{OWNER}>."
    assert notices.refusal(claimed()) == expected
    rejected = notices.refusal(claimed(LeadStatus.REJECTED), viewer="U0REP000002")
    assert rejected == f"Acme &amp; Sons · Jane Doe (#7) was already rejected by <@{OWNER}>."


def test_a_lead_is_named_by_company_person_and_number_inert_and_short() -> None:
    assert lead_label(Lead(id=3, name="Jane Doe")) == "Jane Doe (#3)"
    hostile = lead_label(Lead(id=4, name="<!channel>" * 100, company="Acme"))
    assert "<" not in hostile and hostile.endswith("… (#4)") and len(hostile) < 320


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("U0REP000002", "This lead was already claimed by another rep."),
        (OWNER, "This lead was already claimed by you."),
    ],
)
def test_a_refusal_in_a_modal_names_nobody_in_mention_syntax(viewer: str, expected: str) -> None:
    text = notices.refusal(claimed(), viewer=viewer, in_modal=True)
    assert text == expected
    assert RAW_MENTION.search(text) is None


def test_the_domain_error_itself_carries_the_owner_as_data_not_markup() -> None:
    refused = claimed()
    assert (refused.lead_id, refused.status, refused.owner_id) == (7, "accepted", OWNER)
    assert RAW_MENTION.search(str(refused)) is None


def test_other_refusals_read_the_same_everywhere() -> None:
    moved = InvalidTransition(
        "Lead 7 is won; it cannot be released now.", lead_id=7, status="won", owner_id=OWNER
    )
    for error in (moved, NotAllowed("Only a manager can reopen a lead.")):
        assert notices.refusal(error) == notices.refusal(error, in_modal=True) == str(error)


def test_bad_input_is_said_without_internal_field_names() -> None:
    invalid = InvalidInput({"assignee": "pick the rep to assign Acme · Jane Doe (#7) to"})
    assert notices.refusal(invalid) == "Pick the rep to assign Acme · Jane Doe (#7) to."


def test_reminders_and_escalations_name_the_deadline_the_owner_and_the_managers() -> None:
    lead = Lead(id=7, name="Dana", company="Northwind", claim_due_at=NOW, follow_up_due_at=NOW)
    unix = int(NOW.timestamp())
    assert f"<!date^{unix}^" in notices.claim_reminder(lead)
    assert f"<!date^{unix}^" in notices.dm_intro(lead, DmKind.FOLLOW_UP_REMINDER)
    breach = notices.Breach(
        lead=lead,
        policy="hot",
        window="follow_up",
        owner_id=OWNER,
        managers=["U0MANAGER01"],
        manager_groups=["S0SALESMGRS"],
        reopened=True,
    )
    assert breach.in_thread() == (
        f"🚨 SLA breached (hot): <@{OWNER}> has not reached it in time. "
        "<@U0MANAGER01> <!subteam^S0SALESMGRS>, please step in. It is open to every rep again."
    )
    assert breach.in_channel() == (
        f"🚨 SLA breached (hot) on Dana (Northwind): <@{OWNER}> has not reached it. "
        "<@U0MANAGER01> <!subteam^S0SALESMGRS>"
    )
