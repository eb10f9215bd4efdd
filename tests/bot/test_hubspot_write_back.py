"""What each decision writes on its HubSpot contact, from the event queued for it, and how the
`[hubspot]` rules change it; the rejection note's words and how a retry knows it again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.hubspot import (
    HubSpotRules,
    RejectionNote,
    WriteBack,
    is_note_of,
    note_html,
    write_back,
)
from bot.webhooks import body

AT = datetime(2026, 11, 24, 15, 0, 12, 345678, tzinfo=UTC)
AT_MS = datetime(2026, 11, 24, 15, 0, 12, 345000, tzinfo=UTC)


def event(kind: str, **data: Any) -> dict[str, Any]:
    """A queued event as bot.webhooks renders it, for lead 7 from HubSpot contact 101."""
    lead = {
        "id": 7,
        "external_id": "hubspot:101",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "owner_id": "U0REP000001",
        **data.pop("lead", {}),
    }
    return body(kind, data={"lead": lead, "by": "U0REP000001", **data}, at=AT)


def test_an_accept_sets_the_owner_and_moves_the_status() -> None:
    assert write_back(event("lead.accepted"), HubSpotRules()) == WriteBack(
        lead_id=7,
        contact_id="101",
        email=None,
        properties={"hs_lead_status": "IN_PROGRESS"},
        owner_property="hubspot_owner_id",
        owner_of="U0REP000001",
    )


def test_an_assignment_sets_the_assignees_owner() -> None:
    plan = write_back(
        event("lead.assigned", lead={"owner_id": "U0REP000002"}, assignee="U0REP000002"),
        HubSpotRules(),
    )
    assert (plan.owner_of, plan.properties) == ("U0REP000002", {"hs_lead_status": "IN_PROGRESS"})


def test_a_reject_says_unqualified_and_notes_the_reason_and_the_reps_note() -> None:
    plan = write_back(
        event(
            "lead.rejected",
            reason={"code": "bad_timing", "label": "Bad timing"},
            note="Budget in May",
            lead={"owner_id": None},
        ),
        HubSpotRules(),
    )
    assert plan.properties == {"hs_lead_status": "UNQUALIFIED"}
    assert plan.owner_of is None
    assert plan.note == RejectionNote(
        lead_id=7,
        lead_name="Ada Lovelace",
        reason="Bad timing",
        note="Budget in May",
        by="U0REP000001",
        at=AT_MS,  # to the millisecond, as HubSpot keeps hs_timestamp
    )


def test_contacted_moves_the_status_again() -> None:
    plan = write_back(event("lead.contacted"), HubSpotRules())
    assert (plan.properties, plan.owner_of, plan.note) == (
        {"hs_lead_status": "CONNECTED"},
        None,
        None,
    )


def test_property_names_and_values_are_configurable_and_a_blank_value_writes_nothing() -> None:
    rules = HubSpotRules(
        owner_property="sales_owner",
        status_property="baton_stage",
        accepted_status="",
        notes=False,
    )
    accepted = write_back(event("lead.accepted"), rules)
    assert (accepted.properties, accepted.owner_property) == ({}, "sales_owner")
    rejected = write_back(
        event("lead.rejected", reason={"code": "other", "label": "Other"}, note="x"), rules
    )
    assert (rejected.properties, rejected.note) == ({"baton_stage": "UNQUALIFIED"}, None)


@pytest.mark.parametrize(
    ("external_id", "email", "match_by_email", "contact"),
    [
        ("hubspot:101", "ada@example.com", True, "contact 101"),
        ("web-1", "ada@example.com", True, "contact with email ada@example.com"),
        ("web-1", "ada@example.com", False, None),
        ("web-1", None, True, None),
        ("hubspot:abc", None, True, None),
    ],
)
def test_the_contact_is_found_by_its_hubspot_id_else_by_email(
    external_id: str, email: str | None, match_by_email: bool, contact: str | None
) -> None:
    plan = write_back(
        event("lead.contacted", lead={"external_id": external_id, "email": email}),
        HubSpotRules(match_by_email=match_by_email),
    )
    assert plan.contact == contact


def test_the_note_escapes_lead_and_rep_text_and_carries_the_lead_mark() -> None:
    note = RejectionNote(7, "<b>Ada</b>", "Bad & late", "call <after> May", "U1", AT_MS)
    html = note_html(note, rep="bob@example.com")
    assert html == (
        "<p><strong>Rejected in Baton</strong>: Bad &amp; late</p>"
        "<p>Note: call &lt;after&gt; May</p>"
        "<p>By bob@example.com · Baton lead #7 (&lt;b&gt;Ada&lt;/b&gt;)</p>"
    )
    assert is_note_of(note, body=html, timestamp=AT_MS)
    assert not is_note_of(note, body=html, timestamp=AT)  # another moment
    other = RejectionNote(70, "<b>Ada</b>", "Bad & late", None, "U1", AT_MS)
    assert not is_note_of(other, body=html, timestamp=AT_MS)  # lead #70 is not lead #7


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"status_property": "Lead Status"}, "is not a HubSpot property's internal name"),
        ({"retry_hours": 0}, "greater than 0"),
        ({"statuses": {}}, "Extra inputs are not permitted"),
    ],
)
def test_wrong_rules_are_refused(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HubSpotRules.model_validate(rules)
