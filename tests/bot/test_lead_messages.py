"""Messages about a lead outside its card, drawn for their reader from the lead's state: the
escalation a manager acts on, the owner's DM, the reject confirmation and their Undo."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.lead_messages import Drawing, draw
from bot.outbox import DmKind
from bot.rules import DEFAULT_REASONS
from bot.slack_ids import ActionId
from storage.models import Lead, LeadEvent, LeadStatus
from tests.bot.test_cards import LEAD_ID, REP, buttons, lead_in, rendered
from tests.conftest import NOW

MANAGER = "U0MGR000001"
WINDOW = timedelta(minutes=5)
ESCALATED = {"breach": "claim", "due": NOW.isoformat(), "owner": None}
# What the owner's DM of a claimed lead offers, as main's compact DM does.
OWNERS = [ActionId.MARK_CONTACTED, ActionId.RELEASE, ActionId.DETAILS]


def event(action: str, actor: str, *, minutes_ago: float = 1) -> LeadEvent:
    return LeadEvent(
        id=7, lead_id=LEAD_ID, action=action, actor=actor, at=NOW - timedelta(minutes=minutes_ago)
    )


def drawn(
    lead: Lead,
    kind: DmKind,
    *,
    viewer: str | None,
    payload: dict[str, Any] | None = None,
    last: LeadEvent | None = None,
    link: str | None = None,
    emojis: dict[str, str] | None = None,
) -> Any:
    drawing = Drawing(
        kind=kind,
        payload=payload or {},
        viewer=viewer,
        last_event=last,
        now=NOW,
        undo_window=WINDOW,
        reasons=DEFAULT_REASONS,
        emojis=emojis,
        card_link=link,
    )
    return draw(lead, drawing)


def elements(message: Any) -> list[str]:
    return [
        element["action_id"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_an_escalation_is_short_says_why_and_since_when_and_offers_assign_and_reopen() -> None:
    link = "https://acme.slack.com/archives/C1/p1"
    message = drawn(
        lead_in(LeadStatus.ESCALATED),
        DmKind.ESCALATION,
        viewer=MANAGER,
        payload=ESCALATED,
        link=link,
    )
    text = rendered(message)
    assert len(message.blocks) == 4
    assert f"Northwind Traders · Dana Whitfield (#{LEAD_ID})" in text
    assert "claim deadline missed since <!date^" in text
    assert f"<{link}|Open the card>" in text
    assert elements(message) == [ActionId.ASSIGN_TO, ActionId.REOPEN]
    picker = message.blocks[-1]
    assert picker["block_id"] == f"lead.assign:{LEAD_ID}"
    assert picker["elements"][0]["type"] == "users_select"
    assert "Budget" not in text  # not a copy of the card


def test_a_follow_up_escalation_names_the_owner_who_missed_it() -> None:
    lead = lead_in(LeadStatus.ESCALATED, owner_id=REP)
    payload = {**ESCALATED, "breach": "follow_up", "owner": REP}
    text = rendered(drawn(lead, DmKind.ESCALATION, viewer=MANAGER, payload=payload))
    assert f"<@{REP}> has not reached" in text and "follow-up deadline missed" in text


def test_an_escalation_of_a_lead_assigned_since_says_by_whom_and_offers_nothing() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id=REP)
    message = drawn(
        lead, DmKind.ESCALATION, viewer=MANAGER, payload=ESCALATED, last=event("assign", MANAGER)
    )
    assert elements(message) == []
    assert f"Assigned to <@{REP}> by <@{MANAGER}>" in rendered(message)


def test_an_escalation_dealt_with_offers_nothing_when_the_lead_escalates_again() -> None:
    """Alice missed her follow-up; a manager gave the lead to Bob, who missed his too: only the
    newer escalation offers Assign to… and Reopen."""
    lead = lead_in(LeadStatus.ESCALATED, owner_id=REP, escalated_at=NOW)
    missed = {**ESCALATED, "breach": "follow_up", "owner": "U0ALICE0001"}
    earlier = {**missed, "escalated_at": (NOW - timedelta(hours=1)).isoformat()}
    current = {**missed, "escalated_at": NOW.isoformat()}
    last = event("escalate", "system")

    assert (
        elements(drawn(lead, DmKind.ESCALATION, viewer=MANAGER, payload=earlier, last=last)) == []
    )
    assert elements(drawn(lead, DmKind.ESCALATION, viewer=MANAGER, payload=current, last=last)) == [
        ActionId.ASSIGN_TO,
        ActionId.REOPEN,
    ]


def test_an_assigned_lead_is_announced_as_assigned_by_the_manager() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id=REP)
    message = drawn(lead, DmKind.OWNER, viewer=REP, payload={"by": MANAGER})
    assert message.blocks[0]["text"]["text"].endswith(f"was assigned to you by <@{MANAGER}>.")
    assert "You claimed" not in rendered(message)
    assert list(buttons(message)) == OWNERS


def test_the_owners_dm_shows_the_policys_emoji_as_the_card_does() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id=REP)
    message = drawn(lead, DmKind.OWNER, viewer=REP, emojis={"hot": "🔥"})
    assert "🔥 *hot*" in rendered(message)
    assert "🔥" not in rendered(drawn(lead, DmKind.OWNER, viewer=REP))


def test_the_old_owners_dm_offers_only_details_once_the_lead_is_someone_elses() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id="U0REP000002")
    assert list(buttons(drawn(lead, DmKind.OWNER, viewer=REP))) == [ActionId.DETAILS]
    reopened = drawn(lead_in(LeadStatus.OPEN), DmKind.OWNER, viewer=REP)
    assert list(buttons(reopened)) == [ActionId.DETAILS]


def test_undo_is_offered_to_its_author_within_the_window_only() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id=REP)
    mine = drawn(lead, DmKind.OWNER, viewer=REP, last=event("accept", REP))
    assert list(buttons(mine)) == [*OWNERS, ActionId.UNDO]
    assert buttons(mine)[ActionId.UNDO]["value"] == "7"
    late = drawn(lead, DmKind.OWNER, viewer=REP, last=event("accept", REP, minutes_ago=5))
    assert ActionId.UNDO not in buttons(late)
    assigned = drawn(lead, DmKind.OWNER, viewer=REP, last=event("assign", MANAGER))
    assert ActionId.UNDO not in buttons(assigned)


def test_a_reject_confirmation_offers_undo_until_the_lead_moves_on() -> None:
    lead = lead_in(LeadStatus.REJECTED, rejected_by=REP, reject_reason="no_budget")
    message = drawn(lead, DmKind.REJECTED, viewer=REP, last=event("reject", REP))
    assert "You rejected" in message.text and "No budget" in message.text
    assert list(buttons(message)) == [ActionId.UNDO]
    reopened = drawn(
        lead_in(LeadStatus.OPEN), DmKind.REJECTED, viewer=REP, last=event("reopen", MANAGER)
    )
    assert buttons(reopened) == {}
    assert f"Reopened by <@{MANAGER}>" in rendered(reopened)


def test_a_rep_whose_lead_was_taken_hears_by_whom_and_where_it_went() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, owner_id="U0REP000002")
    message = drawn(lead, DmKind.TAKEN, viewer=REP, payload={"by": MANAGER, "to": "U0REP000002"})
    assert "reassigned to <@U0REP000002> by <@U0MGR000001>; it is no longer yours" in message.text
    reopened = drawn(lead_in(LeadStatus.OPEN), DmKind.TAKEN, viewer=REP, payload={"by": MANAGER})
    assert "reopened by <@U0MGR000001> for every rep" in reopened.text
